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

	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// TestDeleteStopsEnvironments: deleting a function stops its warm
// environment's process instead of leaving it until the idle timeout.
func TestDeleteStopsEnvironments(t *testing.T) {
	t.Parallel()
	_, c := servertest.InvokeEnv(t, servertest.IsolationOff)
	testkit.CreateActive(t, c, testkit.PyFunction(t, "short-lived", "import os\ndef handler(e, c):\n    return os.getpid()\n"))
	pid := strings.TrimSpace(string(testkit.Call(t, c, "short-lived", `{}`).Payload))
	if _, err := os.Stat(filepath.Join("/proc", pid)); err != nil {
		t.Fatalf("the function's process %s is not running: %v", pid, err)
	}
	if _, err := c.DeleteFunction(context.Background(), &lambda.DeleteFunctionInput{FunctionName: aws.String("short-lived")}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, "the deleted function's process exits", func() bool {
		b, err := os.ReadFile(filepath.Join("/proc", pid, "stat"))
		return err != nil || strings.Contains(string(b), ") Z ")
	})
}

// TestDeleteVersionStopsOnlyItsEnvironments: deleting version 1 stops
// version 1's warm environment, while $LATEST's keeps serving, warm.
func TestDeleteVersionStopsOnlyItsEnvironments(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, c := servertest.InvokeEnv(t, servertest.IsolationOff)
	testkit.CreateActive(t, c, testkit.PyFunction(t, "versioned", "import os\ndef handler(e, c):\n    return os.getpid()\n"))
	if _, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("versioned")}); err != nil {
		t.Fatal(err)
	}
	pid := func(qualifier string) string {
		out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("versioned"), Qualifier: aws.String(qualifier)})
		if err != nil || out.FunctionError != nil {
			t.Fatalf("invoke %s: %v %s", qualifier, err, out.Payload)
		}
		return strings.TrimSpace(string(out.Payload))
	}
	latest, v1 := pid("$LATEST"), pid("1")
	if latest == v1 {
		t.Fatalf("$LATEST and version 1 share the process %s", v1)
	}
	if _, err := c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("versioned"), Qualifier: aws.String("1")}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, "the deleted version's process exits", func() bool {
		b, err := os.ReadFile(filepath.Join("/proc", v1, "stat"))
		return err != nil || strings.Contains(string(b), ") Z ")
	})
	if again := pid("$LATEST"); again != latest {
		t.Errorf("$LATEST ran in process %s, not in its warm one %s", again, latest)
	}
}
