package server_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

func TestDeleteFunction(t *testing.T) {
	t.Parallel()
	_, c := servertest.NewEnv(t, servertest.FastTransition)
	ctx := context.Background()
	name := "fn-delete"
	arn := testkit.FnARN(name)
	testkit.CreateActive(t, c, testkit.CreateInput(name, testkit.HandlerZip(t, "a\n")))
	for _, d := range []string{"one", "two"} {
		if _, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String(name), Description: aws.String(d)}); err != nil {
			t.Fatal(err)
		}
	}

	// $LATEST cannot be deleted on its own, in either spelling.
	for _, in := range []*lambda.DeleteFunctionInput{
		{FunctionName: aws.String(name), Qualifier: aws.String("$LATEST")},
		{FunctionName: aws.String(arn + ":$LATEST")},
		{FunctionName: aws.String("fn-never-existed"), Qualifier: aws.String("$LATEST")}, // checked before existence
	} {
		_, err := c.DeleteFunction(ctx, in)
		testkit.APIErr(t, err, "InvalidParameterValueException", 400, "$LATEST version cannot be deleted without deleting the function.")
	}
	_, err := c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String(name), Qualifier: aws.String("live")})
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "Deletion of aliases is not currently supported.")
	_, err = c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String(name + ":1"), Qualifier: aws.String("2")})
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "The derived qualifier from the function name does not match the specified qualifier.")

	// Deleting version 1 removes only it, with 204.
	var st testkit.RawStatus
	if _, err := c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String(name), Qualifier: aws.String("1")}, st.Option()); err != nil {
		t.Fatal(err)
	}
	if st.Code != 204 {
		t.Errorf("DeleteFunction status = %d, want 204", st.Code)
	}
	vs, err := c.ListVersionsByFunction(ctx, &lambda.ListVersionsByFunctionInput{FunctionName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range vs.Versions {
		got = append(got, aws.ToString(v.Version))
	}
	if !slices.Equal(got, []string{"$LATEST", "2"}) {
		t.Errorf("versions after deleting 1 = %v, want [$LATEST 2]", got)
	}
	_, err = c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(name), Qualifier: aws.String("1")})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Function not found: "+arn+":1")
	// A version that does not exist: success, idempotently.
	for range 2 {
		if _, err := c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String(name), Qualifier: aws.String("1233")}); err != nil {
			t.Errorf("deleting a missing version: %v", err)
		}
	}

	// The whole function, by ARN.
	st.Code = 0
	if _, err := c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String(arn)}, st.Option()); err != nil {
		t.Fatal(err)
	}
	if st.Code != 204 {
		t.Errorf("DeleteFunction status = %d, want 204", st.Code)
	}
	notFound := "Function not found: " + arn
	_, err = c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(name)})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, notFound)
	_, err = c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(name), Qualifier: aws.String("2")})
	if !testkit.IsType[*types.ResourceNotFoundException](err) {
		t.Errorf("version 2 after deleting the function: %v", err)
	}
	_, err = c.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(name)})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, notFound)
	_, err = c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String(name)})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, notFound)
	// On a missing function, a qualified delete names the unqualified ARN.
	_, err = c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String(name), Qualifier: aws.String("2")})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, notFound)
	list, err := c.ListFunctions(ctx, &lambda.ListFunctionsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Functions) != 0 {
		t.Errorf("ListFunctions after delete: %d functions", len(list.Functions))
	}
	// The name is free again.
	testkit.Create(t, c, testkit.CreateInput(name, testkit.HandlerZip(t, "again\n")))
}

