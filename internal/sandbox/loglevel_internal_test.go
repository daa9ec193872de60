package sandbox

import (
	"testing"
	"time"
)

func TestLineLevel(t *testing.T) {
	for line, want := range map[string]logLevel{
		"plain print\n":                              levelInfo,
		`{"level":"debug","msg":"x"}` + "\n":         levelDebug,
		`  {"level":"WARNING","msg":"x"}`:            levelWarn,
		`{"level":"CRITICAL"}`:                       levelFatal,
		`{"level":"trace"}`:                          levelTrace,
		`{"level":"LOUD"}`:                           levelInfo, // unknown: INFO
		`{"level":3}`:                                levelInfo,
		`{"msg":"no level"}`:                         levelInfo,
		`{"level":"error", broken`:                   levelInfo,
		`["level","error"]`:                          levelInfo,
		`{"nested":{"level":"error"},"x":1}`:         levelInfo,
		`{"msg":"a \"level\" word","level":"ERROR"}`: levelError,
		`{"a":[{"level":"error"}],"b":"}"}`:          levelInfo,
		`{"a":{"x":1},"level" : "Warn"}`:             levelWarn,
		`{"level":"error"} trailing`:                 levelInfo,
		`{"level":"error",}`:                         levelInfo, // not JSON
		`{"level":"err\u006fr"}`:                     levelInfo, // escaped: not read
		`{"x":"\\","level":"fatal"}`:                 levelFatal,
	} {
		if got := lineLevel([]byte(line)); got != want {
			t.Errorf("lineLevel(%q) = %d, want %d", line, got, want)
		}
	}
}

// TestFilterOutput: lines are judged whole however the pipe splits them,
// and an unfinished line is judged when the log is taken.
func TestFilterOutput(t *testing.T) {
	e := &env{m: &Manager{}, json: true, fn: Function{ApplicationLogLevel: "WARN"}}
	e.setLevels()
	e.logActive = true
	for _, chunk := range []string{`{"lev`, `el":"error","msg":"kept 1"}` + "\nplain dropped\n{\"level\":\"de", `bug"}` + "\n" + `{"level":"warn","msg":"kept 2"}`} {
		e.appendOutputLocked([]byte(chunk))
	}
	e.flushPartialLocked()
	want := `{"level":"error","msg":"kept 1"}` + "\n" + `{"level":"warn","msg":"kept 2"}`
	if string(e.logBuf) != want {
		t.Errorf("kept %q, want %q", e.logBuf, want)
	}
}

// TestInitEndRecords: INIT_REPORT as AWS writes it for a failed or timed
// out init, and nothing for a successful one under Text.
func TestInitEndRecords(t *testing.T) {
	e := &env{}
	e.setLevels()
	d := 1500*time.Millisecond + 250*time.Microsecond
	for _, c := range []struct{ status, errType, want string }{
		{"error", "Runtime.ExitError", "INIT_REPORT Init Duration: 1500.25 ms\tPhase: init\tStatus: error\tError Type: Runtime.ExitError\n"},
		{"timeout", "Sandbox.Timedout", "INIT_REPORT Init Duration: 1500.25 ms\tPhase: init\tStatus: timeout\n"},
		{"success", "", ""},
	} {
		if got := string(e.appendInitEnd([]byte("no newline"), d, c.status, c.errType)); got != "no newline"+map[bool]string{true: "\n", false: ""}[c.want != ""]+c.want {
			t.Errorf("%s: %q, want %q after the output", c.status, got, c.want)
		}
	}
}

// BenchmarkLineLevel is the cost of judging one output line under JSON: a
// runtime logger's record (parsed) and a plain print (not).
func BenchmarkLineLevel(b *testing.B) {
	for name, line := range map[string]string{
		"record": `{"timestamp":"2026-12-05T03:21:35Z","level":"INFO","message":"structured hello","logger":"root","requestId":"6f1c2b7e-0d1a-4c39-9b8e-2a4f5c6d7e8f"}` + "\n",
		"print":  "plain print of some length, as functions write them\n",
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				lineLevel([]byte(line))
			}
		})
	}
}
