package server_test

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/archive/archivetest"
	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

const signingProfile = "arn:aws:signer:us-east-1:" + testkit.Account + ":/signing-profiles/test"

var cscARN = regexp.MustCompile(`^arn:aws:lambda:us-east-1:` + testkit.Account + `:code-signing-config:(csc-[a-z0-9]{17})$`)

func createCSC(t *testing.T, c *lambda.Client, policy types.CodeSigningPolicy) *types.CodeSigningConfig {
	t.Helper()
	out, err := c.CreateCodeSigningConfig(context.Background(), &lambda.CreateCodeSigningConfigInput{
		Description:         aws.String("Testing CodeSigning Config"),
		AllowedPublishers:   &types.AllowedPublishers{SigningProfileVersionArns: []string{signingProfile}},
		CodeSigningPolicies: &types.CodeSigningPolicies{UntrustedArtifactOnDeployment: policy},
	})
	if err != nil {
		t.Fatalf("CreateCodeSigningConfig: %v", err)
	}
	return out.CodeSigningConfig
}

// TestCodeSigningConfigLifecycle walks the API as AWS's recorded test does.
func TestCodeSigningConfigLifecycle(t *testing.T) {
	t.Parallel()
	_, c := servertest.NewEnv(t, servertest.FastTransition)
	ctx := context.Background()
	testkit.CreateActive(t, c, testkit.CreateInput("signed", testkit.HandlerZip(t, "def handler(e, c):\n    return 1\n")))

	created := createCSC(t, c, types.CodeSigningPolicyEnforce)
	arn := aws.ToString(created.CodeSigningConfigArn)
	m := cscARN.FindStringSubmatch(arn)
	if m == nil || aws.ToString(created.CodeSigningConfigId) != m[1] {
		t.Fatalf("ARN %q, id %q", arn, aws.ToString(created.CodeSigningConfigId))
	}
	if created.CodeSigningPolicies.UntrustedArtifactOnDeployment != types.CodeSigningPolicyEnforce || aws.ToString(created.Description) != "Testing CodeSigning Config" ||
		len(created.AllowedPublishers.SigningProfileVersionArns) != 1 || created.AllowedPublishers.SigningProfileVersionArns[0] != signingProfile ||
		!strings.HasSuffix(aws.ToString(created.LastModified), "+0000") {
		t.Errorf("created %+v", created)
	}
	// The default policy is Warn.
	dflt, err := c.CreateCodeSigningConfig(ctx, &lambda.CreateCodeSigningConfigInput{AllowedPublishers: &types.AllowedPublishers{SigningProfileVersionArns: []string{signingProfile}}})
	if err != nil || dflt.CodeSigningConfig.CodeSigningPolicies.UntrustedArtifactOnDeployment != types.CodeSigningPolicyWarn || aws.ToString(dflt.CodeSigningConfig.Description) != "" {
		t.Errorf("default policy: %v %+v", err, dflt)
	}

	up, err := c.UpdateCodeSigningConfig(ctx, &lambda.UpdateCodeSigningConfigInput{CodeSigningConfigArn: &arn,
		CodeSigningPolicies: &types.CodeSigningPolicies{UntrustedArtifactOnDeployment: types.CodeSigningPolicyWarn}})
	if err != nil || up.CodeSigningConfig.CodeSigningPolicies.UntrustedArtifactOnDeployment != types.CodeSigningPolicyWarn ||
		aws.ToString(up.CodeSigningConfig.Description) != "Testing CodeSigning Config" {
		t.Errorf("UpdateCodeSigningConfig: %v %+v", err, up)
	}
	// Nothing to update answers the config as it is.
	same, err := c.UpdateCodeSigningConfig(ctx, &lambda.UpdateCodeSigningConfigInput{CodeSigningConfigArn: &arn})
	if err != nil || same.CodeSigningConfig.CodeSigningPolicies.UntrustedArtifactOnDeployment != types.CodeSigningPolicyWarn {
		t.Errorf("UpdateCodeSigningConfig without changes: %v", err)
	}
	got, err := c.GetCodeSigningConfig(ctx, &lambda.GetCodeSigningConfigInput{CodeSigningConfigArn: &arn})
	if err != nil || aws.ToString(got.CodeSigningConfig.CodeSigningConfigArn) != arn || got.CodeSigningConfig.CodeSigningPolicies.UntrustedArtifactOnDeployment != types.CodeSigningPolicyWarn {
		t.Errorf("GetCodeSigningConfig: %v %+v", err, got)
	}

	put, err := c.PutFunctionCodeSigningConfig(ctx, &lambda.PutFunctionCodeSigningConfigInput{CodeSigningConfigArn: &arn, FunctionName: aws.String("signed")})
	if err != nil || aws.ToString(put.CodeSigningConfigArn) != arn || aws.ToString(put.FunctionName) != "signed" {
		t.Errorf("PutFunctionCodeSigningConfig: %v %+v", err, put)
	}
	// By ARN too: the answer names the function.
	put, err = c.PutFunctionCodeSigningConfig(ctx, &lambda.PutFunctionCodeSigningConfigInput{CodeSigningConfigArn: &arn, FunctionName: aws.String(testkit.FnARN("signed"))})
	if err != nil || aws.ToString(put.FunctionName) != "signed" {
		t.Errorf("PutFunctionCodeSigningConfig by ARN: %v %+v", err, put)
	}
	fcsc, err := c.GetFunctionCodeSigningConfig(ctx, &lambda.GetFunctionCodeSigningConfigInput{FunctionName: aws.String("signed")})
	if err != nil || aws.ToString(fcsc.CodeSigningConfigArn) != arn || aws.ToString(fcsc.FunctionName) != "signed" {
		t.Errorf("GetFunctionCodeSigningConfig: %v %+v", err, fcsc)
	}
	list, err := c.ListCodeSigningConfigs(ctx, &lambda.ListCodeSigningConfigsInput{})
	if err != nil || len(list.CodeSigningConfigs) != 2 {
		t.Fatalf("ListCodeSigningConfigs: %v %+v", err, list)
	}
	page1, err := c.ListCodeSigningConfigs(ctx, &lambda.ListCodeSigningConfigsInput{MaxItems: aws.Int32(1)})
	if err != nil || len(page1.CodeSigningConfigs) != 1 || page1.NextMarker == nil {
		t.Fatalf("ListCodeSigningConfigs page 1: %v %+v", err, page1)
	}
	page2, err := c.ListCodeSigningConfigs(ctx, &lambda.ListCodeSigningConfigsInput{MaxItems: aws.Int32(1), Marker: page1.NextMarker})
	if err != nil || len(page2.CodeSigningConfigs) != 1 || page2.NextMarker != nil ||
		aws.ToString(page2.CodeSigningConfigs[0].CodeSigningConfigId) == aws.ToString(page1.CodeSigningConfigs[0].CodeSigningConfigId) {
		t.Errorf("ListCodeSigningConfigs page 2: %v %+v", err, page2)
	}
	byCSC, err := c.ListFunctionsByCodeSigningConfig(ctx, &lambda.ListFunctionsByCodeSigningConfigInput{CodeSigningConfigArn: &arn})
	if err != nil || len(byCSC.FunctionArns) != 1 || byCSC.FunctionArns[0] != testkit.FnARN("signed") {
		t.Errorf("ListFunctionsByCodeSigningConfig: %v %+v", err, byCSC)
	}

	// Tags: given at create, and through the tagging operations on its ARN.
	tagged, err := c.CreateCodeSigningConfig(ctx, &lambda.CreateCodeSigningConfigInput{AllowedPublishers: &types.AllowedPublishers{SigningProfileVersionArns: []string{signingProfile}},
		Tags: map[string]string{"team": "a"}})
	if err != nil {
		t.Fatal(err)
	}
	tarn := tagged.CodeSigningConfig.CodeSigningConfigArn
	if _, err := c.TagResource(ctx, &lambda.TagResourceInput{Resource: tarn, Tags: map[string]string{"env": "dev"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UntagResource(ctx, &lambda.UntagResourceInput{Resource: tarn, TagKeys: []string{"team"}}); err != nil {
		t.Fatal(err)
	}
	if tags, err := c.ListTags(ctx, &lambda.ListTagsInput{Resource: tarn}); err != nil || len(tags.Tags) != 1 || tags.Tags["env"] != "dev" {
		t.Errorf("ListTags of a code signing config: %v %+v", err, tags)
	}
	if _, err := c.DeleteCodeSigningConfig(ctx, &lambda.DeleteCodeSigningConfigInput{CodeSigningConfigArn: tarn}); err != nil {
		t.Fatal(err)
	}
	_, err = c.ListTags(ctx, &lambda.ListTagsInput{Resource: tarn})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "The Lambda code signing configuration "+aws.ToString(tarn)+" can not be found.")

	// A config in use cannot be deleted.
	_, err = c.DeleteCodeSigningConfig(ctx, &lambda.DeleteCodeSigningConfigInput{CodeSigningConfigArn: &arn})
	testkit.APIErr(t, err, "ResourceConflictException", 409, "The code signing configuration cannot be deleted because it is used by the following functions: signed")

	if _, err := c.DeleteFunctionCodeSigningConfig(ctx, &lambda.DeleteFunctionCodeSigningConfigInput{FunctionName: aws.String("signed")}); err != nil {
		t.Fatal(err)
	}
	if fcsc, err := c.GetFunctionCodeSigningConfig(ctx, &lambda.GetFunctionCodeSigningConfigInput{FunctionName: aws.String("signed")}); err != nil || fcsc.CodeSigningConfigArn != nil {
		t.Errorf("after DeleteFunctionCodeSigningConfig: %v %+v", err, fcsc)
	}
	if byCSC, err := c.ListFunctionsByCodeSigningConfig(ctx, &lambda.ListFunctionsByCodeSigningConfigInput{CodeSigningConfigArn: &arn}); err != nil || byCSC.FunctionArns == nil || len(byCSC.FunctionArns) != 0 {
		t.Errorf("ListFunctionsByCodeSigningConfig without functions: %v %+v", err, byCSC)
	}
	if _, err := c.DeleteCodeSigningConfig(ctx, &lambda.DeleteCodeSigningConfigInput{CodeSigningConfigArn: &arn}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetCodeSigningConfig(ctx, &lambda.GetCodeSigningConfigInput{CodeSigningConfigArn: &arn})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "The Lambda code signing configuration "+arn+" can not be found.")

	// Deleting a function lets its config go, and a new function of that
	// name does not inherit it.
	if _, err := c.PutFunctionCodeSigningConfig(ctx, &lambda.PutFunctionCodeSigningConfigInput{CodeSigningConfigArn: dflt.CodeSigningConfig.CodeSigningConfigArn, FunctionName: aws.String("signed")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("signed")}); err != nil {
		t.Fatal(err)
	}
	testkit.CreateActive(t, c, testkit.CreateInput("signed", testkit.HandlerZip(t, "def handler(e, c):\n    return 2\n")))
	if fcsc, err := c.GetFunctionCodeSigningConfig(ctx, &lambda.GetFunctionCodeSigningConfigInput{FunctionName: aws.String("signed")}); err != nil || fcsc.CodeSigningConfigArn != nil {
		t.Errorf("a recreated function: %v %+v", err, fcsc)
	}
	if _, err := c.DeleteCodeSigningConfig(ctx, &lambda.DeleteCodeSigningConfigInput{CodeSigningConfigArn: dflt.CodeSigningConfig.CodeSigningConfigArn}); err != nil {
		t.Errorf("deleting the config of a deleted function: %v", err)
	}
}

// TestCodeSigningErrors checks the errors AWS recorded for missing configs
// and functions, and the model's limits.
func TestCodeSigningErrors(t *testing.T) {
	t.Parallel()
	_, c := servertest.NewEnv(t, servertest.FastTransition)
	ctx := context.Background()
	testkit.CreateActive(t, c, testkit.CreateInput("csc-fn", testkit.HandlerZip(t, "def handler(e, c):\n    return 1\n")))
	arn := aws.ToString(createCSC(t, c, types.CodeSigningPolicyEnforce).CodeSigningConfigArn)
	bad := arn[:len(arn)-1] + "x"
	if bad == arn {
		bad = arn[:len(arn)-1] + "y"
	}
	missingFn := "Function not found: " + testkit.FnARN("csc-test-doesnotexist")
	notFound := "The Lambda code signing configuration " + bad + " can not be found."
	cscNotFound := "The code signing configuration cannot be found. Check that the provided configuration is not deleted: " + bad + "."

	_, err := c.DeleteCodeSigningConfig(ctx, &lambda.DeleteCodeSigningConfigInput{CodeSigningConfigArn: &bad})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, notFound)
	if _, err := c.DeleteFunctionCodeSigningConfig(ctx, &lambda.DeleteFunctionCodeSigningConfigInput{FunctionName: aws.String("csc-fn")}); err != nil {
		t.Errorf("DeleteFunctionCodeSigningConfig with nothing to delete: %v", err)
	}
	_, err = c.DeleteFunctionCodeSigningConfig(ctx, &lambda.DeleteFunctionCodeSigningConfigInput{FunctionName: aws.String("csc-test-doesnotexist")})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, missingFn)
	_, err = c.PutFunctionCodeSigningConfig(ctx, &lambda.PutFunctionCodeSigningConfigInput{FunctionName: aws.String("csc-test-doesnotexist"), CodeSigningConfigArn: &arn})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, missingFn)
	_, err = c.PutFunctionCodeSigningConfig(ctx, &lambda.PutFunctionCodeSigningConfigInput{FunctionName: aws.String("csc-fn"), CodeSigningConfigArn: &bad})
	testkit.APIErr(t, err, "CodeSigningConfigNotFoundException", 404, cscNotFound)
	_, err = c.PutFunctionCodeSigningConfig(ctx, &lambda.PutFunctionCodeSigningConfigInput{FunctionName: aws.String("csc-test-doesnotexist"), CodeSigningConfigArn: &bad})
	testkit.APIErr(t, err, "CodeSigningConfigNotFoundException", 404, cscNotFound)
	_, err = c.UpdateCodeSigningConfig(ctx, &lambda.UpdateCodeSigningConfigInput{CodeSigningConfigArn: &bad, Description: aws.String("new-description")})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, notFound)
	_, err = c.UpdateCodeSigningConfig(ctx, &lambda.UpdateCodeSigningConfigInput{CodeSigningConfigArn: &bad})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, notFound)
	_, err = c.GetCodeSigningConfig(ctx, &lambda.GetCodeSigningConfigInput{CodeSigningConfigArn: &bad})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, notFound)
	_, err = c.GetFunctionCodeSigningConfig(ctx, &lambda.GetFunctionCodeSigningConfigInput{FunctionName: aws.String("csc-test-doesnotexist")})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, missingFn)
	_, err = c.ListFunctionsByCodeSigningConfig(ctx, &lambda.ListFunctionsByCodeSigningConfigInput{CodeSigningConfigArn: &bad})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, notFound)
	// Another account's config is one this account cannot find.
	other := strings.Replace(arn, testkit.Account, "210987654321", 1)
	_, err = c.GetCodeSigningConfig(ctx, &lambda.GetCodeSigningConfigInput{CodeSigningConfigArn: &other})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "The Lambda code signing configuration "+other+" can not be found.")
	// Image functions have no code signing.
	img := &lambda.CreateFunctionInput{FunctionName: aws.String("csc-image"), Role: aws.String(testkit.Role), PackageType: types.PackageTypeImage,
		Code: &types.FunctionCode{ImageUri: aws.String("123456789012.dkr.ecr.us-east-1.amazonaws.com/app:latest")}}
	if _, err := c.CreateFunction(ctx, img); err != nil {
		t.Fatalf("an Image function: %v", err)
	}
	const noImages = "Code signing is not supported for functions created with container images."
	_, err = c.GetFunctionCodeSigningConfig(ctx, &lambda.GetFunctionCodeSigningConfigInput{FunctionName: aws.String("csc-image")})
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, noImages)
	_, err = c.PutFunctionCodeSigningConfig(ctx, &lambda.PutFunctionCodeSigningConfigInput{FunctionName: aws.String("csc-image"), CodeSigningConfigArn: &arn})
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, noImages)
	img.FunctionName, img.CodeSigningConfigArn = aws.String("csc-image-2"), &arn
	_, err = c.CreateFunction(ctx, img)
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, noImages)

	in := testkit.CreateInput("csc-create-missing", testkit.HandlerZip(t, "x = 1\n"))
	in.CodeSigningConfigArn = &bad
	_, err = c.CreateFunction(ctx, in)
	testkit.APIErr(t, err, "CodeSigningConfigNotFoundException", 404, cscNotFound)

	// The model's limits: 1 to 20 signing profiles, a policy of Warn or Enforce.
	many := make([]string, 21)
	for i := range many {
		many[i] = signingProfile
	}
	_, err = c.CreateCodeSigningConfig(ctx, &lambda.CreateCodeSigningConfigInput{AllowedPublishers: &types.AllowedPublishers{SigningProfileVersionArns: many}}, testkit.SkipClientValidation)
	testkit.APIErrPrefix(t, err, "ValidationException", 400, "1 validation error detected: Value '[")
	if ae := testkit.APIErrPrefix(t, err, "ValidationException", 400, ""); ae != nil && !strings.Contains(ae.ErrorMessage(), "at 'allowedPublishers.signingProfileVersionArns' failed to satisfy constraint: Member must have length less than or equal to 20") {
		t.Errorf("21 profiles: %s", ae.ErrorMessage())
	}
	_, err = c.CreateCodeSigningConfig(ctx, &lambda.CreateCodeSigningConfigInput{AllowedPublishers: &types.AllowedPublishers{SigningProfileVersionArns: []string{}}}, testkit.SkipClientValidation)
	testkit.APIErrPrefix(t, err, "ValidationException", 400, "1 validation error detected: Value '[]' at 'allowedPublishers.signingProfileVersionArns' failed to satisfy constraint: Member must have length greater than or equal to 1")
	_, err = c.CreateCodeSigningConfig(ctx, &lambda.CreateCodeSigningConfigInput{AllowedPublishers: &types.AllowedPublishers{SigningProfileVersionArns: []string{signingProfile}},
		CodeSigningPolicies: &types.CodeSigningPolicies{UntrustedArtifactOnDeployment: "Block"}}, testkit.SkipClientValidation)
	testkit.APIErr(t, err, "ValidationException", 400, "1 validation error detected: Value 'Block' at 'codeSigningPolicies.untrustedArtifactOnDeployment' failed to satisfy constraint: Member must satisfy enum value set: [Warn, Enforce]")
}

