package server_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/server"
	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

func TestEventInvokeConfigLifecycle(t *testing.T) {
	t.Parallel()
	_, c := servertest.NewEnv(t, servertest.FastTransition)
	ctx := context.Background()
	testkit.CreateActive(t, c, testkit.CreateInput("eic", testkit.HandlerZip(t, "x = 1\n")))
	testkit.CreateActive(t, c, testkit.CreateInput("eic-dest", testkit.HandlerZip(t, "x = 1\n")))
	fn := aws.String("eic")
	latest := testkit.FnARN("eic") + ":$LATEST"

	put, err := c.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: fn, MaximumRetryAttempts: aws.Int32(0)})
	if err != nil || aws.ToString(put.FunctionArn) != latest || aws.ToInt32(put.MaximumRetryAttempts) != 0 || put.MaximumEventAgeInSeconds != nil ||
		put.DestinationConfig == nil || put.DestinationConfig.OnFailure == nil || put.LastModified == nil {
		t.Fatalf("Put: %v %+v", err, put)
	}
	// Put replaces, Update merges.
	put, _ = c.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: fn, MaximumEventAgeInSeconds: aws.Int32(60)})
	if put.MaximumRetryAttempts != nil || aws.ToInt32(put.MaximumEventAgeInSeconds) != 60 {
		t.Errorf("Put did not replace: %+v", put)
	}
	up, err := c.UpdateFunctionEventInvokeConfig(ctx, &lambda.UpdateFunctionEventInvokeConfigInput{FunctionName: fn, MaximumRetryAttempts: aws.Int32(1),
		DestinationConfig: &types.DestinationConfig{OnFailure: &types.OnFailure{Destination: aws.String(testkit.FnARN("eic-dest"))}}})
	if err != nil || aws.ToInt32(up.MaximumEventAgeInSeconds) != 60 || aws.ToInt32(up.MaximumRetryAttempts) != 1 || aws.ToString(up.DestinationConfig.OnFailure.Destination) != testkit.FnARN("eic-dest") {
		t.Fatalf("Update: %v %+v", err, up)
	}
	got, err := c.GetFunctionEventInvokeConfig(ctx, &lambda.GetFunctionEventInvokeConfigInput{FunctionName: fn})
	if err != nil || aws.ToInt32(got.MaximumRetryAttempts) != 1 {
		t.Errorf("Get: %v", err)
	}
	list, err := c.ListFunctionEventInvokeConfigs(ctx, &lambda.ListFunctionEventInvokeConfigsInput{FunctionName: fn})
	if err != nil || len(list.FunctionEventInvokeConfigs) != 1 {
		t.Errorf("List: %v %+v", err, list)
	}

	_, err = c.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: fn})
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "You must specify at least one of error handling or destination setting.")
	_, err = c.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("nope"), MaximumRetryAttempts: aws.Int32(1)})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "The function doesn't exist.")
	_, err = c.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: fn,
		DestinationConfig: &types.DestinationConfig{OnSuccess: &types.OnSuccess{Destination: aws.String(testkit.FnARN("doesnotexist"))}}})
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "The destination ARN "+testkit.FnARN("doesnotexist")+" is invalid.")
	_, err = c.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: fn,
		DestinationConfig: &types.DestinationConfig{OnSuccess: &types.OnSuccess{Destination: aws.String(testkit.FnARN("eic"))}}})
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "You can't specify the function as a destination for itself.")
	iam := "arn:aws:iam:us-east-1:" + testkit.Account + ":function:eic"
	_, err = c.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: fn,
		DestinationConfig: &types.DestinationConfig{OnSuccess: &types.OnSuccess{Destination: aws.String(iam)}}})
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "The provided destination config DestinationConfig(onSuccess=OnSuccess(destination="+iam+"), onFailure=null) is invalid.")

	if _, err := c.DeleteFunctionEventInvokeConfig(ctx, &lambda.DeleteFunctionEventInvokeConfigInput{FunctionName: fn}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetFunctionEventInvokeConfig(ctx, &lambda.GetFunctionEventInvokeConfigInput{FunctionName: fn})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "The function "+latest+" doesn't have an EventInvokeConfig")
	_, err = c.UpdateFunctionEventInvokeConfig(ctx, &lambda.UpdateFunctionEventInvokeConfigInput{FunctionName: fn, MaximumRetryAttempts: aws.Int32(1)})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "The function "+latest+" doesn't have an EventInvokeConfig")
}

// TestEventDestinations: a failing Event invoke is tried 1+MaximumRetryAttempts
// times, then its record goes to the OnFailure function; a success goes to
// OnSuccess.
func TestEventDestinations(t *testing.T) {
	t.Parallel()
	_, c := servertest.InvokeEnv(t, func(cfg *server.Config) { servertest.IsolationOff(cfg); cfg.RetryBase = 20 * time.Millisecond })
	ctx := context.Background()
	dir := t.TempDir()
	sink := testkit.PyFunction(t, "sink", "import json, os, uuid\ndef handler(e, c):\n    open(os.path.join(os.environ['OUT'], str(uuid.uuid4())), 'w').write(json.dumps(e))\n")
	sink.Environment = &types.Environment{Variables: map[string]string{"OUT": dir}}
	testkit.CreateActive(t, c, sink)
	testkit.CreateActive(t, c, testkit.PyFunction(t, "flaky", "def handler(e, c):\n    if e.get('fail'):\n        raise ValueError('boom')\n    return {'ok': e['n']}\n"))
	if _, err := c.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("flaky"), MaximumRetryAttempts: aws.Int32(1),
		DestinationConfig: &types.DestinationConfig{
			OnFailure: &types.OnFailure{Destination: aws.String(testkit.InvokeARN("sink"))},
			OnSuccess: &types.OnSuccess{Destination: aws.String(testkit.InvokeARN("sink"))},
		}}); err != nil {
		t.Fatal(err)
	}
	invokeEvent(t, c, "flaky", `{"fail": true, "n": 1}`)
	invokeEvent(t, c, "flaky", `{"n": 2}`)
	records := map[string]map[string]any{}
	testkit.Eventually(t, 15*time.Second, "two destination records", func() bool {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
			var r map[string]any
			if json.Unmarshal(b, &r) == nil {
				rc, _ := r["requestContext"].(map[string]any)
				cond, _ := rc["condition"].(string)
				records[cond] = r
			}
		}
		return len(records) == 2
	})
	fail := records["RetriesExhausted"]
	rc := fail["requestContext"].(map[string]any)
	if rc["approximateInvokeCount"] != 2.0 || rc["functionArn"] != testkit.InvokeARN("flaky")+":$LATEST" || fail["version"] != "1.0" {
		t.Errorf("failure record context = %v", fail)
	}
	if resp, _ := fail["responseContext"].(map[string]any); resp["functionError"] != "Unhandled" || resp["executedVersion"] != "$LATEST" {
		t.Errorf("failure responseContext = %v", fail["responseContext"])
	}
	if rp, _ := fail["responsePayload"].(map[string]any); rp["errorType"] != "ValueError" {
		t.Errorf("failure responsePayload = %v", fail["responsePayload"])
	}
	ok := records["Success"]
	if rp, _ := ok["responsePayload"].(map[string]any); rp["ok"] != 2.0 {
		t.Errorf("success record = %v", ok)
	}
	if req, _ := ok["requestPayload"].(map[string]any); req["n"] != 2.0 {
		t.Errorf("success requestPayload = %v", ok["requestPayload"])
	}
}
