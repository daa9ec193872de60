package functions

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/spec"
)

const arnPrefix = "arn:aws:lambda:us-east-1:123456789012:function:"

func TestCreateValidation(t *testing.T) {
	long := strings.Repeat("a", 65)
	bigEnv := map[string]string{"K": strings.Repeat("x", 4100)}
	bigRaw, _ := json.Marshal(bigEnv)
	tags := map[string]string{}
	for i := 0; i <= maxTags; i++ {
		tags[fmt.Sprint("k", i)] = "v"
	}
	layer := "arn:aws:lambda:us-east-1:123456789012:layer:l:1"
	cases := []struct {
		name     string
		edit     func(*spec.CreateFunctionRequest)
		kind     fault.Kind
		resource string
		msg      string
	}{
		{"name over 64", func(in *spec.CreateFunctionRequest) { in.FunctionName = str(long) }, fault.InvalidParameter, "",
			"Value '" + long + "' at 'functionName' failed to satisfy constraint: Member must have length less than or equal to 64"},
		{"name not a name", func(in *spec.CreateFunctionRequest) { in.FunctionName = str("my fn!") }, fault.Invalid, "",
			faultText(mustFault(invalidName("my fn!")))},
		{"qualified name", func(in *spec.CreateFunctionRequest) { in.FunctionName = str("f:1") }, fault.InvalidParameter, "",
			"Unsupported function name format: f:1. The function name cannot include a qualifier."},
		{"code signing", func(in *spec.CreateFunctionRequest) { in.CodeSigningConfigArn = str("arn:x") }, fault.CodeSigningConfigNotFound, "",
			"The code signing configuration cannot be found. Check that the provided configuration is not deleted: arn:x."},
		{"no runtime", func(in *spec.CreateFunctionRequest) { in.Runtime = nil }, fault.InvalidParameter, "",
			"Runtime and Handler are mandatory parameters for functions created with deployment packages."},
		{"unknown runtime", func(in *spec.CreateFunctionRequest) { in.Runtime = str("cobol") }, fault.InvalidParameter, "",
			"Value cobol at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [" + runtimeEnum + "] or be a valid ARN"},
		{"blocked runtime", func(in *spec.CreateFunctionRequest) { in.Runtime = str("python2.7") }, fault.InvalidParameter, "",
			"The runtime parameter of python2.7 is no longer supported for creating or updating AWS Lambda functions. We recommend you use a supported runtime while creating or updating functions."},
		{"zip with image", func(in *spec.CreateFunctionRequest) { in.Code.ImageUri = str("img") }, fault.InvalidParameter, "",
			"Please don't provide ImageUri when updating a function with packageType Zip."},
		{"image without uri", func(in *spec.CreateFunctionRequest) { in.PackageType = str("Image") }, fault.InvalidParameter, "",
			"Please provide ImageUri when creating a function with packageType Image."},
		{"reserved variable", func(in *spec.CreateFunctionRequest) {
			in.Environment = &spec.Environment{Variables: map[string]string{"AWS_REGION": "x", "OK": "y"}}
		}, fault.InvalidParameter, "",
			"Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: AWS_REGION"},
		{"variables over 4 KB", func(in *spec.CreateFunctionRequest) { in.Environment = &spec.Environment{Variables: bigEnv} }, fault.InvalidParameter, "",
			"Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: " + string(bigRaw)},
		{"six layers", func(in *spec.CreateFunctionRequest) { in.Layers = make([]string, 6) }, fault.InvalidParameter, "",
			"Cannot reference more than 5 layers."},
		{"missing layer", func(in *spec.CreateFunctionRequest) { in.Layers = []string{layer} }, fault.InvalidParameter, "",
			"Layer version " + layer + " does not exist."},
		{"too many tags", func(in *spec.CreateFunctionRequest) { in.Tags = tags }, fault.InvalidParameter, "",
			"Number of tags exceeds resource tag limit."},
		{"log level with text", func(in *spec.CreateFunctionRequest) {
			in.LoggingConfig = &spec.LoggingConfig{ApplicationLogLevel: str("DEBUG")}
		}, fault.InvalidParameter, "",
			`LogLevel is not supported when LogFormat is set to "Text". Remove LogLevel from your request or change the LogFormat to "JSON" and try again.`},
		{"no code", func(in *spec.CreateFunctionRequest) { in.Code = &spec.FunctionCode{} }, fault.InvalidParameter, "",
			"Please provide a source for function code."},
		{"not a zip", func(in *spec.CreateFunctionRequest) { in.Code.ZipFile = []byte("plain text") }, fault.InvalidParameter, "",
			"Could not unzip uploaded file. Please check your file, then try to upload again."},
		{"duplicate", func(in *spec.CreateFunctionRequest) { in.FunctionName = str("dup") }, fault.Conflict, "Function",
			"Function already exist: dup"},
	}
	f := newFixture(t)
	f.create("dup")
	for _, c := range cases {
		in := createReq(t, "f")
		c.edit(in)
		_, err := f.s.Create(f.ctx, f.id, in, nil)
		wantFault(t, c.name, err, c.kind, c.resource, c.msg)
	}
	// None of the refused requests left a function behind.
	l, err := f.s.List(f.ctx, f.id, nil, nil, false)
	if err != nil || len(l.Functions) != 1 {
		t.Fatalf("functions after refused creates: %v, %v", l, err)
	}
}

