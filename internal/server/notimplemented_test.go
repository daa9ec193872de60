package server_test

import (
	"bytes"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/spec"
	"github.com/lambdad/lambdad/internal/testkit"
)

var uriLabel = regexp.MustCompile(`\{[^}]+\}`)

// TestNoOperationAnswers501 sends every operation of the model (the
// generated table, AWS's additions included) to a real lambdad with
// placeholder arguments and collects those that answer 501
// NotImplementedException: validation errors, 404s and the like are
// answers, a 501 is not. Issue #12: no operation of the model may answer
// 501.
func TestNoOperationAnswers501(t *testing.T) {
	t.Parallel()
	d, _ := servertest.InvokeEnv(t, nil)
	var missing []string
	for _, op := range spec.Operations() {
		path := uriLabel.ReplaceAllString(op.Path, "walk")
		if op.Query != "" {
			path += "?" + op.Query
		}
		var body io.Reader
		if op.Method == "POST" || op.Method == "PUT" || op.Method == "PATCH" {
			body = bytes.NewReader([]byte("{}"))
		}
		req, err := http.NewRequest(op.Method, d.URL+path, body)
		if err != nil {
			t.Fatalf("%s: %v", op.Name, err)
		}
		req.Header.Set("Authorization", testkit.InvokeAuth)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", op.Name, err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusNotImplemented {
			if et := resp.Header.Get("X-Amzn-ErrorType"); et != "NotImplementedException" || !strings.Contains(string(msg), op.Name) {
				t.Errorf("%s: 501 %s %s", op.Name, et, msg)
			}
			missing = append(missing, op.Name)
		}
		if resp.Header.Get("X-Amzn-ErrorType") == "UnknownOperationException" {
			t.Errorf("%s: %s %s did not reach the operation: %s", op.Name, op.Method, path, msg)
		}
	}
	if len(missing) > 0 {
		t.Errorf("operations answering 501: %q", missing)
	}
}
