package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

func cpARN(name string) string {
	return "arn:aws:lambda:" + testkit.Region + ":" + testkit.Account + ":capacity-provider:" + name
}

func createProvider(t *testing.T, c *lambda.Client, name string) *types.CapacityProvider {
	t.Helper()
	out, err := c.CreateCapacityProvider(context.Background(), &lambda.CreateCapacityProviderInput{
		CapacityProviderName: aws.String(name),
		VpcConfig:            &types.CapacityProviderVpcConfig{SubnetIds: []string{"subnet-1"}, SecurityGroupIds: []string{"sg-1"}},
		PermissionsConfig:    &types.CapacityProviderPermissionsConfig{CapacityProviderOperatorRoleArn: aws.String("arn:aws:iam::123456789012:role/op")},
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.CapacityProvider
}

func lmiConfig(arn string) *types.CapacityProviderConfig {
	return &types.CapacityProviderConfig{LambdaManagedInstancesCapacityProviderConfig: &types.LambdaManagedInstancesCapacityProviderConfig{
		CapacityProviderArn: aws.String(arn), PerExecutionEnvironmentMaxConcurrency: aws.Int32(4), ExecutionEnvironmentMemoryGiBPerVCpu: aws.Float64(2)}}
}

func TestCapacityProviderLifecycle(t *testing.T) {
	t.Parallel()
	_, c := servertest.NewEnv(t, servertest.FastTransition)
	ctx := context.Background()
	raw := &testkit.RawStatus{}
	policies := []types.TargetTrackingScalingPolicy{{PredefinedMetricType: types.CapacityProviderPredefinedMetricTypeLambdaCapacityProviderAverageCPUUtilization, TargetValue: aws.Float64(60)}}
	in := &lambda.CreateCapacityProviderInput{
		CapacityProviderName:          aws.String("cp1"),
		VpcConfig:                     &types.CapacityProviderVpcConfig{SubnetIds: []string{"subnet-1", "subnet-2"}, SecurityGroupIds: []string{"sg-1"}},
		PermissionsConfig:             &types.CapacityProviderPermissionsConfig{CapacityProviderOperatorRoleArn: aws.String("arn:aws:iam::123456789012:role/op")},
		InstanceRequirements:          &types.InstanceRequirements{Architectures: []types.Architecture{types.ArchitectureArm64}},
		CapacityProviderScalingConfig: &types.CapacityProviderScalingConfig{MaxVCpuCount: aws.Int32(30), ScalingPolicies: policies},
		KmsKeyArn:                     aws.String("arn:aws:kms:us-east-1:123456789012:key/k"),
		Tags:                          map[string]string{"team": "a"},
	}
	// Policies are Manual mode's: in Auto (the default) AWS refuses them.
	_, err := c.CreateCapacityProvider(ctx, in)
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "A scaling policy can't be specified when the scalingMode is set to Auto")
	in.CapacityProviderScalingConfig.ScalingPolicies = nil
	out, err := c.CreateCapacityProvider(ctx, in, raw.Option())
	if err != nil {
		t.Fatal(err)
	}
	p := out.CapacityProvider
	if raw.Code != 202 || aws.ToString(p.CapacityProviderArn) != cpARN("cp1") || p.State != types.CapacityProviderStatePending ||
		p.CapacityProviderScalingConfig.ScalingMode != types.CapacityProviderScalingModeAuto || aws.ToInt32(p.CapacityProviderScalingConfig.MaxVCpuCount) != 30 ||
		len(p.VpcConfig.SubnetIds) != 2 || p.InstanceRequirements.Architectures[0] != types.ArchitectureArm64 || aws.ToString(p.LastModified) == "" {
		t.Fatalf("CreateCapacityProvider = %d %+v", raw.Code, p)
	}
	_, err = c.CreateCapacityProvider(ctx, &lambda.CreateCapacityProviderInput{CapacityProviderName: aws.String("cp1"),
		VpcConfig: p.VpcConfig, PermissionsConfig: p.PermissionsConfig})
	testkit.APIErr(t, err, "ResourceConflictException", 409, "Capacity provider already exists: "+cpARN("cp1"))

	// Pending, then Active; by name or by ARN.
	testkit.Eventually(t, 5*time.Second, "provider Active", func() bool {
		g, err := c.GetCapacityProvider(ctx, &lambda.GetCapacityProviderInput{CapacityProviderName: aws.String(cpARN("cp1"))})
		return err == nil && g.CapacityProvider.State == types.CapacityProviderStateActive
	})
	_, err = c.GetCapacityProvider(ctx, &lambda.GetCapacityProviderInput{CapacityProviderName: aws.String("nope")})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Capacity provider not found: "+cpARN("nope"))
	// Another account's ARN is refused, as for functions.
	foreign := "arn:aws:lambda:us-east-1:210987654321:capacity-provider:cp1"
	_, err = c.GetCapacityProvider(ctx, &lambda.GetCapacityProviderInput{CapacityProviderName: aws.String(foreign)})
	testkit.APIErr(t, err, "AccessDeniedException", 403, "User is not authorized to access "+foreign+": it belongs to another account.")
	_, err = c.ListTags(ctx, &lambda.ListTagsInput{Resource: aws.String(foreign)})
	testkit.APIErr(t, err, "AccessDeniedException", 403, "User is not authorized to access "+foreign+": it belongs to another account.")

	// Update changes scaling, keeps the rest.
	up, err := c.UpdateCapacityProvider(ctx, &lambda.UpdateCapacityProviderInput{CapacityProviderName: aws.String("cp1"),
		CapacityProviderScalingConfig: &types.CapacityProviderScalingConfig{MaxVCpuCount: aws.Int32(64), ScalingMode: types.CapacityProviderScalingModeManual, ScalingPolicies: policies}}, raw.Option())
	if err != nil || raw.Code != 202 || aws.ToInt32(up.CapacityProvider.CapacityProviderScalingConfig.MaxVCpuCount) != 64 ||
		up.CapacityProvider.CapacityProviderScalingConfig.ScalingMode != types.CapacityProviderScalingModeManual ||
		len(up.CapacityProvider.CapacityProviderScalingConfig.ScalingPolicies) != 1 || aws.ToString(up.CapacityProvider.KmsKeyArn) == "" {
		t.Fatalf("UpdateCapacityProvider = %v %+v", err, up)
	}
	_, err = c.UpdateCapacityProvider(ctx, &lambda.UpdateCapacityProviderInput{CapacityProviderName: aws.String("cp1"),
		CapacityProviderScalingConfig: &types.CapacityProviderScalingConfig{ScalingMode: types.CapacityProviderScalingModeAuto, ScalingPolicies: policies}})
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "A scaling policy can't be specified when the scalingMode is set to Auto")
	// Back to Auto: the Manual policies go with it.
	up, err = c.UpdateCapacityProvider(ctx, &lambda.UpdateCapacityProviderInput{CapacityProviderName: aws.String("cp1"),
		CapacityProviderScalingConfig: &types.CapacityProviderScalingConfig{ScalingMode: types.CapacityProviderScalingModeAuto}})
	if err != nil || up.CapacityProvider.CapacityProviderScalingConfig.ScalingMode != types.CapacityProviderScalingModeAuto ||
		len(up.CapacityProvider.CapacityProviderScalingConfig.ScalingPolicies) != 0 || aws.ToInt32(up.CapacityProvider.CapacityProviderScalingConfig.MaxVCpuCount) != 64 {
		t.Fatalf("UpdateCapacityProvider to Auto = %v %+v", err, up)
	}
	_, err = c.UpdateCapacityProvider(ctx, &lambda.UpdateCapacityProviderInput{CapacityProviderName: aws.String("nope")})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Capacity provider not found: "+cpARN("nope"))

	// Tags live on the provider's ARN.
	tags, err := c.ListTags(ctx, &lambda.ListTagsInput{Resource: aws.String(cpARN("cp1"))})
	if err != nil || tags.Tags["team"] != "a" {
		t.Fatalf("ListTags = %v %v", err, tags)
	}
	if _, err := c.TagResource(ctx, &lambda.TagResourceInput{Resource: aws.String(cpARN("cp1")), Tags: map[string]string{"env": "x"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UntagResource(ctx, &lambda.UntagResourceInput{Resource: aws.String(cpARN("cp1")), TagKeys: []string{"team"}}); err != nil {
		t.Fatal(err)
	}
	tags, _ = c.ListTags(ctx, &lambda.ListTagsInput{Resource: aws.String(cpARN("cp1"))})
	if len(tags.Tags) != 1 || tags.Tags["env"] != "x" {
		t.Fatalf("tags after tag/untag = %v", tags.Tags)
	}
	// AWS's answers (LocalStack snapshot test_lambda_api:
	// TestLambdaTag.test_tag_exceptions[capacity_provider]).
	_, err = c.TagResource(ctx, &lambda.TagResourceInput{Resource: aws.String(cpARN("nope")), Tags: map[string]string{"A": "B"}})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Capacity provider not found: "+cpARN("nope"))
	_, err = c.UntagResource(ctx, &lambda.UntagResourceInput{Resource: aws.String(cpARN("nope")), TagKeys: []string{"A"}})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Capacity provider not found: "+cpARN("nope"))
	_, err = c.ListTags(ctx, &lambda.ListTagsInput{Resource: aws.String(cpARN("nope"))})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Capacity provider not found: "+cpARN("nope"))

	// Delete answers Deleting; then it is gone.
	del, err := c.DeleteCapacityProvider(ctx, &lambda.DeleteCapacityProviderInput{CapacityProviderName: aws.String("cp1")}, raw.Option())
	if err != nil || raw.Code != 202 || del.CapacityProvider.State != types.CapacityProviderStateDeleting {
		t.Fatalf("DeleteCapacityProvider = %v %+v", err, del)
	}
	_, err = c.GetCapacityProvider(ctx, &lambda.GetCapacityProviderInput{CapacityProviderName: aws.String("cp1")})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Capacity provider not found: "+cpARN("cp1"))
	_, err = c.DeleteCapacityProvider(ctx, &lambda.DeleteCapacityProviderInput{CapacityProviderName: aws.String("cp1")})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Capacity provider not found: "+cpARN("cp1"))
}

func TestCapacityProviderValidation(t *testing.T) {
	t.Parallel()
	_, c := servertest.NewEnv(t, servertest.FastTransition)
	ctx := context.Background()
	vpc := &types.CapacityProviderVpcConfig{SubnetIds: []string{"subnet-1"}, SecurityGroupIds: []string{}}
	perm := &types.CapacityProviderPermissionsConfig{CapacityProviderOperatorRoleArn: aws.String("arn:aws:iam::123456789012:role/op")}
	_, err := c.CreateCapacityProvider(ctx, &lambda.CreateCapacityProviderInput{CapacityProviderName: aws.String("bad"), VpcConfig: vpc, PermissionsConfig: perm,
		CapacityProviderScalingConfig: &types.CapacityProviderScalingConfig{MaxVCpuCount: aws.Int32(1)}}, testkit.SkipClientValidation)
	testkit.APIErr(t, err, "ValidationException", 400, "1 validation error detected: Value '1' at 'capacityProviderScalingConfig.maxVCpuCount' failed to satisfy constraint: Member must have value greater than or equal to 2")
	_, err = c.CreateCapacityProvider(ctx, &lambda.CreateCapacityProviderInput{CapacityProviderName: aws.String("bad name"), VpcConfig: vpc, PermissionsConfig: perm}, testkit.SkipClientValidation)
	testkit.APIErrPrefix(t, err, "ValidationException", 400, "1 validation error detected: Value 'bad name' at 'capacityProviderName' failed to satisfy constraint: Member must satisfy regular expression pattern")
	_, err = c.CreateCapacityProvider(ctx, &lambda.CreateCapacityProviderInput{CapacityProviderName: aws.String("bad"), VpcConfig: &types.CapacityProviderVpcConfig{SubnetIds: []string{}, SecurityGroupIds: []string{}}, PermissionsConfig: perm}, testkit.SkipClientValidation)
	testkit.APIErrPrefix(t, err, "ValidationException", 400, "1 validation error detected: Value '[]' at 'vpcConfig.subnetIds' failed to satisfy constraint: Member must have length greater than or equal to 1")
	// Nothing was created.
	list, err := c.ListCapacityProviders(ctx, &lambda.ListCapacityProvidersInput{})
	if err != nil || len(list.CapacityProviders) != 0 {
		t.Fatalf("ListCapacityProviders = %v %+v", err, list)
	}
}

func TestListCapacityProvidersPages(t *testing.T) {
	t.Parallel()
	_, c := servertest.NewEnv(t, servertest.FastTransition)
	ctx := context.Background()
	want := []string{"p1", "p2", "p3", "p4", "p5"}
	for _, n := range want {
		createProvider(t, c, n)
	}
	var got []string
	pages := lambda.NewListCapacityProvidersPaginator(c, &lambda.ListCapacityProvidersInput{MaxItems: aws.Int32(2)})
	n := 0
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n++
		for _, p := range out.CapacityProviders {
			got = append(got, aws.ToString(p.CapacityProviderArn))
		}
	}
	if n != 3 || len(got) != 5 || got[0] != cpARN("p1") || got[4] != cpARN("p5") {
		t.Fatalf("%d pages: %v", n, got)
	}
	testkit.Eventually(t, 5*time.Second, "provider Active", func() bool {
		out, err := c.ListCapacityProviders(ctx, &lambda.ListCapacityProvidersInput{State: types.CapacityProviderStateActive})
		return err == nil && len(out.CapacityProviders) == 5
	})
	out, err := c.ListCapacityProviders(ctx, &lambda.ListCapacityProvidersInput{State: types.CapacityProviderStatePending})
	if err != nil || len(out.CapacityProviders) != 0 {
		t.Fatalf("Pending after settle: %v %+v", err, out)
	}
}

func TestFunctionsOnCapacityProvider(t *testing.T) {
	t.Parallel()
	_, c := servertest.NewEnv(t, servertest.FastTransition)
	ctx := context.Background()
	createProvider(t, c, "pool")
	createProvider(t, c, "other")

	// A provider that does not exist is refused, and nothing is created.
	in := testkit.CreateInput("lmi", testkit.HandlerZip(t, "x = 1\n"))
	in.Runtime = types.RuntimePython313 // a runtime Lambda Managed Instances run
	in.CapacityProviderConfig = lmiConfig(cpARN("missing"))
	_, err := c.CreateFunction(ctx, in)
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "The capacity provider "+cpARN("missing")+" does not exist.")
	_, err = c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("lmi")})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Function not found: "+testkit.FnARN("lmi"))
	// Another account's provider is not this function's to use.
	in.CapacityProviderConfig = lmiConfig("arn:aws:lambda:us-east-1:210987654321:capacity-provider:pool")
	_, err = c.CreateFunction(ctx, in)
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "The capacity provider arn:aws:lambda:us-east-1:210987654321:capacity-provider:pool does not exist.")
	// Only the runtimes AWS lists run on managed instances.
	in.CapacityProviderConfig = lmiConfig(cpARN("pool"))
	in.Runtime = types.RuntimePython312
	_, err = c.CreateFunction(ctx, in)
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "Runtime python3.12 is not supported for functions that use a capacity provider. Use java21, python3.13, nodejs22.x, dotnet8, provided.al2023 or a later version of these.")
	in.Runtime = types.RuntimePython313
	in.MemorySize = aws.Int32(1024)
	_, err = c.CreateFunction(ctx, in)
	testkit.APIErr(t, err, "ValidationException", 400, "Lambda Managed Instance functions must have memory size greater than or equal to 2048")
	in.MemorySize = nil
	// SnapStart does not run on managed instances.
	in.CapacityProviderConfig = lmiConfig(cpARN("pool"))
	in.SnapStart = &types.SnapStart{ApplyOn: types.SnapStartApplyOnPublishedVersions}
	_, err = c.CreateFunction(ctx, in)
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "SnapStart is not supported for functions that use a capacity provider.")
	// The model's ranges hold.
	in.SnapStart = nil
	in.CapacityProviderConfig.LambdaManagedInstancesCapacityProviderConfig.PerExecutionEnvironmentMaxConcurrency = aws.Int32(1601)
	_, err = c.CreateFunction(ctx, in, testkit.SkipClientValidation)
	testkit.APIErr(t, err, "ValidationException", 400, "1 validation error detected: Value '1601' at 'capacityProviderConfig.lambdaManagedInstancesCapacityProviderConfig.perExecutionEnvironmentMaxConcurrency' failed to satisfy constraint: Member must have value less than or equal to 1600")

	in.CapacityProviderConfig = lmiConfig(cpARN("pool"))
	created := testkit.CreateActive(t, c, in)
	m := created.Configuration.CapacityProviderConfig.LambdaManagedInstancesCapacityProviderConfig
	if aws.ToString(m.CapacityProviderArn) != cpARN("pool") || aws.ToInt32(m.PerExecutionEnvironmentMaxConcurrency) != 4 || aws.ToInt32(created.Configuration.MemorySize) != 2048 {
		t.Fatalf("CapacityProviderConfig = %+v", m)
	}
	// $LATEST alone is not listed: only published versions run there.
	list := func(name string) []string {
		t.Helper()
		var arns []string
		pages := lambda.NewListFunctionVersionsByCapacityProviderPaginator(c, &lambda.ListFunctionVersionsByCapacityProviderInput{CapacityProviderName: aws.String(name), MaxItems: aws.Int32(1)})
		for pages.HasMorePages() {
			out, err := pages.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if aws.ToString(out.CapacityProviderArn) != cpARN(name) {
				t.Fatalf("CapacityProviderArn = %s", aws.ToString(out.CapacityProviderArn))
			}
			for _, v := range out.FunctionVersions {
				if v.State == "" {
					t.Fatalf("no State: %+v", v)
				}
				arns = append(arns, aws.ToString(v.FunctionArn))
			}
		}
		return arns
	}
	if got := list("pool"); len(got) != 0 {
		t.Fatalf("before publishing: %v", got)
	}
	// In use by $LATEST: the provider stays.
	_, err = c.DeleteCapacityProvider(ctx, &lambda.DeleteCapacityProviderInput{CapacityProviderName: aws.String("pool")})
	testkit.APIErr(t, err, "ResourceConflictException", 409, "The capacity provider is currently in use by 1 functions. To delete this capacity provider, first remove its association with "+cpARN("pool")+".")
	if _, err := c.GetCapacityProvider(ctx, &lambda.GetCapacityProviderInput{CapacityProviderName: aws.String("pool")}); err != nil {
		t.Fatal(err)
	}

	for i := 0; i < 2; i++ {
		if _, err := c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("lmi"), Description: aws.String(string(rune('a' + i)))}); err != nil {
			t.Fatal(err)
		}
		testkit.WaitUpdated(t, c, "lmi")
		if _, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("lmi")}); err != nil {
			t.Fatal(err)
		}
	}
	if got := list("pool"); len(got) != 2 || got[0] != testkit.FnARN("lmi")+":1" || got[1] != testkit.FnARN("lmi")+":2" {
		t.Fatalf("after publishing: %v", got)
	}
	// A function not on a provider is never listed.
	testkit.CreateActive(t, c, testkit.CreateInput("plain", testkit.HandlerZip(t, "x = 1\n")))
	if _, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("plain")}); err != nil {
		t.Fatal(err)
	}
	if got := list("other"); len(got) != 0 {
		t.Fatalf("other: %v", got)
	}
	// A function made without a provider cannot be moved onto one.
	_, err = c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("plain"), CapacityProviderConfig: lmiConfig(cpARN("other"))})
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "CapacityProviderConfig isn't supported for Lambda Default functions")
	if got := list("other"); len(got) != 0 {
		t.Fatalf("other after a refused update: %v", got)
	}
	_, err = c.ListFunctionVersionsByCapacityProvider(ctx, &lambda.ListFunctionVersionsByCapacityProviderInput{CapacityProviderName: aws.String("missing")})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Capacity provider not found: "+cpARN("missing"))

	// Moving $LATEST to another provider: the published versions still hold "pool".
	if _, err := c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("lmi"), CapacityProviderConfig: lmiConfig(cpARN("other"))}); err != nil {
		t.Fatal(err)
	}
	testkit.WaitUpdated(t, c, "lmi")
	_, err = c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("lmi"), CapacityProviderConfig: lmiConfig(cpARN("missing"))})
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "The capacity provider "+cpARN("missing")+" does not exist.")
	got, _ := c.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("lmi")})
	if aws.ToString(got.CapacityProviderConfig.LambdaManagedInstancesCapacityProviderConfig.CapacityProviderArn) != cpARN("other") {
		t.Fatalf("a refused update changed the function: %+v", got.CapacityProviderConfig.LambdaManagedInstancesCapacityProviderConfig)
	}
	_, err = c.DeleteCapacityProvider(ctx, &lambda.DeleteCapacityProviderInput{CapacityProviderName: aws.String("pool")})
	testkit.APIErr(t, err, "ResourceConflictException", 409, "The capacity provider is currently in use by 1 functions. To delete this capacity provider, first remove its association with "+cpARN("pool")+".")
	for _, v := range []string{"1", "2"} {
		if _, err := c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("lmi"), Qualifier: aws.String(v)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.DeleteCapacityProvider(ctx, &lambda.DeleteCapacityProviderInput{CapacityProviderName: aws.String("pool")}); err != nil {
		t.Fatalf("delete after the versions went: %v", err)
	}
	// Once the function is gone, so is the last user of "other".
	if _, err := c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("lmi")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteCapacityProvider(ctx, &lambda.DeleteCapacityProviderInput{CapacityProviderName: aws.String("other")}); err != nil {
		t.Fatal(err)
	}
}

