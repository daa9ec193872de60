package server_test

import (
	"context"
	"regexp"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

var runtimeVersionRe = regexp.MustCompile(`^arn:aws:lambda:` + testkit.Region + `::runtime:[0-9a-f]{64}$`)

// TestRuntimeManagement covers Put/GetRuntimeManagementConfig on $LATEST
// and a published version, as RuntimeVersionConfig shows it, and AWS's
// checks.
func TestRuntimeManagement(t *testing.T) {
	t.Parallel()
	_, c := servertest.NewEnv(t, servertest.FastTransition)
	ctx := context.Background()
	testkit.CreateActive(t, c, testkit.CreateInput("rm", testkit.HandlerZip(t, "x = 1\n")))
	cfg := func(q string) string {
		t.Helper()
		in := &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("rm")}
		if q != "" {
			in.Qualifier = aws.String(q)
		}
		out, err := c.GetFunctionConfiguration(ctx, in)
		if err != nil || out.RuntimeVersionConfig == nil {
			t.Fatalf("GetFunctionConfiguration: %v", err)
		}
		return aws.ToString(out.RuntimeVersionConfig.RuntimeVersionArn)
	}
	lambdads := cfg("")
	if !runtimeVersionRe.MatchString(lambdads) {
		t.Fatalf("RuntimeVersionArn %q", lambdads)
	}
	get := func(q string) *lambda.GetRuntimeManagementConfigOutput {
		t.Helper()
		in := &lambda.GetRuntimeManagementConfigInput{FunctionName: aws.String("rm")}
		if q != "" {
			in.Qualifier = aws.String(q)
		}
		out, err := c.GetRuntimeManagementConfig(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if g := get(""); g.UpdateRuntimeOn != types.UpdateRuntimeOnAuto || aws.ToString(g.FunctionArn) != testkit.FnARN("rm")+":$LATEST" || g.RuntimeVersionArn != nil {
		t.Errorf("default: %+v", g)
	}

	pinned := "arn:aws:lambda:" + testkit.Region + "::runtime:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	put, err := c.PutRuntimeManagementConfig(ctx, &lambda.PutRuntimeManagementConfigInput{FunctionName: aws.String("rm"),
		UpdateRuntimeOn: types.UpdateRuntimeOnManual, RuntimeVersionArn: aws.String(pinned)})
	if err != nil || put.UpdateRuntimeOn != types.UpdateRuntimeOnManual || aws.ToString(put.RuntimeVersionArn) != pinned || aws.ToString(put.FunctionArn) != testkit.FnARN("rm")+":$LATEST" {
		t.Fatalf("put Manual: %v %+v", err, put)
	}
	if g := get(""); g.UpdateRuntimeOn != types.UpdateRuntimeOnManual || aws.ToString(g.RuntimeVersionArn) != pinned {
		t.Errorf("after Manual: %+v", g)
	}
	if got := cfg(""); got != pinned {
		t.Errorf("RuntimeVersionConfig after Manual: %s", got)
	}
	// A version published now keeps the pin; $LATEST goes back to Auto.
	v, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("rm")})
	if err != nil {
		t.Fatal(err)
	}
	testkit.WaitVersionActive(t, c, "rm", aws.ToString(v.Version))
	if _, err := c.PutRuntimeManagementConfig(ctx, &lambda.PutRuntimeManagementConfigInput{FunctionName: aws.String("rm"), UpdateRuntimeOn: types.UpdateRuntimeOnFunctionUpdate}); err != nil {
		t.Fatal(err)
	}
	if g := get(""); g.UpdateRuntimeOn != types.UpdateRuntimeOnFunctionUpdate || g.RuntimeVersionArn != nil {
		t.Errorf("after FunctionUpdate: %+v", g)
	}
	if got := cfg(""); got != lambdads {
		t.Errorf("RuntimeVersionConfig after FunctionUpdate: %s", got)
	}
	if g := get("1"); g.UpdateRuntimeOn != types.UpdateRuntimeOnManual || aws.ToString(g.RuntimeVersionArn) != pinned || aws.ToString(g.FunctionArn) != testkit.FnARN("rm")+":1" {
		t.Errorf("version 1: %+v", g)
	}
	if _, err := c.PutRuntimeManagementConfig(ctx, &lambda.PutRuntimeManagementConfigInput{FunctionName: aws.String("rm"), Qualifier: aws.String("1"), UpdateRuntimeOn: types.UpdateRuntimeOnAuto}); err != nil {
		t.Fatal(err)
	}
	if g := get("1"); g.UpdateRuntimeOn != types.UpdateRuntimeOnAuto || g.RuntimeVersionArn != nil {
		t.Errorf("version 1 after Auto: %+v", g)
	}
	if got := cfg("1"); got != lambdads {
		t.Errorf("version 1's RuntimeVersionConfig after Auto: %s", got)
	}

	_, err = c.PutRuntimeManagementConfig(ctx, &lambda.PutRuntimeManagementConfigInput{FunctionName: aws.String("rm"), UpdateRuntimeOn: types.UpdateRuntimeOnManual})
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "RuntimeVersionArn must be specified when UpdateRuntimeOn is Manual.")
	_, err = c.PutRuntimeManagementConfig(ctx, &lambda.PutRuntimeManagementConfigInput{FunctionName: aws.String("rm"), UpdateRuntimeOn: types.UpdateRuntimeOnAuto, RuntimeVersionArn: aws.String(pinned)})
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "RuntimeVersionArn can be specified only when UpdateRuntimeOn is Manual.")
	other := "arn:aws:lambda:eu-west-1::runtime:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	_, err = c.PutRuntimeManagementConfig(ctx, &lambda.PutRuntimeManagementConfigInput{FunctionName: aws.String("rm"), UpdateRuntimeOn: types.UpdateRuntimeOnManual, RuntimeVersionArn: aws.String(other)})
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "The runtime version "+other+" is not available in "+testkit.Region+".")
	_, err = c.PutRuntimeManagementConfig(ctx, &lambda.PutRuntimeManagementConfigInput{FunctionName: aws.String("rm"), UpdateRuntimeOn: "Sometimes"})
	testkit.APIErr(t, err, "ValidationException", 400, "1 validation error detected: Value 'Sometimes' at 'updateRuntimeOn' failed to satisfy constraint: Member must satisfy enum value set: [Auto, Manual, FunctionUpdate]")
	_, err = c.GetRuntimeManagementConfig(ctx, &lambda.GetRuntimeManagementConfigInput{FunctionName: aws.String("rm"), Qualifier: aws.String("7")})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Function not found: "+testkit.FnARN("rm")+":7")
	_, err = c.PutRuntimeManagementConfig(ctx, &lambda.PutRuntimeManagementConfigInput{FunctionName: aws.String("nope"), UpdateRuntimeOn: types.UpdateRuntimeOnAuto})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Function not found: "+testkit.FnARN("nope"))
}
