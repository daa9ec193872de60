package runtimes

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/lambdad/lambdad/internal/testkit"
)

const pyApp = `import json
import logging

count = 0

def handler(event, context):
    global count
    count += 1
    return {"event": event, "count": count}

def fail(event, context):
    raise ValueError("boom " + event["why"])

def unmarshalable(event, context):
    return {"s": {1, 2}}

def ctx(event, context):
    cc = context.client_context
    return {
        "aws_request_id": context.aws_request_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "remaining_ok": 0 < context.get_remaining_time_in_millis() <= 30000,
        "client_context": None if cc is None else {
            "custom": cc.custom, "env": cc.env,
            "installation_id": cc.client.installation_id, "app_title": cc.client.app_title,
        },
        "identity": [context.identity.cognito_identity_id, context.identity.cognito_identity_pool_id],
    }

def logs(event, context):
    print("printed line")
    log = logging.getLogger()
    log.debug("debug %s", "d")
    log.info("info %s", "i")
    log.warning("warning %s", "w")
    logging.getLogger("mylog").error("named", extra={"k": 7})
    try:
        1 / 0
    except ZeroDivisionError:
        log.exception("caught")
    return "ok"
`

func TestPythonInvocations(t *testing.T) {
	t.Parallel()
	c := newCatalog(t)
	code := writeFiles(t, map[string]string{"app.py": pyApp})

	t.Run("success and module state", func(t *testing.T) {
		t.Parallel()
		e := start(t, c, "python3.12", "app.handler", code, startOpts{})
		_, p := e.invoke(`{"a":[1,2.5,"x"],"b":{"c":null}}`)
		if p.kind != "response" || p.contentType != "application/json" {
			t.Fatalf("got %s (%s), want a JSON response", p.kind, p.contentType)
		}
		jsonEqual(t, p.body, `{"event":{"a":[1,2.5,"x"],"b":{"c":null}},"count":1}`)
		_, p = e.invoke(`"second"`)
		jsonEqual(t, p.body, `{"event":"second","count":2}`)
	})

	t.Run("handler error", func(t *testing.T) {
		t.Parallel()
		e := start(t, c, "python3.12", "app.fail", code, startOpts{})
		id, p := e.invoke(`{"why":"here"}`)
		if p.kind != "error" || p.errorType != "ValueError" {
			t.Fatalf("got %s %q, want error ValueError", p.kind, p.errorType)
		}
		m := testkit.DecodeJSON[map[string]any](t, p.body)
		trace := fmt.Sprintf("  File \"%s\", line 12, in fail\n    raise ValueError(\"boom \" + event[\"why\"])\n", filepath.Join(code, "app.py"))
		want := map[string]any{"errorMessage": "boom here", "errorType": "ValueError", "requestId": id, "stackTrace": []any{trace}}
		if g, w := mustJSON(m), mustJSON(want); g != w {
			t.Errorf("error body\n got %s\nwant %s", g, w)
		}
		// The log gets one record: lines joined by \r, indentation as no-break spaces.
		e.outputContaining("[ERROR] ValueError: boom here\rTraceback (most recent call last):\r\u00a0\u00a0File \"")
		// The process keeps serving after a handler error.
		_, p = e.invoke(`{"why":"again"}`)
		if p.kind != "error" || testkit.DecodeJSON[map[string]any](t, p.body)["errorMessage"] != "boom again" {
			t.Errorf("second invoke: %s %s", p.kind, p.body)
		}
	})

	t.Run("marshal error", func(t *testing.T) {
		t.Parallel()
		e := start(t, c, "python3.12", "app.unmarshalable", code, startOpts{})
		_, p := e.invoke(`{}`)
		m := testkit.DecodeJSON[map[string]any](t, p.body)
		if p.errorType != "Runtime.MarshalError" || m["errorMessage"] != "Unable to marshal response: Object of type set is not JSON serializable" {
			t.Errorf("got %s %s", p.errorType, p.body)
		}
	})

	t.Run("context", func(t *testing.T) {
		t.Parallel()
		e := start(t, c, "python3.12", "app.ctx", code, startOpts{})
		id, p := e.invoke(`{}`, invokeOpts{
			clientContext: `{"client":{"installation_id":"inst-1","app_title":"My App"},"custom":{"k":"v"},"env":{"platform":"Android"}}`,
			identity:      `{"cognitoIdentityId":"us-east-1:abc","cognitoIdentityPoolId":"us-east-1:pool"}`,
		})
		jsonEqual(t, p.body, fmt.Sprintf(`{
			"aws_request_id": %q, "function_name": "fn", "function_version": "$LATEST",
			"invoked_function_arn": "arn:aws:lambda:us-east-1:123456789012:function:fn",
			"memory_limit_in_mb": "256", "log_group_name": "/aws/lambda/fn",
			"log_stream_name": "2026/11/21/[$LATEST]0123456789abcdef", "remaining_ok": true,
			"client_context": {"custom":{"k":"v"},"env":{"platform":"Android"},"installation_id":"inst-1","app_title":"My App"},
			"identity": ["us-east-1:abc","us-east-1:pool"]}`, id))
		// Without the headers: no client context, an identity with empty fields.
		id, p = e.invoke(`{}`)
		m := testkit.DecodeJSON[map[string]any](t, p.body)
		if m["aws_request_id"] != id || m["client_context"] != nil || mustJSON(m["identity"]) != `[null,null]` {
			t.Errorf("got %s", p.body)
		}
	})

	t.Run("nested handler path", func(t *testing.T) {
		t.Parallel()
		nested := writeFiles(t, map[string]string{"dir/sub/mod.py": "def fn(event, context):\n    return {'nested': event}\n"})
		e := start(t, c, "python3.12", "dir/sub/mod.fn", nested, startOpts{})
		_, p := e.invoke(`7`)
		jsonEqual(t, p.body, `{"nested":7}`)
	})

	t.Run("layer on the path", func(t *testing.T) {
		t.Parallel()
		layer := writeFiles(t, map[string]string{"python/helper.py": "VALUE = 'from layer'\n"})
		app := writeFiles(t, map[string]string{"lay.py": "import helper\ndef h(e, c):\n    return helper.VALUE\n"})
		e := start(t, c, "python3.12", "lay.h", app, startOpts{layers: []string{layer}})
		_, p := e.invoke(`{}`)
		jsonEqual(t, p.body, `"from layer"`)
	})
}

