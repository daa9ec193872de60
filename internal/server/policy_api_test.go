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

func TestResourcePolicy(t *testing.T) {
	t.Parallel()
	_, c := servertest.NewEnv(t, servertest.FastTransition)
	ctx := context.Background()
	testkit.CreateActive(t, c, testkit.CreateInput("pol", testkit.HandlerZip(t, "x = 1\n")))
	fn := aws.String("pol")
	arn := testkit.FnARN("pol")

	add, err := c.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: fn, StatementId: aws.String("s3"), Action: aws.String("lambda:InvokeFunction"),
		Principal: aws.String("s3.amazonaws.com"), SourceArn: aws.String("arn:aws:s3:::my-bucket")})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"Sid":"s3","Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"` + arn + `","Condition":{"ArnLike":{"AWS:SourceArn":"arn:aws:s3:::my-bucket"}}}`
	if aws.ToString(add.Statement) != want {
		t.Errorf("statement = %s\nwant        %s", aws.ToString(add.Statement), want)
	}
	acct, err := c.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: fn, StatementId: aws.String("account-id"), Action: aws.String("lambda:InvokeFunction"),
		Principal: aws.String("111111111111"), SourceAccount: aws.String("111111111111")})
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	json.Unmarshal([]byte(aws.ToString(acct.Statement)), &st)
	if p, _ := st["Principal"].(map[string]any); p["AWS"] != "arn:aws:iam::111111111111:root" {
		t.Errorf("account principal = %v", st["Principal"])
	}
	got, err := c.GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: fn})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Version, Id string
		Statement   []map[string]any
	}
	if err := json.Unmarshal([]byte(aws.ToString(got.Policy)), &doc); err != nil || doc.Version != "2012-10-17" || doc.Id != "default" || len(doc.Statement) != 2 || aws.ToString(got.RevisionId) == "" {
		t.Errorf("GetPolicy = %s (%v)", aws.ToString(got.Policy), err)
	}

	_, err = c.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: fn, StatementId: aws.String("s3"), Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("*")})
	testkit.APIErr(t, err, "ResourceConflictException", 409, "The statement id (s3) provided already exists. Please provide a new statement id, or remove the existing statement.")
	_, err = c.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: fn, StatementId: aws.String("bad"), Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("invalid-principal")})
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "The provided principal was invalid. Please check the principal and try again.")
	_, err = c.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: fn, StatementId: aws.String("l"), Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("*"), Qualifier: aws.String("$LATEST")})
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "We currently do not support adding policies for $LATEST.")
	_, err = c.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: fn, StatementId: aws.String("v"), Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("*"), Qualifier: aws.String("42")})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Function not found: "+arn+":42")
	_, err = c.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: fn, StatementId: aws.String("a"), Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("*"), Qualifier: aws.String("alias-doesnotexist")})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Cannot find alias arn: "+arn+":alias-doesnotexist")
	_, err = c.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String("doesnotexist"), StatementId: aws.String("x"), Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("*")})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Function not found: "+testkit.FnARN("doesnotexist"))
	_, err = c.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: fn, StatementId: aws.String("r"), Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("*"), RevisionId: aws.String("old")})
	testkit.APIErr(t, err, "PreconditionFailedException", 412, "The Revision Id provided does not match the latest Revision Id. Call the GetPolicy API to retrieve the latest Revision Id")

	_, err = c.RemovePermission(ctx, &lambda.RemovePermissionInput{FunctionName: fn, StatementId: aws.String("non-existent")})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Statement non-existent is not found in resource policy.")
	_, err = c.RemovePermission(ctx, &lambda.RemovePermissionInput{FunctionName: aws.String("doesnotexist"), StatementId: aws.String("s3")})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "No policy found for: "+testkit.FnARN("doesnotexist"))
	for _, sid := range []string{"s3", "account-id"} {
		if _, err := c.RemovePermission(ctx, &lambda.RemovePermissionInput{FunctionName: fn, StatementId: aws.String(sid)}); err != nil {
			t.Fatalf("RemovePermission %s: %v", sid, err)
		}
	}
	_, err = c.GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: fn})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "The resource you requested does not exist.")
	_, err = c.RemovePermission(ctx, &lambda.RemovePermissionInput{FunctionName: fn, StatementId: aws.String("s3")})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "No policy is associated with the given resource.")
}
