package testkit

import (
	"os"
	"path/filepath"
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

// ProvisionedMarker is a Python handler that marks each provisioned
// environment's init in $MARKS with the node that started it (its
// AWS_ENDPOINT_URL_LAMBDA); its invokes answer {"init", "node"}: how their
// environment was initialized and on which node it runs.
const ProvisionedMarker = `import os, uuid
INIT = os.environ.get('AWS_LAMBDA_INITIALIZATION_TYPE')
NODE = os.environ.get('AWS_ENDPOINT_URL_LAMBDA')
if INIT == 'provisioned-concurrency':
    with open(os.path.join(os.environ['MARKS'], uuid.uuid4().hex), 'w') as f:
        f.write(NODE)
def handler(e, c):
    return {'init': INIT, 'node': NODE}
`

// MarksByContent counts the marker files in dir by what they hold (for
// ProvisionedMarker, provisioned inits by node).
func MarksByContent(t testing.TB, dir string) map[string]int {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[string(b)]++
	}
	return out
}
