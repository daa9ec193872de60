package server_test

import (
	"context"
	"errors"
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
// (created on first use) with n invocations per execution environment
// (Lambda Managed Instances), on a runtime AWS allows there.
func onCapacityProvider(tb testing.TB, c *lambda.Client, in *lambda.CreateFunctionInput, n int32) *lambda.CreateFunctionInput {
	tb.Helper()
	_, err := c.CreateCapacityProvider(context.Background(), &lambda.CreateCapacityProviderInput{
		CapacityProviderName: aws.String("multiconc"),
		VpcConfig:            &types.CapacityProviderVpcConfig{SubnetIds: []string{"subnet-1"}, SecurityGroupIds: []string{"sg-1"}},
		PermissionsConfig:    &types.CapacityProviderPermissionsConfig{CapacityProviderOperatorRoleArn: aws.String("arn:aws:iam::" + testkit.InvokeAccount + ":role/op")},
	})
	var conflict *types.ResourceConflictException
	if err != nil && !errors.As(err, &conflict) {
		tb.Fatal(err)
	}
	switch in.Runtime {
	case types.RuntimePython312:
		in.Runtime = types.RuntimePython313
	case types.RuntimeNodejs20x:
		in.Runtime = types.RuntimeNodejs22x
	}
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
// Pids alone do not tell processes apart: an isolated environment has a
// PID namespace of its own. Proc is a random id each process draws once;
// Env names the environment (parent pid and PID namespace).
type span struct {
	Proc, Env  string
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
	const src = `const proc = require('node:crypto').randomUUID();
exports.handler = async (event, context) => {
  const start = Date.now();
  console.log('started', context.awsRequestId);
  await new Promise((r) => setTimeout(r, event.ms));
  return { proc, id: context.awsRequestId, pid: process.pid, ppid: process.ppid, start, end: Date.now(), max: process.env.AWS_LAMBDA_MAX_CONCURRENCY };
};
`
	testkit.CreateActive(t, c, onCapacityProvider(t, c, testkit.NodeFunction(t, "mi-node", "index.js", "index.handler", src), 4))
	spans := invokeSpans(t, c, "mi-node", 4)
	for _, s := range spans {
		if s.Proc == "" || s.Proc != spans[0].Proc {
			t.Fatalf("the invokes ran in several processes: %+v", spans)
		}
	}
	if !overlapping(spans) {
		t.Fatalf("the invokes did not overlap: %+v", spans)
	}
	if spans[0].Max != "4" {
		t.Errorf("AWS_LAMBDA_MAX_CONCURRENCY = %q, want 4", spans[0].Max)
	}
	// Logs are JSON, as AWS has them for Managed Instances, and console
	// output names its invocation.
	out := testkit.MustInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("mi-node"), Payload: []byte(`{"ms":1}`), LogType: types.LogTypeTail})
	id := testkit.DecodeJSON[struct{ ID string }](t, out.Payload).ID
	if log := testkit.Tail(t, out); id == "" || !strings.Contains(log, `"level":"INFO","requestId":"`+id+`","message":"started `+id+`"`) ||
		!strings.Contains(log, `"type":"platform.report","record":{"requestId":"`+id+`"`) {
		t.Errorf("log of invoke %s:\n%s", id, log)
	}
}

// TestManagedInstancesPythonConcurrentWorkers: AWS's Python runtime for
// Managed Instances runs each concurrent invocation in a worker process of
// its own, all in one execution environment. Four 1 s invokes overlap in
// four workers of one environment (one parent process).
func TestManagedInstancesPythonConcurrentWorkers(t *testing.T) {
	t.Parallel()
	_, c := servertest.InvokeEnv(t, nil)
	const src = `import os, time, uuid

PROC = str(uuid.uuid4())

def handler(event, context):
    start = time.time() * 1000
    time.sleep(event["ms"] / 1000)
    return {"proc": PROC, "env": "%d %s" % (os.getppid(), os.readlink("/proc/self/ns/pid")),
            "pid": os.getpid(), "start": start, "end": time.time() * 1000,
            "max": os.environ.get("AWS_LAMBDA_MAX_CONCURRENCY")}
`
	testkit.CreateActive(t, c, onCapacityProvider(t, c, testkit.PyFunction(t, "mi-py", src), 4))
	spans := invokeSpans(t, c, "mi-py", 4)
	procs := map[string]bool{}
	for _, s := range spans {
		procs[s.Proc] = true
		if s.Env != spans[0].Env {
			t.Fatalf("the invokes ran in several environments: %+v", spans)
		}
	}
	if len(procs) != 4 {
		t.Fatalf("the invokes ran in %d worker processes, want 4: %+v", len(procs), spans)
	}
	if !overlapping(spans) {
		t.Fatalf("the invokes did not overlap: %+v", spans)
	}
	if spans[0].Max != "4" {
		t.Errorf("AWS_LAMBDA_MAX_CONCURRENCY = %q, want 4", spans[0].Max)
	}
}

