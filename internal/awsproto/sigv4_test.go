package awsproto

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

func TestVerifySignatureAgainstSDKSigner(t *testing.T) {
	now := time.Now().UTC()
	creds := Credentials(func(k string) (string, bool) { return map[string]string{"AKID": "secret"}[k], k == "AKID" })
	cases := []struct{ method, url, body string }{
		{"GET", "http://127.0.0.1:9001/2015-03-31/functions/", ""},
		{"GET", "http://127.0.0.1:9001/2015-03-31/functions/?FunctionVersion=ALL&MaxItems=5", ""},
		{"POST", "http://127.0.0.1:9001/2015-03-31/functions/caller%3A%24LATEST/invocations?Qualifier=%24LATEST", `{"a":1}`},
		{"DELETE", "http://127.0.0.1:9001/2017-03-31/tags/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Af?tagKeys=a&tagKeys=b%20c", ""},
	}
	for _, c := range cases {
		r, _ := http.NewRequest(c.method, c.url, strings.NewReader(c.body))
		sum := sha256.Sum256([]byte(c.body))
		hash := hex.EncodeToString(sum[:])
		if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret"}, r, hash, "lambda", "us-east-1", now); err != nil {
			t.Fatal(err)
		}
		if err := VerifySignature(r, creds, now); err != nil {
			t.Errorf("%s %s: %v", c.method, c.url, err)
		}
		r.Header.Set("X-Amz-Date", now.Add(time.Second).Format("20060102T150405Z"))
		if err := VerifySignature(r, creds, now); err == nil {
			t.Errorf("%s %s: a changed date still verifies", c.method, c.url)
		}
	}
}