func mustFault(err error) *fault.Error {
	e, _ := fault.As(err)
	return e
}

// TestStatesAndRevisions walks a function through its transitions: each
// step runs at the fixture's clock, which only settle moves.
func TestStatesAndRevisions(t *testing.T) {
	f := newFixture(t)
	ref := f.ref("f", "")
	var rev, inProgress string
	desc := func(d string, revision *string) error {
		c, err := f.s.UpdateConfiguration(f.ctx, ref, &spec.UpdateFunctionConfigurationRequest{Description: str(d), RevisionId: revision})
		if err == nil {
			inProgress = *c.RevisionId
			if *c.LastUpdateStatus != "InProgress" {
				t.Errorf("an update answers LastUpdateStatus %s, want InProgress", *c.LastUpdateStatus)
			}
		}
		return err
	}
	state := func(want, status string) func() error {
		return func() error {
			c, err := f.s.GetConfiguration(f.ctx, ref)
			if err != nil {
				return err
			}
			if got := *c.State + "/" + deref(c.LastUpdateStatus); got != want+"/"+status {
				return fmt.Errorf("state %s, want %s/%s", got, want, status)
			}
			rev = *c.RevisionId
			return nil
		}
	}
	pending := "The operation cannot be performed at this time. The function is currently in the following state: Pending"
	updating := "The operation cannot be performed at this time. An update is in progress for resource: " + arnPrefix + "f"
	mismatch := "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id"
	steps := []struct {
		name     string
		do       func() error
		kind     fault.Kind // with msg "": the step succeeds
		resource string
		msg      string
	}{
		{"create", func() error { _, err := f.s.Create(f.ctx, f.id, createReq(t, "f"), nil); return err }, 0, "", ""},
		{"pending after create", state("Pending", ""), 0, "", ""},
		{"update while pending", func() error { return desc("x", nil) }, fault.Conflict, "Function", pending},
		{"publish while pending", func() error { _, err := f.s.Publish(f.ctx, ref, nil, nil, nil); return err }, fault.Conflict, "Function", pending},
		{"tags while pending", func() error { return f.s.Tag(f.ctx, f.id, arnPrefix+"f", map[string]string{"a": "b"}) }, 0, "", ""},
		{"settle", func() error { f.settle(); return nil }, 0, "", ""},
		{"active", state("Active", "Successful"), 0, "", ""},
		{"stale revision", func() error { return desc("x", str("stale")) }, fault.PreconditionFailed, "", mismatch},
		{"current revision", func() error { return desc("x", &rev) }, 0, "", ""},
		{"in progress", state("Active", "InProgress"), 0, "", ""},
		{"update while updating", func() error { return desc("y", nil) }, fault.Conflict, "Function", updating},
		{"settle again", func() error { f.settle(); return nil }, 0, "", ""},
		{"successful", state("Active", "Successful"), 0, "", ""},
		// The RevisionId changes again when the update completes.
		{"revision of the update", func() error { return desc("y", &inProgress) }, fault.PreconditionFailed, "", mismatch},
		{"update a version", func() error {
			_, err := f.s.UpdateConfiguration(f.ctx, f.ref("f", "1"), &spec.UpdateFunctionConfigurationRequest{})
			return err
		}, fault.InvalidParameter, "", "Updating a published version is not supported: " + arnPrefix + "f:1. Publish a new version instead."},
		{"publish stale revision", func() error { _, err := f.s.Publish(f.ctx, ref, nil, nil, str("stale")); return err }, fault.PreconditionFailed, "", mismatch},
		{"publish other code", func() error { _, err := f.s.Publish(f.ctx, ref, str("abc"), nil, nil); return err }, fault.InvalidParameter, "",
			"CodeSHA256 (abc) is different from current CodeSHA256 in $LATEST (" + zipSha(createReq(t, "f").Code.ZipFile) + "). Please try again with the CodeSHA256 in $LATEST."},
		{"publish", func() error { return f.wantPublished("f", "1") }, 0, "", ""},
		{"publish unchanged", func() error { return f.wantPublished("f", "1") }, 0, "", ""},
		{"delete $LATEST", func() error { return f.s.Delete(f.ctx, f.ref("f", Latest)) }, fault.InvalidParameter, "",
			"$LATEST version cannot be deleted without deleting the function."},
		{"delete through an alias", func() error { return f.s.Delete(f.ctx, f.ref("f", "live")) }, fault.InvalidParameter, "",
			"Deletion of aliases is not currently supported."},
		{"delete a deleted version", func() error { return f.s.Delete(f.ctx, f.ref("f", "7")) }, 0, "", ""},
	}
	for _, s := range steps {
		err := s.do()
		if s.msg == "" {
			if err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			continue
		}
		wantFault(t, s.name, err, s.kind, s.resource, s.msg)
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// zipSha is the CodeSha256 of a zip: zips made by testZip are the same
// bytes every time, as archive/zip writes no clock.
func zipSha(zip []byte) string {
	sum := sha256.Sum256(zip)
	return base64.StdEncoding.EncodeToString(sum[:])
}

func (f *fixture) wantPublished(name, version string) error {
	v, err := f.s.Publish(f.ctx, f.ref(name, ""), nil, nil, nil)
	if err != nil {
		return err
	}
	if *v.Version != version || *v.FunctionArn != arnPrefix+name+":"+version {
		return fmt.Errorf("published %s (%s), want %s", *v.Version, *v.FunctionArn, version)
	}
	return nil
}

func TestAliasRules(t *testing.T) {
	f := newFixture(t)
	f.create("f")
	f.publish("f")
	if _, err := f.s.UpdateConfiguration(f.ctx, f.ref("f", ""), &spec.UpdateFunctionConfigurationRequest{Description: str("two")}); err != nil {
		t.Fatal(err)
	}
	f.settle()
	f.publish("f")
	fn := f.ref("f", "")
	weights := func(w map[string]float64) *spec.AliasRoutingConfiguration {
		return &spec.AliasRoutingConfiguration{AdditionalVersionWeights: w}
	}
	creates := []struct {
		name, version string
		routing       *spec.AliasRoutingConfiguration
		fn            Ref
		kind          fault.Kind
		resource, msg string
	}{
		{"two weights", "1", weights(map[string]float64{"2": 0.1, "3": 0.1}), fn, fault.InvalidParameter, "",
			"Number of items in AdditionalVersionWeights cannot be greater than 1"},
		{"weights on $LATEST", Latest, weights(map[string]float64{"2": 0.1}), fn, fault.InvalidParameter, "",
			"$LATEST is not supported for an alias pointing to more than 1 version"},
		{"missing version", "9", nil, fn, fault.NotFound, "Function", "Function not found: " + arnPrefix + "f:9"},
		{"missing weighted version", "1", weights(map[string]float64{"7": 0.5}), fn, fault.NotFound, "Function", "Function not found: " + arnPrefix + "f:7"},
		{"weight on its own version", "1", weights(map[string]float64{"1": 0.5}), fn, fault.InvalidParameter, "",
			"Invalid function version 1. Function version 1 is already included in routing configuration."},
		{"missing function", "1", nil, f.ref("nofn", ""), fault.NotFound, "Function", "Function not found: " + arnPrefix + "nofn"},
		{"live", "1", weights(map[string]float64{"2": 0.25}), fn, 0, "", ""},
		{"live again", "2", nil, fn, fault.Conflict, "Alias", "Alias already exists: " + arnPrefix + "f:live"},
	}
	for _, c := range creates {
		name := "live"
		_, err := f.s.CreateAlias(f.ctx, c.fn, &spec.CreateAliasRequest{Name: &name, FunctionVersion: str(c.version), RoutingConfig: c.routing})
		if c.msg == "" {
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			continue
		}
		wantFault(t, c.name, err, c.kind, c.resource, c.msg)
	}

	snap, err := f.s.Resolve(f.ctx, f.ref("f", "live"))
	if err != nil || snap.Version != "1" || snap.AltVersion != "2" || snap.AltWeight != 0.25 || snap.Ref.Qualifier != "live" {
		t.Fatalf("Resolve(live) = %+v, %v; want version 1, 25%% to 2", snap, err)
	}
	_, err = f.s.GetAlias(f.ctx, fn, "nope")
	wantFault(t, "get missing alias", err, fault.NotFound, "Alias", "Cannot find alias arn: "+arnPrefix+"f:nope")
	_, err = f.s.UpdateAlias(f.ctx, fn, &spec.UpdateAliasRequest{Name: str("nope")})
	wantFault(t, "update missing alias", err, fault.NotFound, "Alias", "Alias not found: "+arnPrefix+"f:nope")
	_, err = f.s.UpdateAlias(f.ctx, fn, &spec.UpdateAliasRequest{Name: str("live"), RevisionId: str("stale")})
	wantFault(t, "update alias stale revision", err, fault.PreconditionFailed, "",
		"The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id")
	for _, v := range []string{"1", "2"} {
		err = f.s.Delete(f.ctx, f.ref("f", v))
		wantFault(t, "delete version "+v+" an alias routes to", err, fault.Conflict, "Function",
			"Unable to delete version because the following aliases reference it: [live]")
	}
	// Moving the alias off version 2 frees it.
	a, err := f.s.GetAlias(f.ctx, fn, "live")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.UpdateAlias(f.ctx, fn, &spec.UpdateAliasRequest{Name: str("live"), RevisionId: a.RevisionId, RoutingConfig: weights(nil)}); err != nil {
		t.Fatal(err)
	}
	if err := f.s.Delete(f.ctx, f.ref("f", "2")); err != nil {
		t.Fatalf("delete version 2 once no alias routes to it: %v", err)
	}
	if err := f.s.DeleteAlias(f.ctx, fn, "never-was"); err != nil {
		t.Errorf("deleting a missing alias: %v, want success as in AWS", err)
	}
}

func TestPolicyStatements(t *testing.T) {
	f := newFixture(t)
	f.create("f")
	fn := f.ref("f", "")
	add := func(ref Ref, sid, principal string, edit func(*spec.AddPermissionRequest)) (string, error) {
		in := &spec.AddPermissionRequest{StatementId: str(sid), Action: str("lambda:InvokeFunction"), Principal: str(principal)}
		if edit != nil {
			edit(in)
		}
		return f.s.AddPermission(f.ctx, ref, in)
	}
	s1 := `{"Sid":"s1","Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"` + arnPrefix + `f",` +
		`"Condition":{"StringEquals":{"AWS:SourceAccount":"123456789012"},"ArnLike":{"AWS:SourceArn":"arn:aws:s3:::b"}}}`
	s2 := `{"Sid":"s2","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"lambda:InvokeFunction","Resource":"` + arnPrefix + `f"}`
	adds := []struct {
		name, sid, principal string
		ref                  Ref
		edit                 func(*spec.AddPermissionRequest)
		kind                 fault.Kind
		resource, want       string // the statement, or the fault's message
	}{
		{"$LATEST", "s0", "*", f.ref("f", Latest), nil, fault.InvalidParameter, "", "We currently do not support adding policies for $LATEST."},
		{"bad principal", "s0", "nobody", fn, nil, fault.InvalidParameter, "", "The provided principal was invalid. Please check the principal and try again."},
		{"missing function", "s0", "*", f.ref("nofn", ""), nil, fault.NotFound, "Function", "Function not found: " + arnPrefix + "nofn"},
		{"missing version", "s0", "*", f.ref("f", "9"), nil, fault.NotFound, "Function", "Function not found: " + arnPrefix + "f:9"},
		{"missing alias", "s0", "*", f.ref("f", "nope"), nil, fault.NotFound, "Alias", "Cannot find alias arn: " + arnPrefix + "f:nope"},
		{"service with conditions", "s1", "s3.amazonaws.com", fn, func(in *spec.AddPermissionRequest) {
			in.SourceArn, in.SourceAccount = str("arn:aws:s3:::b"), str("123456789012")
		}, 0, "", s1},
		{"same sid", "s1", "*", fn, nil, fault.Conflict, "Statement",
			"The statement id (s1) provided already exists. Please provide a new statement id, or remove the existing statement."},
		{"stale revision", "s2", "*", fn, func(in *spec.AddPermissionRequest) { in.RevisionId = str("stale") }, fault.PreconditionFailed, "",
			"The Revision Id provided does not match the latest Revision Id. Call the GetPolicy API to retrieve the latest Revision Id"},
		{"account", "s2", "111122223333", fn, nil, 0, "", s2},
	}
	for _, c := range adds {
		got, err := add(c.ref, c.sid, c.principal, c.edit)
		if c.kind == 0 {
			if err != nil || got != c.want {
				t.Errorf("%s: statement\n  %s, %v\nwant\n  %s", c.name, got, err, c.want)
			}
			continue
		}
		wantFault(t, c.name, err, c.kind, c.resource, c.want)
	}
	p, err := f.s.GetPolicy(f.ctx, fn)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"Version":"2012-10-17","Id":"default","Statement":[` + s1 + "," + s2 + `]}`; *p.Policy != want {
		t.Errorf("policy\n  %s\nwant\n  %s", *p.Policy, want)
	}
	mismatch := "The Revision Id provided does not match the latest Revision Id. Call the GetPolicy API to retrieve the latest Revision Id"
	removes := []struct {
		name, sid     string
		ref           Ref
		revision      *string
		kind          fault.Kind
		resource, msg string
	}{
		{"missing function", "s1", f.ref("nofn", ""), nil, fault.NotFound, "Policy", "No policy found for: " + arnPrefix + "nofn"},
		{"unknown sid", "nope", fn, nil, fault.NotFound, "Statement", "Statement nope is not found in resource policy."},
		{"stale revision", "s1", fn, str("stale"), fault.PreconditionFailed, "", mismatch},
		{"s1", "s1", fn, p.RevisionId, 0, "", ""},
		{"s1's revision is gone", "s2", fn, p.RevisionId, fault.PreconditionFailed, "", mismatch},
		{"s2", "s2", fn, nil, 0, "", ""},
		{"nothing left", "s2", fn, nil, fault.NotFound, "Policy", "No policy is associated with the given resource."},
	}
	for _, c := range removes {
		err := f.s.RemovePermission(f.ctx, c.ref, c.sid, c.revision)
		if c.kind == 0 {
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			continue
		}
		wantFault(t, c.name, err, c.kind, c.resource, c.msg)
	}
	for _, ref := range []Ref{fn, f.ref("nofn", ""), f.ref("f", "nope")} {
		_, err = f.s.GetPolicy(f.ctx, ref)
		wantFault(t, "GetPolicy "+ref.QualifiedARN(), err, fault.NotFound, "Policy", "The resource you requested does not exist.")
	}
}

// TestNotFoundKinds: every missing thing is a NotFound fault naming what
// is missing, in AWS's words. Invoke relies on Resource "Function".
func TestNotFoundKinds(t *testing.T) {
	f := newFixture(t)
	f.create("f")
	nofn := f.ref("nofn", "")
	fn := f.ref("f", "")
	err2 := func(_ any, err error) error { return err }
	cases := []struct {
		name          string
		err           error
		resource, msg string
	}{
		{"GetConfiguration", err2(f.s.GetConfiguration(f.ctx, nofn)), "Function", "Function not found: " + arnPrefix + "nofn"},
		{"GetConfiguration version", err2(f.s.GetConfiguration(f.ctx, f.ref("f", "9"))), "Function", "Function not found: " + arnPrefix + "f:9"},
		{"GetConfiguration alias", err2(f.s.GetConfiguration(f.ctx, f.ref("f", "nope"))), "Function", "Function not found: " + arnPrefix + "f:nope"},
		{"GetConfiguration qualified, no function", err2(f.s.GetConfiguration(f.ctx, f.ref("nofn", "1"))), "Function", "Function not found: " + arnPrefix + "nofn"},
		{"Resolve", err2(f.s.Resolve(f.ctx, nofn)), "Function", "Function not found: " + arnPrefix + "nofn"},
		{"Resolve alias", err2(f.s.Resolve(f.ctx, f.ref("f", "nope"))), "Function", "Function not found: " + arnPrefix + "f:nope"},
		{"UpdateConfiguration", err2(f.s.UpdateConfiguration(f.ctx, nofn, &spec.UpdateFunctionConfigurationRequest{})), "Function", "Function not found: " + arnPrefix + "nofn"},
		{"UpdateCode", err2(f.s.UpdateCode(f.ctx, f.ref("nofn", Latest), &spec.UpdateFunctionCodeRequest{ZipFile: testZip(t, "x")}, nil)), "Function", "Function not found: " + arnPrefix + "nofn"},
		{"Publish", err2(f.s.Publish(f.ctx, nofn, nil, nil, nil)), "Function", "Function not found: " + arnPrefix + "nofn"},
		{"ListVersions", err2(f.s.ListVersions(f.ctx, nofn, nil, nil)), "Function", "Function not found: " + arnPrefix + "nofn"},
		{"Delete", f.s.Delete(f.ctx, f.ref("nofn", "1")), "Function", "Function not found: " + arnPrefix + "nofn"},
		{"PutConcurrency", err2(f.s.PutConcurrency(f.ctx, nofn, 1)), "Function", "Function not found: " + arnPrefix + "nofn:$LATEST"},
		{"DeleteConcurrency", f.s.DeleteConcurrency(f.ctx, nofn), "Function", "Function not found: " + arnPrefix + "nofn"},
		{"Tags", err2(f.s.Tags(f.ctx, f.id, arnPrefix+"nofn")), "Function", "Function not found: " + arnPrefix + "nofn"},
		{"Untag", f.s.Untag(f.ctx, f.id, arnPrefix+"nofn", []string{"a"}), "Function", "Function not found: " + arnPrefix + "nofn"},
		{"ParseRef other region", err2(ParseRef(f.id, "arn:aws:lambda:eu-west-1:123456789012:function:f", nil)), "Function",
			"Functions from 'eu-west-1' are not reachable in this region ('us-east-1')"},
		{"GetAlias of a missing function", err2(f.s.GetAlias(f.ctx, nofn, "live")), "Function", "Function not found: " + arnPrefix + "nofn"},
		{"ListAliases", err2(f.s.ListAliases(f.ctx, nofn, nil, nil, nil)), "Function", "Function not found: " + arnPrefix + "nofn"},
		{"GetLayer", err2(f.s.GetLayer(f.ctx, LayerRef{f.id.Account, f.id.Region, "l"}, 1)), "Layer", "The resource you requested does not exist."},
		{"GetLayerByARN unversioned", err2(f.s.GetLayerByARN(f.ctx, f.id, "arn:aws:lambda:us-east-1:123456789012:layer:l")), "Layer", "The resource you requested does not exist."},
		{"GetURL", err2(f.s.GetURL(f.ctx, fn, urlBase)), "FunctionUrlConfig", "The resource you requested does not exist."},
		{"DeleteURL", f.s.DeleteURL(f.ctx, fn), "FunctionUrlConfig", "The resource you requested does not exist."},
		{"CreateURL", err2(f.s.CreateURL(f.ctx, nofn, &spec.CreateFunctionUrlConfigRequest{AuthType: str("NONE")}, urlBase)), "Function", "Function does not exist"},
		{"CreateURL alias", err2(f.s.CreateURL(f.ctx, f.ref("f", "nope"), &spec.CreateFunctionUrlConfigRequest{AuthType: str("NONE")}, urlBase)), "Function", "Function does not exist"},
		{"ListURLs", err2(f.s.ListURLs(f.ctx, nofn, nil, nil, urlBase)), "Function", "Function does not exist"},
		{"GetEventConfig", err2(f.s.GetEventConfig(f.ctx, fn)), "EventInvokeConfig", "The function " + arnPrefix + "f:$LATEST doesn't have an EventInvokeConfig"},
		{"UpdateEventConfig", err2(f.s.PutEventConfig(f.ctx, fn, i32(1), nil, nil, true)), "EventInvokeConfig", "The function " + arnPrefix + "f:$LATEST doesn't have an EventInvokeConfig"},
		{"DeleteEventConfig", f.s.DeleteEventConfig(f.ctx, f.ref("f", "1")), "EventInvokeConfig", "The function " + arnPrefix + "f:1 doesn't have an EventInvokeConfig"},
		{"PutEventConfig", err2(f.s.PutEventConfig(f.ctx, nofn, i32(1), nil, nil, false)), "Function", "The function doesn't exist."},
		{"ListEventConfigs", err2(f.s.ListEventConfigs(f.ctx, nofn, nil, nil)), "Function", "The function doesn't exist."},
	}
	for _, c := range cases {
		wantFault(t, c.name, c.err, fault.NotFound, c.resource, c.msg)
	}
}

func urlBase(id, region string) string {
	return "http://" + id + ".lambda-url." + region + ".localhost/"
}
