package server_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/archive/archivetest"
	"github.com/lambdad/lambdad/internal/server"
	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// The accounts of the cross-account layer tests, as their 12-digit access
// keys say: the owner publishes, the others use.
const (
	layerOwner  = testkit.Account
	layerUser   = "210987654321"
	layerOther  = "555555555555"
	layerOrg    = "o-abcdefghij"
	layerOrgAcc = "444444444444"
)

// TestLayerPermissionsLifecycle adds, reads and removes statements of a
// layer version's policy, with the documents and errors AWS recorded.
func TestLayerPermissionsLifecycle(t *testing.T) {
	t.Parallel()
	d, c := servertest.NewEnv(t, servertest.FastTransition)
	ctx := context.Background()
	publishLayer(t, c, "shared", archivetest.Zip(t, archivetest.File{Name: "python/m.py", Body: "X = 1\n"}))
	arn := "arn:aws:lambda:us-east-1:" + layerOwner + ":layer:shared"

	_, err := c.GetLayerVersionPolicy(ctx, &lambda.GetLayerVersionPolicyInput{LayerName: aws.String("shared"), VersionNumber: aws.Int64(1)})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "No policy is associated with the given resource.")

	add := func(in *lambda.AddLayerVersionPermissionInput) (*lambda.AddLayerVersionPermissionOutput, error) {
		if in.LayerName == nil {
			in.LayerName = aws.String("shared")
		}
		if in.VersionNumber == nil {
			in.VersionNumber = aws.Int64(1)
		}
		if in.Action == nil {
			in.Action = aws.String("lambda:GetLayerVersion")
		}
		return c.AddLayerVersionPermission(ctx, in)
	}
	s1, err := add(&lambda.AddLayerVersionPermissionInput{StatementId: aws.String("s1"), Principal: aws.String("*")})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"Sid":"s1","Effect":"Allow","Principal":"*","Action":"lambda:GetLayerVersion","Resource":"` + arn + `:1"}`
	if aws.ToString(s1.Statement) != want || !testkit.UUIDRe.MatchString(aws.ToString(s1.RevisionId)) {
		t.Errorf("statement %s, revision %q; want %s", aws.ToString(s1.Statement), aws.ToString(s1.RevisionId), want)
	}
	s2, err := add(&lambda.AddLayerVersionPermissionInput{StatementId: aws.String("s2"), Principal: aws.String(layerUser), RevisionId: s1.RevisionId})
	if err != nil {
		t.Fatal(err)
	}
	want2 := `{"Sid":"s2","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + layerUser + `:root"},"Action":"lambda:GetLayerVersion","Resource":"` + arn + `:1"}`
	if aws.ToString(s2.Statement) != want2 {
		t.Errorf("account statement %s, want %s", aws.ToString(s2.Statement), want2)
	}
	s3, err := add(&lambda.AddLayerVersionPermissionInput{StatementId: aws.String("s3"), Principal: aws.String("*"), OrganizationId: aws.String(layerOrg)})
	if err != nil {
		t.Fatal(err)
	}
	want3 := `{"Sid":"s3","Effect":"Allow","Principal":"*","Action":"lambda:GetLayerVersion","Resource":"` + arn + `:1","Condition":{"StringEquals":{"aws:PrincipalOrgID":"` + layerOrg + `"}}}`
	if aws.ToString(s3.Statement) != want3 {
		t.Errorf("organization statement %s, want %s", aws.ToString(s3.Statement), want3)
	}
	pol, err := c.GetLayerVersionPolicy(ctx, &lambda.GetLayerVersionPolicyInput{LayerName: aws.String("shared"), VersionNumber: aws.Int64(1)})
	if err != nil {
		t.Fatal(err)
	}
	wantDoc := `{"Version":"2012-10-17","Id":"default","Statement":[` + want + `,` + want2 + `,` + want3 + `]}`
	if aws.ToString(pol.Policy) != wantDoc || aws.ToString(pol.RevisionId) != aws.ToString(s3.RevisionId) {
		t.Errorf("policy %s rev %s, want %s rev %s", aws.ToString(pol.Policy), aws.ToString(pol.RevisionId), wantDoc, aws.ToString(s3.RevisionId))
	}
	// By ARN too, and the document is valid JSON.
	pol2, err := c.GetLayerVersionPolicy(ctx, &lambda.GetLayerVersionPolicyInput{LayerName: aws.String(arn), VersionNumber: aws.Int64(1)})
	if err != nil || !json.Valid([]byte(aws.ToString(pol2.Policy))) {
		t.Errorf("GetLayerVersionPolicy by ARN: %v", err)
	}

	// AWS's recorded errors.
	_, err = add(&lambda.AddLayerVersionPermissionInput{StatementId: aws.String("sx"), Principal: aws.String("*"), Action: aws.String("*")})
	testkit.APIErr(t, err, "ValidationException", 400, "1 validation error detected: Value '*' at 'action' failed to satisfy constraint: Member must satisfy regular expression pattern: lambda:GetLayerVersion")
	// The model's patterns, worded as AWS words constraint failures.
	_, err = add(&lambda.AddLayerVersionPermissionInput{StatementId: aws.String("sx"), Principal: aws.String("someone")})
	testkit.APIErr(t, err, "ValidationException", 400, `1 validation error detected: Value 'someone' at 'principal' failed to satisfy constraint: Member must satisfy regular expression pattern: \d{12}|\*|arn:(aws[a-zA-Z-]*):iam::\d{12}:root`)
	_, err = add(&lambda.AddLayerVersionPermissionInput{StatementId: aws.String("sx"), Principal: aws.String("*"), OrganizationId: aws.String("org-1")})
	testkit.APIErr(t, err, "ValidationException", 400, `1 validation error detected: Value 'org-1' at 'organizationId' failed to satisfy constraint: Member must satisfy regular expression pattern: o-[a-z0-9]{10,32}`)
	_, err = add(&lambda.AddLayerVersionPermissionInput{StatementId: aws.String("s 1"), Principal: aws.String("*")})
	testkit.APIErr(t, err, "ValidationException", 400, `1 validation error detected: Value 's 1' at 'statementId' failed to satisfy constraint: Member must satisfy regular expression pattern: ([a-zA-Z0-9-_]+)`)
	_, err = add(&lambda.AddLayerVersionPermissionInput{StatementId: aws.String("s1"), Principal: aws.String("*")})
	testkit.APIErr(t, err, "ResourceConflictException", 409, "The statement id (s1) provided already exists. Please provide a new statement id, or remove the existing statement.")
	_, err = add(&lambda.AddLayerVersionPermissionInput{StatementId: aws.String("s9"), Principal: aws.String("*"), RevisionId: aws.String("wrong")})
	testkit.APIErr(t, err, "PreconditionFailedException", 412, "The Revision Id provided does not match the latest Revision Id. Call the GetLayerPolicy API to retrieve the latest Revision Id")
	_, err = add(&lambda.AddLayerVersionPermissionInput{LayerName: aws.String("shared-doesnotexist"), StatementId: aws.String("s9"), Principal: aws.String("*")})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Layer version "+arn+"-doesnotexist:1 does not exist.")
	_, err = add(&lambda.AddLayerVersionPermissionInput{VersionNumber: aws.Int64(2), StatementId: aws.String("s9"), Principal: aws.String("*")})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Layer version "+arn+":2 does not exist.")
	_, err = c.GetLayerVersionPolicy(ctx, &lambda.GetLayerVersionPolicyInput{LayerName: aws.String("shared-doesnotexist"), VersionNumber: aws.Int64(1)})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Layer version "+arn+"-doesnotexist:1 does not exist.")
	_, err = c.GetLayerVersionPolicy(ctx, &lambda.GetLayerVersionPolicyInput{LayerName: aws.String("shared"), VersionNumber: aws.Int64(2)})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Layer version "+arn+":2 does not exist.")
	rm := func(layer string, n int64, sid string, rev *string) error {
		_, err := c.RemoveLayerVersionPermission(ctx, &lambda.RemoveLayerVersionPermissionInput{LayerName: aws.String(layer), VersionNumber: aws.Int64(n), StatementId: aws.String(sid), RevisionId: rev})
		return err
	}
	testkit.APIErr(t, rm("shared-doesnotexist", 1, "s1", nil), "ResourceNotFoundException", 404, "Layer version "+arn+"-doesnotexist:1 does not exist.")
	testkit.APIErr(t, rm("shared", 2, "s1", nil), "ResourceNotFoundException", 404, "Layer version "+arn+":2 does not exist.")
	testkit.APIErr(t, rm("shared", 1, "doesnotexist", nil), "ResourceNotFoundException", 404, "Statement doesnotexist is not found in resource policy.")
	testkit.APIErr(t, rm("shared", 1, "s1", aws.String("wrong")), "PreconditionFailedException", 412, "The Revision Id provided does not match the latest Revision Id. Call the GetLayerPolicy API to retrieve the latest Revision Id")

	// Removing changes the revision; removing the last statement removes the policy.
	if err := rm("shared", 1, "s2", pol.RevisionId); err != nil {
		t.Fatal(err)
	}
	pol3, err := c.GetLayerVersionPolicy(ctx, &lambda.GetLayerVersionPolicyInput{LayerName: aws.String("shared"), VersionNumber: aws.Int64(1)})
	if err != nil || aws.ToString(pol3.Policy) != `{"Version":"2012-10-17","Id":"default","Statement":[`+want+`,`+want3+`]}` || aws.ToString(pol3.RevisionId) == aws.ToString(pol.RevisionId) {
		t.Errorf("after removing s2: %v %s", err, aws.ToString(pol3.Policy))
	}
	for _, sid := range []string{"s1", "s3"} {
		if err := rm("shared", 1, sid, nil); err != nil {
			t.Fatal(err)
		}
	}
	_, err = c.GetLayerVersionPolicy(ctx, &lambda.GetLayerVersionPolicyInput{LayerName: aws.String("shared"), VersionNumber: aws.Int64(1)})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "No policy is associated with the given resource.")
	testkit.APIErr(t, rm("shared", 1, "s1", nil), "ResourceNotFoundException", 404, "No policy is associated with the given resource.")

	// Another account cannot manage the policy.
	other := d.Client(layerUser, testkit.Region)
	_, err = other.AddLayerVersionPermission(ctx, &lambda.AddLayerVersionPermissionInput{LayerName: aws.String(arn), VersionNumber: aws.Int64(1),
		Action: aws.String("lambda:GetLayerVersion"), Principal: aws.String("*"), StatementId: aws.String("steal")})
	testkit.APIErr(t, err, "AccessDeniedException", 403, "User is not authorized to access "+arn+": it belongs to another account.")

	// A deleted version's policy goes with it: a new version 1 cannot be
	// published, but the key must not linger for a later record.
	if _, err := add(&lambda.AddLayerVersionPermissionInput{StatementId: aws.String("s1"), Principal: aws.String("*")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteLayerVersion(ctx, &lambda.DeleteLayerVersionInput{LayerName: aws.String("shared"), VersionNumber: aws.Int64(1)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetLayerVersionPolicy(ctx, &lambda.GetLayerVersionPolicyInput{LayerName: aws.String("shared"), VersionNumber: aws.Int64(1)})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Layer version "+arn+":1 does not exist.")
}

// TestLayerCrossAccount: another account (its own 12-digit access key) can
// read and use a layer version only once the owner grants it: to everyone,
// to that account, or to its organization; removing the grant takes it away
// again for new functions, while a function created meanwhile keeps running.
func TestLayerCrossAccount(t *testing.T) {
	t.Parallel()
	d := servertest.StartLambdad(t, t.TempDir(), func(c *server.Config) {
		c.Organizations = map[string]string{layerOrgAcc: layerOrg}
	})
	ctx := context.Background()
	owner := d.Client(layerOwner, testkit.Region)
	user := d.Client(layerUser, testkit.Region)
	other := d.Client(layerOther, testkit.Region)
	orgUser := d.Client(layerOrgAcc, testkit.Region)

	zip := archivetest.Zip(t, archivetest.File{Name: "python/sharedlib.py", Body: "WHO = 'from the owner'\n"})
	lv := publishLayer(t, owner, "shared", zip, types.RuntimePython312)
	arn := aws.ToString(lv.LayerVersionArn)
	denied := func(acct string) string {
		return "User: arn:aws:iam::" + acct + ":root is not authorized to perform: lambda:GetLayerVersion on resource: " + arn +
			" because no resource-based policy allows the lambda:GetLayerVersion action"
	}
	fn := func(name string) *lambda.CreateFunctionInput {
		in := testkit.CreateInput(name, testkit.HandlerZip(t, "import sharedlib\ndef handler(e, c):\n    return sharedlib.WHO\n"))
		in.Layers = []string{arn}
		return in
	}

	// Before any grant: nobody else can read or use it.
	for _, c := range []struct {
		cl   *lambda.Client
		acct string
	}{{user, layerUser}, {other, layerOther}, {orgUser, layerOrgAcc}} {
		_, err := c.cl.GetLayerVersionByArn(ctx, &lambda.GetLayerVersionByArnInput{Arn: aws.String(arn)})
		testkit.APIErr(t, err, "AccessDeniedException", 403, denied(c.acct))
		_, err = c.cl.GetLayerVersion(ctx, &lambda.GetLayerVersionInput{LayerName: lv.LayerArn, VersionNumber: aws.Int64(1)})
		testkit.APIErr(t, err, "AccessDeniedException", 403, denied(c.acct))
		_, err = c.cl.CreateFunction(ctx, fn("before-grant"))
		testkit.APIErr(t, err, "AccessDeniedException", 403, denied(c.acct))
	}

	grant := func(sid, principal string, org *string) {
		t.Helper()
		if _, err := owner.AddLayerVersionPermission(ctx, &lambda.AddLayerVersionPermissionInput{LayerName: aws.String("shared"), VersionNumber: aws.Int64(1),
			Action: aws.String("lambda:GetLayerVersion"), Principal: aws.String(principal), StatementId: aws.String(sid), OrganizationId: org}); err != nil {
			t.Fatal(err)
		}
	}
	revoke := func(sid string) {
		t.Helper()
		if _, err := owner.RemoveLayerVersionPermission(ctx, &lambda.RemoveLayerVersionPermissionInput{LayerName: aws.String("shared"),
			VersionNumber: aws.Int64(1), StatementId: aws.String(sid)}); err != nil {
			t.Fatal(err)
		}
	}
	useIt := func(c *lambda.Client, name string) {
		t.Helper()
		g, err := c.GetLayerVersionByArn(ctx, &lambda.GetLayerVersionByArnInput{Arn: aws.String(arn)})
		if err != nil || aws.ToString(g.Content.CodeSha256) != testkit.SHA256B64(zip) {
			t.Fatalf("GetLayerVersionByArn once granted: %v", err)
		}
		testkit.CreateActive(t, c, fn(name))
		if got := string(testkit.Call(t, c, name, `{}`).Payload); got != `"from the owner"` {
			t.Errorf("%s runs with the other account's layer: %s", name, got)
		}
	}

	// One account.
	grant("user", layerUser, nil)
	useIt(user, "granted-account")
	_, err := other.GetLayerVersionByArn(ctx, &lambda.GetLayerVersionByArnInput{Arn: aws.String(arn)})
	testkit.APIErr(t, err, "AccessDeniedException", 403, denied(layerOther))

	// An organization: its account, not others.
	grant("org", "*", aws.String(layerOrg))
	useIt(orgUser, "granted-org")
	_, err = other.CreateFunction(ctx, fn("not-in-org"))
	testkit.APIErr(t, err, "AccessDeniedException", 403, denied(layerOther))

	// Everyone; UpdateFunctionConfiguration takes it too.
	grant("all", "*", nil)
	useIt(other, "granted-all")
	plain := testkit.CreateInput("later-layers", testkit.HandlerZip(t, "def handler(e, c):\n    import sharedlib\n    return sharedlib.WHO\n"))
	testkit.CreateActive(t, other, plain)
	if _, err := other.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("later-layers"), Layers: []string{arn}}); err != nil {
		t.Fatal(err)
	}
	testkit.WaitUpdated(t, other, "later-layers")
	if got := string(testkit.Call(t, other, "later-layers", `{}`).Payload); got != `"from the owner"` {
		t.Errorf("layer added by UpdateFunctionConfiguration: %s", got)
	}

	// Revoked: new uses are refused, existing functions keep their layer.
	revoke("all")
	revoke("user")
	_, err = user.CreateFunction(ctx, fn("after-revoke"))
	testkit.APIErr(t, err, "AccessDeniedException", 403, denied(layerUser))
	_, err = other.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("granted-all"), Layers: []string{arn}})
	testkit.APIErr(t, err, "AccessDeniedException", 403, denied(layerOther))
	if got := string(testkit.Call(t, user, "granted-account", `{}`).Payload); got != `"from the owner"` {
		t.Errorf("a function created under a revoked grant: %s", got)
	}
	// Another account still cannot list or delete the owner's layers.
	_, err = user.DeleteLayerVersion(ctx, &lambda.DeleteLayerVersionInput{LayerName: lv.LayerArn, VersionNumber: aws.Int64(1)})
	testkit.APIErr(t, err, "AccessDeniedException", 403, "User is not authorized to access "+aws.ToString(lv.LayerArn)+": it belongs to another account.")
}
