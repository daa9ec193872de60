package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strconv"
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

// durableSrc is one durable function with a scenario per event, written
// against AWS's durable execution SDK for JavaScript as its users write
// them.
const durableSrc = `import { withDurableExecution } from "@aws/durable-execution-sdk-js";
export const handler = withDurableExecution(async (event, context) => {
  switch (event.scenario) {
  case "steps": {
    const a = await context.step("one", async () => 1);
    const b = await context.step("two", async () => a + 1);
    await context.wait("pause", { seconds: 2 });
    const c = await context.step("three", async () => b + 1);
    return { sum: a + b + c };
  }
  case "retry": {
    const n = await context.step("flaky", async (ctx) => {
      if (ctx.attempt < 3) throw new Error("attempt " + ctx.attempt + " fails");
      return ctx.attempt;
    }, { retryStrategy: (err, attempts) => ({ shouldRetry: attempts < 5, delay: { seconds: 1 } }) });
    return { attempts: n };
  }
  case "callback": {
    const r = await context.waitForCallback("approval", async () => {}, { timeout: { minutes: 5 } });
    return { approval: r };
  }
  case "chain": {
    const plain = await context.invoke("call-plain", "plain", { x: 20 });
    let refused = "";
    try {
      await context.invoke("call-unqualified", "durable", { scenario: "steps" });
    } catch (e) {
      refused = e.message;
    }
    return { plain, refused };
  }
  case "fail": {
    await context.step("fine", async () => 1);
    throw new Error("the order is lost");
  }
  case "callback-fail": {
    try {
      await context.waitForCallback("refusal", async () => {}, { timeout: { minutes: 5 } });
      return "not refused";
    } catch (e) {
      return { refused: e.message };
    }
  }
  case "heartbeat": {
    try {
      await context.waitForCallback("silent", async () => {}, { timeout: { minutes: 5 }, heartbeatTimeout: { seconds: 1 } });
      return "answered";
    } catch (e) {
      return { timedOut: e.message };
    }
  }
  case "fanout": {
    const m = await context.map("squares", [1, 2, 3], async (ctx, x) => ctx.step("square", async () => x * x));
    const p = await context.parallel("pair", [
      async (ctx) => ctx.step("a", async () => "a"),
      async (ctx) => { await ctx.wait("short", { seconds: 1 }); return ctx.step("b", async () => "b"); },
    ]);
    return { squares: m.getResults(), pair: p.getResults() };
  }
  case "quick":
    return await context.step("q", async () => "quick");
  case "beating": {
    const r = await context.waitForCallback("kept-alive", async () => {}, { timeout: { minutes: 5 }, heartbeatTimeout: { seconds: 2 } });
    return { beat: r };
  }
  case "long": {
    await context.wait("long", { seconds: 300 });
    return "never";
  }
  }
  throw new Error("unknown scenario");
});
`

// durableEnv starts a lambdad whose nodejs22.x runs on a Node 22, with the
// durable function "durable" (version 1) created from durableSrc. It skips
// when the Node 22 or the SDK cannot be installed here (CI installs both).
func durableEnv(t *testing.T) (*servertest.Daemon, *lambda.Client) {
	t.Helper()
	node22 := testkit.DurableTools(t)
	files := append(testkit.DurableSDKFiles(t), archivetest.File{Name: "index.mjs", Body: durableSrc})
	d, c := servertest.InvokeEnv(t, func(cfg *server.Config) {
		cfg.Nodes = []string{node22}
		cfg.ThrottleBase = 50 * time.Millisecond
	})
	testkit.CreateActive(t, c, &lambda.CreateFunctionInput{
		FunctionName:  aws.String("durable"),
		Role:          aws.String(testkit.Role),
		Runtime:       types.RuntimeNodejs22x,
		Handler:       aws.String("index.handler"),
		Timeout:       aws.Int32(30),
		MemorySize:    aws.Int32(256),
		Code:          &types.FunctionCode{ZipFile: archivetest.Zip(t, files...)},
		DurableConfig: &types.DurableConfig{ExecutionTimeout: aws.Int32(600), RetentionPeriodInDays: aws.Int32(1)},
	})
	if _, err := c.PublishVersion(context.Background(), &lambda.PublishVersionInput{FunctionName: aws.String("durable")}); err != nil {
		t.Fatal(err)
	}
	return d, c
}