func TestTags(t *testing.T) {
	t.Parallel()
	_, c := servertest.NewEnv(t, servertest.FastTransition)
	ctx := context.Background()
	name := "fn-tags"
	arn := testkit.FnARN(name)
	testkit.CreateActive(t, c, testkit.CreateInput(name, testkit.HandlerZip(t, "a\n")))

	tags, err := c.ListTags(ctx, &lambda.ListTagsInput{Resource: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	if len(tags.Tags) != 0 {
		t.Errorf("ListTags with none = %v, want {}", tags.Tags)
	}
	var st testkit.RawStatus
	if _, err := c.TagResource(ctx, &lambda.TagResourceInput{Resource: aws.String(arn), Tags: map[string]string{"a": "1", "b": "2"}}, st.Option()); err != nil {
		t.Fatal(err)
	}
	if st.Code != 204 {
		t.Errorf("TagResource status %d, want 204", st.Code)
	}
	if _, err := c.TagResource(ctx, &lambda.TagResourceInput{Resource: aws.String(arn), Tags: map[string]string{"b": "3", "c": "4"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UntagResource(ctx, &lambda.UntagResourceInput{Resource: aws.String(arn), TagKeys: []string{"a", "does-not-exist"}}, st.Option()); err != nil {
		t.Fatal(err)
	}
	if st.Code != 204 {
		t.Errorf("UntagResource status %d, want 204", st.Code)
	}
	want := map[string]string{"b": "3", "c": "4"}
	tags, err = c.ListTags(ctx, &lambda.ListTagsInput{Resource: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	if !mapsEqual(tags.Tags, want) {
		t.Errorf("ListTags = %v, want %v", tags.Tags, want)
	}
	fn, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	if !mapsEqual(fn.Tags, want) {
		t.Errorf("GetFunction Tags = %v, want %v", fn.Tags, want)
	}

	// Versions, $LATEST and aliases carry no tags of their own.
	for _, q := range []string{":1", ":$LATEST", ":live"} {
		_, err = c.TagResource(ctx, &lambda.TagResourceInput{Resource: aws.String(arn + q), Tags: map[string]string{"x": "y"}})
		testkit.APIErr(t, err, "InvalidParameterValueException", 400, "Tags on function aliases and versions are not supported. Please specify a function ARN.")
		_, err = c.UntagResource(ctx, &lambda.UntagResourceInput{Resource: aws.String(arn + q), TagKeys: []string{"b"}})
		testkit.APIErr(t, err, "InvalidParameterValueException", 400, "Tags on function aliases and versions are not supported. Please specify a function ARN.")
	}
	_, err = c.TagResource(ctx, &lambda.TagResourceInput{Resource: aws.String(arn), Tags: map[string]string{}})
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "An error occurred and the request cannot be processed.")
	_, err = c.UntagResource(ctx, &lambda.UntagResourceInput{Resource: aws.String(arn)}, testkit.SkipClientValidation)
	testkit.APIErr(t, err, "ValidationException", 400, "1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: Member must not be null")
	_, err = c.ListTags(ctx, &lambda.ListTagsInput{Resource: aws.String("arn:aws:something")})
	testkit.APIErrPrefix(t, err, "ValidationException", 400, "1 validation error detected: Value 'arn:aws:something' at 'resource' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*):lambda:")
	_, err = c.TagResource(ctx, &lambda.TagResourceInput{Resource: aws.String(testkit.FnARN("fn-untagged-missing")), Tags: map[string]string{"x": "y"}})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Function not found: "+testkit.FnARN("fn-untagged-missing"))
	_, err = c.ListTags(ctx, &lambda.ListTagsInput{Resource: aws.String(testkit.FnARN("fn-untagged-missing"))})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Function not found: "+testkit.FnARN("fn-untagged-missing"))

	// At most 50 tags, on tag and on create.
	many := map[string]string{}
	for i := range 49 {
		many["k"+string(rune('A'+i/26))+string(rune('a'+i%26))] = "v"
	}
	_, err = c.TagResource(ctx, &lambda.TagResourceInput{Resource: aws.String(arn), Tags: many}) // 2 + 49 = 51
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "Number of tags exceeds resource tag limit.")
	tags, err = c.ListTags(ctx, &lambda.ListTagsInput{Resource: aws.String(arn)})
	if err != nil || !mapsEqual(tags.Tags, want) {
		t.Errorf("refused tagging changed tags: %v %v", tags, err)
	}
}

// TestListTagsEmpty checks that no tags is {"Tags":{}}, not {}: the SDK
// tells the two apart (an empty map against nil).
func TestListTagsEmpty(t *testing.T) {
	t.Parallel()
	_, c := servertest.NewEnv(t, servertest.FastTransition)
	testkit.Create(t, c, testkit.CreateInput("fn-no-tags", testkit.HandlerZip(t, "a\n")))
	tags, err := c.ListTags(context.Background(), &lambda.ListTagsInput{Resource: aws.String(testkit.FnARN("fn-no-tags"))})
	if err != nil {
		t.Fatal(err)
	}
	if tags.Tags == nil || len(tags.Tags) != 0 {
		t.Errorf("ListTags with none: Tags = %#v, want an empty map ({\"Tags\":{}})", tags.Tags)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestAccountSettings(t *testing.T) {
	t.Parallel()
	_, c := servertest.NewEnv(t, servertest.FastTransition)
	ctx := context.Background()
	settings := func() *lambda.GetAccountSettingsOutput {
		t.Helper()
		out, err := c.GetAccountSettings(ctx, &lambda.GetAccountSettingsInput{})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	s := settings()
	l := s.AccountLimit
	if l.CodeSizeUnzipped != 262144000 || l.CodeSizeZipped != 52428800 || aws.ToInt32(&l.ConcurrentExecutions) != 1000 ||
		l.TotalCodeSize != 80530636800 || aws.ToInt32(l.UnreservedConcurrentExecutions) != 1000 {
		t.Errorf("AccountLimit = %+v", l)
	}
	if s.AccountUsage.FunctionCount != 0 || s.AccountUsage.TotalCodeSize != 0 {
		t.Errorf("empty account usage = %+v", s.AccountUsage)
	}
	zipA := testkit.HandlerZip(t, "a = 1\n")
	zipB := testkit.HandlerZip(t, "b = 22222\n")
	testkit.CreateActive(t, c, testkit.CreateInput("fn-acct-a", zipA))
	testkit.CreateActive(t, c, testkit.CreateInput("fn-acct-b", zipB))
	s = settings()
	size := int64(len(zipA) + len(zipB))
	if s.AccountUsage.FunctionCount != 2 || s.AccountUsage.TotalCodeSize != size {
		t.Errorf("usage = %d functions, %d bytes; want 2, %d", s.AccountUsage.FunctionCount, s.AccountUsage.TotalCodeSize, size)
	}
	// A config-only update adds nothing; publishing after it adds the code again.
	if _, err := c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("fn-acct-a"), Timeout: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	if got := settings().AccountUsage.TotalCodeSize; got != size {
		t.Errorf("after config update TotalCodeSize = %d, want %d", got, size)
	}
	testkit.WaitUpdated(t, c, "fn-acct-a")
	if _, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("fn-acct-a")}); err != nil {
		t.Fatal(err)
	}
	s = settings()
	if s.AccountUsage.FunctionCount != 2 || s.AccountUsage.TotalCodeSize != size+int64(len(zipA)) {
		t.Errorf("after publish: %d functions, %d bytes; want 2, %d", s.AccountUsage.FunctionCount, s.AccountUsage.TotalCodeSize, size+int64(len(zipA)))
	}
	if _, err := c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("fn-acct-a")}); err != nil {
		t.Fatal(err)
	}
	s = settings()
	if s.AccountUsage.FunctionCount != 1 || s.AccountUsage.TotalCodeSize != int64(len(zipB)) {
		t.Errorf("after delete: %d functions, %d bytes; want 1, %d", s.AccountUsage.FunctionCount, s.AccountUsage.TotalCodeSize, len(zipB))
	}
}

func TestFunctionConcurrency(t *testing.T) {
	t.Parallel()
	_, c := servertest.NewEnv(t, servertest.FastTransition)
	ctx := context.Background()
	name := "fn-conc"
	testkit.CreateActive(t, c, testkit.CreateInput(name, testkit.HandlerZip(t, "a\n")))
	got, err := c.GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{FunctionName: aws.String(name)})
	if err != nil || got.ReservedConcurrentExecutions != nil {
		t.Errorf("GetFunctionConcurrency with none: %v %v", got, err)
	}
	put, err := c.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String(name), ReservedConcurrentExecutions: aws.Int32(0)})
	if err != nil || aws.ToInt32(put.ReservedConcurrentExecutions) != 0 || put.ReservedConcurrentExecutions == nil {
		t.Errorf("Put 0: %v %v", put, err)
	}
	if _, err := c.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String(name), ReservedConcurrentExecutions: aws.Int32(5)}); err != nil {
		t.Fatal(err)
	}
	fn, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(name)})
	if err != nil || fn.Concurrency == nil || aws.ToInt32(fn.Concurrency.ReservedConcurrentExecutions) != 5 {
		t.Errorf("GetFunction Concurrency = %+v (%v), want 5", fn.Concurrency, err)
	}
	acct, err := c.GetAccountSettings(ctx, &lambda.GetAccountSettingsInput{})
	if err != nil || aws.ToInt32(acct.AccountLimit.UnreservedConcurrentExecutions) != 995 {
		t.Errorf("UnreservedConcurrentExecutions = %v (%v), want 995", acct.AccountLimit.UnreservedConcurrentExecutions, err)
	}
	_, err = c.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String(name), ReservedConcurrentExecutions: aws.Int32(901)})
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [100].")
	_, err = c.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String(name + ":1"), ReservedConcurrentExecutions: aws.Int32(1)})
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "This operation is permitted on Lambda functions only. Aliases and versions do not support this operation. Please specify either a function name or an unqualified function ARN.")
	_, err = c.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("doesnotexist"), ReservedConcurrentExecutions: aws.Int32(1)})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Function not found: "+testkit.FnARN("doesnotexist")+":$LATEST")
	var st testkit.RawStatus
	if _, err := c.DeleteFunctionConcurrency(ctx, &lambda.DeleteFunctionConcurrencyInput{FunctionName: aws.String(name)}, st.Option()); err != nil || st.Code != 204 {
		t.Errorf("DeleteFunctionConcurrency: status %d, %v", st.Code, err)
	}
	got, err = c.GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{FunctionName: aws.String(name)})
	if err != nil || got.ReservedConcurrentExecutions != nil {
		t.Errorf("after delete: %v %v", got, err)
	}
	_, err = c.GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{FunctionName: aws.String("doesnotexist")})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Function not found: "+testkit.FnARN("doesnotexist"))
}

