package testkit

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lambdad/lambdad/internal/archive/archivetest"
)

// RepoScript runs scripts/<name> of this repository and returns what it
// prints. node.sh and durable-sdk.sh install once (from npm) and then answer
// at once; .ci/run installs both before the tests.
func RepoScript(t testing.TB, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(moduleRoot(t), "scripts", name), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("scripts/%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// DurableSDKFiles are the files of node_modules holding AWS's durable
// execution SDK, named as a function zip holds them (node_modules/...).
func DurableSDKFiles(t testing.TB) []archivetest.File {
	t.Helper()
	mods := RepoScript(t, "durable-sdk.sh")
	var files []archivetest.File
	err := filepath.WalkDir(mods, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(filepath.Dir(mods), p)
		if err != nil {
			return err
		}
		f := archivetest.File{Name: filepath.ToSlash(rel)}
		if d.Type()&fs.ModeSymlink != 0 {
			f.Symlink, err = os.Readlink(p)
		} else {
			var b []byte
			b, err = os.ReadFile(p)
			f.Body = string(b)
		}
		files = append(files, f)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// DurableTools answers a Node 22. It skips the test only when not root
// (Node 22 installs under /usr/local from npm, and the durable tests run
// isolated environments); as root, a missing tool fails the test.
func DurableTools(t testing.TB) (node22 string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: isolated environments and the Node 22 install under /usr/local")
	}
	// As root (CI), .ci/run installs npm: its absence is a broken setup
	// that must fail, not a reason to skip the durable tests.
	if _, err := exec.LookPath("npm"); err != nil {
		t.Fatal("npm is needed to install Node 22 and @aws/durable-execution-sdk-js (.ci/run installs it):", err)
	}
	return RepoScript(t, "node.sh", "22")
}
