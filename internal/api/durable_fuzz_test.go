package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/lambdad/lambdad/internal/api"
	"github.com/lambdad/lambdad/internal/blobs"
	"github.com/lambdad/lambdad/internal/durable"
	"github.com/lambdad/lambdad/internal/functions"
	"github.com/lambdad/lambdad/internal/store"
)

// FuzzCheckpointBody sends arbitrary CheckpointDurableExecution bodies
// (TOKEN standing for the execution's live checkpoint token) to the API
// handler, for an execution started on the durable service: the handler
// never panics, answers 200 with a new token or an AWS error (4xx, its type
// in X-Amzn-ErrorType, a JSON body with its message), and an error changes
// nothing: the execution record (so its token) and history stay as they
// were, and the token still checkpoints.
func FuzzCheckpointBody(f *testing.F) {
	for _, seed := range []string{
		`{"CheckpointToken":"TOKEN","Updates":[{"Id":"s","Type":"STEP","Action":"START"},{"Id":"s","Type":"STEP","Action":"SUCCEED","Payload":"1"}]}`,
		`{"CheckpointToken":"TOKEN","Updates":[{"Id":"w","Type":"WAIT","Action":"START","WaitOptions":{"WaitSeconds":5}}]}`,
		`{"CheckpointToken":"TOKEN","ClientToken":"c1","Updates":[{"Id":"c","Type":"CALLBACK","Action":"START","CallbackOptions":{"TimeoutSeconds":1}}]}`,
		`{"CheckpointToken":"TOKEN","Updates":[{"Id":"k","Type":"CHAINED_INVOKE","Action":"START","ChainedInvokeOptions":{"FunctionName":"g"}}]}`,
		`{"CheckpointToken":"TOKEN","Updates":[{"Id":"x","Type":"EXECUTION","Action":"SUCCEED","Payload":"{}"}]}`,
		`{"CheckpointToken":"TOKEN","Updates":[{"Id":"s","Type":"STEP","Action":"FAIL","Error":{"ErrorMessage":"m","StackTrace":["a"]}}]}`,
		`{"CheckpointToken":"TOKEN","Updates":[{"Id":"","Type":"NOPE","Action":""}]}`,
		`{"CheckpointToken":"TOKEN","Updates":{"Id":"s"}}`,
		`{"CheckpointToken":"AAAA","Updates":[]}`,
		`{"CheckpointToken":"TOKEN","Updates":[{"Id":"w","Type":"WAIT","Action":"START","WaitOptions":{"WaitSeconds":1e99}}]}`,
		`{"CheckpointToken":"TOKEN","Updates":[null]}`,
		`{"CheckpointToken":"TOKEN"`,
		`[]`,
		``,
	} {
		f.Add([]byte(seed))
	}
	dir := f.TempDir()
	bl, err := blobs.Open(filepath.Join(dir, "blobs"), nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ctx := context.Background()
		st := store.NewMemory()
		d := durable.New(durable.Config{Store: st})
		h := api.New(api.Config{Functions: functions.New(functions.Config{Store: st, Blobs: bl}), Blobs: bl,
			Secret: []byte("test"), Logger: slog.New(slog.DiscardHandler), Durable: d,
			ChainDurable: func(string, durable.Operation) {}}) // the target never runs here
		x, err := d.Start(ctx, durable.StartInput{FunctionARN: "arn:aws:lambda:us-east-1:000000000000:function:f", Version: "1", Payload: "{}"})
		if err != nil {
			t.Fatal(err)
		}
		arn, tok := x.Execution.ARN, x.Input.CheckpointToken
		before, err := d.Get(ctx, arn)
		if err != nil {
			t.Fatal(err)
		}
		history := func() int {
			evs, _, err := d.History(ctx, arn, true, "", 1000, false)
			if err != nil {
				t.Fatal(err)
			}
			return len(evs)
		}
		events := history()

		send := func(body []byte) *httptest.ResponseRecorder {
			r := httptest.NewRequest(http.MethodPost, "/2025-12-01/durable-executions/"+url.PathEscape(arn)+"/checkpoint", bytes.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			return w
		}
		w := send(bytes.ReplaceAll(body, []byte("TOKEN"), []byte(tok)))
		res := w.Result()
		raw, _ := io.ReadAll(res.Body)
		if res.StatusCode == http.StatusOK {
			var out struct{ CheckpointToken *string }
			if err := json.Unmarshal(raw, &out); err != nil {
				t.Fatalf("200 with %q: %v", raw, err)
			}
			return
		}
		var msg map[string]any
		if res.StatusCode < 400 || res.StatusCode >= 500 || res.Header.Get("X-Amzn-ErrorType") == "" || json.Unmarshal(raw, &msg) != nil {
			t.Fatalf("answered %d %q: %s", res.StatusCode, res.Header.Get("X-Amzn-ErrorType"), raw)
		}
		after, err := d.Get(ctx, arn)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(before, after) || history() != events {
			t.Fatalf("refused body %s changed the execution", res.Header.Get("X-Amzn-ErrorType"))
		}
		// The token was not consumed.
		ok := send([]byte(`{"CheckpointToken":"` + tok + `","Updates":[{"Id":"z","Type":"STEP","Action":"START"}]}`))
		if ok.Code != http.StatusOK {
			t.Fatalf("the token after a refused body: %d %s", ok.Code, ok.Body)
		}
	})
}