func TestFunctionScalingConfig(t *testing.T) {
	t.Parallel()
	_, c := servertest.NewEnv(t, servertest.FastTransition)
	ctx := context.Background()
	createProvider(t, c, "pool")
	in := testkit.CreateInput("sc", testkit.HandlerZip(t, "def handler(e, c):\n    return 1\n"))
	in.Runtime = types.RuntimePython313 // a runtime Lambda Managed Instances run
	in.CapacityProviderConfig = lmiConfig(cpARN("pool"))
	testkit.CreateActive(t, c, in)
	testkit.CreateActive(t, c, testkit.CreateInput("plain", testkit.HandlerZip(t, "x = 1\n")))
	for _, n := range []string{"sc", "plain"} {
		if _, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String(n)}); err != nil {
			t.Fatal(err)
		}
	}
	put := func(name, q string, min, max int32, opts ...func(*lambda.Options)) (*lambda.PutFunctionScalingConfigOutput, error) {
		return c.PutFunctionScalingConfig(ctx, &lambda.PutFunctionScalingConfigInput{FunctionName: aws.String(name), Qualifier: aws.String(q),
			FunctionScalingConfig: &types.FunctionScalingConfig{MinExecutionEnvironments: aws.Int32(min), MaxExecutionEnvironments: aws.Int32(max)}}, opts...)
	}
	// Before any put: AWS's default of three environments.
	g, err := c.GetFunctionScalingConfig(ctx, &lambda.GetFunctionScalingConfigInput{FunctionName: aws.String("sc"), Qualifier: aws.String("1")})
	if err != nil || aws.ToString(g.FunctionArn) != testkit.FnARN("sc")+":1" || aws.ToInt32(g.AppliedFunctionScalingConfig.MinExecutionEnvironments) != 3 ||
		aws.ToInt32(g.AppliedFunctionScalingConfig.MaxExecutionEnvironments) != 3 || g.RequestedFunctionScalingConfig != nil {
		t.Fatalf("Get before put = %v %+v", err, g)
	}
	testkit.WaitVersionActive(t, c, "sc", "1") // its three environments are started
	raw := &testkit.RawStatus{}
	out, err := put("sc", "1", 2, 5, raw.Option())
	if err != nil || raw.Code != 202 || out.FunctionState != types.StateActive {
		t.Fatalf("Put = %v %d %+v", err, raw.Code, out)
	}
	check := func() {
		t.Helper()
		g, err := c.GetFunctionScalingConfig(ctx, &lambda.GetFunctionScalingConfigInput{FunctionName: aws.String("sc"), Qualifier: aws.String("1")})
		if err != nil || aws.ToInt32(g.AppliedFunctionScalingConfig.MinExecutionEnvironments) != 2 || aws.ToInt32(g.AppliedFunctionScalingConfig.MaxExecutionEnvironments) != 5 ||
			g.RequestedFunctionScalingConfig != nil {
			t.Fatalf("Get = %v %+v", err, g)
		}
	}
	check()
	// Refusals change nothing.
	_, err = put("sc", "1", 6, 5)
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "MinExecutionEnvironments must be less than or equal to MaxExecutionEnvironments.")
	_, err = put("sc", "1", 1, 15001, testkit.SkipClientValidation)
	testkit.APIErr(t, err, "ValidationException", 400, "1 validation error detected: Value '15001' at 'functionScalingConfig.maxExecutionEnvironments' failed to satisfy constraint: Member must have value less than or equal to 15000")
	_, err = put("sc", "$LATEST", 1, 2, testkit.SkipClientValidation)
	testkit.APIErrPrefix(t, err, "ValidationException", 400, "1 validation error detected: Value '$LATEST' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern")
	_, err = put("plain", "1", 1, 2)
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "Function scaling configuration is only supported for functions that use a capacity provider.")
	_, err = put("sc", "9", 1, 2)
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Function not found: "+testkit.FnARN("sc")+":9")
	_, err = put("nofn", "1", 1, 2)
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Function not found: "+testkit.FnARN("nofn"))
	check()
	// A put without values resets it (there is no delete operation).
	if _, err := c.PutFunctionScalingConfig(ctx, &lambda.PutFunctionScalingConfigInput{FunctionName: aws.String("sc"), Qualifier: aws.String("1")}); err != nil {
		t.Fatal(err)
	}
	g, err = c.GetFunctionScalingConfig(ctx, &lambda.GetFunctionScalingConfigInput{FunctionName: aws.String("sc"), Qualifier: aws.String("1")})
	if err != nil || g.AppliedFunctionScalingConfig.MinExecutionEnvironments != nil || g.AppliedFunctionScalingConfig.MaxExecutionEnvironments != nil {
		t.Fatalf("after reset = %v %+v", err, g)
	}
	// Deleting the version forgets its config.
	if _, err := c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("sc"), Qualifier: aws.String("1")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("sc"), Description: aws.String("again")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetFunctionScalingConfig(ctx, &lambda.GetFunctionScalingConfigInput{FunctionName: aws.String("sc"), Qualifier: aws.String("1")})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Function not found: "+testkit.FnARN("sc")+":1")
}

