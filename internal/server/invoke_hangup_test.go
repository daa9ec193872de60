package server_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// TestInvokeCallerHangsUp: a synchronous invoke whose caller hangs up after
// 200 ms keeps running, and keeps its concurrency slot, its log and its
// count until it really ends (1.5 s), as on AWS.
func TestInvokeCallerHangsUp(t *testing.T) {
	t.Parallel()
	d, c := servertest.InvokeEnv(t, nil)
	ctx := context.Background()
	testkit.CreateActive(t, c, testkit.GoFunction("go-hangup", testkit.GoBootstrapZip(t, "testdata/goecho")))
	if _, err := c.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{
		FunctionName: aws.String("go-hangup"), ReservedConcurrentExecutions: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	// Warm it, so the slow run below is all function time.
	testkit.Call(t, c, "go-hangup", `{"op":"echo","value":1}`)

	start := time.Now()
	hangup, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	_, err := c.Invoke(hangup, &lambda.InvokeInput{FunctionName: aws.String("go-hangup"), Payload: []byte(`{"op":"sleep","ms":1500}`)})
	cancel()
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("the hung-up invoke returned %v, want the caller's deadline", err)
	}

	// Until the run ends, its slot is taken.
	throttled := 0
	var okID string
	for okID == "" {
		out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("go-hangup"), Payload: []byte(`{"op":"echo","value":2}`)})
		var tm *types.TooManyRequestsException
		switch {
		case errors.As(err, &tm):
			if tm.Reason != types.ThrottleReasonReservedFunctionConcurrentInvocationLimitExceeded {
				t.Fatalf("throttled with reason %q", tm.Reason)
			}
			throttled++
			if time.Since(start) > 5*time.Second {
				t.Fatal("still throttled 5 s after the hung-up run began")
			}
			time.Sleep(50 * time.Millisecond)
		case err != nil:
			t.Fatal(err)
		default:
			if el := time.Since(start); el < 1400*time.Millisecond {
				t.Fatalf("an invoke ran %v after the hung-up one began, while it still held the only slot", el)
			}
			okID, _ = awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
		}
	}
	if throttled == 0 {
		t.Error("no invoke was throttled while the hung-up run held the slot")
	}

	// The hung-up run's log is kept: START, END and a REPORT of ~1.5 s
	// under its own request id (not the warm-up's nor the later one's).
	report := regexp.MustCompile(`REPORT RequestId: (\S+)\s+Duration: ([0-9.]+) ms`)
	var id string
	var logText string
	testkit.Eventually(t, 5*time.Second, "the hung-up run's REPORT never reached the log store", func() bool {
		logText = testkit.LogText(t, d.Logs()) // this lambdad runs one function
		for _, m := range report.FindAllStringSubmatch(logText, -1) {
			if ms, _ := strconv.ParseFloat(m[2], 64); ms >= 1500 && m[1] != okID {
				id = m[1]
				return true
			}
		}
		return false
	})
	for _, want := range []string{"START RequestId: " + id + " ", "END RequestId: " + id + "\n"} {
		if !strings.Contains(logText, want) {
			t.Errorf("log lacks %q:\n%s", want, logText)
		}
	}

	// Counted: the warm-up, the hung-up run and the one after it.
	resp, err := http.Get(d.URL + "/_lambdad/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := "lambdad_invocations_total 3\n"; !strings.Contains(string(body), want) {
		t.Errorf("metrics lack %q:\n%s", want, body)
	}
}
