package server_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/archive/archivetest"
	"github.com/lambdad/lambdad/internal/server"
	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// pausableSrc is a durable function for pausing, against AWS's durable
// execution SDK for JavaScript: a callback to answer while paused, a short
// wait to end while paused, and a slow step to pause in the middle of.
const pausableSrc = `import { withDurableExecution } from "@aws/durable-execution-sdk-js";
export const handler = withDurableExecution(async (event, context) => {
  switch (event.scenario) {
  case "callback": {
    const r = await context.waitForCallback("approval", async () => {}, { timeout: { minutes: 5 } });
    return { approval: r };
  }
  case "wait": {
    await context.wait("short", { seconds: 2 });
    return await context.step("after", async () => "waited");
  }
  case "busy": {
    await context.step("first", async () => 1);
    await context.step("slow", async () => { await new Promise((r) => setTimeout(r, 4000)); return 2; });
    await context.wait("breath", { seconds: 1 });
    return await context.step("last", async () => "done");
  }
  }
  throw new Error("unknown scenario");
});
`

// pausableEnv serves a lambdad over dir whose function "pausable" (version
// 1) runs pausableSrc on Node 22; create says whether to create it (false
// after a restart over the same dir).
func pausableEnv(t *testing.T, dir string, create bool) (*servertest.Daemon, *lambda.Client) {
	t.Helper()
	node22 := testkit.DurableTools(t)
	d := servertest.StartLambdad(t, dir, func(cfg *server.Config) {
		cfg.Nodes = []string{node22}
		cfg.ThrottleBase = 50 * time.Millisecond
	})
	c := servertest.InvokeClient(d)
	if !create {
		return d, c
	}
	files := append(testkit.DurableSDKFiles(t), archivetest.File{Name: "index.mjs", Body: pausableSrc})
	testkit.CreateActive(t, c, &lambda.CreateFunctionInput{
		FunctionName:  aws.String("pausable"),
		Role:          aws.String(testkit.Role),
		Runtime:       types.RuntimeNodejs22x,
		Handler:       aws.String("index.handler"),
		Timeout:       aws.Int32(30),
		MemorySize:    aws.Int32(256),
		Code:          &types.FunctionCode{ZipFile: archivetest.Zip(t, files...)},
		DurableConfig: &types.DurableConfig{ExecutionTimeout: aws.Int32(600), RetentionPeriodInDays: aws.Int32(1)},
	})
	if _, err := c.PublishVersion(context.Background(), &lambda.PublishVersionInput{FunctionName: aws.String("pausable")}); err != nil {
		t.Fatal(err)
	}
	return d, c
}

func startPausable(t *testing.T, c *lambda.Client, payload string) string {
	t.Helper()
	out, err := c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("pausable"), Qualifier: aws.String("1"),
		InvocationType: types.InvocationTypeEvent, Payload: []byte(payload)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.DurableExecutionArn)
}

func pause(t *testing.T, c *lambda.Client, arn, reason string) {
	t.Helper()
	if _, err := c.PauseDurableExecution(context.Background(), &lambda.PauseDurableExecutionInput{DurableExecutionArn: &arn, Reason: &reason}); err != nil {
		t.Fatalf("pause: %v", err)
	}
}

func resume(t *testing.T, c *lambda.Client, arn string) {
	t.Helper()
	if _, err := c.ResumeDurableExecution(context.Background(), &lambda.ResumeDurableExecutionInput{DurableExecutionArn: &arn, Reason: aws.String("go on")}); err != nil {
		t.Fatalf("resume: %v", err)
	}
}

func count(evs []types.Event, typ types.EventType) int {
	n := 0
	for _, e := range evs {
		if e.EventType == typ {
			n++
		}
	}
	return n
}

