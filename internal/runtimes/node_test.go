package runtimes

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/lambdad/lambdad/internal/testkit"
)

const nodeCJS = `let count = 0;
exports.handler = async (event, context) => {
  count++;
  return { event, count };
};
exports.fail = async (event) => {
  throw new Error('boom ' + event.why);
};
exports.obj = { method: async () => 'from method', notfn: 5 };
exports.ctx = async (event, context) => ({
  functionName: context.functionName,
  functionVersion: context.functionVersion,
  invokedFunctionArn: context.invokedFunctionArn,
  memoryLimitInMB: context.memoryLimitInMB,
  awsRequestId: context.awsRequestId,
  logGroupName: context.logGroupName,
  logStreamName: context.logStreamName,
  remainingOk: context.getRemainingTimeInMillis() > 0 && context.getRemainingTimeInMillis() <= 30000,
  clientContext: context.clientContext === undefined ? 'none' : context.clientContext,
  identity: context.identity === undefined ? 'none' : context.identity,
  waits: context.callbackWaitsForEmptyEventLoop,
  helpers: [typeof context.succeed, typeof context.fail, typeof context.done],
});
exports.cb = (event, context, callback) => {
  const result = { late: false };
  setTimeout(() => { result.late = true; }, 50);
  if (event.noWait) context.callbackWaitsForEmptyEventLoop = false;
  callback(null, result);
};
exports.cbError = (event, context, callback) => callback('plain string failure');
exports.sync = (event) => ({ ignored: true });
exports.unstringifiable = async () => { const o = {}; o.self = o; return o; };
exports.logs = async () => {
  console.log('hello %s', 'world');
  console.debug('debug line');
  console.info('multi\nline');
  console.warn('warned');
  console.error(new Error('logged error'));
  return 'ok';
};
exports.rejectLater = async () => { Promise.reject(new Error('nobody catches')); return new Promise(() => {}); };
`