// startDurable invokes durable:1 with payload as an Event and answers the
// execution's ARN, which the 202 carries.
func startDurable(t *testing.T, c *lambda.Client, payload string) string {
	t.Helper()
	out, err := c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("durable"), Qualifier: aws.String("1"),
		InvocationType: types.InvocationTypeEvent, Payload: []byte(payload)})
	if err != nil {
		t.Fatal(err)
	}
	if out.StatusCode != 202 || !strings.Contains(aws.ToString(out.DurableExecutionArn), ":function:durable:1/durable-execution/") {
		t.Fatalf("Event invoke answered %d with execution %q", out.StatusCode, aws.ToString(out.DurableExecutionArn))
	}
	return aws.ToString(out.DurableExecutionArn)
}

// waitStatus waits until the execution arn has status, and answers it.
func waitStatus(t *testing.T, c *lambda.Client, arn string, status types.ExecutionStatus, within time.Duration) *lambda.GetDurableExecutionOutput {
	t.Helper()
	var got *lambda.GetDurableExecutionOutput
	testkit.Eventually(t, within, "execution "+string(status), func() bool {
		out, err := c.GetDurableExecution(context.Background(), &lambda.GetDurableExecutionInput{DurableExecutionArn: &arn})
		if err != nil {
			t.Fatal(err)
		}
		got = out
		return out.Status == status || (out.Status != types.ExecutionStatusRunning && t.Failed())
	})
	return got
}