// stillPaused checks for a while that the execution stays PAUSED and that
// no invocation of it completes: nothing replays it while paused.
func stillPaused(t *testing.T, c *lambda.Client, arn string, for_ time.Duration) {
	t.Helper()
	before := count(history(t, c, arn), types.EventTypeInvocationCompleted)
	end := time.Now().Add(for_)
	for time.Now().Before(end) {
		out, err := c.GetDurableExecution(context.Background(), &lambda.GetDurableExecutionInput{DurableExecutionArn: &arn})
		if err != nil {
			t.Fatal(err)
		}
		if out.Status != types.ExecutionStatusPaused {
			t.Fatalf("status %s while paused", out.Status)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if after := count(history(t, c, arn), types.EventTypeInvocationCompleted); after != before {
		t.Fatalf("%d invocations completed while paused", after-before)
	}
}

// TestDurablePauseResume drives PauseDurableExecution and
// ResumeDurableExecution with AWS's JavaScript SDK in the function: a wait
// that ends while paused and a callback answered while paused are recorded
// but replay only after the resume; a pause during an invocation shows
// PAUSING until its next checkpoint, refused, ends it; a pause survives a
// restart of lambdad; the refusals answer ResourceConflictException.
// Each part fails on a lambdad that ignores the pause (the execution
// would end SUCCEEDED while the test expects PAUSED).
func TestDurablePauseResume(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, c := pausableEnv(t, t.TempDir(), true)

	// A wait ends while paused: WaitSucceeded is recorded, no replay.
	wait := startPausable(t, c, `{"scenario":"wait"}`)
	waitEvent(t, c, wait, types.EventTypeWaitStarted)
	pause(t, c, wait, "maintenance")
	got := waitStatus(t, c, wait, types.ExecutionStatusPaused, 30*time.Second)
	if p := got.PauseDetails; p == nil || !aws.ToBool(p.ExecutionTimeoutPaused) || p.PauseRequestTimestamp == nil {
		t.Errorf("PauseDetails %+v", p)
	}
	// Paused with its timeout: it times out 366 days after its start [API].
	if e := got.ExpectedExecutionTimeoutTimestamp; e == nil || !e.Equal(got.StartTimestamp.Add(366*24*time.Hour)) {
		t.Errorf("ExpectedExecutionTimeoutTimestamp %v, start %v", e, got.StartTimestamp)
	}
	waitEvent(t, c, wait, types.EventTypeWaitSucceeded)
	stillPaused(t, c, wait, time.Second)

	// The refusals.
	_, err := c.PauseDurableExecution(ctx, &lambda.PauseDurableExecutionInput{DurableExecutionArn: &wait})
	testkit.APIErr(t, err, "ResourceConflictException", 409, "The durable execution "+wait+" is already PAUSED.")
	// The same client token again is a success [API].
	busy := startPausable(t, c, `{"scenario":"busy"}`)
	_, err = c.ResumeDurableExecution(ctx, &lambda.ResumeDurableExecutionInput{DurableExecutionArn: &busy})
	testkit.APIErr(t, err, "ResourceConflictException", 409, "The durable execution "+busy+" is not paused.")
	// Another account can neither resume nor pause it: as if it did not
	// exist (each would succeed or conflict without the owner check).
	other := testkit.Client(d.URL, testkit.Account, "secret", testkit.Region)
	_, err = other.ResumeDurableExecution(ctx, &lambda.ResumeDurableExecutionInput{DurableExecutionArn: &wait})
	testkit.APIErrPrefix(t, err, "ResourceNotFoundException", 404, "")
	_, err = other.PauseDurableExecution(ctx, &lambda.PauseDurableExecutionInput{DurableExecutionArn: &busy})
	testkit.APIErrPrefix(t, err, "ResourceNotFoundException", 404, "")
	// A reason is at most 1,024 characters [API PauseDetails].
	_, err = c.PauseDurableExecution(ctx, &lambda.PauseDurableExecutionInput{DurableExecutionArn: &busy, Reason: aws.String(strings.Repeat("r", 1025))})
	if ae := testkit.APIErrPrefix(t, err, "ValidationException", 400, "1 validation error detected: Value '"); ae != nil &&
		!strings.HasSuffix(ae.ErrorMessage(), "' at 'reason' failed to satisfy constraint: Member must have length less than or equal to 1024") {
		t.Errorf("message %q", ae.ErrorMessage())
	}
	missing := wait[:len(wait)-3] + "zzz"
	_, err = c.PauseDurableExecution(ctx, &lambda.PauseDurableExecutionInput{DurableExecutionArn: &missing})
	testkit.APIErrPrefix(t, err, "ResourceNotFoundException", 404, "")

	// A pause during an invocation: PAUSING while the slow step runs,
	// PAUSED once it reaches its next checkpoint, which is refused: the
	// invocation fails (the SDK takes the 503 for an invocation error) and
	// the slow step is run again after the resume.
	testkit.Eventually(t, 30*time.Second, "the first step", func() bool {
		return count(history(t, c, busy), types.EventTypeStepSucceeded) == 1
	})
	tok := "pause-busy-1"
	for range 2 { // the same client token twice pauses once
		if _, err := c.PauseDurableExecution(ctx, &lambda.PauseDurableExecutionInput{DurableExecutionArn: &busy, ClientToken: &tok, Reason: aws.String("deploy")}); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := c.GetDurableExecution(ctx, &lambda.GetDurableExecutionInput{DurableExecutionArn: &busy}); err != nil || out.Status != types.ExecutionStatusPausing {
		t.Fatalf("during the slow step: %v %v, want PAUSING", err, out.Status)
	}
	waitStatus(t, c, busy, types.ExecutionStatusPaused, 30*time.Second)
	evs := history(t, c, busy)
	if n := count(evs, types.EventTypeStepSucceeded); n != 1 {
		t.Errorf("%d steps succeeded before the pause took, want 1: %q", n, eventTypes(evs))
	}
	if last := evs[len(evs)-2]; last.EventType != types.EventTypeInvocationCompleted || last.InvocationCompletedDetails == nil || last.InvocationCompletedDetails.Error == nil {
		t.Errorf("the interrupted invocation: %q", eventTypes(evs))
	}
	if last := evs[len(evs)-1]; last.EventType != types.EventTypeExecutionPaused {
		t.Errorf("last event %s, want ExecutionPaused", last.EventType)
	}
	list, err := c.ListDurableExecutionsByFunction(ctx, &lambda.ListDurableExecutionsByFunctionInput{FunctionName: aws.String("pausable"), Qualifier: aws.String("1"),
		Statuses: []types.ExecutionStatus{types.ExecutionStatusPaused}})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(list.DurableExecutions); n != 2 || list.DurableExecutions[0].Status != types.ExecutionStatusPaused {
		t.Errorf("%d executions listed PAUSED, want 2", n)
	}

	// A callback answered while paused is recorded, then a restart.
	cb := startPausable(t, c, `{"scenario":"callback"}`)
	id := callbackID(t, c, cb)
	pause(t, c, cb, "review")
	waitStatus(t, c, cb, types.ExecutionStatusPaused, 30*time.Second)
	if _, err := c.SendDurableExecutionCallbackSuccess(ctx, &lambda.SendDurableExecutionCallbackSuccessInput{CallbackId: &id, Result: []byte(`yes`)}); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, c, cb, types.EventTypeCallbackSucceeded)
	stillPaused(t, c, cb, time.Second)

	d.Stop()
	_, c = pausableEnv(t, d.Dir, false)
	for _, arn := range []string{wait, busy, cb} {
		stillPaused(t, c, arn, 2*time.Second)
	}

	// Resumed, each replays and ends; the history tells the pause.
	for _, arn := range []string{wait, busy, cb} {
		resume(t, c, arn)
	}
	for arn, want := range map[string]string{wait: `"waited"`, busy: `"done"`, cb: `{"approval":"yes"}`} {
		got := waitStatus(t, c, arn, types.ExecutionStatusSucceeded, 60*time.Second)
		if aws.ToString(got.Result) != want {
			t.Errorf("result %s, want %s", aws.ToString(got.Result), want)
		}
		all := history(t, c, arn)
		evs := eventTypes(all)
		p, r := slices.Index(evs, "ExecutionPaused"), slices.Index(evs, "ExecutionResumed")
		if p < 0 || r < p || count(all, "ExecutionPaused") != 1 {
			t.Errorf("history %q", evs)
			continue
		}
		pd, rd := all[p].ExecutionPausedDetails, all[r].ExecutionResumedDetails
		if pd == nil || pd.PauseRequestTimestamp == nil || !aws.ToBool(pd.ExecutionTimeoutPaused) || pd.Reason == nil || aws.ToString(pd.Reason.Payload) == "" {
			t.Errorf("ExecutionPausedDetails %+v", pd)
		}
		if rd == nil || rd.ResumeRequestTimestamp == nil || rd.Reason == nil || aws.ToString(rd.Reason.Payload) != "go on" {
			t.Errorf("ExecutionResumedDetails %+v", rd)
		}
	}
	// A closed execution is neither paused nor resumed.
	_, err = c.PauseDurableExecution(ctx, &lambda.PauseDurableExecutionInput{DurableExecutionArn: &wait})
	testkit.APIErr(t, err, "ResourceConflictException", 409, "The durable execution "+wait+" is SUCCEEDED: only a running execution can be paused.")
	_, err = c.ResumeDurableExecution(ctx, &lambda.ResumeDurableExecutionInput{DurableExecutionArn: &wait})
	testkit.APIErr(t, err, "ResourceConflictException", 409, "The durable execution "+wait+" is SUCCEEDED: only a paused execution can be resumed.")
}