func TestNodeInvocations(t *testing.T) {
	t.Parallel()
	c := newCatalog(t)
	code := writeFiles(t, map[string]string{"index.js": nodeCJS})

	t.Run("success and module state", func(t *testing.T) {
		t.Parallel()
		e := start(t, c, "nodejs20.x", "index.handler", code, startOpts{})
		_, p := e.invoke(`{"a":[1,2.5,"x"],"b":{"c":null}}`)
		if p.kind != "response" {
			t.Fatalf("got %s %s", p.kind, p.body)
		}
		jsonEqual(t, p.body, `{"event":{"a":[1,2.5,"x"],"b":{"c":null}},"count":1}`)
		_, p = e.invoke(`"second"`)
		jsonEqual(t, p.body, `{"event":"second","count":2}`)
	})

	t.Run("handler error", func(t *testing.T) {
		t.Parallel()
		e := start(t, c, "nodejs20.x", "index.fail", code, startOpts{})
		id, p := e.invoke(`{"why":"here"}`)
		m := testkit.DecodeJSON[map[string]any](t, p.body)
		trace, _ := m["trace"].([]any)
		if p.kind != "error" || p.errorType != "Error" || m["errorType"] != "Error" || m["errorMessage"] != "boom here" ||
			len(trace) < 2 || trace[0] != "Error: boom here" || !strings.Contains(trace[1].(string), filepath.Join(code, "index.js")+":7:") {
			t.Errorf("got %s %s", p.kind, p.body)
		}
		out := e.outputContaining("Invoke Error")
		if !regexp.MustCompile(`(?m)^` + isoStamp + `\t` + id + `\tERROR\tInvoke Error \t\{"errorType":"Error","errorMessage":"boom here","stack":\["Error: boom here",`).MatchString(out) {
			t.Errorf("invoke error log line:\n%s", out)
		}
		_, p = e.invoke(`{"why":"again"}`)
		if testkit.DecodeJSON[map[string]any](t, p.body)["errorMessage"] != "boom again" {
			t.Errorf("second invoke: %s", p.body)
		}
	})

	t.Run("context", func(t *testing.T) {
		t.Parallel()
		e := start(t, c, "nodejs20.x", "index.ctx", code, startOpts{})
		id, p := e.invoke(`{}`, invokeOpts{
			clientContext: `{"client":{"installation_id":"inst-1"},"custom":{"k":"v"},"env":{"platform":"Android"}}`,
			identity:      `{"cognitoIdentityId":"us-east-1:abc","cognitoIdentityPoolId":"us-east-1:pool"}`,
		})
		jsonEqual(t, p.body, fmt.Sprintf(`{
			"functionName":"fn","functionVersion":"$LATEST",
			"invokedFunctionArn":"arn:aws:lambda:us-east-1:123456789012:function:fn",
			"memoryLimitInMB":"256","awsRequestId":%q,"logGroupName":"/aws/lambda/fn",
			"logStreamName":"2026/11/21/[$LATEST]0123456789abcdef","remainingOk":true,
			"clientContext":{"client":{"installation_id":"inst-1"},"custom":{"k":"v"},"env":{"platform":"Android"}},
			"identity":{"cognitoIdentityId":"us-east-1:abc","cognitoIdentityPoolId":"us-east-1:pool"},
			"waits":true,"helpers":["function","function","function"]}`, id))
		_, p = e.invoke(`{}`)
		m := testkit.DecodeJSON[map[string]any](t, p.body)
		if m["clientContext"] != "none" || m["identity"] != "none" {
			t.Errorf("without headers: %s", p.body)
		}
	})

	t.Run("callback waits for the event loop", func(t *testing.T) {
		t.Parallel()
		e := start(t, c, "nodejs20.x", "index.cb", code, startOpts{})
		_, p := e.invoke(`{}`)
		jsonEqual(t, p.body, `{"late":true}`)
		_, p = e.invoke(`{"noWait":true}`)
		jsonEqual(t, p.body, `{"late":false}`)
		_, p = e.invoke(`{}`)
		jsonEqual(t, p.body, `{"late":true}`)
	})

	t.Run("callback error and sync handler", func(t *testing.T) {
		t.Parallel()
		e := start(t, c, "nodejs20.x", "index.cbError", code, startOpts{})
		_, p := e.invoke(`{}`)
		jsonEqual(t, p.body, `{"errorType":"string","errorMessage":"plain string failure","trace":[]}`)
		// A non-async handler that never calls back answers null.
		e2 := start(t, c, "nodejs20.x", "index.sync", code, startOpts{})
		_, p = e2.invoke(`{}`)
		if p.kind != "response" || string(p.body) != "null" {
			t.Errorf("sync handler: %s %s", p.kind, p.body)
		}
	})

	t.Run("unstringifiable result", func(t *testing.T) {
		t.Parallel()
		e := start(t, c, "nodejs20.x", "index.unstringifiable", code, startOpts{})
		_, p := e.invoke(`{}`)
		m := testkit.DecodeJSON[map[string]any](t, p.body)
		if p.errorType != "Runtime.JSONStringifyError" || m["errorMessage"] != "Unable to stringify response body" {
			t.Errorf("got %s %s", p.errorType, p.body)
		}
	})

	t.Run("unhandled rejection", func(t *testing.T) {
		t.Parallel()
		e := start(t, c, "nodejs20.x", "index.rejectLater", code, startOpts{})
		_, p := e.invoke(`{}`)
		m := testkit.DecodeJSON[map[string]any](t, p.body)
		if p.errorType != "Runtime.UnhandledPromiseRejection" || m["errorMessage"] != "Error: nobody catches" {
			t.Errorf("got %s %s", p.errorType, p.body)
		}
	})

	t.Run("object method", func(t *testing.T) {
		t.Parallel()
		e := start(t, c, "nodejs20.x", "index.obj.method", code, startOpts{})
		_, p := e.invoke(`{}`)
		jsonEqual(t, p.body, `"from method"`)
	})
}

