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

const revisionMismatch = "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id"

func TestUpdateConfigurationStatesAndRevisions(t *testing.T) {
	t.Parallel()
	// Long enough that two back-to-back calls land inside one transition.
	_, c := servertest.NewEnv(t, time.Second)
	ctx := context.Background()
	name := "fn-update"
	arn := testkit.FnARN(name)
	created := testkit.Create(t, c, testkit.CreateInput(name, testkit.HandlerZip(t, "a\n")))
	rev := []string{aws.ToString(created.RevisionId)}

	// While Pending, updates are refused.
	_, err := c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String(name), Timeout: aws.Int32(9)})
	testkit.APIErrPrefix(t, err, "ResourceConflictException", 409, "The operation cannot be performed at this time.")

	active := testkit.WaitActive(t, c, name)
	rev = append(rev, aws.ToString(active.Configuration.RevisionId))

	// A wrong RevisionId is a precondition failure and changes nothing.
	_, err = c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String(name), Timeout: aws.Int32(9), RevisionId: aws.String("00000000-0000-4000-8000-000000000000"),
	})
	testkit.APIErr(t, err, "PreconditionFailedException", 412, revisionMismatch)
	if !testkit.IsType[*types.PreconditionFailedException](err) {
		t.Errorf("want *types.PreconditionFailedException, got %T", err)
	}

	up, err := c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String(name), Timeout: aws.Int32(9), MemorySize: aws.Int32(512),
		Description: aws.String("updated"), Environment: &types.Environment{Variables: map[string]string{"KEY": "V"}},
		RevisionId: active.Configuration.RevisionId,
	})
	if err != nil {
		t.Fatal(err)
	}
	if up.State != types.StateActive || up.LastUpdateStatus != types.LastUpdateStatusInProgress ||
		aws.ToString(up.LastUpdateStatusReason) != "The function is being created." || up.LastUpdateStatusReasonCode != types.LastUpdateStatusReasonCode("Creating") {
		t.Errorf("update response: State %s LastUpdateStatus %s reason %q/%s, want Active/InProgress/The function is being created./Creating",
			up.State, up.LastUpdateStatus, aws.ToString(up.LastUpdateStatusReason), up.LastUpdateStatusReasonCode)
	}
	if aws.ToInt32(up.Timeout) != 9 || aws.ToInt32(up.MemorySize) != 512 || aws.ToString(up.Description) != "updated" || up.Environment.Variables["KEY"] != "V" {
		t.Errorf("update response fields: %d %d %q %v", aws.ToInt32(up.Timeout), aws.ToInt32(up.MemorySize), aws.ToString(up.Description), up.Environment)
	}
	rev = append(rev, aws.ToString(up.RevisionId))

	// A second update at once conflicts, naming the function.
	_, err = c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String(name), Timeout: aws.Int32(10)})
	testkit.APIErr(t, err, "ResourceConflictException", 409, "The operation cannot be performed at this time. An update is in progress for resource: "+arn)
	_, err = c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String(name), ZipFile: testkit.HandlerZip(t, "b\n")})
	testkit.APIErr(t, err, "ResourceConflictException", 409, "The operation cannot be performed at this time. An update is in progress for resource: "+arn)
	_, err = c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String(name)})
	testkit.APIErr(t, err, "ResourceConflictException", 409, "The operation cannot be performed at this time. An update is in progress for resource: "+arn)

	done := testkit.WaitUpdated(t, c, name)
	cfg := done.Configuration
	if cfg.LastUpdateStatus != types.LastUpdateStatusSuccessful || cfg.LastUpdateStatusReason != nil || cfg.LastUpdateStatusReasonCode != "" {
		t.Errorf("after update: %s %q %s, want Successful without reasons", cfg.LastUpdateStatus, aws.ToString(cfg.LastUpdateStatusReason), cfg.LastUpdateStatusReasonCode)
	}
	if aws.ToInt32(cfg.Timeout) != 9 || aws.ToInt32(cfg.MemorySize) != 512 {
		t.Errorf("after update: Timeout %d MemorySize %d", aws.ToInt32(cfg.Timeout), aws.ToInt32(cfg.MemorySize))
	}
	rev = append(rev, aws.ToString(cfg.RevisionId))
	seen := map[string]bool{}
	for i, r := range rev {
		if !uuidRE.MatchString(r) || seen[r] {
			t.Errorf("RevisionId #%d = %q: want a new UUID each step (create, Active, update, done): %v", i, r, rev)
		}
		seen[r] = true
	}

	// A redundant update is still an update.
	again, err := c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String(name), Timeout: aws.Int32(9)})
	if err != nil {
		t.Fatal(err)
	}
	if again.LastUpdateStatus != types.LastUpdateStatusInProgress || aws.ToString(again.RevisionId) == rev[3] {
		t.Errorf("redundant update: %s rev %s, want InProgress and a new RevisionId", again.LastUpdateStatus, aws.ToString(again.RevisionId))
	}
	testkit.WaitUpdated(t, c, name)

	// Updating a missing function.
	_, err = c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("fn-missing"), Timeout: aws.Int32(9)})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Function not found: "+testkit.FnARN("fn-missing"))
	// Runtime rules apply to updates too.
	_, err = c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String(name), Runtime: "python3.7"})
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "The runtime parameter of python3.7 is no longer supported for creating or updating AWS Lambda functions. We recommend you use a supported runtime while creating or updating functions.")
}

