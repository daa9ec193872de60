package console

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/lambdad/lambdad/internal/awsproto"
	"github.com/lambdad/lambdad/internal/invoke"
)

// recorded is a Source that answers fixed data and notes who asked.
type recorded struct{ arn, account, region string }

func (r *recorded) Activity(functionARN, version string) []invoke.Bucket {
	r.arn = functionARN
	return []invoke.Bucket{{Invocations: 3}}
}

func (r *recorded) PendingEvents(ctx context.Context, account, region string, limit int) ([]invoke.PendingEvent, error) {
	r.account, r.region = account, region
	return []invoke.PendingEvent{{ID: "e1", Function: "f"}}, nil
}

func get(t *testing.T, h http.Handler, path string, sign func(*http.Request)) (*http.Response, string) {
	t.Helper()
	r := httptest.NewRequest("GET", "http://lambdad.test"+path, nil)
	if sign != nil {
		sign(r)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	res := w.Result()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func TestConsoleServesItsPageSelfContained(t *testing.T) {
	h := New(Config{Source: &recorded{}})
	res, body := get(t, h, "/", nil)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, "/_lambdad/console/app.js") {
		t.Fatalf("GET /: %d %s\n%s", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("CSP %q", csp)
	}
	for _, p := range []string{"app.js", "sigv4.js", "style.css"} {
		res, body := get(t, h, Prefix+p, nil)
		if res.StatusCode != 200 || len(body) < 500 {
			t.Errorf("%s: %d, %d bytes", p, res.StatusCode, len(body))
		}
		// Nothing is loaded from elsewhere.
		if strings.Contains(body, "https://") || strings.Contains(body, "//cdn") {
			t.Errorf("%s refers to another site", p)
		}
	}
	if res, _ := get(t, h, Prefix+"api/nothing", nil); res.StatusCode != 404 {
		t.Errorf("unknown endpoint: %d", res.StatusCode)
	}
	if res, _ := get(t, h, Prefix+"api/activity?function=a:b", nil); res.StatusCode != 400 {
		t.Errorf("function ARN: %d", res.StatusCode)
	}
}

func TestConsoleDataNeedsSignatureWithCredentials(t *testing.T) {
	src := &recorded{}
	now := time.Now()
	svc := awsproto.NewService(nil)
	svc.VerifyWith(func(key string) (string, bool) { return "s3cret", key == "111122223333" })
	h := New(Config{Source: src, SignaturesChecked: true, Authenticate: svc.AuthenticateBodiless})

	_, body := get(t, h, Prefix+"api/info", nil)
	var info struct{ Credentials bool }
	if json.Unmarshal([]byte(body), &info) != nil || !info.Credentials {
		t.Errorf("info: %s", body)
	}
	for _, p := range []string{"api/queue", "api/activity?function=f"} {
		res, body := get(t, h, Prefix+p, nil)
		if res.StatusCode != 403 || !strings.Contains(body, "MissingAuthenticationTokenException") {
			t.Errorf("unsigned %s: %d %s", p, res.StatusCode, body)
		}
	}
	sign := func(key, secret, region string) func(*http.Request) {
		return func(r *http.Request) {
			sum := sha256.Sum256(nil)
			hash := hex.EncodeToString(sum[:])
			r.Header.Set("X-Amz-Content-Sha256", hash)
			if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: key, SecretAccessKey: secret}, r, hash, "lambda", region, now); err != nil {
				t.Fatal(err)
			}
		}
	}
	if res, body := get(t, h, Prefix+"api/queue", sign("111122223333", "wrong", "eu-west-1")); res.StatusCode != 403 || !strings.Contains(body, "InvalidSignatureException") {
		t.Errorf("wrong secret: %d %s", res.StatusCode, body)
	}
	if res, body := get(t, h, Prefix+"api/queue", sign("111122223333", "s3cret", "eu-west-1")); res.StatusCode != 200 || !strings.Contains(body, `"e1"`) {
		t.Errorf("signed: %d %s", res.StatusCode, body)
	}
	if src.account != "111122223333" || src.region != "eu-west-1" {
		t.Errorf("queue read for %s/%s", src.account, src.region)
	}
	if res, _ := get(t, h, Prefix+"api/activity?function=f", sign("111122223333", "s3cret", "eu-west-1")); res.StatusCode != 200 || src.arn != "arn:aws:lambda:eu-west-1:111122223333:function:f" {
		t.Errorf("activity: %d for %s", res.StatusCode, src.arn)
	}
}
