package api_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/api/apitest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// protocol speaks the durable invocation protocol by hand (docs/durable.md
// 1.3), without AWS's SDK: it answers the execution's input, read from the
// EXECUTION operation the event's state starts with, as its result; with
// "pending" it answers PENDING with nothing to wait for.
const protocol = `import json
def handler(event, context):
    assert event["DurableExecutionArn"] and event["CheckpointToken"]
    first = event["InitialExecutionState"]["Operations"][0]
    assert first["Type"] == "EXECUTION" and first["Status"] == "STARTED"
    payload = first["ExecutionDetails"]["InputPayload"]
    if json.loads(payload).get("pending"):
        return {"Status": "PENDING"}
    return {"Status": "SUCCEEDED", "Result": payload}
`

func durableFunction(t *testing.T, e *apitest.Env) {
	t.Helper()
	in := apitest.PythonFunction(t, "proto", protocol)
	in.DurableConfig = &types.DurableConfig{ExecutionTimeout: aws.Int32(60)}
	// A sync invoke waits for the execution at most the function's timeout:
	// the default 3 s is less than a cold Python start on a loaded machine.
	in.Timeout = aws.Int32(30)
	e.Create(t, in)
	if _, err := e.Client.PublishVersion(context.Background(), &lambda.PublishVersionInput{FunctionName: aws.String("proto")}); err != nil {
		t.Fatal(err)
	}
}

// TestDurableInvokeProtocol: a durable function gets AWS's invocation event
// and its output ends the execution; the execution's answers are there for
// a sync invoke and GetDurableExecution; PENDING with nothing pending fails
// it.
func TestDurableInvokeProtocol(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{})
	durableFunction(t, e)
	ctx := context.Background()

	_, err := e.Client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("proto"), Payload: []byte(`{}`)})
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "You cannot invoke a durable function using an unqualified ARN.")

	out, err := e.Client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("proto:1"), Payload: []byte(`{"n":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	if string(out.Payload) != `{"n":1}` || out.FunctionError != nil || out.DurableExecutionArn == nil {
		t.Fatalf("sync invoke answered %s %v %v", out.Payload, aws.ToString(out.FunctionError), out.DurableExecutionArn)
	}

	ev, err := e.Client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("proto"), Qualifier: aws.String("1"),
		InvocationType: types.InvocationTypeEvent, Payload: []byte(`{"pending":true}`)})
	if err != nil {
		t.Fatal(err)
	}
	if ev.StatusCode != 202 || ev.DurableExecutionArn == nil {
		t.Fatalf("Event invoke answered %d %v", ev.StatusCode, ev.DurableExecutionArn)
	}
	var got *lambda.GetDurableExecutionOutput
	testkit.Eventually(t, 10*time.Second, "the execution ended", func() bool {
		got, err = e.Client.GetDurableExecution(ctx, &lambda.GetDurableExecutionInput{DurableExecutionArn: ev.DurableExecutionArn})
		return err == nil && got.Status != types.ExecutionStatusRunning
	})
	if got.Status != types.ExecutionStatusFailed || got.Error == nil || aws.ToString(got.Error.ErrorMessage) != "Cannot return PENDING status with no pending operations." {
		t.Errorf("PENDING with nothing pending: %s %+v", got.Status, got.Error)
	}
}

// TestDurableBadInput: made-up execution ARNs, tokens and callback ids get
// the durable operations' errors; the list of a function without
// executions is empty, of no function 404.
func TestDurableBadInput(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{})
	durableFunction(t, e)
	ctx := context.Background()
	c := e.Client
	arn := apitest.ARN("proto") + ":1/durable-execution/made-up/0a0a0a0a-0000-4000-8000-000000000000"

	_, err := c.GetDurableExecution(ctx, &lambda.GetDurableExecutionInput{DurableExecutionArn: &arn})
	testkit.APIErrPrefix(t, err, "ResourceNotFoundException", 404, "")
	_, err = c.GetDurableExecutionHistory(ctx, &lambda.GetDurableExecutionHistoryInput{DurableExecutionArn: &arn})
	testkit.APIErrPrefix(t, err, "ResourceNotFoundException", 404, "")
	_, err = c.StopDurableExecution(ctx, &lambda.StopDurableExecutionInput{DurableExecutionArn: &arn})
	testkit.APIErrPrefix(t, err, "ResourceNotFoundException", 404, "")
	_, err = c.CheckpointDurableExecution(ctx, &lambda.CheckpointDurableExecutionInput{DurableExecutionArn: &arn, CheckpointToken: aws.String("AAAA")})
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "Invalid checkpoint token")
	_, err = c.GetDurableExecutionState(ctx, &lambda.GetDurableExecutionStateInput{DurableExecutionArn: &arn, CheckpointToken: aws.String("AAAA")})
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "Invalid checkpoint token")
	_, err = c.SendDurableExecutionCallbackSuccess(ctx, &lambda.SendDurableExecutionCallbackSuccessInput{CallbackId: aws.String("AAAA")})
	testkit.APIErrPrefix(t, err, "InvalidParameterValueException", 400, "")
	_, err = c.SendDurableExecutionCallbackHeartbeat(ctx, &lambda.SendDurableExecutionCallbackHeartbeatInput{CallbackId: aws.String("AAAA")})
	testkit.APIErrPrefix(t, err, "InvalidParameterValueException", 400, "")

	list, err := c.ListDurableExecutionsByFunction(ctx, &lambda.ListDurableExecutionsByFunctionInput{FunctionName: aws.String("proto")})
	if err != nil || list.DurableExecutions == nil || len(list.DurableExecutions) != 0 {
		t.Errorf("list of a function without executions: %+v %v", list, err)
	}
	_, err = c.ListDurableExecutionsByFunction(ctx, &lambda.ListDurableExecutionsByFunctionInput{FunctionName: aws.String("none")})
	testkit.APIErrPrefix(t, err, "ResourceNotFoundException", 404, "Function not found")
}

// TestDurableAliasRoutedToPlainVersion: an alias of a durable version whose
// routing sends the invocation to a version without DurableConfig runs that
// version as an ordinary function.
func TestDurableAliasRoutedToPlainVersion(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{})
	ctx := context.Background()
	c := e.Client
	e.Python(t, "mixed", "def handler(event, context):\n    return 'plain'\n")
	if _, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("mixed")}); err != nil {
		t.Fatal(err)
	}
	code := apitest.PythonFunction(t, "mixed", protocol).Code
	if _, err := c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("mixed"), ZipFile: code.ZipFile}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "code updated", func() bool {
		f, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("mixed")})
		return err == nil && f.Configuration.LastUpdateStatus == types.LastUpdateStatusSuccessful
	})
	if _, err := c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("mixed"),
		DurableConfig: &types.DurableConfig{ExecutionTimeout: aws.Int32(60)}}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "configuration updated", func() bool {
		f, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("mixed")})
		return err == nil && f.Configuration.LastUpdateStatus == types.LastUpdateStatusSuccessful
	})
	if _, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("mixed")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("mixed"), Name: aws.String("live"), FunctionVersion: aws.String("2"),
		RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{"1": 1}}}); err != nil {
		t.Fatal(err)
	}
	out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("mixed:live"), Payload: []byte(`{"n":2}`)})
	if err != nil {
		t.Fatal(err)
	}
	if string(out.Payload) != `"plain"` || aws.ToString(out.ExecutedVersion) != "1" || out.DurableExecutionArn != nil {
		t.Errorf("routed to version 1: %s, version %s, execution %v", out.Payload, aws.ToString(out.ExecutedVersion), out.DurableExecutionArn)
	}
}