func TestUpdateFunctionCode(t *testing.T) {
	t.Parallel()
	_, c := servertest.NewEnv(t, servertest.FastTransition)
	ctx := context.Background()
	name := "fn-code"
	zip1 := testkit.HandlerZip(t, "v = 1\n")
	zip2 := testkit.HandlerZip(t, "v = 2\n")
	testkit.CreateActive(t, c, testkit.CreateInput(name, zip1))
	before := testkit.WaitActive(t, c, name).Configuration

	// DryRun checks and changes nothing.
	dry, err := c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String(name), ZipFile: zip2, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(dry.CodeSha256) != testkit.SHA256B64(zip2) {
		t.Errorf("DryRun CodeSha256 = %s, want the new code's %s", aws.ToString(dry.CodeSha256), testkit.SHA256B64(zip2))
	}
	after, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(after.Configuration.CodeSha256) != testkit.SHA256B64(zip1) || aws.ToString(after.Configuration.RevisionId) != aws.ToString(before.RevisionId) ||
		after.Configuration.LastUpdateStatus != types.LastUpdateStatusSuccessful {
		t.Errorf("DryRun changed the function: sha %s rev %s status %s", aws.ToString(after.Configuration.CodeSha256), aws.ToString(after.Configuration.RevisionId), after.Configuration.LastUpdateStatus)
	}
	_, err = c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String(name), ZipFile: []byte("not a zip"), DryRun: true})
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "Could not unzip uploaded file. Please check your file, then try to upload again.")

	// Wrong RevisionId.
	_, err = c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String(name), ZipFile: zip2, RevisionId: aws.String("wrong")})
	testkit.APIErr(t, err, "PreconditionFailedException", 412, revisionMismatch)

	up, err := c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String(name), ZipFile: zip2, RevisionId: before.RevisionId})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(up.CodeSha256) != testkit.SHA256B64(zip2) || up.CodeSize != int64(len(zip2)) || up.LastUpdateStatus != types.LastUpdateStatusInProgress {
		t.Errorf("UpdateFunctionCode: sha %s size %d status %s", aws.ToString(up.CodeSha256), up.CodeSize, up.LastUpdateStatus)
	}
	if aws.ToString(up.RevisionId) == aws.ToString(before.RevisionId) {
		t.Error("UpdateFunctionCode kept the RevisionId")
	}
	done := testkit.WaitUpdated(t, c, name)
	if aws.ToString(done.Configuration.CodeSha256) != testkit.SHA256B64(zip2) {
		t.Errorf("after update CodeSha256 = %s", aws.ToString(done.Configuration.CodeSha256))
	}

	// Publish=true answers with the new version, Pending, while $LATEST updates.
	zip3 := testkit.HandlerZip(t, "v = 3\n")
	pub, err := c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String(name), ZipFile: zip3, Publish: true})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(pub.Version) != "1" || aws.ToString(pub.FunctionArn) != testkit.FnARN(name)+":1" || pub.State != types.StatePending ||
		aws.ToString(pub.StateReason) != "The function is being created." || pub.StateReasonCode != types.StateReasonCodeCreating || pub.LastUpdateStatus != "" {
		t.Errorf("UpdateFunctionCode Publish: version %s arn %s state %s %q %s lus %q",
			aws.ToString(pub.Version), aws.ToString(pub.FunctionArn), pub.State, aws.ToString(pub.StateReason), pub.StateReasonCode, pub.LastUpdateStatus)
	}
	if aws.ToString(pub.CodeSha256) != testkit.SHA256B64(zip3) {
		t.Errorf("published version CodeSha256 = %s, want the new code", aws.ToString(pub.CodeSha256))
	}
	w := lambda.NewPublishedVersionActiveWaiter(c, func(o *lambda.PublishedVersionActiveWaiterOptions) {
		o.MinDelay, o.MaxDelay = 10*time.Millisecond, 50*time.Millisecond
	})
	v1, err := w.WaitForOutput(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(name), Qualifier: aws.String("1")}, 20*time.Second)
	if err != nil {
		t.Fatalf("PublishedVersionActive waiter: %v", err)
	}
	if v1.State != types.StateActive || aws.ToString(v1.CodeSha256) != testkit.SHA256B64(zip3) {
		t.Errorf("version 1: %s %s", v1.State, aws.ToString(v1.CodeSha256))
	}
	testkit.WaitUpdated(t, c, name)

	// Code update of a missing function, and of a version.
	_, err = c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("fn-nope"), ZipFile: zip1})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Function not found: "+testkit.FnARN("fn-nope"))
}