// fetch GETs a code link.
func fetch(t *testing.T, link string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(link)
	if err != nil {
		t.Fatalf("GET %s: %v", link, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

func TestCodeLocation(t *testing.T) {
	t.Parallel()
	d, c := servertest.NewEnv(t, servertest.FastTransition)
	ctx := context.Background()
	zip1 := testkit.HandlerZip(t, "def handler(e, c):\n    return 1\n")
	testkit.CreateActive(t, c, testkit.CreateInput("fn-code-loc", zip1))
	if _, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("fn-code-loc")}); err != nil {
		t.Fatal(err)
	}
	zip2 := testkit.HandlerZip(t, "def handler(e, c):\n    return 2\n")
	if _, err := c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("fn-code-loc"), ZipFile: zip2}); err != nil {
		t.Fatal(err)
	}
	testkit.WaitUpdated(t, c, "fn-code-loc")

	for _, tc := range []struct {
		qualifier string
		want      []byte
	}{{"", zip2}, {"1", zip1}} {
		in := &lambda.GetFunctionInput{FunctionName: aws.String("fn-code-loc")}
		if tc.qualifier != "" {
			in.Qualifier = aws.String(tc.qualifier)
		}
		fn, err := c.GetFunction(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(fn.Code.RepositoryType) != "S3" {
			t.Errorf("RepositoryType = %q, want S3", aws.ToString(fn.Code.RepositoryType))
		}
		link := aws.ToString(fn.Code.Location)
		if !strings.HasPrefix(link, d.URL+"/") {
			t.Errorf("Code.Location %q does not point at the server %s", link, d.URL)
		}
		status, body := fetch(t, link)
		if status != 200 || !bytes.Equal(body, tc.want) {
			t.Errorf("GET Code.Location (qualifier %q): %d, %d bytes; want 200 and the %d zip bytes", tc.qualifier, status, len(body), len(tc.want))
		}

		// Any change to the signed link is refused.
		u, err := url.Parse(link)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		sig := q.Get("signature")
		if sig == "" {
			t.Fatalf("Code.Location %q has no signature parameter", link)
		}
		flip := "0"
		if sig[len(sig)-1] == '0' {
			flip = "1"
		}
		q.Set("signature", sig[:len(sig)-1]+flip)
		u.RawQuery = q.Encode()
		if status, _ := fetch(t, u.String()); status != 403 {
			t.Errorf("tampered signature: HTTP %d, want 403", status)
		}
		q.Set("signature", sig)
		q.Set("expires", q.Get("expires")+"0")
		u.RawQuery = q.Encode()
		if status, _ := fetch(t, u.String()); status != 403 {
			t.Errorf("tampered expiry: HTTP %d, want 403", status)
		}
	}
}

