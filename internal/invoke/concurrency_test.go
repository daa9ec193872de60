package invoke_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/lambdad/lambdad/internal/api/apitest"
	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/invoke"
)

// sleeper marks that it runs, then sleeps until its release file exists.
const sleeper = `import os, time

def handler(event, context):
    if "hold" in event:
        open(event["hold"] + ".running", "w").close()
        while not os.path.exists(event["hold"]):
            time.sleep(0.01)
    return "ok"
`

// The function's in-flight count is the function's, whatever snapshot
// admitted the run: changing its reserved concurrency while a run is in
// flight counts that run against the new limit, and neither a change nor
// deleting and creating the function again leaks or forgets a slot.
func TestReservedConcurrencyAcrossSnapshots(t *testing.T) {
	env := apitest.New(t, apitest.Options{})
	ctx := context.Background()
	env.Python(t, "slow", sleeper)
	reserve := func(n int32) {
		t.Helper()
		if _, err := env.Client.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("slow"), ReservedConcurrentExecutions: aws.Int32(n)}); err != nil {
			t.Fatal(err)
		}
	}
	call := func(payload string) error {
		_, err := env.Invoke.Invoke(ctx, apitest.Ref("slow", ""), []byte(payload), invoke.Options{})
		return err
	}
	throttled := func(err error) bool {
		f, ok := fault.As(err)
		return ok && f.Kind == fault.TooManyRequests && f.Reason == fault.ReasonReservedConcurrency
	}
	hold := filepath.Join(t.TempDir(), "release")
	holding := `{"hold":"` + hold + `"}`

	reserve(1)
	if err := call(`{}`); err != nil { // warm, and the counter is back to 0
		t.Fatal(err)
	}
	first := make(chan error, 1)
	go func() { first <- call(holding) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(hold + ".running"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the held run never started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := call(`{}`); !throttled(err) {
		t.Fatalf("second run beside a held one under reserved 1: %v, want throttled", err)
	}
	reserve(2) // a new snapshot: the held run still counts
	if err := call(`{}`); err != nil {
		t.Fatalf("under reserved 2 beside one held run: %v", err)
	}
	reserve(1)
	if err := call(`{}`); !throttled(err) {
		t.Fatalf("back to reserved 1 beside a held run: %v, want throttled", err)
	}
	if err := os.WriteFile(hold, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := call(`{}`); err != nil {
		t.Fatalf("after the held run ended: %v", err)
	}

	// Deleted and created again: the new function starts from no run in
	// flight, and is limited by its own reservation.
	if _, err := env.Client.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("slow")}); err != nil {
		t.Fatal(err)
	}
	env.Python(t, "slow", sleeper)
	reserve(1)
	for range 3 {
		if err := call(`{}`); err != nil {
			t.Fatalf("the function created again: %v", err)
		}
	}
	reserve(0)
	if err := call(`{}`); !throttled(err) {
		t.Fatalf("reserved 0: %v, want throttled", err)
	}
}
