package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// AWS's messages below are from LocalStack's AWS-recorded snapshots
// (tests/aws/services/lambda_/*.snapshot.json) unless a comment says
// otherwise.

// awsRuntimeEnum is the list AWS's unknown-runtime message gives (recorded
// January 2026), in its order.
const awsRuntimeEnum = "[nodejs20.x, python3.14, provided.al2023, python3.12, python3.13, nodejs24.x, nodejs22.x, java25, " +
	"python3.10, python3.11, java21, ruby3.3, ruby3.4, ruby3.2, python3.8, python3.9, java17, nodejs16.x, dotnet10, dotnet8, " +
	"java11, dotnet6, nodejs18.x, provided.al2, java8.al2]"

func TestFidelityRuntimeValidation(t *testing.T) {
	t.Parallel()
	_, c := servertest.NewEnv(t, 0)
	ctx := context.Background()
	testkit.CreateActive(t, c, testkit.PyFunction(t, "rt-update", "def handler(e, c):\n    return 1\n"))
	for _, rt := range []string{"non-existent-runtime", "PYTHON3.9"} {
		in := testkit.PyFunction(t, "rt-bad", "def handler(e, c):\n    return 1\n")
		in.Runtime = types.Runtime(rt)
		want := "Value " + rt + " at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: " + awsRuntimeEnum + " or be a valid ARN"
		_, err := c.CreateFunction(ctx, in, testkit.SkipClientValidation)
		testkit.APIErr(t, err, "InvalidParameterValueException", http.StatusBadRequest, want)
		_, err = c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("rt-update"), Runtime: types.Runtime(rt)}, testkit.SkipClientValidation)
		testkit.APIErr(t, err, "InvalidParameterValueException", http.StatusBadRequest, want)
	}
	for _, rt := range []string{"go1.x", "provided", "python3.7", "nodejs14.x", "nodejs12.x", "java8", "ruby2.7", "dotnetcore3.1"} {
		in := testkit.PyFunction(t, "rt-old", "def handler(e, c):\n    return 1\n")
		in.Runtime = types.Runtime(rt)
		want := "The runtime parameter of " + rt + " is no longer supported for creating or updating AWS Lambda functions. We recommend you use a supported runtime while creating or updating functions."
		_, err := c.CreateFunction(ctx, in, testkit.SkipClientValidation)
		testkit.APIErr(t, err, "InvalidParameterValueException", http.StatusBadRequest, want)
		_, err = c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("rt-update"), Runtime: types.Runtime(rt)}, testkit.SkipClientValidation)
		testkit.APIErr(t, err, "InvalidParameterValueException", http.StatusBadRequest, want)
	}
}

