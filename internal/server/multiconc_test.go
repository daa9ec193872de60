package server_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// onCapacityProvider puts a CreateFunction request on a capacity provider
// with n invocations per execution environment (Lambda Managed Instances).
func onCapacityProvider(in *lambda.CreateFunctionInput, n int32) *lambda.CreateFunctionInput {
	in.MemorySize = aws.Int32(2048)
	in.CapacityProviderConfig = &types.CapacityProviderConfig{
		LambdaManagedInstancesCapacityProviderConfig: &types.LambdaManagedInstancesCapacityProviderConfig{
			CapacityProviderArn:                   aws.String("arn:aws:lambda:" + testkit.Region + ":" + testkit.InvokeAccount + ":capacity-provider:multiconc"),
			PerExecutionEnvironmentMaxConcurrency: aws.Int32(n),
		},
	}
	return in
}

// span is what the handlers below answer: where and when they ran.
type span struct {
	Pid, Ppid  int
	Start, End float64 // ms since the epoch
	Max        string  // AWS_LAMBDA_MAX_CONCURRENCY
}

// invokeSpans invokes name n times at once and decodes each answer.
func invokeSpans(t *testing.T, c *lambda.Client, name string, n int) []span {
	t.Helper()
	out := make([]span, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			res, err := c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(`{"ms":1000}`)})
			if err != nil {
				t.Error(err)
				return
			}
			if res.FunctionError != nil {
				t.Errorf("call %d: %s %s", i, *res.FunctionError, res.Payload)
				return
			}
			out[i] = testkit.DecodeJSON[span](t, res.Payload)
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return out
}

// overlapping reports whether every span started before any ended.
func overlapping(spans []span) bool {
	lastStart, firstEnd := spans[0].Start, spans[0].End
	for _, s := range spans {
		lastStart, firstEnd = max(lastStart, s.Start), min(firstEnd, s.End)
	}
	return lastStart < firstEnd
}

// TestManagedInstancesNodeConcurrentInOneProcess: four 1 s invokes of a
// function with PerExecutionEnvironmentMaxConcurrency 4 run at once as
// async handlers in one Node.js process, as AWS's Node.js runtime for
// Lambda Managed Instances runs them.
func TestManagedInstancesNodeConcurrentInOneProcess(t *testing.T) {
	t.Parallel()
	_, c := servertest.InvokeEnv(t, nil)
	const src = `exports.handler = async (event, context) => {
  const start = Date.now();
  console.log('started', context.awsRequestId);
  await new Promise((r) => setTimeout(r, event.ms));
  return { pid: process.pid, ppid: process.ppid, start, end: Date.now(), max: process.env.AWS_LAMBDA_MAX_CONCURRENCY };
};
`
	testkit.CreateActive(t, c, onCapacityProvider(testkit.NodeFunction(t, "mi-node", "index.js", "index.handler", src), 4))
	spans := invokeSpans(t, c, "mi-node", 4)
	for _, s := range spans {
		if s.Pid != spans[0].Pid {
			t.Fatalf("the invokes ran in several processes: %+v", spans)
		}
	}
	if !overlapping(spans) {
		t.Fatalf("the invokes did not overlap: %+v", spans)
	}
	if spans[0].Max != "4" {
		t.Errorf("AWS_LAMBDA_MAX_CONCURRENCY = %q, want 4", spans[0].Max)
	}
	// Console output carries each invocation's own request id.
	out := testkit.MustInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("mi-node"), Payload: []byte(`{"ms":1}`), LogType: types.LogTypeTail})
	if log := testkit.Tail(t, out); !strings.Contains(log, "\t"+startID(t, log)+"\tINFO\tstarted "+startID(t, log)) {
		t.Errorf("log of a lone invoke:\n%s", log)
	}
}

// TestManagedInstancesPythonConcurrentWorkers: AWS's Python runtime for
// Managed Instances runs each concurrent invocation in a worker process of
// its own, all in one execution environment. Four 1 s invokes overlap in
// four workers of one environment (one parent process).
func TestManagedInstancesPythonConcurrentWorkers(t *testing.T) {
	t.Parallel()
	_, c := servertest.InvokeEnv(t, nil)
	const src = `import os, time

def handler(event, context):
    start = time.time() * 1000
    time.sleep(event["ms"] / 1000)
    return {"pid": os.getpid(), "ppid": os.getppid(), "start": start, "end": time.time() * 1000,
            "max": os.environ.get("AWS_LAMBDA_MAX_CONCURRENCY")}
`
	testkit.CreateActive(t, c, onCapacityProvider(testkit.PyFunction(t, "mi-py", src), 4))
	spans := invokeSpans(t, c, "mi-py", 4)
	pids := map[int]bool{}
	for _, s := range spans {
		pids[s.Pid] = true
		if s.Ppid != spans[0].Ppid {
			t.Fatalf("the invokes ran in several environments: %+v", spans)
		}
	}
	if len(pids) != 4 {
		t.Fatalf("the invokes ran in %d worker processes, want 4: %+v", len(pids), spans)
	}
	if !overlapping(spans) {
		t.Fatalf("the invokes did not overlap: %+v", spans)
	}
	if spans[0].Max != "4" {
		t.Errorf("AWS_LAMBDA_MAX_CONCURRENCY = %q, want 4", spans[0].Max)
	}
}