// TestLatestPublished: PublishTo LATEST_PUBLISHED makes (and remakes) the
// $LATEST.PUBLISHED version of a managed-instances function, which an
// unqualified invoke runs, and which holds its provider.
func TestLatestPublished(t *testing.T) {
	t.Parallel()
	_, c := servertest.InvokeEnv(t, nil)
	ctx := context.Background()
	pool := "arn:aws:lambda:" + testkit.Region + ":" + testkit.InvokeAccount + ":capacity-provider:pool"
	createProvider(t, c, "pool")
	fnARN := testkit.InvokeARN("lp")
	in := testkit.PyFunction(t, "lp", "def handler(e, c):\n    return ['one', c.function_version]\n")
	in.Runtime = types.RuntimePython313 // a runtime Lambda Managed Instances run
	in.CapacityProviderConfig = lmiConfig(pool)
	testkit.CreateActive(t, c, in)
	testkit.CreateActive(t, c, testkit.PyFunction(t, "plainlp", "def handler(e, c):\n    return 1\n"))

	_, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("plainlp"), PublishTo: types.FunctionVersionLatestPublishedLatestPublished})
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "PublishTo LATEST_PUBLISHED is only supported for functions that use a capacity provider.")
	_, err = c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("plainlp"), Qualifier: aws.String("$LATEST.PUBLISHED")})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Function not found: "+testkit.InvokeARN("plainlp")+":$LATEST.PUBLISHED")

	// Before publishing, an unqualified invoke runs $LATEST.
	out := testkit.MustInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("lp")})
	if string(out.Payload) != `["one", "$LATEST"]` {
		t.Fatalf("before publishing: %s", out.Payload)
	}
	pub, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("lp"), PublishTo: types.FunctionVersionLatestPublishedLatestPublished})
	if err != nil || aws.ToString(pub.Version) != "$LATEST.PUBLISHED" || aws.ToString(pub.FunctionArn) != fnARN+":$LATEST.PUBLISHED" {
		t.Fatalf("PublishVersion(LATEST_PUBLISHED) = %v %+v", err, pub)
	}
	// It is Pending until its minimum environments are started.
	testkit.WaitVersionActive(t, c, "lp", "$LATEST.PUBLISHED")
	// $LATEST changes; the unqualified invoke still runs what was published.
	if _, err := c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("lp"), ZipFile: testkit.HandlerZip(t, "def handler(e, c):\n    return ['two', c.function_version]\n")}); err != nil {
		t.Fatal(err)
	}
	testkit.WaitUpdated(t, c, "lp")
	out = testkit.MustInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("lp")})
	if string(out.Payload) != `["one", "$LATEST.PUBLISHED"]` || aws.ToString(out.ExecutedVersion) != "$LATEST.PUBLISHED" {
		t.Fatalf("unqualified invoke = %s (%s)", out.Payload, aws.ToString(out.ExecutedVersion))
	}
	out = testkit.MustInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("lp"), Qualifier: aws.String("$LATEST")})
	if string(out.Payload) != `["two", "$LATEST"]` {
		t.Fatalf("$LATEST invoke = %s", out.Payload)
	}
	// Republishing replaces it.
	if _, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("lp"), PublishTo: types.FunctionVersionLatestPublishedLatestPublished, Description: aws.String("second")}); err != nil {
		t.Fatal(err)
	}
	testkit.WaitVersionActive(t, c, "lp", "$LATEST.PUBLISHED")
	out = testkit.MustInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("lp"), Qualifier: aws.String("$LATEST.PUBLISHED")})
	if string(out.Payload) != `["two", "$LATEST.PUBLISHED"]` {
		t.Fatalf("after republishing: %s", out.Payload)
	}
	g, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("lp"), Qualifier: aws.String("$LATEST.PUBLISHED")})
	if err != nil || aws.ToString(g.Configuration.Description) != "second" || aws.ToString(g.Configuration.Version) != "$LATEST.PUBLISHED" {
		t.Fatalf("GetFunction($LATEST.PUBLISHED) = %v %+v", err, g)
	}
	// It is listed on its provider, takes a scaling config, and holds the provider.
	vs, err := c.ListFunctionVersionsByCapacityProvider(ctx, &lambda.ListFunctionVersionsByCapacityProviderInput{CapacityProviderName: aws.String("pool")})
	if err != nil || len(vs.FunctionVersions) != 1 || aws.ToString(vs.FunctionVersions[0].FunctionArn) != fnARN+":$LATEST.PUBLISHED" {
		t.Fatalf("ListFunctionVersionsByCapacityProvider = %v %+v", err, vs)
	}
	if _, err := c.PutFunctionScalingConfig(ctx, &lambda.PutFunctionScalingConfigInput{FunctionName: aws.String("lp"), Qualifier: aws.String("$LATEST.PUBLISHED"),
		FunctionScalingConfig: &types.FunctionScalingConfig{MinExecutionEnvironments: aws.Int32(1), MaxExecutionEnvironments: aws.Int32(3)}}); err != nil {
		t.Fatal(err)
	}
	sc, err := c.GetFunctionScalingConfig(ctx, &lambda.GetFunctionScalingConfigInput{FunctionName: aws.String("lp"), Qualifier: aws.String("$LATEST.PUBLISHED")})
	if err != nil || aws.ToInt32(sc.AppliedFunctionScalingConfig.MaxExecutionEnvironments) != 3 {
		t.Fatalf("GetFunctionScalingConfig = %v %+v", err, sc)
	}
	_, err = c.DeleteCapacityProvider(ctx, &lambda.DeleteCapacityProviderInput{CapacityProviderName: aws.String("pool")})
	testkit.APIErr(t, err, "ResourceConflictException", 409, "The capacity provider is currently in use by 1 functions. To delete this capacity provider, first remove its association with "+pool+".")
	if _, err := c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("lp")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteCapacityProvider(ctx, &lambda.DeleteCapacityProviderInput{CapacityProviderName: aws.String("pool")}); err != nil {
		t.Fatalf("after the function went: %v", err)
	}
}

