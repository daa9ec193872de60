package functions

import (
	"testing"

	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/spec"
)

func TestUpdateConfigurationValidation(t *testing.T) {
	f := newFixture(t)
	f.create("f")
	layer := func(v string) string { return "arn:aws:lambda:us-east-1:123456789012:layer:l:" + v }
	for range 2 {
		if _, err := f.s.PublishLayer(f.ctx, f.id, &spec.PublishLayerVersionRequest{LayerName: str("l"),
			Content: &spec.LayerVersionContentInput{ZipFile: testZip(t, "lib")}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name string
		in   spec.UpdateFunctionConfigurationRequest
		kind fault.Kind
		msg  string
	}{
		{"unknown runtime", spec.UpdateFunctionConfigurationRequest{Runtime: str("cobol")}, fault.InvalidParameter,
			"Value cobol at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [" + runtimeEnum + "] or be a valid ARN"},
		{"reserved variable", spec.UpdateFunctionConfigurationRequest{Environment: &spec.Environment{Variables: map[string]string{"_HANDLER": "x"}}}, fault.InvalidParameter,
			"Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: _HANDLER"},
		{"six layers", spec.UpdateFunctionConfigurationRequest{Layers: make([]string, 6)}, fault.InvalidParameter, "Cannot reference more than 5 layers."},
		{"missing layer", spec.UpdateFunctionConfigurationRequest{Layers: []string{layer("3")}}, fault.InvalidParameter, "Layer version " + layer("3") + " does not exist."},
		{"unversioned layer", spec.UpdateFunctionConfigurationRequest{Layers: []string{"arn:aws:lambda:us-east-1:123456789012:layer:l"}}, fault.InvalidParameter,
			"Layer version arn:aws:lambda:us-east-1:123456789012:layer:l does not exist."},
		{"two versions of a layer", spec.UpdateFunctionConfigurationRequest{Layers: []string{layer("1"), layer("2")}}, fault.InvalidParameter,
			"Two different versions of the same layer are not allowed to be referenced in the same function. " + layer("1") + " and " + layer("2") + " are versions of the same layer."},
		{"log level with text", spec.UpdateFunctionConfigurationRequest{LoggingConfig: &spec.LoggingConfig{SystemLogLevel: str("WARN")}}, fault.InvalidParameter,
			`LogLevel is not supported when LogFormat is set to "Text". Remove LogLevel from your request or change the LogFormat to "JSON" and try again.`},
		{"layer ok", spec.UpdateFunctionConfigurationRequest{Layers: []string{layer("2")}}, 0, ""},
	}
	for _, c := range cases {
		out, err := f.s.UpdateConfiguration(f.ctx, f.ref("f", ""), &c.in)
		if c.msg == "" {
			if err != nil || len(out.Layers) != 1 || *out.Layers[0].Arn != layer("2") {
				t.Errorf("%s: %v, %v", c.name, out, err)
			}
			f.settle()
			continue
		}
		wantFault(t, c.name, err, c.kind, "", c.msg)
	}
	// JSON logs take levels, with INFO as their default.
	out, err := f.s.UpdateConfiguration(f.ctx, f.ref("f", ""), &spec.UpdateFunctionConfigurationRequest{LoggingConfig: &spec.LoggingConfig{LogFormat: str("JSON"), SystemLogLevel: str("WARN")}})
	if err != nil || *out.LoggingConfig.SystemLogLevel != "WARN" || *out.LoggingConfig.ApplicationLogLevel != "INFO" || *out.LoggingConfig.LogGroup != "/aws/lambda/f" {
		t.Errorf("JSON logging: %+v, %v", out.LoggingConfig, err)
	}
}

func TestUpdateCodeRules(t *testing.T) {
	f := newFixture(t)
	f.create("f")
	ref := f.ref("f", "")
	oldSha := zipSha(createReq(t, "f").Code.ZipFile)
	newZip := testZip(t, "def handler(e, c): return 2")
	yes := true
	cases := []struct {
		name string
		in   spec.UpdateFunctionCodeRequest
		kind fault.Kind
		msg  string
	}{
		{"publish to", spec.UpdateFunctionCodeRequest{ZipFile: newZip, PublishTo: str("LATEST_PUBLISHED")}, fault.InvalidParameter, "PublishTo LATEST_PUBLISHED is only supported for functions that use a capacity provider."},
		{"no code", spec.UpdateFunctionCodeRequest{}, fault.InvalidParameter, "Please provide a source for function code."},
		{"image for a zip function", spec.UpdateFunctionCodeRequest{ImageUri: str("img")}, fault.InvalidParameter,
			"Please don't provide ImageUri when updating a function with packageType Zip."},
		{"not a zip", spec.UpdateFunctionCodeRequest{ZipFile: []byte("text")}, fault.InvalidParameter,
			"Could not unzip uploaded file. Please check your file, then try to upload again."},
		{"bucket without key", spec.UpdateFunctionCodeRequest{S3Bucket: str("b")}, fault.InvalidParameter,
			"Please provide a source for function code: S3Bucket and S3Key are both required."},
		{"no S3 endpoint", spec.UpdateFunctionCodeRequest{S3Bucket: str("b"), S3Key: str("k")}, fault.InvalidParameter,
			"Code in S3 (bucket b) cannot be fetched: lambdad has no S3 endpoint. Start it with --s3-endpoint or LAMBDAD_S3_ENDPOINT."},
		{"hot reload, relative", spec.UpdateFunctionCodeRequest{S3Bucket: str(HotReloadBucket), S3Key: str("src")}, fault.InvalidParameter,
			"When using hot reloading, the S3Key must be an absolute path to a local directory."},
		{"hot reload off", spec.UpdateFunctionCodeRequest{S3Bucket: str(HotReloadBucket), S3Key: str(t.TempDir())}, fault.InvalidParameter,
			"Hot reloading is turned off: lambdad runs with --hot-reload-roots none."},
		{"stale revision", spec.UpdateFunctionCodeRequest{ZipFile: newZip, RevisionId: str("stale")}, fault.PreconditionFailed,
			"The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id"},
	}
	for _, c := range cases {
		_, err := f.s.UpdateCode(f.ctx, ref, &c.in, nil)
		wantFault(t, c.name, err, c.kind, "", c.msg)
	}
	// A dry run checks and changes nothing, even while an update runs.
	if _, err := f.s.UpdateConfiguration(f.ctx, ref, &spec.UpdateFunctionConfigurationRequest{Description: str("busy")}); err != nil {
		t.Fatal(err)
	}
	dry, err := f.s.UpdateCode(f.ctx, ref, &spec.UpdateFunctionCodeRequest{ZipFile: newZip, DryRun: &yes}, nil)
	if err != nil || *dry.CodeSha256 != zipSha(newZip) {
		t.Fatalf("dry run during an update: %v, %v", dry, err)
	}
	if got := f.codeSha("f"); got != oldSha {
		t.Errorf("a dry run changed the code: %s", got)
	}
	_, err = f.s.UpdateCode(f.ctx, ref, &spec.UpdateFunctionCodeRequest{ZipFile: newZip}, nil)
	wantFault(t, "update code while updating", err, fault.Conflict, "Function",
		"The operation cannot be performed at this time. An update is in progress for resource: "+arnPrefix+"f")
	f.settle()
	// With Publish, the answer is the new version, Pending.
	v, err := f.s.UpdateCode(f.ctx, ref, &spec.UpdateFunctionCodeRequest{ZipFile: newZip, Publish: &yes}, nil)
	if err != nil || *v.Version != "1" || *v.State != "Pending" || *v.CodeSha256 != zipSha(newZip) {
		t.Fatalf("update code with publish: %+v, %v", v, err)
	}
	if got := f.codeSha("f"); got != zipSha(newZip) {
		t.Errorf("$LATEST's code is %s, want the new zip's", got)
	}
}

func (f *fixture) codeSha(name string) string {
	c, err := f.s.GetConfiguration(f.ctx, f.ref(name, ""))
	if err != nil {
		return err.Error()
	}
	return *c.CodeSha256
}
