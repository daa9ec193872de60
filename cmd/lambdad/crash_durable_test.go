package main

import (
	"context"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/archive/archivetest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// durableCrashSrc leaves a marker file in OUT each time one of its steps
// runs: "slow" marks when it starts and takes 3 s, so the test can kill
// lambdad while it runs.
const durableCrashSrc = `import { withDurableExecution } from "@aws/durable-execution-sdk-js";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
const mark = (name) => writeFileSync(join(process.env.OUT, name + "-" + Date.now() + "-" + Math.random()), "ran");
export const handler = withDurableExecution(async (event, context) => {
  await context.step("before", async () => { mark("before"); return 1; });
  await context.wait("pause", { seconds: 3 });
  await context.step("slow", async () => { mark("slow"); await new Promise((r) => setTimeout(r, 3000)); return 2; });
  await context.step("after", async () => { mark("after"); return 3; });
  return "done";
});
`

// TestCrashDurableExecution runs AWS's durable execution SDK against the
// lambdad binary and kills it with SIGKILL twice: while the execution
// waits, and while a step runs. After each restart the execution goes on;
// it ends SUCCEEDED, and no step whose checkpoint was acknowledged ran
// twice (the step cut by the kill runs again: at least once, as on AWS).
func TestCrashDurableExecution(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 test builds and runs the binary")
	}
	t.Parallel()
	node22 := testkit.DurableTools(t)
	files := append(testkit.DurableSDKFiles(t), archivetest.File{Name: "index.mjs", Body: durableCrashSrc})
	bin := lambdadBin.Path(t)
	dir := filepath.Join(t.TempDir(), "data")
	out := t.TempDir()
	// Unconfined, so the function can write the markers the test reads.
	args := []string{"--listen", "127.0.0.1:0", "--data-dir", dir, "--transition", "20ms", "--log-level", "info",
		"--isolation", "off", "--node-binaries", node22}
	p := testkit.StartProcess(t, bin, "", nil, args...)
	cl := newLambdaClient(p.Addr)
	ctx := context.Background()
	if _, err := cl.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("durable"), Runtime: types.RuntimeNodejs22x, Role: aws.String(testkit.Role),
		Handler: aws.String("index.handler"), Timeout: aws.Int32(30), MemorySize: aws.Int32(256),
		Code:          &types.FunctionCode{ZipFile: archivetest.Zip(t, files...)},
		Environment:   &types.Environment{Variables: map[string]string{"OUT": out}},
		DurableConfig: &types.DurableConfig{ExecutionTimeout: aws.Int32(300)},
	}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 20*time.Second, "the function never became Active", func() bool {
		got, err := cl.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("durable")})
		return err == nil && got.Configuration.State == types.StateActive
	})
	if _, err := cl.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("durable")}); err != nil {
		t.Fatal(err)
	}
	res, err := cl.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("durable"), Qualifier: aws.String("1"),
		InvocationType: types.InvocationTypeEvent, Payload: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(res.DurableExecutionArn)
	restart := func() {
		p.Kill(syscall.SIGKILL)
		p = testkit.StartProcess(t, bin, "", nil, args...)
		cl = newLambdaClient(p.Addr)
	}

	// Kill while it waits: its first invocation has ended PENDING.
	testkit.Eventually(t, 30*time.Second, "the first invocation ended", func() bool {
		h, err := cl.GetDurableExecutionHistory(ctx, &lambda.GetDurableExecutionHistoryInput{DurableExecutionArn: &arn})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range h.Events {
			if e.EventType == types.EventTypeInvocationCompleted {
				return true
			}
		}
		return false
	})
	restart()

	// Kill while the slow step runs.
	testkit.Eventually(t, 30*time.Second, "the slow step started", func() bool { return len(testkit.Markers(t, out, "slow-")) > 0 })
	restart()

	var ex *lambda.GetDurableExecutionOutput
	testkit.Eventually(t, 60*time.Second, "the execution ended", func() bool {
		ex, err = cl.GetDurableExecution(ctx, &lambda.GetDurableExecutionInput{DurableExecutionArn: &arn})
		if err != nil {
			t.Fatal(err)
		}
		return ex.Status != types.ExecutionStatusRunning
	})
	if ex.Status != types.ExecutionStatusSucceeded || aws.ToString(ex.Result) != `"done"` {
		t.Errorf("execution ended %s with %s %+v", ex.Status, aws.ToString(ex.Result), ex.Error)
	}
	for step, want := range map[string]int{"before": 1, "slow": 2, "after": 1} {
		if got := len(testkit.Markers(t, out, step+"-")); got != want {
			t.Errorf("step %s ran %d times, want %d", step, got, want)
		}
	}
	if t.Failed() {
		t.Logf("lambdad log after the last restart:\n%s", p.Log())
	}
}