// TestPublishToOnCreateAndCodeUpdate: CreateFunction and UpdateFunctionCode
// with PublishTo publish $LATEST.PUBLISHED (as Terraform's
// publish_to = "LATEST_PUBLISHED" does), only for functions on a provider.
func TestPublishToOnCreateAndCodeUpdate(t *testing.T) {
	t.Parallel()
	_, c := servertest.NewEnv(t, servertest.FastTransition)
	ctx := context.Background()
	createProvider(t, c, "pool")
	lp := types.FunctionVersionLatestPublishedLatestPublished

	plain := testkit.CreateInput("plainpt", testkit.HandlerZip(t, "x = 1\n"))
	plain.PublishTo = lp
	_, err := c.CreateFunction(ctx, plain)
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "PublishTo LATEST_PUBLISHED is only supported for functions that use a capacity provider.")
	_, err = c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("plainpt")})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Function not found: "+testkit.FnARN("plainpt"))

	zip1 := testkit.HandlerZip(t, "x = 1\n")
	in := testkit.CreateInput("pt", zip1)
	in.Runtime = types.RuntimePython313 // a runtime Lambda Managed Instances run
	in.CapacityProviderConfig = lmiConfig(cpARN("pool"))
	in.Publish, in.PublishTo = true, lp
	out, err := c.CreateFunction(ctx, in)
	if err != nil || aws.ToString(out.Version) != "$LATEST.PUBLISHED" {
		t.Fatalf("CreateFunction(PublishTo) = %v %+v", err, out)
	}
	testkit.WaitActive(t, c, "pt")
	got, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("pt"), Qualifier: aws.String("$LATEST.PUBLISHED")})
	if err != nil || aws.ToString(got.Configuration.CodeSha256) != testkit.SHA256B64(zip1) {
		t.Fatalf("GetFunction($LATEST.PUBLISHED) = %v", err)
	}
	// No numbered version was made.
	vs, err := c.ListVersionsByFunction(ctx, &lambda.ListVersionsByFunctionInput{FunctionName: aws.String("pt")})
	if err != nil || len(vs.Versions) != 1 {
		t.Fatalf("ListVersionsByFunction = %v %d", err, len(vs.Versions))
	}

	zip2 := testkit.HandlerZip(t, "x = 2\n")
	up, err := c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("pt"), ZipFile: zip2, PublishTo: lp})
	if err != nil || aws.ToString(up.Version) != "$LATEST.PUBLISHED" || aws.ToString(up.CodeSha256) != testkit.SHA256B64(zip2) {
		t.Fatalf("UpdateFunctionCode(PublishTo) = %v %+v", err, up)
	}
	got, err = c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("pt"), Qualifier: aws.String("$LATEST.PUBLISHED")})
	if err != nil || aws.ToString(got.Configuration.CodeSha256) != testkit.SHA256B64(zip2) {
		t.Fatalf("after UpdateFunctionCode: %v", err)
	}

	testkit.CreateActive(t, c, testkit.CreateInput("plainpt", zip1))
	_, err = c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("plainpt"), ZipFile: zip2, PublishTo: lp})
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "PublishTo LATEST_PUBLISHED is only supported for functions that use a capacity provider.")
	cur, _ := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("plainpt")})
	if aws.ToString(cur.Configuration.CodeSha256) != testkit.SHA256B64(zip1) {
		t.Fatal("a refused UpdateFunctionCode changed the code")
	}
}

