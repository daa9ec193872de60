package server_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// TestReadsIaCToolsMake covers the reads Terraform and SAM make after a
// create, about resources that lambdad cannot create yet: they answer that
// there are none (or AWS's 404), and 404 for a missing function.
func TestReadsIaCToolsMake(t *testing.T) {
	t.Parallel()
	_, c := servertest.NewEnv(t, servertest.FastTransition)
	ctx := context.Background()
	testkit.CreateActive(t, c, testkit.CreateInput("iac", testkit.HandlerZip(t, "x = 1\n")))
	fn := aws.String("iac")

	csc, err := c.GetFunctionCodeSigningConfig(ctx, &lambda.GetFunctionCodeSigningConfigInput{FunctionName: fn})
	// A function without a config: AWS answers {} (recorded).
	if err != nil || csc.FunctionName != nil || csc.CodeSigningConfigArn != nil {
		t.Errorf("GetFunctionCodeSigningConfig: %v %+v", err, csc)
	}
	rm, err := c.GetRuntimeManagementConfig(ctx, &lambda.GetRuntimeManagementConfigInput{FunctionName: fn})
	if err != nil || rm.UpdateRuntimeOn != "Auto" || aws.ToString(rm.FunctionArn) != testkit.FnARN("iac")+":$LATEST" {
		t.Errorf("GetRuntimeManagementConfig: %v %+v", err, rm)
	}
	rc, err := c.GetFunctionRecursionConfig(ctx, &lambda.GetFunctionRecursionConfigInput{FunctionName: fn})
	if err != nil || rc.RecursiveLoop != "Terminate" {
		t.Errorf("GetFunctionRecursionConfig: %v", err)
	}
	_, err = c.GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: fn})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "The resource you requested does not exist.")
	_, err = c.GetFunctionEventInvokeConfig(ctx, &lambda.GetFunctionEventInvokeConfigInput{FunctionName: fn})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "The function "+testkit.FnARN("iac")+":$LATEST doesn't have an EventInvokeConfig")
	_, err = c.GetFunctionUrlConfig(ctx, &lambda.GetFunctionUrlConfigInput{FunctionName: fn})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "The resource you requested does not exist.")

	if out, err := c.ListAliases(ctx, &lambda.ListAliasesInput{FunctionName: fn}); err != nil || out.Aliases == nil || len(out.Aliases) != 0 {
		t.Errorf("ListAliases: %v %+v", err, out)
	}
	if out, err := c.ListFunctionUrlConfigs(ctx, &lambda.ListFunctionUrlConfigsInput{FunctionName: fn}); err != nil || len(out.FunctionUrlConfigs) != 0 {
		t.Errorf("ListFunctionUrlConfigs: %v", err)
	}
	if out, err := c.ListProvisionedConcurrencyConfigs(ctx, &lambda.ListProvisionedConcurrencyConfigsInput{FunctionName: fn}); err != nil || len(out.ProvisionedConcurrencyConfigs) != 0 {
		t.Errorf("ListProvisionedConcurrencyConfigs: %v", err)
	}
	if out, err := c.ListFunctionEventInvokeConfigs(ctx, &lambda.ListFunctionEventInvokeConfigsInput{FunctionName: fn}); err != nil || len(out.FunctionEventInvokeConfigs) != 0 {
		t.Errorf("ListFunctionEventInvokeConfigs: %v", err)
	}
	if out, err := c.ListEventSourceMappings(ctx, &lambda.ListEventSourceMappingsInput{}); err != nil || len(out.EventSourceMappings) != 0 {
		t.Errorf("ListEventSourceMappings: %v", err)
	}

	missing := aws.String("not-there")
	_, err = c.ListAliases(ctx, &lambda.ListAliasesInput{FunctionName: missing})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Function not found: "+testkit.FnARN("not-there"))
	_, err = c.GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: missing})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "The resource you requested does not exist.")
}