func TestAccountsAndRegionsAreIsolated(t *testing.T) {
	t.Parallel()
	d, c := servertest.NewEnv(t, servertest.FastTransition)
	ctx := context.Background()
	other := d.Client("AKIDEXAMPLE", testkit.Region) // account 000000000000
	eu := d.Client(testkit.Account, "eu-west-1")

	out := testkit.Create(t, c, testkit.CreateInput("fn-shared-name", testkit.HandlerZip(t, "a\n")))
	if aws.ToString(out.FunctionArn) != "arn:aws:lambda:us-east-1:123456789012:function:fn-shared-name" {
		t.Errorf("ARN = %s", aws.ToString(out.FunctionArn))
	}
	if aws.ToString(out.Role) != testkit.Role {
		t.Errorf("Role = %s", aws.ToString(out.Role))
	}

	// Another account sees nothing, and may use the same name.
	_, err := other.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("fn-shared-name")})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Function not found: arn:aws:lambda:us-east-1:000000000000:function:fn-shared-name")
	list, err := other.ListFunctions(ctx, &lambda.ListFunctionsInput{})
	if err != nil || len(list.Functions) != 0 {
		t.Errorf("other account lists %v (%v), want nothing", list, err)
	}
	o2 := testkit.Create(t, other, testkit.CreateInput("fn-shared-name", testkit.HandlerZip(t, "b\n")))
	if aws.ToString(o2.FunctionArn) != "arn:aws:lambda:us-east-1:000000000000:function:fn-shared-name" {
		t.Errorf("other account ARN = %s", aws.ToString(o2.FunctionArn))
	}
	// Naming another account's function by ARN is denied.
	_, err = other.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(testkit.FnARN("fn-shared-name"))})
	testkit.APIErrPrefix(t, err, "AccessDeniedException", 403, "")
	// So are its tags and its layers, by ARN.
	_, err = other.ListTags(ctx, &lambda.ListTagsInput{Resource: aws.String(testkit.FnARN("fn-shared-name"))})
	testkit.APIErrPrefix(t, err, "AccessDeniedException", 403, "")
	_, err = other.TagResource(ctx, &lambda.TagResourceInput{Resource: aws.String(testkit.FnARN("fn-shared-name")), Tags: map[string]string{"k": "v"}})
	testkit.APIErrPrefix(t, err, "AccessDeniedException", 403, "")
	layer, err := c.PublishLayerVersion(ctx, &lambda.PublishLayerVersionInput{LayerName: aws.String("shared-layer"), Content: &types.LayerVersionContentInput{ZipFile: testkit.HandlerZip(t, "l\n")}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = other.GetLayerVersionByArn(ctx, &lambda.GetLayerVersionByArnInput{Arn: layer.LayerVersionArn})
	testkit.APIErrPrefix(t, err, "AccessDeniedException", 403, "")
	_, err = other.DeleteLayerVersion(ctx, &lambda.DeleteLayerVersionInput{LayerName: layer.LayerArn, VersionNumber: aws.Int64(1)})
	testkit.APIErrPrefix(t, err, "AccessDeniedException", 403, "")
	if _, err := c.GetLayerVersion(ctx, &lambda.GetLayerVersionInput{LayerName: layer.LayerArn, VersionNumber: aws.Int64(1)}); err != nil {
		t.Errorf("the owner lost its layer: %v", err)
	}
	acct, err := other.GetAccountSettings(ctx, &lambda.GetAccountSettingsInput{})
	if err != nil || acct.AccountUsage.FunctionCount != 1 {
		t.Errorf("other account FunctionCount = %v (%v), want 1", acct, err)
	}
	// Deleting in one account leaves the other's.
	if _, err := other.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("fn-shared-name")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("fn-shared-name")}); err != nil {
		t.Errorf("first account's function is gone: %v", err)
	}

	// Regions are separate too, and ARNs carry the region.
	_, err = eu.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("fn-shared-name")})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Function not found: arn:aws:lambda:eu-west-1:123456789012:function:fn-shared-name")
	_, err = eu.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(testkit.FnARN("fn-shared-name"))})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Functions from 'us-east-1' are not reachable in this region ('eu-west-1')")
	in := testkit.CreateInput("fn-eu", testkit.HandlerZip(t, "c\n"))
	in.LoggingConfig = &types.LoggingConfig{LogFormat: types.LogFormatJson}
	e := testkit.Create(t, eu, in)
	if aws.ToString(e.FunctionArn) != "arn:aws:lambda:eu-west-1:123456789012:function:fn-eu" ||
		!strings.HasPrefix(aws.ToString(e.RuntimeVersionConfig.RuntimeVersionArn), "arn:aws:lambda:eu-west-1::runtime:") {
		t.Errorf("eu ARNs: %s %s", aws.ToString(e.FunctionArn), aws.ToString(e.RuntimeVersionConfig.RuntimeVersionArn))
	}
	testkit.WaitActive(t, eu, "fn-eu")
	v, err := eu.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("fn-eu")})
	if err != nil || aws.ToString(v.FunctionArn) != "arn:aws:lambda:eu-west-1:123456789012:function:fn-eu:1" {
		t.Errorf("eu version: %v %v", v, err)
	}
	list, err = c.ListFunctions(ctx, &lambda.ListFunctionsInput{})
	if err != nil || len(list.Functions) != 1 || aws.ToString(list.Functions[0].FunctionName) != "fn-shared-name" {
		t.Errorf("us-east-1 lists %v (%v), want only fn-shared-name", list, err)
	}
	_, err = c.TagResource(ctx, &lambda.TagResourceInput{Resource: aws.String("arn:aws:lambda:eu-west-1:123456789012:function:fn-eu"), Tags: map[string]string{"a": "b"}})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')")
}

func TestDurableAcrossRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := servertest.StartDaemon(t, dir, servertest.FastTransition)
	c := d.Client(testkit.Account, testkit.Region)
	ctx := context.Background()
	zip1 := testkit.HandlerZip(t, "v = 1\n")
	zip2 := testkit.HandlerZip(t, "v = 2\n")
	in := testkit.CreateInput("fn-durable", zip1)
	in.Tags = map[string]string{"keep": "me"}
	in.Environment = &types.Environment{Variables: map[string]string{"XX": "y"}}
	testkit.CreateActive(t, c, in)
	if _, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("fn-durable")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("fn-durable"), ZipFile: zip2}); err != nil {
		t.Fatal(err)
	}
	testkit.WaitUpdated(t, c, "fn-durable")
	if _, err := c.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("fn-durable"), ReservedConcurrentExecutions: aws.Int32(3)}); err != nil {
		t.Fatal(err)
	}
	testkit.CreateActive(t, c, testkit.CreateInput("fn-durable-2", zip1))

	snapshot := func(c *lambda.Client) map[string]*lambda.GetFunctionOutput {
		out := map[string]*lambda.GetFunctionOutput{}
		for _, ref := range []struct{ name, q string }{{"fn-durable", ""}, {"fn-durable", "1"}, {"fn-durable-2", ""}} {
			in := &lambda.GetFunctionInput{FunctionName: aws.String(ref.name)}
			if ref.q != "" {
				in.Qualifier = aws.String(ref.q)
			}
			fn, err := c.GetFunction(ctx, in)
			if err != nil {
				t.Fatalf("GetFunction %s:%s: %v", ref.name, ref.q, err)
			}
			out[ref.name+":"+ref.q] = fn
		}
		return out
	}
	before := snapshot(c)
	d.Stop()

	d2 := servertest.StartDaemon(t, dir, servertest.FastTransition)
	c2 := d2.Client(testkit.Account, testkit.Region)
	after := snapshot(c2)
	wantCode := map[string][]byte{"fn-durable:": zip2, "fn-durable:1": zip1, "fn-durable-2:": zip1}
	for k, b := range before {
		a := after[k]
		bc, ac := b.Configuration, a.Configuration
		if aws.ToString(ac.RevisionId) != aws.ToString(bc.RevisionId) || aws.ToString(ac.CodeSha256) != aws.ToString(bc.CodeSha256) ||
			aws.ToString(ac.LastModified) != aws.ToString(bc.LastModified) || aws.ToString(ac.FunctionArn) != aws.ToString(bc.FunctionArn) ||
			ac.State != types.StateActive || ac.LastUpdateStatus != types.LastUpdateStatusSuccessful {
			t.Errorf("%s changed across restart:\n before %s %s %s %s\n after  %s %s %s %s %s", k,
				aws.ToString(bc.RevisionId), aws.ToString(bc.CodeSha256), aws.ToString(bc.LastModified), aws.ToString(bc.FunctionArn),
				aws.ToString(ac.RevisionId), aws.ToString(ac.CodeSha256), aws.ToString(ac.LastModified), aws.ToString(ac.FunctionArn), ac.State)
		}
		if !mapsEqual(a.Tags, b.Tags) {
			t.Errorf("%s tags %v, want %v", k, a.Tags, b.Tags)
		}
		status, body := fetch(t, aws.ToString(a.Code.Location))
		if status != 200 || !bytes.Equal(body, wantCode[k]) {
			t.Errorf("%s code after restart: HTTP %d, %d bytes, want the %d original bytes", k, status, len(body), len(wantCode[k]))
		}
	}
	if a := after["fn-durable:"]; a.Concurrency == nil || aws.ToInt32(a.Concurrency.ReservedConcurrentExecutions) != 3 ||
		a.Configuration.Environment == nil || a.Configuration.Environment.Variables["XX"] != "y" || a.Tags["keep"] != "me" {
		t.Errorf("fn-durable after restart: concurrency %+v env %+v tags %v", a.Concurrency, a.Configuration.Environment, a.Tags)
	}
	// A link made before the restart still works: the signing key persists.
	if status, body := fetch(t, strings.Replace(aws.ToString(before["fn-durable:1"].Code.Location), d.URL, d2.URL, 1)); status != 200 || !bytes.Equal(body, zip1) {
		t.Errorf("pre-restart link after restart: HTTP %d, %d bytes", status, len(body))
	}
	// Version numbering continues and the account still adds up.
	v, err := c2.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("fn-durable")})
	if err != nil || aws.ToString(v.Version) != "2" {
		t.Errorf("publish after restart: %v %v, want version 2", v, err)
	}
	acct, err := c2.GetAccountSettings(ctx, &lambda.GetAccountSettingsInput{})
	if err != nil {
		t.Fatal(err)
	}
	wantSize := int64(len(zip2) + len(zip1) + len(zip1) + len(zip2)) // $LATEST, 1, fn-durable-2, 2
	if acct.AccountUsage.FunctionCount != 2 || acct.AccountUsage.TotalCodeSize != wantSize {
		t.Errorf("account after restart: %d functions, %d bytes; want 2, %d", acct.AccountUsage.FunctionCount, acct.AccountUsage.TotalCodeSize, wantSize)
	}
}
