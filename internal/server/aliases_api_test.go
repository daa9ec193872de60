package server_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

func TestAliasLifecycleAndErrors(t *testing.T) {
	t.Parallel()
	_, c := servertest.NewEnv(t, servertest.FastTransition)
	ctx := context.Background()
	testkit.CreateActive(t, c, testkit.CreateInput("al", testkit.HandlerZip(t, "x = 1\n")))
	publish := func() string {
		t.Helper()
		out, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("al")})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.Version)
	}
	v1 := publish()
	if _, err := c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("al"), Description: aws.String("v2")}); err != nil {
		t.Fatal(err)
	}
	testkit.WaitUpdated(t, c, "al")
	v2 := publish()
	arn := testkit.FnARN("al")

	created, err := c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("al"), Name: aws.String("live"), FunctionVersion: aws.String(v1),
		Description: aws.String("custom-alias"), RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{v2: 0.2}}})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(created.AliasArn) != arn+":live" || aws.ToString(created.FunctionVersion) != "1" || created.RoutingConfig.AdditionalVersionWeights["2"] != 0.2 || aws.ToString(created.RevisionId) == "" {
		t.Errorf("CreateAlias = %+v", created)
	}
	// A version an alias routes to, as its version or by weight, stays.
	for _, v := range []string{v1, v2} {
		_, err = c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("al"), Qualifier: aws.String(v)})
		testkit.APIErr(t, err, "ResourceConflictException", 409, "Unable to delete version because the following aliases reference it: [live]")
	}
	got, err := c.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String("al"), Name: aws.String("live")})
	if err != nil || aws.ToString(got.RevisionId) != aws.ToString(created.RevisionId) {
		t.Errorf("GetAlias: %v", err)
	}
	fn, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("al"), Qualifier: aws.String("live")})
	if err != nil || aws.ToString(fn.Configuration.FunctionArn) != arn+":live" || aws.ToString(fn.Configuration.Version) != "1" {
		t.Errorf("GetFunction via alias: %v %s %s", err, aws.ToString(fn.Configuration.FunctionArn), aws.ToString(fn.Configuration.Version))
	}
	_, err = c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("al"), Name: aws.String("live"), FunctionVersion: aws.String(v1)})
	testkit.APIErr(t, err, "ResourceConflictException", 409, "Alias already exists: "+arn+":live")
	_, err = c.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String("al"), Name: aws.String("non-existent")})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Cannot find alias arn: "+arn+":non-existent")
	_, err = c.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: aws.String("al"), Name: aws.String("non-existent")})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Alias not found: "+arn+":non-existent")
	_, err = c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("al"), Qualifier: aws.String("aliasdoesnotexist")})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Function not found: "+arn+":aliasdoesnotexist")
	_, err = c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("al"), Name: aws.String("x"), FunctionVersion: aws.String("10")})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Function not found: "+arn+":10")
	_, err = c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("al"), Name: aws.String("x"), FunctionVersion: aws.String("$LATEST"),
		RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{"1": 0.5}}})
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "$LATEST is not supported for an alias pointing to more than 1 version")
	_, err = c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("al"), Name: aws.String("x"), FunctionVersion: aws.String("1"),
		RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{"1": 0.5}}})
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "Invalid function version 1. Function version 1 is already included in routing configuration.")
	_, err = c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("al"), Name: aws.String("x"), FunctionVersion: aws.String("1"),
		RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{"2": 2}}})
	testkit.APIErr(t, err, "ValidationException", 400, "1 validation error detected: Value '{2=2.0}' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member must have value greater than or equal to 0.0, Member must not be null]")
	_, err = c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("al"), Name: aws.String("2024"), FunctionVersion: aws.String("1")})
	testkit.APIErr(t, err, "ValidationException", 400, "1 validation error detected: Value '2024' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)")

	_, err = c.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: aws.String("al"), Name: aws.String("live"), RevisionId: aws.String("nope")})
	testkit.APIErr(t, err, "PreconditionFailedException", 412, "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id")
	up, err := c.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: aws.String("al"), Name: aws.String("live"), FunctionVersion: aws.String(v2),
		RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{}}, RevisionId: created.RevisionId})
	if err != nil || aws.ToString(up.FunctionVersion) != "2" || up.RoutingConfig != nil || aws.ToString(up.RevisionId) == aws.ToString(created.RevisionId) {
		t.Fatalf("UpdateAlias: %v %+v", err, up)
	}
	if _, err := c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("al"), Name: aws.String("old"), FunctionVersion: aws.String(v1)}); err != nil {
		t.Fatal(err)
	}
	list, err := c.ListAliases(ctx, &lambda.ListAliasesInput{FunctionName: aws.String("al")})
	if err != nil || len(list.Aliases) != 2 || aws.ToString(list.Aliases[0].Name) != "live" {
		t.Errorf("ListAliases: %v %+v", err, list)
	}
	list, _ = c.ListAliases(ctx, &lambda.ListAliasesInput{FunctionName: aws.String("al"), FunctionVersion: aws.String("1")})
	if len(list.Aliases) != 1 || aws.ToString(list.Aliases[0].Name) != "old" {
		t.Errorf("ListAliases for version 1: %+v", list.Aliases)
	}
	_, err = c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("al"), Qualifier: aws.String("old")})
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "Deletion of aliases is not currently supported.")
	for _, name := range []string{"old", "non-existent"} {
		if _, err := c.DeleteAlias(ctx, &lambda.DeleteAliasInput{FunctionName: aws.String("al"), Name: aws.String(name)}); err != nil {
			t.Errorf("DeleteAlias %s: %v", name, err)
		}
	}
	// Deleting the function deletes its aliases.
	if _, err := c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("al")}); err != nil {
		t.Fatal(err)
	}
	testkit.CreateActive(t, c, testkit.CreateInput("al", testkit.HandlerZip(t, "x = 1\n")))
	if list, err := c.ListAliases(ctx, &lambda.ListAliasesInput{FunctionName: aws.String("al")}); err != nil || len(list.Aliases) != 0 {
		t.Errorf("aliases survived their function: %v %+v", err, list)
	}
}