func TestNodeModuleKinds(t *testing.T) {
	t.Parallel()
	c := newCatalog(t)
	tests := []struct {
		name    string
		files   map[string]string
		handler string
	}{
		{"mjs", map[string]string{"app.mjs": "export const handler = async (e) => ({ kind: 'esm', e });"}, "app.handler"},
		{"js with type module", map[string]string{
			"package.json": `{"type":"module"}`,
			"app.js":       "import { x } from './lib.js';\nexport const handler = async (e) => ({ kind: x, e });",
			"lib.js":       "export const x = 'esm-js';",
		}, "app.handler"},
		{"cjs", map[string]string{"app.cjs": "module.exports.handler = async (e) => ({ kind: 'cjs', e });"}, "app.handler"},
		{"nested", map[string]string{"src/handlers/app.js": "exports.run = async (e) => ({ kind: 'nested', e });"}, "src/handlers/app.run"},
		{"nested mjs", map[string]string{"lib/app.mjs": "export async function go(e) { return { kind: 'nested-esm', e }; }"}, "lib/app.go"},
		{"node_modules package", map[string]string{
			"node_modules/pkg/package.json": `{"main":"main.js"}`,
			"node_modules/pkg/main.js":      "exports.h = async (e) => ({ kind: 'package', e });",
		}, "pkg.h"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, c, "nodejs20.x", tc.handler, writeFiles(t, tc.files), startOpts{})
			_, p := e.invoke(`{"n":1}`)
			if p.kind != "response" {
				t.Fatalf("got %s %s", p.kind, p.body)
			}
			if m := testkit.DecodeJSON[map[string]any](t, p.body); mustJSON(m["e"]) != `{"n":1}` || m["kind"] == nil {
				t.Errorf("got %s", p.body)
			}
		})
	}
}

func TestNodeInitErrors(t *testing.T) {
	t.Parallel()
	c := newCatalog(t)
	code := writeFiles(t, map[string]string{
		"index.js":    nodeCJS,
		"broken.js":   "exports.handler = async (e) => {{ ;",
		"needs.js":    "require('not-installed-pkg');\nexports.handler = async () => 1;",
		"throws.js":   "throw new TypeError('at load');",
		"callback.js": "exports.handler = (event, context, callback) => callback(null, 1);",
	})
	tests := []struct {
		runtime, handler, errType string
		msg                       func(runtimeDir string) string // exact errorMessage, or nil
		prefix                    string                         // errorMessage prefix when msg is nil
	}{
		{"nodejs20.x", "missing.handler", "Runtime.ImportModuleError", func(d string) string {
			return "Error: Cannot find module 'missing'\nRequire stack:\n- " + filepath.Join(d, "index.mjs")
		}, ""},
		{"nodejs20.x", "needs.handler", "Runtime.ImportModuleError", nil, "Error: Cannot find module 'not-installed-pkg'\nRequire stack:\n- " + filepath.Join(code, "needs.js")},
		{"nodejs20.x", "index.nothere", "Runtime.HandlerNotFound", func(string) string { return "index.nothere is undefined or not exported" }, ""},
		{"nodejs20.x", "index.obj.notfn", "Runtime.HandlerNotFound", func(string) string { return "index.obj.notfn is not a function" }, ""},
		{"nodejs20.x", "index", "Runtime.MalformedHandlerName", func(string) string { return "Bad handler" }, ""},
		{"nodejs20.x", "../index.handler", "Runtime.MalformedHandlerName", nil, "'../index.handler' is not a valid handler name."},
		{"nodejs20.x", "broken.handler", "Runtime.UserCodeSyntaxError", nil, "SyntaxError: "},
		{"nodejs20.x", "throws.handler", "TypeError", func(string) string { return "at load" }, ""},
		{"nodejs24.x", "callback.handler", "Runtime.CallbackHandlerDeprecated", nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.runtime+"/"+tc.handler, func(t *testing.T) {
			t.Parallel()
			e := start(t, c, tc.runtime, tc.handler, code, startOpts{})
			p := e.initError()
			m := testkit.DecodeJSON[map[string]any](t, p.body)
			msg, _ := m["errorMessage"].(string)
			if p.errorType != tc.errType || m["errorType"] != tc.errType {
				t.Errorf("error type %q, want %q (%s)", p.errorType, tc.errType, p.body)
			}
			if tc.msg != nil && msg != tc.msg(e.launch.RuntimeDir) {
				t.Errorf("message %q, want %q", msg, tc.msg(e.launch.RuntimeDir))
			}
			if !strings.HasPrefix(msg, tc.prefix) {
				t.Errorf("message %q, want prefix %q", msg, tc.prefix)
			}
			if trace, ok := m["trace"].([]any); !ok || len(trace) == 0 || !strings.HasPrefix(trace[0].(string), tc.errType+": ") {
				t.Errorf("trace %v", m["trace"])
			}
			e.outputContaining("\tundefined\tERROR\tUncaught Exception \t{\"errorType\":\"" + tc.errType + "\"")
		})
	}
	// On nodejs22.x the same callback handler still works.
	t.Run("callback on nodejs22.x", func(t *testing.T) {
		t.Parallel()
		e := start(t, c, "nodejs22.x", "callback.handler", code, startOpts{})
		_, p := e.invoke(`{}`)
		jsonEqual(t, p.body, `1`)
	})
}

