package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestHelpExitsZero: --help (and -h) print the usage, with every flag, on
// stdout and exit 0; a flag that does not exist still exits 1.
func TestHelpExitsZero(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := lambdadBin.Path(t)
	for _, arg := range []string{"--help", "-h"} {
		out, err := exec.Command(bin, arg).Output()
		if err != nil {
			t.Errorf("%s: %v", arg, err)
		}
		for _, want := range []string{"Usage: lambdad", "-listen", "LAMBDAD_ACCOUNT", "--version"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("%s: stdout lacks %q:\n%s", arg, want, out)
			}
		}
	}
	err := exec.Command(bin, "--no-such-flag").Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Errorf("an unknown flag: %v, want exit status 1", err)
	}
}

// TestVersion: --version prints the version and the commit it was built
// from. The commit is read from the build's VCS stamp, so the binary is
// built from a clone of this checkout with -buildvcs=true (a git worktree's
// .git file is not stamped).
func TestVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	out, err := exec.Command(lambdadBin.Path(t), "--version").Output()
	if err != nil || !strings.HasPrefix(string(out), "lambdad ") || !strings.Contains(string(out), " commit ") {
		t.Errorf("--version: %q %v", out, err)
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	head, err := exec.Command("git", "-C", root, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatalf("this test needs the git checkout lambdad is built from: %v", err)
	}
	clone := filepath.Join(t.TempDir(), "src")
	if out, err := exec.Command("git", "clone", "-q", "--depth", "1", "--no-local", "file://"+root, clone).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	bin := filepath.Join(t.TempDir(), "lambdad")
	build := exec.Command("go", "build", "-buildvcs=true", "-o", bin, "./cmd/lambdad")
	build.Dir = clone
	build.Env = append(os.Environ(), "GOFLAGS=-buildvcs=true")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err = exec.Command(bin, "--version").Output()
	// The version is a pseudo-version the go tool derives from the commit.
	want := " commit " + strings.TrimSpace(string(head)) + " go"
	if err != nil || !strings.HasPrefix(string(out), "lambdad v") || !strings.Contains(string(out), want) {
		t.Errorf("--version = %q %v, want %q…", out, err, want)
	}
}
