package server_test

import (
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/lambdad/lambdad/internal/server"
	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// invokeLines are lambdad's "invoke" lines in out.
func invokeLines(out string) []string {
	var lines []string
	for l := range strings.Lines(out) {
		if strings.Contains(l, " msg=invoke ") {
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	return lines
}

// TestInvokeLogLine: at lambdad's default level (Info) every invocation
// writes one line to lambdad's own log naming the function, version,
// request id, duration, cold start (its init duration, then "no") and the
// error type of a failure; at Warn there is none.
func TestInvokeLogLine(t *testing.T) {
	t.Parallel()
	var out syncBuffer
	_, c := servertest.InvokeEnv(t, func(cfg *server.Config) {
		cfg.Logger = slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelInfo}))
	})
	testkit.CreateActive(t, c, testkit.PyFunction(t, "logline", `
def handler(e, c):
    if e.get("fail"):
        raise ValueError("asked to")
    return "ok"
`))
	var ids []string
	for _, p := range []string{`{}`, `{}`, `{"fail":true}`} {
		o := testkit.Call(t, c, "logline", p)
		id, _ := awsmiddleware.GetRequestIDMetadata(o.ResultMetadata)
		ids = append(ids, id)
	}
	lines := invokeLines(out.String())
	if len(lines) != 3 {
		t.Fatalf("%d invoke lines for 3 invocations:\n%s", len(lines), out.String())
	}
	want := []*regexp.Regexp{
		regexp.MustCompile(`^time=\S+ level=INFO msg=invoke function=logline version=\$LATEST request_id=` + ids[0] + ` duration=[0-9.]+[µm]?s cold_start=[0-9.]+[µm]?s$`),
		regexp.MustCompile(`^time=\S+ level=INFO msg=invoke function=logline version=\$LATEST request_id=` + ids[1] + ` duration=[0-9.]+[µm]?s cold_start=no$`),
		regexp.MustCompile(`^time=\S+ level=INFO msg=invoke function=logline version=\$LATEST request_id=` + ids[2] + ` duration=[0-9.]+[µm]?s cold_start=no error=ValueError$`),
	}
	for i, re := range want {
		if !re.MatchString(lines[i]) {
			t.Errorf("line %d is\n%s\nwant it to match %s", i, lines[i], re)
		}
	}
}

// TestInvokeLogLineWarn: at --log-level warn the invoke line is not written.
func TestInvokeLogLineWarn(t *testing.T) {
	t.Parallel()
	var out syncBuffer
	_, c := servertest.InvokeEnv(t, func(cfg *server.Config) {
		cfg.Logger = slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelWarn}))
	})
	testkit.CreateActive(t, c, testkit.PyFunction(t, "logline-warn", "def handler(e, c):\n    return 1\n"))
	testkit.MustInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("logline-warn")})
	if lines := invokeLines(out.String()); len(lines) != 0 {
		t.Errorf("invoke lines at Warn: %q", lines)
	}
}