// TestCapacityStateSurvivesRestart: providers, their use by functions,
// $LATEST.PUBLISHED and scaling configs are stored, not kept in memory.
func TestCapacityStateSurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := servertest.StartDaemon(t, dir, servertest.FastTransition)
	c := d.Client(testkit.Account, testkit.Region)
	ctx := context.Background()
	createProvider(t, c, "keep")
	in := testkit.CreateInput("kept", testkit.HandlerZip(t, "x = 1\n"))
	in.Runtime = types.RuntimePython313 // a runtime Lambda Managed Instances run
	in.CapacityProviderConfig = lmiConfig(cpARN("keep"))
	in.PublishTo = types.FunctionVersionLatestPublishedLatestPublished
	testkit.CreateActive(t, c, in)
	if _, err := c.PutFunctionScalingConfig(ctx, &lambda.PutFunctionScalingConfigInput{FunctionName: aws.String("kept"), Qualifier: aws.String("$LATEST.PUBLISHED"),
		FunctionScalingConfig: &types.FunctionScalingConfig{MinExecutionEnvironments: aws.Int32(2), MaxExecutionEnvironments: aws.Int32(7)}}); err != nil {
		t.Fatal(err)
	}
	d.Stop()

	d = servertest.StartDaemon(t, dir, servertest.FastTransition)
	c = d.Client(testkit.Account, testkit.Region)
	p, err := c.GetCapacityProvider(ctx, &lambda.GetCapacityProviderInput{CapacityProviderName: aws.String("keep")})
	if err != nil || p.CapacityProvider.State != types.CapacityProviderStateActive {
		t.Fatalf("provider after restart: %v %+v", err, p)
	}
	sc, err := c.GetFunctionScalingConfig(ctx, &lambda.GetFunctionScalingConfigInput{FunctionName: aws.String("kept"), Qualifier: aws.String("$LATEST.PUBLISHED")})
	if err != nil || aws.ToInt32(sc.AppliedFunctionScalingConfig.MinExecutionEnvironments) != 2 || aws.ToInt32(sc.AppliedFunctionScalingConfig.MaxExecutionEnvironments) != 7 {
		t.Fatalf("scaling config after restart: %v %+v", err, sc)
	}
	_, err = c.DeleteCapacityProvider(ctx, &lambda.DeleteCapacityProviderInput{CapacityProviderName: aws.String("keep")})
	testkit.APIErr(t, err, "ResourceConflictException", 409, "The capacity provider is currently in use by 1 functions. To delete this capacity provider, first remove its association with "+cpARN("keep")+".")
}
