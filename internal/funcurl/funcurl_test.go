package funcurl

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

func TestWriteResponse(t *testing.T) {
	cases := []struct {
		payload, body, ctype string
		status               int
	}{
		{`{"statusCode":404,"body":"gone","headers":{"Content-Type":"text/plain"}}`, "gone", "text/plain", 404},
		{`{"statusCode":200,"body":"aGk=","isBase64Encoded":true}`, "hi", "application/json", 200},
		{`{"hello":"world"}`, `{"hello":"world"}`, "application/json", 200},
		{`"just text"`, "just text", "application/json", 200},
		{`null`, "null", "application/json", 200},
		{`{"statusCode":0,"body":"x"}`, `{"Message":"Internal Server Error"}`, "application/json", 502},
		{`{"statusCode":1000}`, `{"Message":"Internal Server Error"}`, "application/json", 502},
		{`{"statusCode":null,"a":1}`, `{"statusCode":null,"a":1}`, "application/json", 200},
	}
	for _, c := range cases {
		w := httptest.NewRecorder()
		WriteResponse(w, []byte(c.payload))
		if w.Code != c.status || w.Body.String() != c.body || w.Header().Get("Content-Type") != c.ctype {
			t.Errorf("%s: %d %q %q", c.payload, w.Code, w.Body, w.Header().Get("Content-Type"))
		}
	}
}

func TestNewEventEncodesBinaryBodies(t *testing.T) {
	r := httptest.NewRequest("PUT", "http://x.lambda-url.us-east-1.localhost/p?a=1", nil)
	r.Header.Set("Content-Type", "application/octet-stream")
	e := NewEvent(r, []byte{0xff, 0x00, 0x01}, "x", "/p", "id", time.Unix(0, 0))
	if !e.IsBase64Encoded || e.Body != "/wAB" || e.RequestContext.HTTP.Method != "PUT" || e.QueryStringParameters["a"] != "1" {
		t.Errorf("event = %+v", e)
	}
	r.Header.Set("Content-Type", "text/plain")
	e = NewEvent(r, bytes.Repeat([]byte("é"), 2), "x", "/p", "id", time.Unix(0, 0))
	if e.IsBase64Encoded || e.Body != "éé" {
		t.Errorf("text body = %+v", e)
	}
}

// TestEventJSONIsAWSs: the event carries exactly the members AWS's
// function URL events carry (those of API Gateway's 2.0 format that URLs
// use, routeKey and stage included), leaves out the optional ones it has no
// value for, and reads back whole through aws-lambda-go's type.
func TestEventJSONIsAWSs(t *testing.T) {
	keys := func(m map[string]any) string {
		var ks []string
		for k := range m {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		return strings.Join(ks, " ")
	}
	r := httptest.NewRequest("POST", "http://u.lambda-url.us-east-1.localhost:9001/p?a=1&a=2", strings.NewReader(`{}`))
	r.Header.Set("Cookie", "s=1; t=2")
	r.Header.Set("Content-Type", "application/json")
	now := time.Date(2026, 3, 12, 19, 3, 58, 390e6, time.UTC)
	for _, c := range []struct {
		body                  []byte
		bare                  bool
		top, context, httpCtx string
	}{
		{[]byte(`{"n":1}`), false,
			"body cookies headers isBase64Encoded queryStringParameters rawPath rawQueryString requestContext routeKey version",
			"accountId apiId domainName domainPrefix http requestId routeKey stage time timeEpoch",
			"method path protocol sourceIp userAgent"},
		{nil, true,
			"headers isBase64Encoded rawPath rawQueryString requestContext routeKey version",
			"accountId apiId domainName domainPrefix http requestId routeKey stage time timeEpoch",
			"method path protocol sourceIp userAgent"},
	} {
		req := r
		if c.bare {
			req = httptest.NewRequest("GET", "http://u.lambda-url.us-east-1.localhost/", nil)
		}
		e := NewEvent(req, c.body, "u", req.URL.Path, "rid", now)
		b, err := e.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if m, err := json.Marshal(e); err != nil || !bytes.Equal(m, b) {
			t.Errorf("json.Marshal differs from Encode: %v\n%s\n%s", err, m, b)
		}
		var raw map[string]any
		json.Unmarshal(b, &raw)
		rc, _ := raw["requestContext"].(map[string]any)
		hc, _ := rc["http"].(map[string]any)
		if got := keys(raw); got != c.top {
			t.Errorf("members %s, want %s", got, c.top)
		}
		if got := keys(rc); got != c.context {
			t.Errorf("requestContext members %s, want %s", got, c.context)
		}
		if got := keys(hc); got != c.httpCtx {
			t.Errorf("requestContext.http members %s, want %s", got, c.httpCtx)
		}
		if raw["routeKey"] != "$default" || rc["routeKey"] != "$default" || rc["stage"] != "$default" || rc["time"] != "12/Mar/2026:19:03:58 +0000" || rc["timeEpoch"] != 1773342238390.0 {
			t.Errorf("fixed members: %s", b)
		}
		var back events.LambdaFunctionURLRequest
		if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, events.LambdaFunctionURLRequest(*e)) {
			t.Errorf("through aws-lambda-go's type: %v\n%+v\n%+v", err, back, *e)
		}
	}
}