// TestCodeSigningOnDeploy: lambdad cannot verify signatures, so under
// Enforce every deployment of code or layers to a function with the config
// is refused (and the function keeps its code), while Warn lets it through.
func TestCodeSigningOnDeploy(t *testing.T) {
	t.Parallel()
	_, c := servertest.NewEnv(t, servertest.FastTransition)
	ctx := context.Background()
	enforce := createCSC(t, c, types.CodeSigningPolicyEnforce).CodeSigningConfigArn
	warn := createCSC(t, c, types.CodeSigningPolicyWarn).CodeSigningConfigArn
	const refused = "Lambda cannot deploy the function. The function or layer might be signed using a signature that the client is not configured to accept."

	// CreateFunction with an Enforce config: refused, nothing created.
	in := testkit.CreateInput("enforced", testkit.HandlerZip(t, "def handler(e, c):\n    return 'v1'\n"))
	in.CodeSigningConfigArn = enforce
	_, err := c.CreateFunction(ctx, in)
	testkit.APIErr(t, err, "CodeVerificationFailedException", 400, refused)
	_, err = c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("enforced")})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Function not found: "+testkit.FnARN("enforced"))

	// With a Warn config: created, and the config is the function's.
	in.CodeSigningConfigArn = warn
	testkit.CreateActive(t, c, in)
	if fcsc, err := c.GetFunctionCodeSigningConfig(ctx, &lambda.GetFunctionCodeSigningConfigInput{FunctionName: aws.String("enforced")}); err != nil || aws.ToString(fcsc.CodeSigningConfigArn) != aws.ToString(warn) {
		t.Fatalf("CreateFunction's CodeSigningConfigArn: %v %+v", err, fcsc)
	}
	update := func(body string) error {
		_, err := c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("enforced"), ZipFile: testkit.HandlerZip(t, body)})
		return err
	}
	if err := update("def handler(e, c):\n    return 'v2'\n"); err != nil {
		t.Fatalf("UpdateFunctionCode under Warn: %v", err)
	}
	testkit.WaitUpdated(t, c, "enforced")
	if got := string(testkit.Call(t, c, "enforced", `{}`).Payload); got != `"v2"` {
		t.Errorf("after a Warn deployment: %s", got)
	}

	// Enforce: code and layers are refused; the running code stays.
	if _, err := c.PutFunctionCodeSigningConfig(ctx, &lambda.PutFunctionCodeSigningConfigInput{FunctionName: aws.String("enforced"), CodeSigningConfigArn: enforce}); err != nil {
		t.Fatal(err)
	}
	testkit.APIErr(t, update("def handler(e, c):\n    return 'v3'\n"), "CodeVerificationFailedException", 400, refused)
	lv := publishLayer(t, c, "unsigned", archivetest.Zip(t, archivetest.File{Name: "python/x.py", Body: "X = 1\n"}))
	_, err = c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("enforced"), Layers: []string{aws.ToString(lv.LayerVersionArn)}})
	testkit.APIErr(t, err, "CodeVerificationFailedException", 400, refused)
	// Other configuration changes are not deployments.
	if _, err := c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("enforced"), Description: aws.String("still fine")}); err != nil {
		t.Errorf("a configuration change under Enforce: %v", err)
	}
	testkit.WaitUpdated(t, c, "enforced")
	if got := string(testkit.Call(t, c, "enforced", `{}`).Payload); got != `"v2"` {
		t.Errorf("after refused deployments: %s", got)
	}

	// The config switched to Warn lets deployments through again.
	if _, err := c.UpdateCodeSigningConfig(ctx, &lambda.UpdateCodeSigningConfigInput{CodeSigningConfigArn: enforce,
		CodeSigningPolicies: &types.CodeSigningPolicies{UntrustedArtifactOnDeployment: types.CodeSigningPolicyWarn}}); err != nil {
		t.Fatal(err)
	}
	if err := update("def handler(e, c):\n    return 'v4'\n"); err != nil {
		t.Fatalf("after switching to Warn: %v", err)
	}
	testkit.WaitUpdated(t, c, "enforced")
	if got := string(testkit.Call(t, c, "enforced", `{}`).Payload); got != `"v4"` {
		t.Errorf("after switching to Warn: %s", got)
	}
}