var nodeTextLog = regexp.MustCompile(`(?m)^` + isoStamp + `\t([0-9a-f-]+)\t(\w+)\t(.*)$`)

func TestNodeLogging(t *testing.T) {
	t.Parallel()
	c := newCatalog(t)
	code := writeFiles(t, map[string]string{"index.js": nodeCJS})

	t.Run("text", func(t *testing.T) {
		t.Parallel()
		e := start(t, c, "nodejs20.x", "index.logs", code, startOpts{})
		id, _ := e.invoke(`{}`)
		out := e.outputContaining("logged error")
		var got []string
		for _, m := range nodeTextLog.FindAllStringSubmatch(out, -1) {
			if m[1] != id {
				t.Errorf("request id %q, want %q", m[1], id)
			}
			line := m[3]
			if m[2] == "ERROR" {
				line = strings.SplitN(line, "\r", 2)[0] // the stack follows on \r-separated lines
			}
			got = append(got, m[2]+" "+line)
		}
		want := []string{"INFO hello world", "DEBUG debug line", "INFO multi\rline", "WARN warned", "ERROR Error: logged error"}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("log records %q, want %q\n%s", got, want, out)
		}
	})

	t.Run("json with level filter", func(t *testing.T) {
		t.Parallel()
		e := start(t, c, "nodejs20.x", "index.logs", code, startOpts{env: []string{"AWS_LAMBDA_LOG_FORMAT=JSON", "AWS_LAMBDA_LOG_LEVEL=WARN"}})
		id, _ := e.invoke(`{}`)
		out := e.outputContaining("logged error")
		var recs []map[string]any
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, "{") {
				recs = append(recs, testkit.DecodeJSON[map[string]any](t, []byte(line)))
			}
		}
		if len(recs) != 2 {
			t.Fatalf("got %d records, want 2 (WARN and ERROR):\n%s", len(recs), out)
		}
		if r := recs[0]; r["level"] != "WARN" || r["message"] != "warned" || r["requestId"] != id || !regexp.MustCompile(`^`+isoStamp+`$`).MatchString(r["timestamp"].(string)) {
			t.Errorf("warn record %v", r)
		}
		msg, _ := recs[1]["message"].(map[string]any)
		if recs[1]["level"] != "ERROR" || msg["errorType"] != "Error" || msg["errorMessage"] != "logged error" || msg["stackTrace"] == nil {
			t.Errorf("error record %v", recs[1])
		}
	})

	t.Run("json default level is INFO", func(t *testing.T) {
		t.Parallel()
		e := start(t, c, "nodejs20.x", "index.logs", code, startOpts{env: []string{"AWS_LAMBDA_LOG_FORMAT=JSON"}})
		e.invoke(`{}`)
		out := e.outputContaining("logged error")
		if strings.Contains(out, "debug line") || !strings.Contains(out, `"message":"hello world"`) {
			t.Errorf("output:\n%s", out)
		}
	})
}
