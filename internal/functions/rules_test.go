package functions

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lambdad/lambdad/internal/archive/archivetest"
	"github.com/lambdad/lambdad/internal/awsproto"
	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/spec"
)

// The tests in this file were end-to-end tests in internal/server: each
// checks the control plane's answer (fault kind and words) and what a
// client reads once the API renders it (status, AWS error code, which the
// SDK turns into its typed error, Type and message). The model's
// constraints, checked before the control plane is called, are tested in
// awsproto's tests of the same names.

// wireReply is an error as the API writes it.
type wireReply struct {
	status         int
	code           string
	message, upper string // the body's "message" and "Message"
	typ            string
}

func onTheWire(err error) wireReply {
	w := httptest.NewRecorder()
	awsproto.WriteError(w, slog.New(slog.DiscardHandler), err)
	var body struct {
		Lower string `json:"message"`
		Upper string `json:"Message"`
		Type  string
	}
	json.Unmarshal(w.Body.Bytes(), &body)
	return wireReply{w.Code, w.Header().Get("X-Amzn-ErrorType"), body.Lower, body.Upper, body.Type}
}

// wantWire checks err's kind, then its rendering: status, code, Type User
// and the message, exact or (prefix) its start. It returns the message.
func wantWire(t *testing.T, what string, err error, kind fault.Kind, status int, code, msg string, prefix bool) string {
	t.Helper()
	if e, ok := fault.As(err); !ok || e.Kind != kind {
		t.Errorf("%s: err = %v, want a %s fault", what, err, kind)
		return ""
	}
	r := onTheWire(err)
	if r.status != status || r.code != code || r.typ != "User" {
		t.Errorf("%s: %d %s (Type %q), want %d %s (Type User)", what, r.status, r.code, r.typ, status, code)
	}
	if prefix && !strings.HasPrefix(r.message, msg) || !prefix && r.message != msg {
		t.Errorf("%s: message\n  %q\nwant\n  %q", what, r.message, msg)
	}
	return r.message
}

// wantNotFound checks a function's 404 as the SDK reads it: its typed
// ResourceNotFoundException has Type User and the message in Message.
func wantNotFound(t *testing.T, what string, err error, msg string) {
	t.Helper()
	wantWire(t, what, err, fault.NotFound, 404, "ResourceNotFoundException", msg, false)
	if e, ok := fault.As(err); ok && e.Resource != "Function" {
		t.Errorf("%s: not found resource %q, want Function", what, e.Resource)
	}
	if r := onTheWire(err); r.upper != msg {
		t.Errorf("%s: Message %q, want %q", what, r.upper, msg)
	}
}