func history(t *testing.T, c *lambda.Client, arn string) []types.Event {
	t.Helper()
	out, err := c.GetDurableExecutionHistory(context.Background(), &lambda.GetDurableExecutionHistoryInput{DurableExecutionArn: &arn, IncludeExecutionData: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	return out.Events
}

func eventTypes(evs []types.Event) []string {
	var s []string
	for _, e := range evs {
		s = append(s, string(e.EventType))
	}
	return s
}

// TestDurableStepsAndWait: AWS's SDK runs steps and a 2 s wait against
// lambdad; a synchronous invoke of the version waits for the whole
// execution (its replay after the wait included) and answers its result,
// with the execution's ARN; GetDurableExecution, its history and the
// function's list of executions answer in AWS's shapes.
func TestDurableStepsAndWait(t *testing.T) {
	t.Parallel()
	_, c := durableEnv(t)
	ctx := context.Background()

	_, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("durable"), Payload: []byte(`{"scenario":"steps"}`)})
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "You cannot invoke a durable function using an unqualified ARN.")

	start := time.Now()
	out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("durable"), Qualifier: aws.String("1"),
		Payload: []byte(`{"scenario":"steps"}`), DurableExecutionName: aws.String("order-1")})
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if out.FunctionError != nil || string(out.Payload) != `{"sum":6}` || aws.ToString(out.ExecutedVersion) != "1" {
		t.Fatalf("sync invoke answered %s (error %v, version %v)", out.Payload, aws.ToString(out.FunctionError), aws.ToString(out.ExecutedVersion))
	}
	if took < 2*time.Second {
		t.Errorf("the execution ended after %v, before its 2 s wait", took)
	}
	arn := aws.ToString(out.DurableExecutionArn)
	if want := testkit.InvokeARN("durable") + ":1/durable-execution/order-1/"; !strings.HasPrefix(arn, want) {
		t.Fatalf("execution ARN %q, want %s<id>", arn, want)
	}

	ex, err := c.GetDurableExecution(ctx, &lambda.GetDurableExecutionInput{DurableExecutionArn: &arn})
	if err != nil {
		t.Fatal(err)
	}
	if ex.Status != types.ExecutionStatusSucceeded || aws.ToString(ex.Result) != `{"sum":6}` || aws.ToString(ex.InputPayload) != `{"scenario":"steps"}` ||
		aws.ToString(ex.DurableExecutionName) != "order-1" || aws.ToString(ex.FunctionArn) != testkit.InvokeARN("durable")+":1" ||
		aws.ToString(ex.Version) != "1" || ex.StartTimestamp == nil || ex.EndTimestamp == nil || ex.EndTimestamp.Before(*ex.StartTimestamp) {
		t.Errorf("GetDurableExecution: %+v", ex)
	}

	evs := history(t, c, arn)
	got := strings.Join(eventTypes(evs), ",")
	// The wait ends the first invocation (PENDING); the scheduler replays
	// the execution when it is due.
	want := "ExecutionStarted,StepStarted,StepSucceeded,StepStarted,StepSucceeded,WaitStarted,InvocationCompleted," +
		"WaitSucceeded,StepStarted,StepSucceeded,InvocationCompleted,ExecutionSucceeded"
	if got != want {
		t.Errorf("history:\n got %s\nwant %s", got, want)
	}
	for i, e := range evs {
		if aws.ToInt32(e.EventId) != int32(i+1) || e.EventTimestamp == nil {
			t.Errorf("event %d: id %d, timestamp %v", i, aws.ToInt32(e.EventId), e.EventTimestamp)
		}
		switch e.EventType {
		case types.EventTypeStepSucceeded:
			if e.StepSucceededDetails == nil || e.StepSucceededDetails.Result == nil || aws.ToString(e.Name) == "" || aws.ToString(e.Id) == "" {
				t.Errorf("StepSucceeded %d: %+v", i, e)
			}
		case types.EventTypeWaitStarted:
			if d := e.WaitStartedDetails; d == nil || aws.ToInt32(d.Duration) != 2 || d.ScheduledEndTimestamp == nil || aws.ToString(e.Name) != "pause" {
				t.Errorf("WaitStarted: %+v", e)
			}
		case types.EventTypeInvocationCompleted:
			if d := e.InvocationCompletedDetails; d == nil || aws.ToString(d.RequestId) == "" || d.StartTimestamp == nil || d.EndTimestamp == nil {
				t.Errorf("InvocationCompleted: %+v", e)
			}
		case types.EventTypeExecutionStarted:
			if d := e.ExecutionStartedDetails; d == nil || d.Input == nil || aws.ToString(d.Input.Payload) != `{"scenario":"steps"}` || aws.ToInt32(d.ExecutionTimeout) != 600 {
				t.Errorf("ExecutionStarted: %+v", e)
			}
		case types.EventTypeExecutionSucceeded:
			if d := e.ExecutionSucceededDetails; d == nil || d.Result == nil || aws.ToString(d.Result.Payload) != `{"sum":6}` {
				t.Errorf("ExecutionSucceeded: %+v", e)
			}
		}
	}

	// The same name and input again: no new execution, its answer again.
	again, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("durable"), Qualifier: aws.String("1"),
		Payload: []byte(`{"scenario":"steps"}`), DurableExecutionName: aws.String("order-1")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(again.DurableExecutionArn) != arn || string(again.Payload) != `{"sum":6}` {
		t.Errorf("the name again answered %s %s, want %s", aws.ToString(again.DurableExecutionArn), again.Payload, arn)
	}
	// The same name with another input is refused, and starts nothing.
	_, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("durable"), Qualifier: aws.String("1"),
		Payload: []byte(`{"scenario":"quick"}`), DurableExecutionName: aws.String("order-1")})
	testkit.APIErrPrefix(t, err, "DurableExecutionAlreadyStartedException", 409, "")
	// Without a Qualifier only $LATEST's are listed, as AWS documents it.
	list, err := c.ListDurableExecutionsByFunction(ctx, &lambda.ListDurableExecutionsByFunctionInput{FunctionName: aws.String("durable")})
	if err != nil || len(list.DurableExecutions) != 0 {
		t.Fatalf("unqualified list: %+v %v", list, err)
	}
	list, err = c.ListDurableExecutionsByFunction(ctx, &lambda.ListDurableExecutionsByFunctionInput{FunctionName: aws.String("durable"), Qualifier: aws.String("1")})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.DurableExecutions) != 1 || aws.ToString(list.DurableExecutions[0].DurableExecutionArn) != arn ||
		list.DurableExecutions[0].Status != types.ExecutionStatusSucceeded || aws.ToString(list.DurableExecutions[0].DurableExecutionName) != "order-1" {
		t.Errorf("ListDurableExecutionsByFunction: %+v", list.DurableExecutions)
	}
	_, err = c.ListDurableExecutionsByFunction(ctx, &lambda.ListDurableExecutionsByFunctionInput{FunctionName: aws.String("nope")})
	testkit.APIErrPrefix(t, err, "ResourceNotFoundException", 404, "Function not found")
}

