package server_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// tailCall invokes name and returns the output and its log tail.
func tailCall(t *testing.T, c *lambda.Client, name, payload string) (*lambda.InvokeOutput, string) {
	t.Helper()
	out := testkit.MustInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(payload), LogType: types.LogTypeTail})
	return out, testkit.Tail(t, out)
}

// recordTypes are the "type"s of a JSON log's platform records, in order.
func recordTypes(t *testing.T, log string) []string {
	t.Helper()
	var types_ []string
	for line := range strings.SplitSeq(strings.TrimSpace(log), "\n") {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		rec := testkit.DecodeJSON[map[string]any](t, []byte(line))
		if ty, ok := rec["type"].(string); ok {
			types_ = append(types_, ty)
		}
	}
	return types_
}

// TestLogTextRecords: in the Text log format a cold start opens with
// INIT_START (naming the runtime version and its ARN), and output the
// function did not end with a newline does not run into the platform's
// lines: lambdad ends the line.
func TestLogTextRecords(t *testing.T) {
	t.Parallel()
	_, c := servertest.InvokeEnv(t, nil)
	testkit.CreateActive(t, c, testkit.PyFunction(t, "log-text", `import sys
sys.stdout.write("init without newline")
sys.stdout.flush()

def handler(event, context):
    sys.stdout.write("handler without newline")
    sys.stdout.flush()
    return 1
`))
	cfg, err := c.GetFunctionConfiguration(t.Context(), &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("log-text")})
	if err != nil {
		t.Fatal(err)
	}
	_, cold := tailCall(t, c, "log-text", `{}`)
	lines := strings.Split(strings.TrimSuffix(cold, "\n"), "\n")
	wantInit := "INIT_START Runtime Version: python:3.12\tRuntime Version ARN: " + aws.ToString(cfg.RuntimeVersionConfig.RuntimeVersionArn)
	if len(lines) < 5 || lines[0] != wantInit || lines[1] != "init without newline" ||
		!strings.HasPrefix(lines[2], "START RequestId: ") || lines[3] != "handler without newline" ||
		!strings.HasPrefix(lines[4], "END RequestId: ") {
		t.Errorf("cold log:\n%s\nwant %q, the init's output, START, the handler's output and END, each on a line of its own", cold, wantInit)
	}
	_, warm := tailCall(t, c, "log-text", `{}`)
	if strings.Contains(warm, "INIT_START") || !strings.HasPrefix(warm, "START RequestId: ") || !strings.Contains(warm, "\nhandler without newline\nEND RequestId: ") {
		t.Errorf("warm log:\n%s", warm)
	}
}

// TestLogInitReport: an init that fails writes INIT_REPORT, as AWS does:
// "INIT_REPORT Init Duration: X ms\tPhase: init\tStatus: error\tError Type: T",
// after the init's own output and before START.
func TestLogInitReport(t *testing.T) {
	t.Parallel()
	_, c := servertest.InvokeEnv(t, nil)
	for _, tc := range []struct{ name, src, errType string }{
		{"log-init-raise", "raise RuntimeError('no init for you')\n\ndef handler(e, c):\n    return 1\n", ""},
		{"log-init-exit", "import os\nprint('leaving', flush=True)\nos._exit(3)\n\ndef handler(e, c):\n    return 1\n", "Runtime.ExitError"},
	} {
		testkit.CreateActive(t, c, testkit.PyFunction(t, tc.name, tc.src))
		out, log := tailCall(t, c, tc.name, `{}`)
		if out.FunctionError == nil {
			t.Fatalf("%s: no function error; log:\n%s", tc.name, log)
		}
		want := tc.errType
		if want == "" { // the runtime's own type for the failed import
			want = testkit.DecodeJSON[struct{ ErrorType string }](t, out.Payload).ErrorType
		}
		i := strings.Index(log, "INIT_REPORT Init Duration: ")
		if i < 0 {
			t.Fatalf("%s: no INIT_REPORT in\n%s", tc.name, log)
		}
		line, _, _ := strings.Cut(log[i:], "\n")
		if _, rest, _ := strings.Cut(line, " ms\t"); rest != "Phase: init\tStatus: error\tError Type: "+want {
			t.Errorf("%s: %q, want Phase: init, Status: error, Error Type: %s", tc.name, line, want)
		}
		if s := strings.Index(log, "START RequestId: "); s < i || !strings.HasPrefix(log, "INIT_START ") {
			t.Errorf("%s: INIT_START, INIT_REPORT, START out of order:\n%s", tc.name, log)
		}
	}
}

