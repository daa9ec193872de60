package funcurl

import (
	"bytes"
	"net/http/httptest"
	"testing"
	"time"
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
