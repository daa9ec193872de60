package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/testkit"
)

// TestDurableDelete covers DeleteDurableExecution: a running execution is
// refused with ResourceConflictException, a closed one goes with its
// history, and its ARN names nothing after.
func TestDurableDelete(t *testing.T) {
	t.Parallel()
	_, c := durableEnv(t)
	ctx := context.Background()
	long := startDurable(t, c, `{"scenario":"long"}`)
	waitEvent(t, c, long, types.EventTypeWaitStarted)

	_, err := c.DeleteDurableExecution(ctx, &lambda.DeleteDurableExecutionInput{DurableExecutionArn: &long})
	testkit.APIErr(t, err, "ResourceConflictException", 409, "The durable execution "+long+" is RUNNING: only an execution in a terminal state (SUCCEEDED, FAILED, STOPPED or TIMED_OUT) can be deleted.")

	if _, err := c.StopDurableExecution(ctx, &lambda.StopDurableExecutionInput{DurableExecutionArn: &long}); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, c, long, types.ExecutionStatusStopped, 5*time.Second)
	before := time.Now().Add(-time.Second)
	out, err := c.DeleteDurableExecution(ctx, &lambda.DeleteDurableExecutionInput{DurableExecutionArn: &long})
	if err != nil || out.DeletionRequestTimestamp == nil || out.DeletionRequestTimestamp.Before(before) {
		t.Fatalf("delete: %v %+v", err, out)
	}
	_, err = c.GetDurableExecution(ctx, &lambda.GetDurableExecutionInput{DurableExecutionArn: &long})
	if testkit.HTTPStatus(err) != 404 {
		t.Errorf("GetDurableExecution after delete: %v", err)
	}
	_, err = c.GetDurableExecutionHistory(ctx, &lambda.GetDurableExecutionHistoryInput{DurableExecutionArn: &long})
	if testkit.HTTPStatus(err) != 404 {
		t.Errorf("GetDurableExecutionHistory after delete: %v", err)
	}
	list, err := c.ListDurableExecutionsByFunction(ctx, &lambda.ListDurableExecutionsByFunctionInput{FunctionName: aws.String("durable"), Qualifier: aws.String("1")})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range list.DurableExecutions {
		if aws.ToString(e.DurableExecutionArn) == long {
			t.Error("the deleted execution is still listed")
		}
	}
	_, err = c.DeleteDurableExecution(ctx, &lambda.DeleteDurableExecutionInput{DurableExecutionArn: &long})
	if testkit.HTTPStatus(err) != 404 {
		t.Errorf("a second delete: %v", err)
	}
}