// TestCreateFunctionValidation holds CreateFunction's control-plane rules:
// each refusal is AWS's exact answer and creates nothing, not even in the
// account's usage.
func TestCreateFunctionValidation(t *testing.T) {
	f := newFixture(t)
	zip := archivetest.Zip(t, archivetest.File{Name: "handler.py", Body: "a\n"})
	invalidParam, validation := "InvalidParameterValueException", "ValidationException"
	cases := []struct {
		name   string
		edit   func(*spec.CreateFunctionRequest)
		kind   fault.Kind
		code   string
		msg    string // exact, or a prefix when prefix is set
		prefix bool
	}{
		{"unknown runtime", func(in *spec.CreateFunctionRequest) { in.Runtime = str("non-existent-runtime") }, fault.InvalidParameter, invalidParam,
			"Value non-existent-runtime at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [", true},
		{"runtime is case-sensitive", func(in *spec.CreateFunctionRequest) { in.Runtime = str("PYTHON3.9") }, fault.InvalidParameter, invalidParam,
			"Value PYTHON3.9 at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [", true},
		{"deprecated runtime", func(in *spec.CreateFunctionRequest) { in.Runtime = str("python3.7") }, fault.InvalidParameter, invalidParam,
			"The runtime parameter of python3.7 is no longer supported for creating or updating AWS Lambda functions. We recommend you use a supported runtime while creating or updating functions.", false},
		{"environment over 4KB", func(in *spec.CreateFunctionRequest) {
			// {"LARGE_VAR":"…"} is 16 bytes plus the value: 4097 in all.
			in.Environment = &spec.Environment{Variables: map[string]string{"LARGE_VAR": strings.Repeat("x", 4081)}}
		}, fault.InvalidParameter, invalidParam,
			`Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: {"LARGE_VAR":"` + strings.Repeat("x", 4081) + `"}`, false},
		{"not a zip", func(in *spec.CreateFunctionRequest) { in.Code.ZipFile = []byte("this is not a zip file") }, fault.InvalidParameter, invalidParam,
			"Could not unzip uploaded file. Please check your file, then try to upload again.", false},
		{"zip escaping its root", func(in *spec.CreateFunctionRequest) {
			in.Code.ZipFile = archivetest.Zip(t, archivetest.File{Name: "handler.py", Body: "a"}, archivetest.File{Name: "../evil.py", Body: "b"})
		}, fault.InvalidParameter, invalidParam,
			"Could not unzip uploaded file. Please check your file, then try to upload again.", true},
		// The model allows 140 characters (an ARN); a name has 64 at most,
		// which AWS words as a constraint but answers with another type.
		{"name longer than 64", func(in *spec.CreateFunctionRequest) { in.FunctionName = str(strings.Repeat("a", 65)) }, fault.InvalidParameter, invalidParam,
			"1 validation error detected: Value '" + strings.Repeat("a", 65) + "' at 'functionName' failed to satisfy constraint: Member must have length less than or equal to 64", false},
		// The model refuses it first (awsproto.TestCreateFunctionValidation);
		// the control plane answers the same.
		{"name with a bad character", func(in *spec.CreateFunctionRequest) { in.FunctionName = str("my-function!") }, fault.Invalid, validation,
			"1 validation error detected: Value 'my-function!' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: ", true},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			name := "fn-invalid-" + string(rune('a'+i))
			in := createReq(t, name)
			in.Code.ZipFile = zip
			c.edit(in)
			_, err := f.s.Create(f.ctx, f.id, in, nil)
			wantWire(t, c.name, err, c.kind, 400, c.code, c.msg, c.prefix)
			// Nothing was created.
			_, err = f.s.GetConfiguration(f.ctx, f.ref(name, ""))
			if !fault.Is(err, fault.NotFound) {
				t.Errorf("after a refused create, GetFunction: %v, want not found", err)
			}
		})
	}

	// The runtime message lists the runtimes and allows an ARN; it is not
	// worded as a validation error on the wire.
	in := createReq(t, "fn-runtime-msg")
	in.Runtime = str("non-existent-runtime")
	_, err := f.s.Create(f.ctx, f.id, in, nil)
	msg := wantWire(t, "runtime message", err, fault.InvalidParameter, 400, invalidParam, "", true)
	if !strings.HasSuffix(msg, "] or be a valid ARN") || !strings.Contains(msg, "python3.12") || !strings.Contains(msg, "provided.al2023") || strings.Contains(msg, "validation error detected") {
		t.Errorf("unknown runtime message = %q", msg)
	}

	// The environment limit is inclusive: exactly 4096 bytes is fine.
	in = createReq(t, "fn-env-4096")
	in.Code.ZipFile = zip
	in.Environment = &spec.Environment{Variables: map[string]string{"LARGE_VAR": strings.Repeat("x", 4080)}}
	if _, err := f.s.Create(f.ctx, f.id, in, nil); err != nil {
		t.Errorf("environment of exactly 4096 bytes: %v", err)
	}

	// Nothing refused above counts in the account.
	acct, err := f.s.AccountSettings(f.ctx, f.id)
	if err != nil {
		t.Fatal(err)
	}
	if got := *acct.AccountUsage.FunctionCount; got != 1 {
		t.Errorf("FunctionCount = %d after refused creates, want 1", got)
	}
	if got := *acct.AccountUsage.TotalCodeSize; got != int64(len(zip)) {
		t.Errorf("TotalCodeSize = %d, want %d", got, len(zip))
	}
}