// TestInvokeThroughAlias: an alias runs its version, reports it in
// ExecutedVersion, gives the function the alias ARN, and follows routing.
func TestInvokeThroughAlias(t *testing.T) {
	t.Parallel()
	d, c := servertest.InvokeEnv(t, nil)
	ctx := context.Background()
	testkit.CreateActive(t, c, testkit.PyFunction(t, "routed", "def handler(e, c):\n    return ['one', c.invoked_function_arn]\n"))
	if _, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("routed")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("routed"), ZipFile: testkit.HandlerZip(t, "def handler(e, c):\n    return ['two', c.invoked_function_arn]\n")}); err != nil {
		t.Fatal(err)
	}
	testkit.WaitUpdated(t, c, "routed")
	if _, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("routed")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("routed"), Name: aws.String("prod"), FunctionVersion: aws.String("1")}); err != nil {
		t.Fatal(err)
	}
	arn := testkit.InvokeARN("routed")
	out := testkit.MustInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("routed:prod")})
	if string(out.Payload) != `["one", "`+arn+`:prod"]` || aws.ToString(out.ExecutedVersion) != "1" {
		t.Errorf("alias invoke = %s, version %s", out.Payload, aws.ToString(out.ExecutedVersion))
	}
	// All of the traffic to version 2 through the routing weight.
	if _, err := c.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: aws.String("routed"), Name: aws.String("prod"),
		RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{"2": 1}}}); err != nil {
		t.Fatal(err)
	}
	out = testkit.MustInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("routed"), Qualifier: aws.String("prod")})
	if string(out.Payload) != `["two", "`+arn+`:prod"]` || aws.ToString(out.ExecutedVersion) != "2" {
		t.Errorf("routed invoke = %s, version %s", out.Payload, aws.ToString(out.ExecutedVersion))
	}
	// A function URL on the alias follows the routing too.
	fu, err := c.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("routed"), Qualifier: aws.String("prod"), AuthType: types.FunctionUrlAuthTypeNone})
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(aws.ToString(fu.FunctionUrl))
	if err != nil {
		t.Fatal(err)
	}
	id, _, _ := strings.Cut(u.Host, ".")
	if status, body := fetch(t, d.URL+"/_lambdad/url/"+id+"/"); status != 200 || string(body) != `["two", "`+arn+`:prod"]` {
		t.Errorf("URL of the routed alias: %d %s", status, body)
	}
	_, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("routed:nope")})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Function not found: "+arn+":nope")
}
