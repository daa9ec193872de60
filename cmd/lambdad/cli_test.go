package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lambdad/lambdad/internal/testkit"
)

// TestReadyLineAndSettings runs the binary with its listen address and data
// directory given by flag, by environment, and by both (the flag wins), and
// checks it logs exactly one ready line naming the address it serves on.
func TestReadyLineAndSettings(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := lambdadBin.Path(t)
	tests := []struct {
		name string
		// args and env get the chosen address and directory.
		args func(addr, dir string) []string
		env  func(addr, dir string) []string
	}{
		{
			name: "flags",
			args: func(addr, dir string) []string { return []string{"--listen", addr, "--data-dir", dir} },
			env:  func(addr, dir string) []string { return nil },
		},
		{
			name: "environment",
			args: func(addr, dir string) []string { return nil },
			env: func(addr, dir string) []string {
				return []string{"LAMBDAD_LISTEN=" + addr, "LAMBDAD_DATA_DIR=" + dir}
			},
		},
		{
			name: "flags override environment",
			args: func(addr, dir string) []string { return []string{"--listen=" + addr, "--data-dir=" + dir} },
			env: func(addr, dir string) []string {
				// Both would fail or mislead if they were used.
				return []string{"LAMBDAD_LISTEN=256.0.0.1:1", "LAMBDAD_DATA_DIR=" + filepath.Join(dir, "..", "not-this-one")}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := "127.0.0.1:" + strconv.Itoa(testkit.FreePort(t))
			dir := filepath.Join(t.TempDir(), "data")
			// Run from an empty directory so the default ./lambdad-data would
			// be noticed if the setting were ignored.
			p := testkit.StartProcess(t, bin, t.TempDir(), tt.env(addr, dir), tt.args(addr, dir)...)
			if p.Addr != "http://"+addr {
				t.Errorf("ready line address = %q, want %q", p.Addr, "http://"+addr)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if !testkit.Healthy(ctx, "http://"+addr) {
				t.Errorf("no health answer on %s", addr)
			}
			if _, err := os.Stat(filepath.Join(dir, "metadata.db")); err != nil {
				t.Errorf("data directory not used: %v", err)
			}
			if _, err := os.Stat(filepath.Join(dir, "..", "not-this-one")); err == nil {
				t.Errorf("LAMBDAD_DATA_DIR used although --data-dir was given")
			}
			// A graceful stop must exit 0 and must not log "ready" again.
			p.Kill(syscall.SIGTERM)
			if p.Err != nil {
				t.Errorf("exit after SIGTERM: %v\n%s", p.Err, p.Log())
			}
			n := 0
			for _, l := range p.LogLines() {
				if testkit.ReadyRE.MatchString(l) {
					n++
				}
			}
			if n != 1 {
				t.Errorf("%d ready lines, want 1:\n%s", n, p.Log())
			}
		})
	}
}

// TestBadSettingsFail checks that an unusable address, flag or LAMBDAD_*
// value makes the binary exit non-zero, saying which setting and value,
// instead of serving somewhere else or with a default in its place.
func TestBadSettingsFail(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := lambdadBin.Path(t)
	tests := []struct {
		name string
		env  []string
		args []string
		want string // in the log; "" when any failure will do
	}{
		{"bad listen flag", nil, []string{"--listen", "256.0.0.1:1"}, ""},
		{"bad listen env", []string{"LAMBDAD_LISTEN=256.0.0.1:1"}, nil, ""},
		{"unknown flag", nil, []string{"--no-such-flag"}, ""},
		{"bad log level", nil, []string{"--log-level", "loud"}, `invalid value "loud" for flag -log-level`},
		{"no body memory", nil, []string{"--body-memory-mb", "0"}, `invalid value "0" for flag -body-memory-mb: out of range`},
		{"missing hot-reload root", []string{"LAMBDAD_HOT_RELOAD_ROOTS=/no/such/dir"}, nil, ""},
		// Each typed variable was once silently replaced by its default.
		{"int env", []string{"LAMBDAD_CONCURRENCY_LIMIT=abc"}, nil, `invalid value "abc" for LAMBDAD_CONCURRENCY_LIMIT: not an integer`},
		{"int env out of range", []string{"LAMBDAD_CONCURRENCY_LIMIT=4294967296"}, nil, `invalid value "4294967296" for LAMBDAD_CONCURRENCY_LIMIT: out of range`},
		{"int env zero", []string{"LAMBDAD_BODY_MEMORY_MB=0"}, nil, `invalid value "0" for LAMBDAD_BODY_MEMORY_MB: out of range`},
		{"int env empty", []string{"LAMBDAD_BODY_MEMORY_MB="}, nil, `invalid value "" for LAMBDAD_BODY_MEMORY_MB: not an integer`},
		{"duration env without unit", []string{"LAMBDAD_IDLE_TIMEOUT=600"}, nil, `invalid value "600" for LAMBDAD_IDLE_TIMEOUT: not a duration`},
		{"duration env zero", []string{"LAMBDAD_READ_TIMEOUT=0s"}, nil, `invalid value "0s" for LAMBDAD_READ_TIMEOUT: less than 1ms`},
		{"duration env negative", []string{"LAMBDAD_TRANSITION=-1s"}, nil, `invalid value "-1s" for LAMBDAD_TRANSITION: negative`},
		{"duration env", []string{"LAMBDAD_EVENT_RETRY_BASE=soon"}, nil, `invalid value "soon" for LAMBDAD_EVENT_RETRY_BASE: not a duration`},
		{"duration env throttle", []string{"LAMBDAD_EVENT_THROTTLE_BASE=1"}, nil, `invalid value "1" for LAMBDAD_EVENT_THROTTLE_BASE: not a duration`},
		{"enum env", []string{"LAMBDAD_ISOLATION=on"}, nil, `invalid value "on" for LAMBDAD_ISOLATION: not one of auto, off`},
		{"enum flag", nil, []string{"--isolation", "strict"}, `invalid value "strict" for flag -isolation: not one of auto, off`},
		{"log level env", []string{"LAMBDAD_LOG_LEVEL=loud"}, nil, `invalid value "loud" for LAMBDAD_LOG_LEVEL: not a log level`},
		// The secret must not be echoed.
		{"list env", []string{"LAMBDAD_CREDENTIALS=AKID:s3cret,broken"}, nil, `invalid value for LAMBDAD_CREDENTIALS: the entry with key "broken" is not ACCESS_KEY:SECRET`},
		// A good flag does not excuse a bad variable: the variable is still wrong.
		{"bad env under good flag", []string{"LAMBDAD_CONCURRENCY_LIMIT=abc"}, []string{"--concurrency-limit", "10"}, "LAMBDAD_CONCURRENCY_LIMIT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--data-dir", filepath.Join(t.TempDir(), "d")}, tt.args...)
			p, err := testkit.Spawn(bin, t.TempDir(), tt.env, args...)
			if err != nil {
				t.Fatal(err)
			}
			select {
			case <-p.Done:
			case <-time.After(15 * time.Second):
				p.Kill(syscall.SIGKILL)
				t.Fatalf("still running\n%s", p.Log())
			}
			if p.Err == nil {
				t.Errorf("exit status 0, want failure\n%s", p.Log())
			}
			if strings.Contains(p.Log(), "ready") {
				t.Errorf("logged ready although it cannot serve:\n%s", p.Log())
			}
			if !strings.Contains(p.Log(), tt.want) {
				t.Errorf("log does not say %q:\n%s", tt.want, p.Log())
			}
			if strings.Contains(p.Log(), "s3cret") {
				t.Errorf("log shows a secret:\n%s", p.Log())
			}
		})
	}
}