// TestEnvironmentVariableNames: the variables Lambda sets itself cannot be
// set. (Keys the model's pattern refuses never reach the control plane:
// awsproto.TestEnvironmentVariableNames.)
func TestEnvironmentVariableNames(t *testing.T) {
	f := newFixture(t)
	in := createReq(t, "fn-env-reserved")
	in.Environment = &spec.Environment{Variables: map[string]string{"AWS_REGION": "x"}}
	_, err := f.s.Create(f.ctx, f.id, in, nil)
	wantWire(t, "AWS_REGION", err, fault.InvalidParameter, 400, "InvalidParameterValueException",
		"Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: AWS_REGION", false)
}

// get and del resolve a function name as the API does for GetFunction
// (and GetFunctionConfiguration) and DeleteFunction.
func (f *fixture) get(name, qualifier string) (*Function, error) {
	var q *string
	if qualifier != "" {
		q = &qualifier
	}
	ref, err := ParseRef(f.id, name, q)
	if err != nil {
		return nil, err
	}
	return f.s.Get(f.ctx, ref)
}

func (f *fixture) getConfiguration(name, qualifier string) (*spec.FunctionConfiguration, error) {
	var q *string
	if qualifier != "" {
		q = &qualifier
	}
	ref, err := ParseRef(f.id, name, q)
	if err != nil {
		return nil, err
	}
	return f.s.GetConfiguration(f.ctx, ref)
}

func (f *fixture) del(name string) error {
	ref, err := ParseRef(f.id, name, nil)
	if err != nil {
		return err
	}
	return f.s.Delete(f.ctx, ref)
}

// TestNameForms: every form of a function's name (plain, partial ARN, ARN,
// with or without a qualifier in it or beside it) reaches the same
// function, and the ones that cannot get AWS's answer.
func TestNameForms(t *testing.T) {
	f := newFixture(t)
	f.create("fn-names")
	f.publish("fn-names")
	arn := arnPrefix + "fn-names"
	ok := []struct {
		name, qualifier string
		wantARN         string
		wantVersion     string
	}{
		{"fn-names", "", arn, "$LATEST"},
		{arn, "", arn, "$LATEST"},
		{f.id.Account + ":function:fn-names", "", arn, "$LATEST"},
		{"fn-names:1", "", arn + ":1", "1"},
		{"fn-names:$LATEST", "", arn + ":$LATEST", "$LATEST"},
		{arn + ":1", "", arn + ":1", "1"},
		{f.id.Account + ":function:fn-names:1", "", arn + ":1", "1"},
		{"fn-names", "1", arn + ":1", "1"},
		{"fn-names", "$LATEST", arn + ":$LATEST", "$LATEST"},
		{arn + ":1", "1", arn + ":1", "1"},
	}
	for _, c := range ok {
		out, err := f.get(c.name, c.qualifier)
		if err != nil {
			t.Errorf("GetFunction(%q, %q): %v", c.name, c.qualifier, err)
			continue
		}
		if *out.Config.FunctionArn != c.wantARN || *out.Config.Version != c.wantVersion {
			t.Errorf("GetFunction(%q, %q) = %s version %s, want %s version %s", c.name, c.qualifier,
				*out.Config.FunctionArn, *out.Config.Version, c.wantARN, c.wantVersion)
		}
	}

	// A qualifier in the name must agree with the Qualifier parameter.
	const mismatch = "The derived qualifier from the function name does not match the specified qualifier."
	_, err := f.get("fn-names:1", "2")
	wantWire(t, "GetFunction qualifier mismatch", err, fault.InvalidParameter, 400, "InvalidParameterValueException", mismatch, false)
	_, err = f.getConfiguration(arn+":1", "$LATEST")
	wantWire(t, "GetFunctionConfiguration qualifier mismatch", err, fault.InvalidParameter, 400, "InvalidParameterValueException", mismatch, false)

	// Missing versions and other regions.
	_, err = f.get("fn-names", "1221")
	wantNotFound(t, "missing version", err, "Function not found: "+arn+":1221")
	const otherRegion = "Functions from 'us-west-2' are not reachable in this region ('us-east-1')"
	_, err = f.get("arn:aws:lambda:us-west-2:123456789012:function:fn-names", "")
	wantWire(t, "GetFunction in another region", err, fault.NotFound, 404, "ResourceNotFoundException", otherRegion, false)
	err = f.del("arn:aws:lambda:us-west-2:123456789012:function:fn-names")
	wantWire(t, "DeleteFunction in another region", err, fault.NotFound, 404, "ResourceNotFoundException", otherRegion, false)

	// A 65-character name is a legal reference on Get: it is simply not found.
	long := "a123456789b123456789c123456789d123456789e123456789f123456789g1234"
	_, err = f.get(long, "")
	wantNotFound(t, "65 characters", err, "Function not found: "+arnPrefix+long)

	// Malformed names are ValidationExceptions naming the pattern. (The
	// model refuses them first: awsproto.TestNameForms.)
	for _, bad := range []string{"my-function!", "*", "fn-names:1:2", "arn:aws:lambda::123456789012:function:x"} {
		_, err = f.get(bad, "")
		wantWire(t, bad, err, fault.Invalid, 400, "ValidationException",
			"1 validation error detected: Value '"+bad+"' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: ", true)
	}
}

