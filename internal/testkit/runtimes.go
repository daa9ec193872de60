package testkit

import (
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

var boto3Runtime = sync.OnceValues(func() (string, error) {
	out, err := exec.Command("python3", "-c", "import boto3, sys; print('python%d.%d' % sys.version_info[:2])").CombinedOutput()
	return strings.TrimSpace(string(out)), err
})

// Boto3Runtime is the runtime of the host's python3, which the tests need
// with boto3 (see the README's prerequisites): a function that imports
// boto3 uses it, since lambdad runs a pythonX.Y function on that exact
// version, whose interpreter may lack boto3 when it is another.
func Boto3Runtime(t testing.TB) types.Runtime {
	t.Helper()
	rt, err := boto3Runtime()
	if err != nil {
		t.Fatalf("python3 with boto3 is needed: %v\n%s", err, rt)
	}
	return types.Runtime(rt)
}
