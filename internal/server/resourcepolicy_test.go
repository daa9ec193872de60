package server_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// TestResourcePolicyDocument covers Get/Put/DeleteResourcePolicy: the whole
// document replaces the policy AddPermission edits, GetPolicy sees it, and
// RevisionId guards both writes.
func TestResourcePolicyDocument(t *testing.T) {
	t.Parallel()
	_, c := servertest.NewEnv(t, servertest.FastTransition)
	ctx := context.Background()
	testkit.CreateActive(t, c, testkit.CreateInput("rp", testkit.HandlerZip(t, "x = 1\n")))
	arn := aws.String(testkit.FnARN("rp"))

	_, err := c.GetResourcePolicy(ctx, &lambda.GetResourcePolicyInput{ResourceArn: arn})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "The resource you requested does not exist.")

	if _, err := c.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String("rp"), StatementId: aws.String("old"),
		Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("s3.amazonaws.com")}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetResourcePolicy(ctx, &lambda.GetResourcePolicyInput{ResourceArn: arn})
	if err != nil {
		t.Fatal(err)
	}
	old, _ := c.GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: aws.String("rp")})
	if aws.ToString(got.Policy) != aws.ToString(old.Policy) || aws.ToString(got.RevisionId) != aws.ToString(old.RevisionId) {
		t.Errorf("GetResourcePolicy %s, GetPolicy %s", aws.ToString(got.Policy), aws.ToString(old.Policy))
	}

	doc := `{"Version": "2012-10-17", "Statement": [{"Sid": "new", "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "lambda:InvokeFunction", "Resource": "` + *arn + `"}]}`
	_, err = c.PutResourcePolicy(ctx, &lambda.PutResourcePolicyInput{ResourceArn: arn, Policy: aws.String(doc), RevisionId: aws.String("stale")})
	testkit.APIErr(t, err, "PreconditionFailedException", 412, "The Revision Id provided does not match the latest Revision Id. Call the GetPolicy API to retrieve the latest Revision Id")
	put, err := c.PutResourcePolicy(ctx, &lambda.PutResourcePolicyInput{ResourceArn: arn, Policy: aws.String(doc), RevisionId: got.RevisionId})
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Statement []struct{ Sid string }
	}
	if err := json.Unmarshal([]byte(aws.ToString(put.Policy)), &p); err != nil || len(p.Statement) != 1 || p.Statement[0].Sid != "new" {
		t.Errorf("put: %v %s", err, aws.ToString(put.Policy))
	}
	if aws.ToString(put.RevisionId) == aws.ToString(got.RevisionId) {
		t.Error("RevisionId did not change")
	}
	now, err := c.GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: aws.String("rp")})
	if err != nil || aws.ToString(now.Policy) != aws.ToString(put.Policy) {
		t.Errorf("GetPolicy after put: %v %s", err, aws.ToString(now.Policy))
	}

	_, err = c.PutResourcePolicy(ctx, &lambda.PutResourcePolicyInput{ResourceArn: arn, Policy: aws.String(`{"Version": "2012-10-17"}`)})
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "The policy document is not valid: it must be a JSON object with one or more statements in Statement.")
	_, err = c.PutResourcePolicy(ctx, &lambda.PutResourcePolicyInput{ResourceArn: aws.String(*arn + ":$LATEST"), Policy: aws.String(doc)})
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "We currently do not support adding policies for $LATEST.")
	_, err = c.GetResourcePolicy(ctx, &lambda.GetResourcePolicyInput{ResourceArn: aws.String("rp")})
	testkit.APIErrPrefix(t, err, "ValidationException", 400, "1 validation error detected: Value 'rp' at 'resourceArn' failed to satisfy constraint: Member must satisfy regular expression pattern: ")

	_, err = c.DeleteResourcePolicy(ctx, &lambda.DeleteResourcePolicyInput{ResourceArn: arn, RevisionId: aws.String("stale")})
	testkit.APIErr(t, err, "PreconditionFailedException", 412, "The Revision Id provided does not match the latest Revision Id. Call the GetPolicy API to retrieve the latest Revision Id")
	if _, err := c.DeleteResourcePolicy(ctx, &lambda.DeleteResourcePolicyInput{ResourceArn: arn, RevisionId: put.RevisionId}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: aws.String("rp")})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "The resource you requested does not exist.")
	_, err = c.DeleteResourcePolicy(ctx, &lambda.DeleteResourcePolicyInput{ResourceArn: arn})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "No policy is associated with the given resource.")
	_, err = c.GetResourcePolicy(ctx, &lambda.GetResourcePolicyInput{ResourceArn: aws.String(testkit.FnARN("nope"))})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "The resource you requested does not exist.")
}
