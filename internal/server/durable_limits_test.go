package server_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/archive/archivetest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// rawCheckpoints speaks the durable protocol with the Lambda client the SDK
// brings: with its invocation's token it sends checkpoints AWS's limits
// refuse, answering each refusal, then a good checkpoint with the same
// token (which a refused one must not have consumed) and its result.
const rawCheckpoints = `import { LambdaClient, CheckpointDurableExecutionCommand } from "@aws-sdk/client-lambda";
const client = new LambdaClient({ maxAttempts: 1 });
const big = (n) => "x".repeat(n);
export const handler = async (event) => {
  const arn = event.DurableExecutionArn, token = event.CheckpointToken;
  const send = (Updates) => client.send(new CheckpointDurableExecutionCommand({ DurableExecutionArn: arn, CheckpointToken: token, Updates }));
  const tries = {
    step: [{ Id: "s", Type: "STEP", Action: "START" }, { Id: "s", Type: "STEP", Action: "SUCCEED", Payload: big(262145) }],
    context: [{ Id: "c", Type: "CONTEXT", Action: "START" }, { Id: "c", Type: "CONTEXT", Action: "SUCCEED", Payload: big(262145) }],
    error: [{ Id: "s", Type: "STEP", Action: "START" }, { Id: "s", Type: "STEP", Action: "FAIL", Error: { ErrorMessage: big(32768) } }],
    payload: [{ Id: "w", Type: "WAIT", Action: "START", WaitOptions: { WaitSeconds: 1 }, Payload: big(6291457) }],
  };
  const out = {};
  for (const [k, updates] of Object.entries(tries)) {
    try {
      await send(updates);
      out[k] = "accepted";
    } catch (e) {
      out[k] = e.name + " " + e.$metadata?.httpStatusCode + " " + e.message;
    }
  }
  const ok = await send([{ Id: "s", Type: "STEP", Action: "START" }, { Id: "s", Type: "STEP", Action: "SUCCEED", Payload: '"fine"' }]);
  out.after = ok.NewExecutionState.Operations.map((o) => o.Id + ":" + o.Status).join(",");
  return { Status: "SUCCEEDED", Result: JSON.stringify(out) };
};
`

// TestDurableOversized: each payload over AWS's limits is refused with its
// error and changes nothing: a checkpoint's step and context results over
// 262,144 bytes, an error over 32,768 bytes, a request over 6 MB (the token
// stays good and no operation appears); a callback's result over the
// model's 262,144 bytes, its failure's error and a stop's error over 32,768
// bytes (the execution keeps waiting, its history as it was, and the
// callback is answered afterwards); an Event start over 1 MB starts nothing.
func TestDurableOversized(t *testing.T) {
	t.Parallel()
	_, c := durableEnv(t)
	ctx := context.Background()

	files := append(testkit.DurableSDKFiles(t), archivetest.File{Name: "raw.mjs", Body: rawCheckpoints})
	testkit.CreateActive(t, c, &lambda.CreateFunctionInput{
		FunctionName:  aws.String("raw"),
		Role:          aws.String(testkit.Role),
		Runtime:       types.RuntimeNodejs22x,
		Handler:       aws.String("raw.handler"),
		Timeout:       aws.Int32(60),
		MemorySize:    aws.Int32(256),
		Code:          &types.FunctionCode{ZipFile: archivetest.Zip(t, files...)},
		DurableConfig: &types.DurableConfig{ExecutionTimeout: aws.Int32(600)},
	})
	if _, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("raw")}); err != nil {
		t.Fatal(err)
	}
	out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("raw:1"), Payload: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	if out.FunctionError != nil {
		t.Fatalf("raw function failed: %s", out.Payload)
	}
	var got map[string]string
	var raw string
	if err := json.Unmarshal(out.Payload, &raw); err != nil {
		raw = string(out.Payload)
	}
	if err := json.Unmarshal([]byte(raw), &got); err != nil {
		t.Fatalf("raw function answered %s", out.Payload)
	}
	want := map[string]string{
		"step":    "InvalidParameterValueException 400 STEP output payload size must be less than or equal to 262144 bytes",
		"context": "InvalidParameterValueException 400 CONTEXT output payload size must be less than or equal to 262144 bytes",
		"error":   "InvalidParameterValueException 400 Error object size must be less than 32768 bytes.",
		"payload": "RequestTooLargeException 413 Request must be smaller than 6291456 bytes for the CheckpointDurableExecution operation",
		"after":   "s:SUCCEEDED",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %q, want %q", k, got[k], w)
		}
	}
	// The refused checkpoints left no trace in the history.
	// (Compared by whole id: the execution's own events carry its
	// random id, which may start with "c" or "w".)
	var ids []string
	refused := false
	for _, e := range history(t, c, aws.ToString(out.DurableExecutionArn)) {
		ids = append(ids, string(e.EventType)+":"+aws.ToString(e.Id))
		if id := aws.ToString(e.Id); id == "c" || id == "w" || e.EventType == types.EventTypeStepFailed {
			refused = true
		}
	}
	if refused {
		t.Errorf("history after refused checkpoints: %v", ids)
	}

	// A waiting callback: oversized answers and a stop change nothing.
	arn := startDurable(t, c, `{"scenario":"callback"}`)
	cb := callbackID(t, c, arn)
	waitEvent(t, c, arn, types.EventTypeInvocationCompleted)
	before := history(t, c, arn)
	_, err = c.SendDurableExecutionCallbackSuccess(ctx, &lambda.SendDurableExecutionCallbackSuccessInput{CallbackId: &cb, Result: make([]byte, 262145)})
	testkit.APIErr(t, err, "ValidationException", 400, "1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=262145 cap=262145]' at 'result' failed to satisfy constraint: Member must have length less than or equal to 262144")
	bigErr := &types.ErrorObject{ErrorType: aws.String("Big"), ErrorMessage: aws.String(strings.Repeat("x", 32768))}
	_, err = c.SendDurableExecutionCallbackFailure(ctx, &lambda.SendDurableExecutionCallbackFailureInput{CallbackId: &cb, Error: bigErr})
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "Error object size must be less than 32768 bytes.")
	_, err = c.StopDurableExecution(ctx, &lambda.StopDurableExecutionInput{DurableExecutionArn: &arn, Error: bigErr})
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "Error object size must be less than 32768 bytes.")
	_, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("durable:1"), InvocationType: types.InvocationTypeEvent,
		Payload: []byte(`{"scenario":"quick","pad":"` + strings.Repeat("x", 1<<20) + `"}`)})
	testkit.APIErrPrefix(t, err, "RequestTooLargeException", 413, "")

	if after := history(t, c, arn); len(after) != len(before) {
		t.Errorf("refused answers changed the history: %d events, then %d", len(before), len(after))
	}
	list, err := c.ListDurableExecutionsByFunction(ctx, &lambda.ListDurableExecutionsByFunctionInput{FunctionName: aws.String("durable"), Qualifier: aws.String("1")})
	if err != nil || len(list.DurableExecutions) != 1 {
		t.Fatalf("executions of durable: %+v %v", list, err)
	}
	if _, err := c.SendDurableExecutionCallbackSuccess(ctx, &lambda.SendDurableExecutionCallbackSuccessInput{CallbackId: &cb, Result: []byte(`yes`)}); err != nil {
		t.Fatal(err)
	}
	if got := waitStatus(t, c, arn, types.ExecutionStatusSucceeded, 30e9); aws.ToString(got.Result) != `{"approval":"yes"}` {
		t.Errorf("callback execution's result %s", aws.ToString(got.Result))
	}
}