// TestManagedInstancesNodeTimeoutAndCrash: with several invocations in
// flight in one Node.js process, one that times out fails alone (AWS:
// "other concurrent invocations in the execution environment continue
// processing normally") and the process lives on; a handler that exits
// the process fails every invocation in flight with Runtime.ExitError.
func TestManagedInstancesNodeTimeoutAndCrash(t *testing.T) {
	t.Parallel()
	_, c := servertest.InvokeEnv(t, nil)
	const src = `const proc = require('node:crypto').randomUUID();
exports.handler = async (event) => {
  if (event.exitAfter) setTimeout(() => process.exit(2), event.exitAfter);
  await new Promise((r) => setTimeout(r, event.ms));
  return { proc };
};
`
	// Two functions: the timed-out code of the first keeps a slot of its
	// environment busy for a while.
	for _, name := range []string{"mi-node-timeout", "mi-node-crash"} {
		in := onCapacityProvider(t, c, testkit.NodeFunction(t, name, "index.js", "index.handler", src), 4)
		in.Timeout = aws.Int32(1)
		testkit.CreateActive(t, c, in)
	}
	fn := "mi-node-timeout"
	call := func(payloads ...string) []*lambda.InvokeOutput {
		out := make([]*lambda.InvokeOutput, len(payloads))
		var wg sync.WaitGroup
		for i, p := range payloads {
			wg.Go(func() {
				res, err := c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String(fn), Payload: []byte(p)})
				if err != nil {
					t.Error(err)
					return
				}
				out[i] = res
			})
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		return out
	}
	pidOf := func(o *lambda.InvokeOutput) string {
		t.Helper()
		if o.FunctionError != nil {
			t.Fatalf("function error: %s", o.Payload)
		}
		return testkit.DecodeJSON[span](t, o.Payload).Proc
	}

	res := call(`{"ms":3000}`, `{"ms":200}`, `{"ms":200}`)
	if res[0].FunctionError == nil || !strings.Contains(string(res[0].Payload), "Task timed out after 1.00 seconds") {
		t.Fatalf("slow invoke: %s", res[0].Payload)
	}
	pid := pidOf(res[1])
	if pidOf(res[2]) != pid {
		t.Fatal("the invokes beside the timeout ran in another process")
	}
	if after := pidOf(call(`{"ms":1}`)[0]); after != pid {
		t.Fatalf("after a timeout the process changed: %s, was %s", after, pid)
	}

	fn = "mi-node-crash"
	pid = pidOf(call(`{"ms":1}`)[0])
	res = call(`{"ms":900}`, `{"ms":900}`, `{"ms":900}`, `{"ms":900,"exitAfter":200}`)
	for i, r := range res {
		if r.FunctionError == nil || !strings.Contains(string(r.Payload), `"errorType":"Runtime.ExitError"`) {
			t.Errorf("invoke %d in flight when the process exited: %s", i, r.Payload)
		}
	}
	if after := pidOf(call(`{"ms":1}`)[0]); after == pid {
		t.Fatal("the process that exited still serves")
	}
}

// TestManagedInstancesPythonWorkerExit: a Python worker process that exits
// fails its own invocation (Runtime.ExitError) while the invocations of the
// other workers finish, and the environment keeps serving, as AWS keeps a
// Managed Instances environment up with its remaining workers.
func TestManagedInstancesPythonWorkerExit(t *testing.T) {
	t.Parallel()
	_, c := servertest.InvokeEnv(t, nil)
	const src = `import os, time, uuid

PROC = str(uuid.uuid4())

def handler(event, context):
    time.sleep(event["ms"] / 1000)
    if event.get("exit"):
        os._exit(event["exit"])
    return {"proc": PROC, "env": "%d %s" % (os.getppid(), os.readlink("/proc/self/ns/pid"))}
`
	testkit.CreateActive(t, c, onCapacityProvider(t, c, testkit.PyFunction(t, "mi-py-exit", src), 3))
	out := make([]*lambda.InvokeOutput, 3)
	var wg sync.WaitGroup
	for i, p := range []string{`{"ms":1000}`, `{"ms":1000}`, `{"ms":200,"exit":3}`} {
		wg.Go(func() {
			res, err := c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("mi-py-exit"), Payload: []byte(p)})
			if err != nil {
				t.Error(err)
				return
			}
			out[i] = res
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	if out[2].FunctionError == nil || !strings.Contains(string(out[2].Payload), `"errorType": "Runtime.ExitError"`) && !strings.Contains(string(out[2].Payload), `"errorType":"Runtime.ExitError"`) ||
		!strings.Contains(string(out[2].Payload), "exit status 3") {
		t.Fatalf("the invoke whose worker exited: %s", out[2].Payload)
	}
	var env string
	for _, o := range out[:2] {
		if o.FunctionError != nil {
			t.Fatalf("an invoke beside the exit failed: %s", o.Payload)
		}
		env = testkit.DecodeJSON[span](t, o.Payload).Env
	}
	after := testkit.MustInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("mi-py-exit"), Payload: []byte(`{"ms":1}`)})
	if after.FunctionError != nil || testkit.DecodeJSON[span](t, after.Payload).Env != env {
		t.Fatalf("after a worker exited: %s (environment %s)", after.Payload, env)
	}
}
