package server_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// TestDeleteStopsEnvironments: deleting a function stops its warm
// environment's process instead of leaving it until the idle timeout.
func TestDeleteStopsEnvironments(t *testing.T) {
	t.Parallel()
	_, c := invokeEnv(t, isolationOff)
	createActive(t, c, pyFunction(t, "short-lived", "import os\ndef handler(e, c):\n    return os.getpid()\n"))
	pid := strings.TrimSpace(string(call(t, c, "short-lived", `{}`).Payload))
	if _, err := os.Stat(filepath.Join("/proc", pid)); err != nil {
		t.Fatalf("the function's process %s is not running: %v", pid, err)
	}
	if _, err := c.DeleteFunction(context.Background(), &lambda.DeleteFunctionInput{FunctionName: aws.String("short-lived")}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the deleted function's process exits", func() bool {
		b, err := os.ReadFile(filepath.Join("/proc", pid, "stat"))
		return err != nil || strings.Contains(string(b), ") Z ")
	})
}