func TestPythonInitErrors(t *testing.T) {
	t.Parallel()
	c := newCatalog(t)
	code := writeFiles(t, map[string]string{
		"app.py":    "def handler(e, c):\n    return 1\n",
		"broken.py": "def handler(e, c)\n    return 1\n",
		"needs.py":  "import not_installed_pkg\n",
		"raises.py": "raise RuntimeError('at import')\n",
	})
	tests := []struct {
		handler, errType, msg string
		trace                 string // expected first stackTrace element, "" for none
	}{
		{"missing.handler", "Runtime.ImportModuleError", "Unable to import module 'missing': No module named 'missing'", ""},
		{"needs.handler", "Runtime.ImportModuleError", "Unable to import module 'needs': No module named 'not_installed_pkg'", ""},
		{"app.nothere", "Runtime.HandlerNotFound", "Handler 'nothere' missing on module 'app'", ""},
		{"app", "Runtime.MalformedHandlerName", "Bad handler 'app': not enough values to unpack (expected 2, got 1)", ""},
		{"broken.handler", "Runtime.UserCodeSyntaxError", "", fmt.Sprintf("  File \"%s\" Line 1\n", filepath.Join(code, "broken.py"))},
		{"raises.handler", "RuntimeError", "at import", ""},
		{"sys.handler", "Runtime.BuiltInModuleConflict", "Cannot use built-in module sys as a handler module", ""},
	}
	for _, tc := range tests {
		t.Run(tc.handler, func(t *testing.T) {
			t.Parallel()
			e := start(t, c, "python3.12", tc.handler, code, startOpts{})
			p := e.initError()
			m := testkit.DecodeJSON[map[string]any](t, p.body)
			if p.errorType != tc.errType {
				t.Errorf("error type %q, want %q (%s)", p.errorType, tc.errType, p.body)
			}
			if tc.msg != "" && m["errorMessage"] != tc.msg {
				t.Errorf("message %q, want %q", m["errorMessage"], tc.msg)
			}
			if tc.errType == "Runtime.UserCodeSyntaxError" {
				msg, _ := m["errorMessage"].(string)
				if !strings.HasPrefix(msg, "Syntax error in module 'broken': ") || !strings.Contains(msg, "(broken.py, line 1)") {
					t.Errorf("message %q", msg)
				}
			}
			st, _ := m["stackTrace"].([]any)
			if tc.trace != "" && (len(st) != 1 || !strings.HasPrefix(st[0].(string), tc.trace)) {
				t.Errorf("stackTrace %v, want one element starting %q", st, tc.trace)
			}
			if tc.handler == "raises.handler" {
				last, _ := st[len(st)-1].(string)
				if !strings.Contains(last, `raises.py", line 1, in <module>`) || strings.Contains(mustJSON(st), "bootstrap.py") {
					t.Errorf("stackTrace %v", st)
				}
			}
			if m["requestId"] != "" {
				t.Errorf("requestId %v, want empty", m["requestId"])
			}
			e.outputContaining("[ERROR] " + tc.errType + ":")
		})
	}
}

var (
	isoStamp  = `\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z`
	pyTextLog = regexp.MustCompile(`(?m)^\[(\w+)\]\t` + isoStamp + `\t([0-9a-f-]*)\t(.*)$`)
)