// TestCrashDurableChainedInvoke kills lambdad with SIGKILL while the target
// of a durable execution's chained invoke runs: after the restart the
// target runs again (its run was lost with lambdad, and its result never
// recorded) and the execution ends with its answer.
func TestCrashDurableChainedInvoke(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 test builds and runs the binary")
	}
	t.Parallel()
	node22 := testkit.DurableTools(t)
	src := `import { withDurableExecution } from "@aws/durable-execution-sdk-js";
export const handler = withDurableExecution(async (event, context) => context.invoke("call", "target", { n: 21 }));
`
	files := append(testkit.DurableSDKFiles(t), archivetest.File{Name: "index.mjs", Body: src})
	bin := lambdadBin.Path(t)
	dir := filepath.Join(t.TempDir(), "data")
	out := t.TempDir()
	args := []string{"--listen", "127.0.0.1:0", "--data-dir", dir, "--transition", "20ms", "--log-level", "info",
		"--isolation", "off", "--node-binaries", node22}
	p := testkit.StartProcess(t, bin, "", nil, args...)
	cl := newLambdaClient(p.Addr)
	ctx := context.Background()
	for _, in := range []*lambda.CreateFunctionInput{
		{FunctionName: aws.String("caller"), Runtime: types.RuntimeNodejs22x, Role: aws.String(testkit.Role),
			Handler: aws.String("index.handler"), Timeout: aws.Int32(30), MemorySize: aws.Int32(256),
			Code:          &types.FunctionCode{ZipFile: archivetest.Zip(t, files...)},
			DurableConfig: &types.DurableConfig{ExecutionTimeout: aws.Int32(300)}},
		{FunctionName: aws.String("target"), Runtime: types.RuntimeNodejs22x, Role: aws.String(testkit.Role),
			Handler: aws.String("index.handler"), Timeout: aws.Int32(30),
			Environment: &types.Environment{Variables: map[string]string{"OUT": out}},
			Code: &types.FunctionCode{ZipFile: archivetest.Zip(t, archivetest.File{Name: "index.mjs", Body: `import { writeFileSync } from "node:fs";
export const handler = async (e) => {
  writeFileSync(process.env.OUT + "/target-" + Date.now() + "-" + Math.random(), "ran");
  await new Promise((r) => setTimeout(r, 3000));
  return { doubled: e.n * 2 };
};
`})}},
	} {
		if _, err := cl.CreateFunction(ctx, in); err != nil {
			t.Fatal(err)
		}
		testkit.Eventually(t, 20*time.Second, "the function never became Active", func() bool {
			got, err := cl.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: in.FunctionName})
			return err == nil && got.Configuration.State == types.StateActive
		})
	}
	if _, err := cl.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("caller")}); err != nil {
		t.Fatal(err)
	}
	res, err := cl.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("caller"), Qualifier: aws.String("1"),
		InvocationType: types.InvocationTypeEvent, Payload: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(res.DurableExecutionArn)
	testkit.Eventually(t, 30*time.Second, "the target started", func() bool { return len(testkit.Markers(t, out, "target-")) > 0 })
	p.Kill(syscall.SIGKILL)
	p = testkit.StartProcess(t, bin, "", nil, args...)
	cl = newLambdaClient(p.Addr)

	var ex *lambda.GetDurableExecutionOutput
	testkit.Eventually(t, 60*time.Second, "the execution ended", func() bool {
		ex, err = cl.GetDurableExecution(ctx, &lambda.GetDurableExecutionInput{DurableExecutionArn: &arn})
		if err != nil {
			t.Fatal(err)
		}
		return ex.Status != types.ExecutionStatusRunning
	})
	if ex.Status != types.ExecutionStatusSucceeded || aws.ToString(ex.Result) != `{"doubled":42}` {
		t.Errorf("execution ended %s with %s %+v", ex.Status, aws.ToString(ex.Result), ex.Error)
	}
	if got := len(testkit.Markers(t, out, "target-")); got != 2 {
		t.Errorf("the target ran %d times, want 2 (once cut by the kill, once after)", got)
	}
	if t.Failed() {
		t.Logf("lambdad log after the restart:\n%s", p.Log())
	}
}