func TestFidelityConfigValidation(t *testing.T) {
	t.Parallel()
	_, c := servertest.NewEnv(t, 0)
	ctx := context.Background()
	create := func(edit func(*lambda.CreateFunctionInput)) error {
		in := testkit.PyFunction(t, "cfg-bad", "def handler(e, c):\n    return 1\n")
		edit(in)
		_, err := c.CreateFunction(ctx, in, testkit.SkipClientValidation)
		return err
	}
	// Timeout: AWS's ValidationException as CloudFormation users quote it.
	testkit.APIErr(t, create(func(in *lambda.CreateFunctionInput) { in.Timeout = aws.Int32(901) }), "ValidationException", http.StatusBadRequest,
		"1 validation error detected: Value '901' at 'timeout' failed to satisfy constraint: Member must have value less than or equal to 900")
	testkit.APIErr(t, create(func(in *lambda.CreateFunctionInput) { in.Timeout = aws.Int32(0) }), "ValidationException", http.StatusBadRequest,
		"1 validation error detected: Value '0' at 'timeout' failed to satisfy constraint: Member must have value greater than or equal to 1")
	testkit.APIErr(t, create(func(in *lambda.CreateFunctionInput) { in.MemorySize = aws.Int32(10241) }), "InvalidParameterValueException", http.StatusBadRequest,
		"'MemorySize' value failed to satisfy constraint: Member must have value less than or equal to 10240")
	testkit.APIErr(t, create(func(in *lambda.CreateFunctionInput) { in.MemorySize = aws.Int32(127) }), "ValidationException", http.StatusBadRequest,
		"1 validation error detected: Value '127' at 'memorySize' failed to satisfy constraint: Member must have value greater than or equal to 128")
	ok := testkit.PyFunction(t, "cfg-limits", "def handler(e, c):\n    return 1\n")
	ok.Timeout, ok.MemorySize = aws.Int32(900), aws.Int32(10240)
	if _, err := c.CreateFunction(ctx, ok); err != nil {
		t.Fatalf("900 s and 10240 MB: %v", err)
	}
	// The refusals left nothing held: a delete (which collects code) runs.
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := c.DeleteFunction(dctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("cfg-limits")}); err != nil {
		t.Fatalf("DeleteFunction after refused creates: %v", err)
	}
	testkit.CreateActive(t, c, testkit.PyFunction(t, "cfg-update", "def handler(e, c):\n    return 1\n"))
	_, err := c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("cfg-update"), Timeout: aws.Int32(1000)})
	testkit.APIErr(t, err, "ValidationException", http.StatusBadRequest,
		"1 validation error detected: Value '1000' at 'timeout' failed to satisfy constraint: Member must have value less than or equal to 900")

	testkit.APIErr(t, create(func(in *lambda.CreateFunctionInput) {
		in.VpcConfig = &types.VpcConfig{SubnetIds: []string{"subnet_1234"}, SecurityGroupIds: []string{"sg-123"}}
	}), "ValidationException", http.StatusBadRequest,
		"1 validation error detected: Value '[subnet_1234]' at 'vpcConfig.subnetIds' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 1024, Member must have length greater than or equal to 0, Member must satisfy regular expression pattern: subnet-[0-9a-z]*]")
	testkit.APIErr(t, create(func(in *lambda.CreateFunctionInput) {
		in.VpcConfig = &types.VpcConfig{SubnetIds: []string{"subnet-1234"}, SecurityGroupIds: []string{"sg_123"}}
	}), "ValidationException", http.StatusBadRequest,
		"1 validation error detected: Value '[sg_123]' at 'vpcConfig.securityGroupIds' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 1024, Member must have length greater than or equal to 0, Member must satisfy regular expression pattern: sg-[0-9a-zA-Z]*]")

	layer := "arn:aws:lambda:us-east-1:000000000000:layer:nover"
	testkit.APIErr(t, create(func(in *lambda.CreateFunctionInput) { in.Layers = []string{layer} }), "ValidationException", http.StatusBadRequest,
		"1 validation error detected: Value '["+layer+"]' at 'layers' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 2048, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:\\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+)|(arn:[a-zA-Z0-9-]+:lambda:::awslayer:[a-zA-Z0-9-_]+), Member must not be null]")
	_, err = c.GetLayerVersionByArn(ctx, &lambda.GetLayerVersionByArnInput{Arn: aws.String(layer)}, testkit.SkipClientValidation)
	testkit.APIErr(t, err, "ValidationException", http.StatusBadRequest,
		"1 validation error detected: Value '"+layer+"' at 'arn' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:\\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+)|(arn:[a-zA-Z0-9-]+:lambda:::awslayer:[a-zA-Z0-9-_]+)")

	// DeadLetterConfig: only SQS and SNS targets; the wording is AWS's as
	// CloudFormation users quote it (no recorded response has it).
	for _, target := range []string{"arn:aws:s3:::bucket", "arn:aws:lambda:us-east-1:000000000000:function:other"} {
		testkit.APIErr(t, create(func(in *lambda.CreateFunctionInput) {
			in.DeadLetterConfig = &types.DeadLetterConfig{TargetArn: aws.String(target)}
		}),
			"InvalidParameterValueException", http.StatusBadRequest,
			"Invalid dead letter queue ARN: The service specified by the TargetArn is not supported for dead letter configuration.")
	}
}

