package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReadyLineAndSettings runs the binary with its listen address and data
// directory given by flag, by environment, and by both (the flag wins), and
// checks it logs exactly one ready line naming the address it serves on.
func TestReadyLineAndSettings(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildLambdad(t)
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
			addr := "127.0.0.1:" + itoa(freePort(t))
			dir := filepath.Join(t.TempDir(), "data")
			// Run from an empty directory so the default ./lambdad-data would
			// be noticed if the setting were ignored.
			p := startLambdad(t, bin, t.TempDir(), tt.env(addr, dir), tt.args(addr, dir)...)
			if p.addr != "http://"+addr {
				t.Errorf("ready line address = %q, want %q", p.addr, "http://"+addr)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if !healthy(ctx, "http://"+addr) {
				t.Errorf("no health answer on %s", addr)
			}
			if _, err := os.Stat(filepath.Join(dir, "metadata.db")); err != nil {
				t.Errorf("data directory not used: %v", err)
			}
			if _, err := os.Stat(filepath.Join(dir, "..", "not-this-one")); err == nil {
				t.Errorf("LAMBDAD_DATA_DIR used although --data-dir was given")
			}
			// A graceful stop must exit 0 and must not log "ready" again.
			p.kill(syscall.SIGTERM)
			if p.err != nil {
				t.Errorf("exit after SIGTERM: %v\n%s", p.err, p.log())
			}
			n := 0
			for _, l := range p.logLines() {
				if readyRE.MatchString(l) {
					n++
				}
			}
			if n != 1 {
				t.Errorf("%d ready lines, want 1:\n%s", n, p.log())
			}
		})
	}
}

// TestBadSettingsFail checks that an unusable address or flag makes the
// binary exit non-zero instead of serving somewhere else.
func TestBadSettingsFail(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildLambdad(t)
	tests := []struct {
		name string
		env  []string
		args []string
	}{
		{"bad listen flag", nil, []string{"--listen", "256.0.0.1:1"}},
		{"bad listen env", []string{"LAMBDAD_LISTEN=256.0.0.1:1"}, nil},
		{"unknown flag", nil, []string{"--no-such-flag"}},
		{"bad log level", nil, []string{"--log-level", "loud"}},
		{"no body memory", nil, []string{"--body-memory-mb", "0"}},
		{"missing hot-reload root", []string{"LAMBDAD_HOT_RELOAD_ROOTS=/no/such/dir"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--data-dir", filepath.Join(t.TempDir(), "d")}, tt.args...)
			p, err := spawn(bin, t.TempDir(), tt.env, args...)
			if err != nil {
				t.Fatal(err)
			}
			select {
			case <-p.done:
			case <-time.After(15 * time.Second):
				p.kill(syscall.SIGKILL)
				t.Fatalf("still running\n%s", p.log())
			}
			if p.err == nil {
				t.Errorf("exit status 0, want failure\n%s", p.log())
			}
			if strings.Contains(p.log(), "ready") {
				t.Errorf("logged ready although it cannot serve:\n%s", p.log())
			}
		})
	}
}
