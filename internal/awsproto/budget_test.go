package awsproto

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lambdad/lambdad/internal/spec"
)

// TestBodyBudget: request bodies in flight share one budget; a request that
// cannot reserve its body's size in time is throttled as AWS throttles, and
// a finished request gives its share back.
func TestBodyBudget(t *testing.T) {
	s := NewService(slog.New(slog.DiscardHandler))
	s.BudgetBodies(10000, 100*time.Millisecond)
	s.Handle("Invoke", func(ctx context.Context, id Identity, in spec.Input) (spec.Output, error) { return nil, nil })
	send := func(body io.Reader, size int64) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "/2015-03-31/functions/f/invocations", body)
		r.ContentLength = size
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		return w
	}
	pr, pw := io.Pipe()
	first := make(chan *httptest.ResponseRecorder)
	go func() { first <- send(pr, 8000) }()
	pw.Write([]byte(`"`)) // the first request holds its 8000 bytes now
	w := send(strings.NewReader(`"`+strings.Repeat("x", 2998)+`"`), 3000)
	var body map[string]string
	json.Unmarshal(w.Body.Bytes(), &body)
	if w.Code != 429 || w.Header().Get("X-Amzn-ErrorType") != "TooManyRequestsException" || body["Reason"] != "CallerRateLimitExceeded" || body["message"] != "Rate Exceeded." || w.Header().Get("Retry-After") == "" {
		t.Errorf("over the budget: %d %v %s", w.Code, w.Header(), w.Body)
	}
	if w := send(strings.NewReader(`"x"`), 3); w.Code != 200 {
		t.Errorf("a small body within what is left: %d %s", w.Code, w.Body)
	}
	pw.Write([]byte(strings.Repeat("x", 7998) + `"`))
	pw.Close()
	if w := <-first; w.Code != 200 {
		t.Errorf("the first request: %d %s", w.Code, w.Body)
	}
	if w := send(strings.NewReader(`"`+strings.Repeat("x", 9998)+`"`), 10000); w.Code != 200 {
		t.Errorf("the whole budget once the first is done: %d %s", w.Code, w.Body)
	}
	// One request may always use the whole budget, even beyond it.
	if w := send(strings.NewReader(`"`+strings.Repeat("x", 19998)+`"`), 20000); w.Code != 200 {
		t.Errorf("a body larger than the budget alone: %d %s", w.Code, w.Body)
	}
}