// TestFidelityNotFoundAndRevisions: qualified ARNs and alias targets that
// do not exist; RevisionId across tagging and permissions.
func TestFidelityNotFoundAndRevisions(t *testing.T) {
	t.Parallel()
	_, c := servertest.NewEnv(t, 0)
	ctx := context.Background()
	arn := aws.ToString(testkit.CreateActive(t, c, testkit.PyFunction(t, "fnf", "def handler(e, c):\n    return 1\n")).Configuration.FunctionArn)
	_, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(arn + ":10")})
	testkit.APIErr(t, err, "ResourceNotFoundException", http.StatusNotFound, "Function not found: "+arn+":10")
	_, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(arn + ":aliasdoesnotexist")})
	testkit.APIErr(t, err, "ResourceNotFoundException", http.StatusNotFound, "Function not found: "+arn+":aliasdoesnotexist")
	_, err = c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("fnf"), Name: aws.String("a"), FunctionVersion: aws.String("10")})
	testkit.APIErr(t, err, "ResourceNotFoundException", http.StatusNotFound, "Function not found: "+arn+":10")

	rev := func() string {
		t.Helper()
		out, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("fnf")})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.Configuration.RevisionId)
	}
	// Every TagResource and UntagResource gives the function a new RevisionId.
	r1 := rev()
	if _, err := c.TagResource(ctx, &lambda.TagResourceInput{Resource: aws.String(arn), Tags: map[string]string{"k": "v"}}); err != nil {
		t.Fatal(err)
	}
	r2 := rev()
	if _, err := c.UntagResource(ctx, &lambda.UntagResourceInput{Resource: aws.String(arn), TagKeys: []string{"k"}}); err != nil {
		t.Fatal(err)
	}
	r3 := rev()
	if r1 == r2 || r2 == r3 || r1 == r3 {
		t.Errorf("RevisionId across tag and untag: %s, %s, %s; want three", r1, r2, r3)
	}

	// AddPermission takes the function's RevisionId, gives it a new one, and
	// GetPolicy shows that one.
	perm := func(sid string, revision *string) error {
		_, err := c.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String("fnf"), StatementId: aws.String(sid),
			Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("s3.amazonaws.com"), RevisionId: revision})
		return err
	}
	testkit.APIErr(t, perm("s3", aws.String("wrong")), "PreconditionFailedException", http.StatusPreconditionFailed,
		"The Revision Id provided does not match the latest Revision Id. Call the GetPolicy API to retrieve the latest Revision Id")
	if err := perm("s3", aws.String(r3)); err != nil {
		t.Fatalf("AddPermission with the function's RevisionId: %v", err)
	}
	pol, err := c.GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: aws.String("fnf")})
	if err != nil {
		t.Fatal(err)
	}
	r4 := rev()
	if r4 == r3 || aws.ToString(pol.RevisionId) != r4 {
		t.Errorf("after AddPermission: function RevisionId %s (was %s), policy's %s; want a new one, shared", r4, r3, aws.ToString(pol.RevisionId))
	}
	_, err = c.RemovePermission(ctx, &lambda.RemovePermissionInput{FunctionName: aws.String("fnf"), StatementId: aws.String("s3"), RevisionId: aws.String(r3)})
	testkit.APIErr(t, err, "PreconditionFailedException", http.StatusPreconditionFailed,
		"The Revision Id provided does not match the latest Revision Id. Call the GetPolicy API to retrieve the latest Revision Id")
	if _, err := c.RemovePermission(ctx, &lambda.RemovePermissionInput{FunctionName: aws.String("fnf"), StatementId: aws.String("s3"), RevisionId: aws.String(r4)}); err != nil {
		t.Fatal(err)
	}
	if r5 := rev(); r5 == r4 {
		t.Errorf("RemovePermission kept RevisionId %s", r5)
	}

	// On an alias, the alias's RevisionId.
	if _, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("fnf")}); err != nil {
		t.Fatal(err)
	}
	testkit.WaitVersionActive(t, c, "fnf", "1")
	al, err := c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("fnf"), Name: aws.String("live"), FunctionVersion: aws.String("1")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String("fnf"), Qualifier: aws.String("live"), StatementId: aws.String("a1"),
		Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("s3.amazonaws.com"), RevisionId: al.RevisionId})
	if err != nil {
		t.Fatalf("AddPermission with the alias's RevisionId: %v", err)
	}
}

// TestFidelityRuntimeExitWithoutReason: a runtime that exits cleanly, in
// its handler or while it starts, is "exited without providing a reason";
// one that exits with a status says so.
func TestFidelityRuntimeExitWithoutReason(t *testing.T) {
	t.Parallel()
	_, c := servertest.InvokeEnv(t, nil)
	for _, tc := range []struct{ name, src, want string }{
		{"exit-handler", "import sys\ndef handler(e, c):\n    sys.exit(0)\n", "Error: Runtime exited without providing a reason"},
		{"exit-init", "import sys\nsys.exit(0)\n", "Error: Runtime exited without providing a reason"},
		{"exit-status", "import os\ndef handler(e, c):\n    os._exit(3)\n", "Error: Runtime exited with error: exit status 3"},
	} {
		testkit.CreateActive(t, c, testkit.PyFunction(t, tc.name, tc.src))
		out := testkit.Call(t, c, tc.name, `{}`)
		p := testkit.DecodeJSON[map[string]string](t, out.Payload)
		if aws.ToString(out.FunctionError) != "Unhandled" || p["errorType"] != "Runtime.ExitError" ||
			!strings.HasPrefix(p["errorMessage"], "RequestId: ") || !strings.HasSuffix(p["errorMessage"], tc.want) {
			t.Errorf("%s: %s %s; want Runtime.ExitError ending %q", tc.name, aws.ToString(out.FunctionError), out.Payload, tc.want)
		}
	}
}
