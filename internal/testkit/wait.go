package testkit

import (
	"os"
	"strings"
	"testing"
	"time"
)

// Eventually polls cond every 20 ms until it holds, and fails the test with
// what when it does not within the time given.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Markers lists the files in dir whose names start with prefix, which
// functions under test leave to show what they ran.
func Markers(t testing.TB, dir, prefix string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), prefix) {
			out = append(out, e.Name())
		}
	}
	return out
}