// TestLogLevelsPython: under JSON, ApplicationLogLevel filters the
// function's output by its "level" key, a line without one (print) counting
// as INFO, and SystemLogLevel filters the platform's records.
func TestLogLevelsPython(t *testing.T) {
	t.Parallel()
	_, c := servertest.InvokeEnv(t, nil)
	src := `import json, logging
print("print at init")

def handler(event, context):
    print("plain print")
    print(json.dumps({"level": "debug", "msg": "json debug"}))
    print(json.dumps({"level": "WARN", "msg": "json warn"}))
    print(json.dumps({"level": "error", "msg": "json error"}))
    print(json.dumps({"level": "LOUD", "msg": "json unknown level"}))
    logging.getLogger().info("logger info")
    logging.getLogger().warning("logger warning")
    return 1
`
	mk := func(name, app, sys string) {
		in := testkit.PyFunction(t, name, src)
		in.LoggingConfig = &types.LoggingConfig{LogFormat: types.LogFormatJson,
			ApplicationLogLevel: types.ApplicationLogLevel(app), SystemLogLevel: types.SystemLogLevel(sys)}
		testkit.CreateActive(t, c, in)
	}
	mk("log-warn-info", "WARN", "INFO")
	mk("log-debug-debug", "DEBUG", "DEBUG")
	mk("log-info-warn", "INFO", "WARN")

	_, log := tailCall(t, c, "log-warn-info", `{}`)
	for _, kept := range []string{"json warn", "json error", "logger warning"} {
		if !strings.Contains(log, kept) {
			t.Errorf("WARN: %q dropped:\n%s", kept, log)
		}
	}
	for _, dropped := range []string{"print at init", "plain print", "json debug", "json unknown level", "logger info"} {
		if strings.Contains(log, dropped) {
			t.Errorf("WARN: %q kept:\n%s", dropped, log)
		}
	}
	if got := strings.Join(recordTypes(t, log), ","); got != "platform.initStart,platform.start,platform.report" {
		t.Errorf("SystemLogLevel INFO records %s, want platform.initStart,platform.start,platform.report:\n%s", got, log)
	}

	_, log = tailCall(t, c, "log-debug-debug", `{}`)
	for _, kept := range []string{"print at init", "plain print", "json debug", "json warn", "json unknown level", "logger info"} {
		if !strings.Contains(log, kept) {
			t.Errorf("DEBUG: %q dropped:\n%s", kept, log)
		}
	}
	if got := strings.Join(recordTypes(t, log), ","); got != "platform.initStart,platform.initRuntimeDone,platform.initReport,platform.start,platform.runtimeDone,platform.report" {
		t.Errorf("SystemLogLevel DEBUG records %s:\n%s", got, log)
	}

	_, log = tailCall(t, c, "log-info-warn", `{}`)
	if got := recordTypes(t, log); len(got) != 0 {
		t.Errorf("SystemLogLevel WARN records %v:\n%s", got, log)
	}
	for _, kept := range []string{"print at init", "plain print", "json unknown level", "logger info"} {
		if !strings.Contains(log, kept) {
			t.Errorf("INFO: %q dropped:\n%s", kept, log)
		}
	}
	if strings.Contains(log, "json debug") {
		t.Errorf("INFO: the debug line kept:\n%s", log)
	}
}

// TestLogLevelsNode: Node's console methods and raw stdout writes are
// filtered the same way under JSON.
func TestLogLevelsNode(t *testing.T) {
	t.Parallel()
	_, c := servertest.InvokeEnv(t, nil)
	in := testkit.NodeFunction(t, "log-node", "index.js", "index.handler", `
exports.handler = async () => {
  console.log("console log");
  console.warn("console warn");
  console.error("console error");
  process.stdout.write("raw plain\n");
  process.stdout.write(JSON.stringify({level: "fatal", msg: "raw fatal"}) + "\n");
  process.stdout.write("unfinished line");
  return 1;
};
`)
	in.LoggingConfig = &types.LoggingConfig{LogFormat: types.LogFormatJson, ApplicationLogLevel: types.ApplicationLogLevelError}
	testkit.CreateActive(t, c, in)
	_, log := tailCall(t, c, "log-node", `{}`)
	for _, kept := range []string{"console error", "raw fatal"} {
		if !strings.Contains(log, kept) {
			t.Errorf("ERROR: %q dropped:\n%s", kept, log)
		}
	}
	for _, dropped := range []string{"console log", "console warn", "raw plain", "unfinished line"} {
		if strings.Contains(log, dropped) {
			t.Errorf("ERROR: %q kept:\n%s", dropped, log)
		}
	}
	for line := range strings.SplitSeq(strings.TrimSpace(log), "\n") {
		testkit.DecodeJSON[map[string]any](t, []byte(line)) // every line a record of its own
	}
}

// TestLogInitReportJSON: under JSON a failed init writes platform.initReport
// (INFO) with its status, error type and duration, after platform.initStart.
func TestLogInitReportJSON(t *testing.T) {
	t.Parallel()
	_, c := servertest.InvokeEnv(t, nil)
	in := testkit.PyFunction(t, "log-init-json", "import os\nos._exit(2)\n\ndef handler(e, c):\n    return 1\n")
	in.LoggingConfig = &types.LoggingConfig{LogFormat: types.LogFormatJson}
	testkit.CreateActive(t, c, in)
	_, log := tailCall(t, c, "log-init-json", `{}`)
	if got := strings.Join(recordTypes(t, log), ","); got != "platform.initStart,platform.initReport,platform.start,platform.report" {
		t.Fatalf("records %s:\n%s", got, log)
	}
	for line := range strings.SplitSeq(log, "\n") {
		if !strings.Contains(line, `"platform.initReport"`) {
			continue
		}
		rec := testkit.DecodeJSON[struct {
			Record struct {
				InitializationType, Phase, Status, ErrorType string
				Metrics                                      struct{ DurationMs float64 }
			}
		}](t, []byte(line)).Record
		if rec.InitializationType != "on-demand" || rec.Phase != "init" || rec.Status != "error" || rec.ErrorType != "Runtime.ExitError" || rec.Metrics.DurationMs <= 0 {
			t.Errorf("initReport %s", line)
		}
	}
}