// TestNameFormsAWSQuirks holds the odd references AWS answers with 404
// rather than a validation error.
func TestNameFormsAWSQuirks(t *testing.T) {
	f := newFixture(t)
	f.create("fn-quirks")
	// "$latest" (lower case) is just a qualifier that does not exist.
	_, err := f.get("fn-quirks", "$latest")
	wantNotFound(t, "GetFunction $latest", err, "Function not found: "+arnPrefix+"fn-quirks:$latest")
	_, err = f.getConfiguration("fn-quirks", "$latest")
	wantNotFound(t, "GetFunctionConfiguration $latest", err, "Function not found: "+arnPrefix+"fn-quirks:$latest")
	// The incomplete ARN "...:function" names a function called "function".
	_, err = f.get("arn:aws:lambda:us-east-1:123456789012:function", "")
	wantNotFound(t, "ARN ending in :function", err, "Function not found: "+arnPrefix+"function")
}

func TestLoggingConfigRules(t *testing.T) {
	f := newFixture(t)

	// JSON alone is filled in with INFO levels.
	out := f.create("fn-log-json", func(in *spec.CreateFunctionRequest) {
		in.LoggingConfig = &spec.LoggingConfig{LogFormat: str("JSON")}
	})
	lc := out.LoggingConfig
	if deref(lc.LogFormat) != "JSON" || deref(lc.ApplicationLogLevel) != "INFO" || deref(lc.SystemLogLevel) != "INFO" || deref(lc.LogGroup) != "/aws/lambda/fn-log-json" {
		t.Errorf("JSON LoggingConfig = %s", jsonOf(lc))
	}

	// A LogGroup alone keeps Text.
	out = f.create("fn-log-group", func(in *spec.CreateFunctionRequest) {
		in.LoggingConfig = &spec.LoggingConfig{LogGroup: str("custom-group")}
	})
	if lc := out.LoggingConfig; deref(lc.LogFormat) != "Text" || deref(lc.LogGroup) != "custom-group" || lc.ApplicationLogLevel != nil {
		t.Errorf("LogGroup-only LoggingConfig = %s", jsonOf(lc))
	}

	// Levels with Text are refused and nothing is created.
	in := createReq(t, "fn-log-text-level")
	in.LoggingConfig = &spec.LoggingConfig{LogFormat: str("Text"), ApplicationLogLevel: str("DEBUG")}
	_, err := f.s.Create(f.ctx, f.id, in, nil)
	wantWire(t, "levels with Text", err, fault.InvalidParameter, 400, "InvalidParameterValueException",
		`LogLevel is not supported when LogFormat is set to "Text". Remove LogLevel from your request or change the LogFormat to "JSON" and try again.`, false)
	_, err = f.get("fn-log-text-level", "")
	wantNotFound(t, "after the refused create", err, "Function not found: "+arnPrefix+"fn-log-text-level")

	// Switching back to Text drops both levels.
	up, err := f.s.UpdateConfiguration(f.ctx, f.ref("fn-log-json", ""), &spec.UpdateFunctionConfigurationRequest{
		FunctionName:  str("fn-log-json"),
		LoggingConfig: &spec.LoggingConfig{LogFormat: str("Text")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if lc := up.LoggingConfig; deref(lc.LogFormat) != "Text" || lc.ApplicationLogLevel != nil || lc.SystemLogLevel != nil {
		t.Errorf("back to Text: LoggingConfig = %s, want no levels", jsonOf(lc))
	}
}

func jsonOf(v any) string {
	raw, _ := json.Marshal(v)
	return string(raw)
}

// TestEmptyEnvironment: an empty Environment comes back with its empty
// Variables, on the wire too (the SDK then reads an empty map, not nil).
func TestEmptyEnvironment(t *testing.T) {
	f := newFixture(t)
	out := f.create("fn-empty-env", func(in *spec.CreateFunctionRequest) { in.Environment = &spec.Environment{} })
	if out.Environment == nil || out.Environment.Variables == nil || len(out.Environment.Variables) != 0 {
		t.Errorf("empty Environment came back as %#v, want {\"Variables\":{}}", out.Environment)
	}
	if body := jsonOf(out.JSONBody()); !strings.Contains(body, `"Environment":{"Variables":{}}`) {
		t.Errorf("on the wire: %s, want \"Environment\":{\"Variables\":{}}", body)
	}
}

func TestCreateFunctionTagLimit(t *testing.T) {
	f := newFixture(t)
	tags := map[string]string{}
	for i := range 51 {
		tags[fmt.Sprintf("key%02d", i)] = "v"
	}
	in := createReq(t, "fn-too-many-tags")
	in.Tags = tags
	_, err := f.s.Create(f.ctx, f.id, in, nil)
	wantWire(t, "51 tags", err, fault.InvalidParameter, 400, "InvalidParameterValueException", "Number of tags exceeds resource tag limit.", false)
	if _, err := f.get("fn-too-many-tags", ""); !fault.Is(err, fault.NotFound) {
		t.Errorf("function with 51 tags was created: %v", err)
	}
	delete(tags, "key50")
	f.create("fn-too-many-tags", func(in *spec.CreateFunctionRequest) { in.Tags = tags }) // 50 is fine
}

func TestFunctionLayerErrors(t *testing.T) {
	f := newFixture(t)
	zip := archivetest.Zip(t, archivetest.File{Name: "x.txt", Body: "x"})
	arn := "arn:aws:lambda:us-east-1:" + f.id.Account + ":layer:dup"
	for range 2 {
		if _, err := f.s.PublishLayer(f.ctx, f.id, &spec.PublishLayerVersionRequest{
			LayerName: str("dup"), Content: &spec.LayerVersionContentInput{ZipFile: zip}, Description: str("layer dup"),
		}, nil); err != nil {
			t.Fatal(err)
		}
	}
	create := func(layers ...string) error {
		in := createReq(t, "layer-errors")
		in.Layers = layers
		_, err := f.s.Create(f.ctx, f.id, in, nil)
		return err
	}
	const invalid = "InvalidParameterValueException"
	wantWire(t, "two versions", create(arn+":1", arn+":2"), fault.InvalidParameter, 400, invalid,
		fmt.Sprintf("Two different versions of the same layer are not allowed to be referenced in the same function. %s:1 and %s:2 are versions of the same layer.", arn, arn), false)
	wantWire(t, "missing version", create(arn+":9"), fault.InvalidParameter, 400, invalid, "Layer version "+arn+":9 does not exist.", false)
	wantWire(t, "six layers", create(arn+":1", arn+":1", arn+":1", arn+":1", arn+":1", arn+":1"), fault.InvalidParameter, 400, invalid, "Cannot reference more than 5 layers.", false)

	f.create("layer-errors")
	update := func(layers ...string) (*spec.FunctionConfiguration, error) {
		return f.s.UpdateConfiguration(f.ctx, f.ref("layer-errors", ""), &spec.UpdateFunctionConfigurationRequest{FunctionName: str("layer-errors"), Layers: layers})
	}
	_, err := update(arn + ":7")
	wantWire(t, "update with a missing version", err, fault.InvalidParameter, 400, invalid, "Layer version "+arn+":7 does not exist.", false)
	up, err := update(arn + ":2")
	if err != nil || len(up.Layers) != 1 || *up.Layers[0].CodeSize != int64(len(zip)) {
		t.Fatalf("UpdateFunctionConfiguration with a layer: %v", err)
	}
}