// TestDurableThrottled: invocations of a durable execution are ordinary
// invokes: with the function's reserved concurrency at 0 none runs (lambdad
// counts the throttles; a throttled invocation never started, so the
// history has none), and once it is lifted the execution runs to its end.
func TestDurableThrottled(t *testing.T) {
	t.Parallel()
	d, c := durableEnv(t)
	ctx := context.Background()
	if _, err := c.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("durable"), ReservedConcurrentExecutions: aws.Int32(0)}); err != nil {
		t.Fatal(err)
	}
	arn := startDurable(t, c, `{"scenario":"quick"}`)
	throttles := regexp.MustCompile(`(?m)^lambdad_throttles_total ([0-9]+)$`)
	testkit.Eventually(t, 10*time.Second, "throttled invocations", func() bool {
		resp, err := http.Get(d.URL + "/_lambdad/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m := throttles.FindSubmatch(body)
		n, _ := strconv.Atoi(string(m[1]))
		return n >= 3
	})
	if got := strings.Join(eventTypes(history(t, c, arn)), ","); got != "ExecutionStarted" {
		t.Errorf("history of a throttled execution: %s", got)
	}
	if ex, err := c.GetDurableExecution(ctx, &lambda.GetDurableExecutionInput{DurableExecutionArn: &arn}); err != nil || ex.Status != types.ExecutionStatusRunning {
		t.Fatalf("throttled execution: %v %v", ex, err)
	}
	if _, err := c.DeleteFunctionConcurrency(ctx, &lambda.DeleteFunctionConcurrencyInput{FunctionName: aws.String("durable")}); err != nil {
		t.Fatal(err)
	}
	got := waitStatus(t, c, arn, types.ExecutionStatusSucceeded, 30*time.Second)
	if aws.ToString(got.Result) != `"quick"` {
		t.Errorf("result %s", aws.ToString(got.Result))
	}
	_, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("durable"), InvocationType: types.InvocationTypeDryRun})
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "You cannot invoke a durable function using an unqualified ARN.")

	// map and parallel: child contexts, their steps and a wait inside one.
	out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("durable"), Qualifier: aws.String("1"), Payload: []byte(`{"scenario":"fanout"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if string(out.Payload) != `{"squares":[1,4,9],"pair":["a","b"]}` || out.FunctionError != nil {
		t.Fatalf("map and parallel answered %s %v", out.Payload, aws.ToString(out.FunctionError))
	}
	contexts, children := 0, 0
	for _, e := range history(t, c, aws.ToString(out.DurableExecutionArn)) {
		if e.EventType == types.EventTypeContextStarted {
			contexts++
		}
		if e.EventType == types.EventTypeStepSucceeded && e.ParentId != nil {
			children++
		}
	}
	if contexts < 2 || children != 5 {
		t.Errorf("history has %d ContextStarted, %d steps in a context; want map's and parallel's contexts and 5 steps", contexts, children)
	}
}

// TestDurableRetryCallbackStop: a step that fails twice is retried by the
// SDK with the service's retry timer until it succeeds; waitForCallback ends
// when the test completes its callback with
// SendDurableExecutionCallbackSuccess; StopDurableExecution stops an
// execution that waits.
func TestDurableRetryCallbackStop(t *testing.T) {
	t.Parallel()
	_, c := durableEnv(t)
	ctx := context.Background()

	retry := startDurable(t, c, `{"scenario":"retry"}`)
	callback := startDurable(t, c, `{"scenario":"callback"}`)
	long := startDurable(t, c, `{"scenario":"long"}`)
	testkit.CreateActive(t, c, testkit.NodeFunction(t, "plain", "index.mjs", "index.handler", `export const handler = async (e) => ({ doubled: e.x * 2 });`))
	chain := startDurable(t, c, `{"scenario":"chain"}`)

	// The callback's id is in its CallbackStarted event.
	var cbID string
	testkit.Eventually(t, 30*time.Second, "the callback started", func() bool {
		for _, e := range history(t, c, callback) {
			if e.EventType == types.EventTypeCallbackStarted && e.CallbackStartedDetails != nil {
				cbID = aws.ToString(e.CallbackStartedDetails.CallbackId)
			}
		}
		return cbID != ""
	})
	if _, err := c.SendDurableExecutionCallbackSuccess(ctx, &lambda.SendDurableExecutionCallbackSuccessInput{CallbackId: &cbID, Result: []byte(`approved`)}); err != nil {
		t.Fatal(err)
	}
	got := waitStatus(t, c, callback, types.ExecutionStatusSucceeded, 30*time.Second)
	if aws.ToString(got.Result) != `{"approval":"approved"}` {
		t.Errorf("callback execution's result %s", aws.ToString(got.Result))
	}
	// A closed callback takes no second answer.
	_, err := c.SendDurableExecutionCallbackSuccess(ctx, &lambda.SendDurableExecutionCallbackSuccessInput{CallbackId: &cbID, Result: []byte(`"again"`)})
	testkit.APIErr(t, err, "CallbackTimeoutException", 400, "The callback ID token has either expired or the callback associated with the token has already been closed.")

	got = waitStatus(t, c, retry, types.ExecutionStatusSucceeded, 60*time.Second)
	if aws.ToString(got.Result) != `{"attempts":3}` {
		t.Errorf("retried step's result %s", aws.ToString(got.Result))
	}
	var failed []string
	for _, e := range history(t, c, retry) {
		if e.EventType == types.EventTypeStepFailed {
			d := e.StepFailedDetails
			if d == nil || d.Error == nil || d.Error.Payload == nil || d.RetryDetails == nil {
				t.Fatalf("StepFailed: %+v", e)
			}
			failed = append(failed, aws.ToString(d.Error.Payload.ErrorMessage))
		}
	}
	if strings.Join(failed, ",") != "attempt 1 fails,attempt 2 fails" {
		t.Errorf("StepFailed events: %q", failed)
	}

	// A chained invoke runs the plain function; one of the durable
	// function by its unqualified name is refused, as Invoke refuses it.
	got = waitStatus(t, c, chain, types.ExecutionStatusSucceeded, 60*time.Second)
	if want := `{"plain":{"doubled":40},"refused":"You cannot invoke a durable function using an unqualified ARN."}`; aws.ToString(got.Result) != want {
		t.Errorf("chained invokes answered %s, want %s", aws.ToString(got.Result), want)
	}

	// Stop the one that waits 300 s.
	waitEvent(t, c, long, types.EventTypeWaitStarted)
	stop, err := c.StopDurableExecution(ctx, &lambda.StopDurableExecutionInput{DurableExecutionArn: &long,
		Error: &types.ErrorObject{ErrorType: aws.String("Cancelled"), ErrorMessage: aws.String("by the test")}})
	if err != nil {
		t.Fatal(err)
	}
	got = waitStatus(t, c, long, types.ExecutionStatusStopped, 5*time.Second)
	if stop.StopTimestamp == nil || got.Error == nil || aws.ToString(got.Error.ErrorType) != "Cancelled" || aws.ToString(got.Error.ErrorMessage) != "by the test" || got.EndTimestamp == nil {
		t.Errorf("stopped execution: %+v %+v", got, got.Error)
	}
	evs := history(t, c, long)
	if last := evs[len(evs)-1]; last.EventType != types.EventTypeExecutionStopped {
		t.Errorf("last event %s, want ExecutionStopped", last.EventType)
	}

	list, err := c.ListDurableExecutionsByFunction(ctx, &lambda.ListDurableExecutionsByFunctionInput{FunctionName: aws.String("durable"), Qualifier: aws.String("1"),
		Statuses: []types.ExecutionStatus{types.ExecutionStatusStopped}})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.DurableExecutions) != 1 || aws.ToString(list.DurableExecutions[0].DurableExecutionArn) != long {
		b, _ := json.Marshal(list.DurableExecutions)
		t.Errorf("stopped executions: %s", b)
	}
}

// waitEvent waits until the execution's history has an event of type typ.
func waitEvent(t *testing.T, c *lambda.Client, arn string, typ types.EventType) {
	t.Helper()
	testkit.Eventually(t, 30*time.Second, string(typ), func() bool {
		for _, e := range history(t, c, arn) {
			if e.EventType == typ {
				return true
			}
		}
		return false
	})
}

// callbackID waits for the execution's callback to start and answers its id,
// from its CallbackStarted event.
func callbackID(t *testing.T, c *lambda.Client, arn string) string {
	t.Helper()
	var id string
	testkit.Eventually(t, 30*time.Second, "the callback started", func() bool {
		for _, e := range history(t, c, arn) {
			if e.EventType == types.EventTypeCallbackStarted && e.CallbackStartedDetails != nil {
				id = aws.ToString(e.CallbackStartedDetails.CallbackId)
			}
		}
		return id != ""
	})
	return id
}

// TestDurableFailuresAndTimeouts: a handler that throws fails its execution
// and a synchronous invoke answers the error as a function error; a
// callback failed with SendDurableExecutionCallbackFailure, and another
// without a heartbeat, reach the handler as errors; ExecutionTimeout ends a
// waiting execution TIMED_OUT. Another account can neither read, stop,
// checkpoint nor answer the callback of an execution (each fails on a
// lambdad that does not check the owner).
func TestDurableFailuresAndTimeouts(t *testing.T) {
	t.Parallel()
	d, c := durableEnv(t)
	ctx := context.Background()

	out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("durable"), Qualifier: aws.String("1"), Payload: []byte(`{"scenario":"fail"}`)})
	if err != nil {
		t.Fatal(err)
	}
	doc := testkit.DecodeJSON[struct{ ErrorType, ErrorMessage string }](t, out.Payload)
	if aws.ToString(out.FunctionError) != "Unhandled" || doc.ErrorMessage != "the order is lost" || out.DurableExecutionArn == nil {
		t.Errorf("a failed execution answered %v %s", aws.ToString(out.FunctionError), out.Payload)
	}
	failed, err := c.GetDurableExecution(ctx, &lambda.GetDurableExecutionInput{DurableExecutionArn: out.DurableExecutionArn})
	if err != nil {
		t.Fatal(err)
	}
	if failed.Status != types.ExecutionStatusFailed || failed.Error == nil || aws.ToString(failed.Error.ErrorMessage) != "the order is lost" || failed.Result != nil {
		t.Errorf("failed execution: %s %+v", failed.Status, failed.Error)
	}

	refusal := startDurable(t, c, `{"scenario":"callback-fail"}`)
	silent := startDurable(t, c, `{"scenario":"heartbeat"}`)
	beating := startDurable(t, c, `{"scenario":"beating"}`)
	cb := callbackID(t, c, refusal)

	// Heartbeats every second keep a callback with a 2 s heartbeat timeout
	// open for 4 s; then it is answered.
	beat := callbackID(t, c, beating)
	for range 4 {
		time.Sleep(time.Second)
		if _, err := c.SendDurableExecutionCallbackHeartbeat(ctx, &lambda.SendDurableExecutionCallbackHeartbeatInput{CallbackId: &beat}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.SendDurableExecutionCallbackSuccess(ctx, &lambda.SendDurableExecutionCallbackSuccessInput{CallbackId: &beat, Result: []byte(`alive`)}); err != nil {
		t.Fatal(err)
	}
	if got := waitStatus(t, c, beating, types.ExecutionStatusSucceeded, 30*time.Second); aws.ToString(got.Result) != `{"beat":"alive"}` {
		t.Errorf("kept-alive callback answered %s", aws.ToString(got.Result))
	}

	// Another account: as if nothing of it existed.
	other := testkit.Client(d.URL, testkit.Account, "secret", testkit.Region)
	_, err = other.GetDurableExecution(ctx, &lambda.GetDurableExecutionInput{DurableExecutionArn: &refusal})
	testkit.APIErrPrefix(t, err, "ResourceNotFoundException", 404, "")
	_, err = other.GetDurableExecutionHistory(ctx, &lambda.GetDurableExecutionHistoryInput{DurableExecutionArn: &refusal})
	testkit.APIErrPrefix(t, err, "ResourceNotFoundException", 404, "")
	_, err = other.StopDurableExecution(ctx, &lambda.StopDurableExecutionInput{DurableExecutionArn: &refusal})
	testkit.APIErrPrefix(t, err, "ResourceNotFoundException", 404, "")
	_, err = other.SendDurableExecutionCallbackSuccess(ctx, &lambda.SendDurableExecutionCallbackSuccessInput{CallbackId: &cb, Result: []byte(`x`)})
	testkit.APIErrPrefix(t, err, "ResourceNotFoundException", 404, "")
	_, err = other.SendDurableExecutionCallbackFailure(ctx, &lambda.SendDurableExecutionCallbackFailureInput{CallbackId: &cb})
	testkit.APIErrPrefix(t, err, "ResourceNotFoundException", 404, "")
	_, err = other.CheckpointDurableExecution(ctx, &lambda.CheckpointDurableExecutionInput{DurableExecutionArn: &refusal, CheckpointToken: aws.String("AAAA")})
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "Invalid checkpoint token")
	if got, err := c.GetDurableExecution(ctx, &lambda.GetDurableExecutionInput{DurableExecutionArn: &refusal}); err != nil || got.Status != types.ExecutionStatusRunning {
		t.Fatalf("after the other account's attempts the execution is %v (%v)", got, err)
	}

	if _, err := c.SendDurableExecutionCallbackFailure(ctx, &lambda.SendDurableExecutionCallbackFailureInput{CallbackId: &cb,
		Error: &types.ErrorObject{ErrorType: aws.String("Refused"), ErrorMessage: aws.String("no stock")}}); err != nil {
		t.Fatal(err)
	}
	got := waitStatus(t, c, refusal, types.ExecutionStatusSucceeded, 30*time.Second)
	if aws.ToString(got.Result) != `{"refused":"no stock"}` {
		t.Errorf("failed callback reached the handler as %s", aws.ToString(got.Result))
	}

	got = waitStatus(t, c, silent, types.ExecutionStatusSucceeded, 30*time.Second)
	if !strings.Contains(aws.ToString(got.Result), "timedOut") {
		t.Errorf("heartbeat timeout reached the handler as %s", aws.ToString(got.Result))
	}
	// A missed heartbeat's error is AWS's (durable's fire).
	timedOut := false
	for _, e := range history(t, c, silent) {
		if e.EventType != types.EventTypeCallbackTimedOut {
			continue
		}
		timedOut = true
		if d := e.CallbackTimedOutDetails; d == nil || d.Error == nil || d.Error.Payload == nil ||
			aws.ToString(d.Error.Payload.ErrorType) != "Callback.Heartbeat" || aws.ToString(d.Error.Payload.ErrorMessage) != "Callback timed out on heartbeat" {
			t.Errorf("CallbackTimedOut details %+v", d)
		}
	}
	if !timedOut {
		t.Errorf("no CallbackTimedOut event: %v", eventTypes(history(t, c, silent)))
	}

	// Version 2 has a 2 s ExecutionTimeout; executions of version 1 keep 600 s.
	if _, err := c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("durable"),
		DurableConfig: &types.DurableConfig{ExecutionTimeout: aws.Int32(2), RetentionPeriodInDays: aws.Int32(1)}}); err != nil {
		t.Fatal(err)
	}
	testkit.WaitUpdated(t, c, "durable")
	if _, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("durable")}); err != nil {
		t.Fatal(err)
	}
	res, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("durable"), Qualifier: aws.String("2"),
		InvocationType: types.InvocationTypeEvent, Payload: []byte(`{"scenario":"long"}`)})
	if err != nil {
		t.Fatal(err)
	}
	got = waitStatus(t, c, aws.ToString(res.DurableExecutionArn), types.ExecutionStatusTimedOut, 15*time.Second)
	if got.EndTimestamp == nil || got.EndTimestamp.Sub(*got.StartTimestamp) < 2*time.Second {
		t.Errorf("timed out execution: %v to %v", got.StartTimestamp, got.EndTimestamp)
	}
	// Without an error, as on AWS (durable's fire).
	if got.Error != nil {
		t.Errorf("timed out execution's error %+v", got.Error)
	}
	evs := history(t, c, aws.ToString(res.DurableExecutionArn))
	if last := evs[len(evs)-1]; last.EventType != types.EventTypeExecutionTimedOut || last.ExecutionTimedOutDetails == nil || last.ExecutionTimedOutDetails.Error != nil {
		t.Errorf("last event %s %+v", last.EventType, last.ExecutionTimedOutDetails)
	}
}