func TestPythonLogging(t *testing.T) {
	t.Parallel()
	c := newCatalog(t)
	code := writeFiles(t, map[string]string{"app.py": pyApp})

	t.Run("text", func(t *testing.T) {
		t.Parallel()
		e := start(t, c, "python3.12", "app.logs", code, startOpts{})
		id, _ := e.invoke(`{}`)
		out := e.outputContaining("caught")
		if !strings.Contains(out, "printed line\n") {
			t.Errorf("print output missing:\n%s", out)
		}
		var got []string
		for _, m := range pyTextLog.FindAllStringSubmatch(out, -1) {
			if m[2] != id {
				t.Errorf("request id %q, want %q", m[2], id)
			}
			got = append(got, m[1]+" "+m[3])
		}
		// The root logger keeps Python's default WARNING level, as on AWS.
		want := []string{"WARNING warning w", "ERROR named", "ERROR caught"}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("log records %q, want %q\noutput:\n%s", got, want, out)
		}
	})

	t.Run("json", func(t *testing.T) {
		t.Parallel()
		e := start(t, c, "python3.12", "app.logs", code, startOpts{env: []string{"AWS_LAMBDA_LOG_FORMAT=JSON", "AWS_LAMBDA_LOG_LEVEL=INFO"}})
		id, _ := e.invoke(`{}`)
		out := e.outputContaining(`"caught"`)
		var recs []map[string]any
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, "{") {
				recs = append(recs, testkit.DecodeJSON[map[string]any](t, []byte(line)))
			}
		}
		if len(recs) != 4 {
			t.Fatalf("got %d JSON records, want 4 (debug filtered):\n%s", len(recs), out)
		}
		for i, want := range []struct{ level, msg, logger string }{
			{"INFO", "info i", "root"}, {"WARNING", "warning w", "root"}, {"ERROR", "named", "mylog"}, {"ERROR", "caught", "root"},
		} {
			r := recs[i]
			if r["level"] != want.level || r["message"] != want.msg || r["logger"] != want.logger || r["requestId"] != id {
				t.Errorf("record %d = %v, want %+v", i, r, want)
			}
			if ts, _ := r["timestamp"].(string); !regexp.MustCompile(`^` + isoStamp + `$`).MatchString(ts) {
				t.Errorf("timestamp %q", ts)
			}
		}
		if recs[2]["k"] != float64(7) {
			t.Errorf("extra field k missing: %v", recs[2])
		}
		if recs[3]["errorType"] != "ZeroDivisionError" || recs[3]["errorMessage"] != "division by zero" || recs[3]["stackTrace"] == nil {
			t.Errorf("exception record %v", recs[3])
		}
	})

	t.Run("json error record", func(t *testing.T) {
		t.Parallel()
		e := start(t, c, "python3.12", "app.fail", code, startOpts{env: []string{"AWS_LAMBDA_LOG_FORMAT=JSON"}})
		id, _ := e.invoke(`{"why":"j"}`)
		out := e.outputContaining(`"errorType"`)
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, `"errorType"`) {
				r := testkit.DecodeJSON[map[string]any](t, []byte(line))
				if r["level"] != "ERROR" || r["errorType"] != "ValueError" || r["errorMessage"] != "boom j" || r["requestId"] != id {
					t.Errorf("error record %v", r)
				}
			}
		}
	})
}

// TestPythonVersions runs the bootstrap on every Python 3.9+ this machine has,
// since it must work on all of them.
func TestPythonVersions(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	var found []string
	for _, pattern := range []string{"/usr/bin/python3.*", "/usr/local/bin/python3.*", os.Getenv("HOME") + "/.pyenv/versions/*/bin/python3.*"} {
		matches, _ := filepath.Glob(pattern)
		for _, m := range matches {
			if !regexp.MustCompile(`/python3\.\d+$`).MatchString(m) {
				continue
			}
			if _, ok := pythonVersion(filepath.Base(m)); !ok || seen[filepath.Base(m)] {
				continue
			}
			if _, _, err := pythonProbe(t.Context(), m); err != nil {
				continue
			}
			seen[filepath.Base(m)] = true
			found = append(found, m)
		}
	}
	if len(found) == 0 {
		t.Skip("no python3.9+ interpreters found")
	}
	code := writeFiles(t, map[string]string{"app.py": pyApp})
	for _, py := range found {
		t.Run(filepath.Base(py), func(t *testing.T) {
			t.Parallel()
			c, err := New(Config{Dir: t.TempDir(), Python: py})
			if err != nil {
				t.Fatal(err)
			}
			// The runtime id matching the binary, so the catalog's own lookup
			// may pick either that binary from PATH or the fallback: both are py's version.
			rt := filepath.Base(py)
			e := start(t, c, rt, "app.handler", code, startOpts{})
			_, p := e.invoke(`{"v":1}`)
			jsonEqual(t, p.body, `{"event":{"v":1},"count":1}`)
			e2 := start(t, c, rt, "app.fail", code, startOpts{})
			_, p = e2.invoke(`{"why":"v"}`)
			st, _ := testkit.DecodeJSON[map[string]any](t, p.body)["stackTrace"].([]any)
			if p.errorType != "ValueError" || len(st) != 1 || strings.Contains(st[0].(string), "^") {
				t.Errorf("%s: error %s %s", py, p.errorType, p.body)
			}
		})
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