func TestPublishVersion(t *testing.T) {
	t.Parallel()
	_, c := servertest.NewEnv(t, servertest.FastTransition)
	ctx := context.Background()
	name := "fn-publish"
	arn := testkit.FnARN(name)
	zip1 := testkit.HandlerZip(t, "v = 1\n")
	in := testkit.CreateInput(name, zip1)
	in.Description = aws.String("latest description")
	testkit.CreateActive(t, c, in)

	var st testkit.RawStatus
	v1, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String(name)}, st.Option())
	if err != nil {
		t.Fatal(err)
	}
	if st.Code != 201 {
		t.Errorf("PublishVersion status = %d, want 201", st.Code)
	}
	if aws.ToString(v1.Version) != "1" || aws.ToString(v1.FunctionArn) != arn+":1" || v1.State != types.StateActive ||
		v1.LastUpdateStatus != types.LastUpdateStatusSuccessful || aws.ToString(v1.Description) != "latest description" {
		t.Errorf("version 1: %s %s %s %s %q", aws.ToString(v1.Version), aws.ToString(v1.FunctionArn), v1.State, v1.LastUpdateStatus, aws.ToString(v1.Description))
	}
	if aws.ToString(v1.CodeSha256) != testkit.SHA256B64(zip1) || !uuidRE.MatchString(aws.ToString(v1.RevisionId)) {
		t.Errorf("version 1: sha %s rev %s", aws.ToString(v1.CodeSha256), aws.ToString(v1.RevisionId))
	}

	// Nothing changed: the same version comes back, still 201.
	st.Code = 0
	again, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String(name)}, st.Option())
	if err != nil {
		t.Fatal(err)
	}
	if st.Code != 201 || aws.ToString(again.Version) != "1" || aws.ToString(again.RevisionId) != aws.ToString(v1.RevisionId) {
		t.Errorf("publish without change: status %d version %s rev %s, want 201, 1, %s", st.Code, aws.ToString(again.Version), aws.ToString(again.RevisionId), aws.ToString(v1.RevisionId))
	}

	// A wrong CodeSha256 is refused with both hashes named.
	_, err = c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String(name), CodeSha256: aws.String("somenonexistentsha256")})
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "CodeSHA256 (somenonexistentsha256) is different from current CodeSHA256 in $LATEST ("+testkit.SHA256B64(zip1)+"). Please try again with the CodeSHA256 in $LATEST.")
	_, err = c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String(name), RevisionId: aws.String("wrong")})
	testkit.APIErr(t, err, "PreconditionFailedException", 412, revisionMismatch)

	// Change $LATEST: the next publish is 2, with a Description override.
	if _, err := c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String(name), MemorySize: aws.Int32(256)}); err != nil {
		t.Fatal(err)
	}
	testkit.WaitUpdated(t, c, name)
	v2, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String(name), Description: aws.String("second"), CodeSha256: aws.String(testkit.SHA256B64(zip1))})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(v2.Version) != "2" || aws.ToString(v2.FunctionArn) != arn+":2" || aws.ToString(v2.Description) != "second" || aws.ToInt32(v2.MemorySize) != 256 {
		t.Errorf("version 2: %s %s %q %d", aws.ToString(v2.Version), aws.ToString(v2.FunctionArn), aws.ToString(v2.Description), aws.ToInt32(v2.MemorySize))
	}
	w := lambda.NewPublishedVersionActiveWaiter(c, func(o *lambda.PublishedVersionActiveWaiterOptions) {
		o.MinDelay, o.MaxDelay = 10*time.Millisecond, 50*time.Millisecond
	})
	if err := w.Wait(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(name), Qualifier: aws.String("2")}, 10*time.Second); err != nil {
		t.Errorf("PublishedVersionActive waiter on 2: %v", err)
	}

	// Versions are immutable: changing $LATEST leaves 1 alone.
	if _, err := c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String(name), ZipFile: testkit.HandlerZip(t, "v = 9\n")}); err != nil {
		t.Fatal(err)
	}
	testkit.WaitUpdated(t, c, name)
	got1, err := c.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(name), Qualifier: aws.String("1")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(got1.CodeSha256) != testkit.SHA256B64(zip1) || aws.ToInt32(got1.MemorySize) != 128 || aws.ToString(got1.RevisionId) != aws.ToString(v1.RevisionId) ||
		aws.ToString(got1.Version) != "1" || aws.ToString(got1.FunctionArn) != arn+":1" {
		t.Errorf("version 1 changed: sha %s mem %d rev %s", aws.ToString(got1.CodeSha256), aws.ToInt32(got1.MemorySize), aws.ToString(got1.RevisionId))
	}
	// Versions cannot be updated themselves.
	_, err = c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String(name + ":1"), Timeout: aws.Int32(5)})
	if err == nil {
		t.Error("updating version 1 succeeded")
	}

	// Numbers are never reused: delete 2, publish → 3.
	if _, err := c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String(name), Qualifier: aws.String("2")}); err != nil {
		t.Fatal(err)
	}
	v3, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(v3.Version) != "3" {
		t.Errorf("after deleting 2, publish gave version %s, want 3", aws.ToString(v3.Version))
	}

	// Publishing a missing function.
	_, err = c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("fn-absent")})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Function not found: "+testkit.FnARN("fn-absent"))
}

func TestCreateWithPublish(t *testing.T) {
	t.Parallel()
	_, c := servertest.NewEnv(t, servertest.FastTransition)
	in := testkit.CreateInput("fn-create-publish", testkit.HandlerZip(t, "a\n"))
	in.Publish = true
	out := testkit.Create(t, c, in)
	// AWS answers with version 1 under the unqualified ARN, Pending.
	if aws.ToString(out.Version) != "1" || aws.ToString(out.FunctionArn) != testkit.FnARN("fn-create-publish") || out.State != types.StatePending {
		t.Errorf("create with Publish: version %s arn %s state %s", aws.ToString(out.Version), aws.ToString(out.FunctionArn), out.State)
	}
	testkit.WaitActive(t, c, "fn-create-publish")
	v, err := c.GetFunctionConfiguration(context.Background(), &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("fn-create-publish"), Qualifier: aws.String("1")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(v.FunctionArn) != testkit.FnARN("fn-create-publish")+":1" || v.State != types.StateActive {
		t.Errorf("version 1: %s %s", aws.ToString(v.FunctionArn), v.State)
	}
}
