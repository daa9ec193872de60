package server_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"

	"github.com/lambdad/lambdad/internal/logs"
	"github.com/lambdad/lambdad/internal/server"
	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// envHandler answers the value of the environment variable V.
const envHandler = "import os\ndef handler(e, c):\n    return os.environ.get('VAL', '')\n"

// pgNode starts a lambdad on the PostgreSQL store url with a data directory
// of its own whose blobs are the directory blobs (shared by every node, as
// S3 will be).
func pgNode(t *testing.T, url, blobs string, tune func(*server.Config)) (*servertest.Daemon, *lambda.Client) {
	t.Helper()
	dir := t.TempDir()
	if blobs != "" {
		if err := os.MkdirAll(blobs, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(blobs, filepath.Join(dir, "blobs")); err != nil {
			t.Fatal(err)
		}
	}
	d := servertest.StartLambdad(t, dir, func(c *server.Config) {
		c.Store = url
		c.Isolation = "off"
		if tune != nil {
			tune(c)
		}
	})
	return d, servertest.InvokeClient(d)
}

func invokeString(t *testing.T, c *lambda.Client, name string) string {
	t.Helper()
	out := testkit.MustInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String(name)})
	if out.FunctionError != nil {
		t.Fatalf("invoke %s: %s %s", name, *out.FunctionError, out.Payload)
	}
	return strings.Trim(string(out.Payload), `"`)
}

// TestPostgresStoreLifecycle runs a function's life on the PostgreSQL store
// and reads it back from a second lambdad started on the same database.
func TestPostgresStoreLifecycle(t *testing.T) {
	ctx := context.Background()
	url := testkit.Postgres(t)
	blobs := filepath.Join(t.TempDir(), "blobs")
	d, c := pgNode(t, url, blobs, nil)
	in := testkit.PyFunction(t, "life", envHandler)
	in.Environment = &types.Environment{Variables: map[string]string{"VAL": "one"}}
	testkit.CreateActive(t, c, in)
	if got := invokeString(t, c, "life"); got != "one" {
		t.Fatalf("invoke = %q", got)
	}
	if _, err := c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("life"),
		Environment: &types.Environment{Variables: map[string]string{"VAL": "two"}}}); err != nil {
		t.Fatal(err)
	}
	testkit.WaitUpdated(t, c, "life")
	v, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("life")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("life"), Name: aws.String("live"), FunctionVersion: v.Version}); err != nil {
		t.Fatal(err)
	}
	if got := invokeString(t, c, "life:live"); got != "two" {
		t.Fatalf("invoke of the alias = %q", got)
	}
	d.Stop()

	_, c2 := pgNode(t, url, blobs, nil)
	a, err := c2.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String("life"), Name: aws.String("live")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(a.FunctionVersion) != aws.ToString(v.Version) {
		t.Errorf("alias points at %s, want %s", aws.ToString(a.FunctionVersion), aws.ToString(v.Version))
	}
	if got := invokeString(t, c2, "life:live"); got != "two" {
		t.Fatalf("invoke of the alias on a new node = %q", got)
	}
	// Code links are signed with a key both nodes share.
	g, err := c2.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("life")})
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := fetch(t, aws.ToString(g.Code.Location)); code != 200 {
		t.Errorf("code link from the second node: HTTP %d", code)
	}
}

// TestPostgresTwoNodes runs two lambdad on one database: what one writes
// the other reads, concurrent conditional updates have one winner, and an
// update on one node reaches the other's invokes at once.
func TestPostgresTwoNodes(t *testing.T) {
	ctx := context.Background()
	url := testkit.Postgres(t)
	blobs := filepath.Join(t.TempDir(), "blobs")
	// No transition: an update's loser meets the new RevisionId, not an
	// update in progress.
	noTransition := func(c *server.Config) { c.Transition = 0 }
	da, a := pgNode(t, url, blobs, noTransition)
	_, b := pgNode(t, url, blobs, noTransition)
	in := testkit.PyFunction(t, "shared", envHandler)
	in.Environment = &types.Environment{Variables: map[string]string{"VAL": "a0"}}
	testkit.CreateActive(t, a, in)
	testkit.WaitActive(t, b, "shared")
	if got := invokeString(t, b, "shared"); got != "a0" {
		t.Fatalf("invoke on B = %q", got)
	}

	for i := range 20 {
		g, err := a.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("shared")})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for n, c := range []*lambda.Client{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[n] = c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{
					FunctionName: aws.String("shared"), RevisionId: g.RevisionId,
					Description: aws.String(fmt.Sprintf("round %d node %d", i, n))})
			}()
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			var ae smithy.APIError
			switch {
			case err == nil:
				won++
			case errors.As(err, &ae) && ae.ErrorCode() == "PreconditionFailedException":
			default:
				t.Fatalf("round %d: %v", i, err)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d updates succeeded with one RevisionId (%v), want exactly 1", i, won, errs)
		}
		testkit.WaitUpdated(t, a, "shared")
	}

	// Two creates of one name: one 201, one 409.
	for i := range 5 {
		name := fmt.Sprintf("twin-%d", i)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for n, c := range []*lambda.Client{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[n] = c.CreateFunction(ctx, testkit.PyFunction(t, name, envHandler))
			}()
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			var ae smithy.APIError
			switch {
			case err == nil:
				won++
			case errors.As(err, &ae) && ae.ErrorCode() == "ResourceConflictException":
			default:
				t.Fatalf("create %s: %v", name, err)
			}
		}
		if won != 1 {
			t.Fatalf("create %s: %d creates succeeded (%v), want exactly 1", name, won, errs)
		}
	}

	// B has a cached snapshot of the function; A's update must reach it
	// through the notification, not a timeout.
	if got := invokeString(t, b, "shared"); got != "a0" {
		t.Fatalf("invoke on B = %q", got)
	}
	if _, err := a.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("shared"),
		Environment: &types.Environment{Variables: map[string]string{"VAL": "a1"}}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for got := ""; got != "a1"; got = invokeString(t, b, "shared") {
		if time.Now().After(deadline) {
			t.Fatalf("B still invokes the old configuration (VAL=%q) 5 s after A's update", got)
		}
	}
	_ = da
}

// TestMigrateStore writes with a lambdad on bbolt, copies its store into
// PostgreSQL, and serves the function from there.
func TestMigrateStore(t *testing.T) {
	ctx := context.Background()
	url := testkit.Postgres(t)
	dir := t.TempDir()
	// On bbolt, whatever LAMBDAD_TEST_STORE says: that is what is moved.
	d := servertest.StartLambdad(t, dir, func(cfg *server.Config) { cfg.Store = ""; cfg.Isolation = "off" })
	c := servertest.InvokeClient(d)
	in := testkit.PyFunction(t, "moved", envHandler)
	in.Environment = &types.Environment{Variables: map[string]string{"VAL": "kept"}}
	testkit.CreateActive(t, c, in)
	before, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("moved")})
	if err != nil {
		t.Fatal(err)
	}
	// An invocation whose log moves with the store.
	ran := testkit.MustInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("moved")})
	requestID, _ := middleware.GetRequestIDMetadata(ran.ResultMetadata)
	if requestID == "" {
		t.Fatal("no request id")
	}
	if _, err := server.MigrateStore(ctx, dir, url, false, nil); err == nil {
		t.Fatal("migrate while lambdad runs on the data directory succeeded")
	}
	d.Stop()

	n, err := server.MigrateStore(ctx, dir, url, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n.Records == 0 || n.LogGroups != 1 || n.LogEvents < 3 {
		t.Fatalf("copied %+v, want records and the function's log group", n)
	}
	if _, err := server.MigrateStore(ctx, dir, url, false, nil); !errors.Is(err, logs.ErrPGNotEmpty) {
		t.Fatalf("a second migrate into the same store = %v, want it refused", err)
	}
	if m, err := server.MigrateStore(ctx, dir, url, true, nil); err != nil || m != n {
		t.Fatalf("migrate with replace = %+v, %v; want %+v", m, err, n)
	}

	d2 := servertest.StartLambdad(t, dir, func(cfg *server.Config) { cfg.Store = url; cfg.Isolation = "off" })
	c2 := servertest.InvokeClient(d2)
	after, err := c2.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("moved")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(after.Configuration.RevisionId) != aws.ToString(before.Configuration.RevisionId) ||
		aws.ToString(after.Configuration.CodeSha256) != aws.ToString(before.Configuration.CodeSha256) {
		t.Errorf("after migrate: revision %s sha %s, want %s %s", aws.ToString(after.Configuration.RevisionId), aws.ToString(after.Configuration.CodeSha256),
			aws.ToString(before.Configuration.RevisionId), aws.ToString(before.Configuration.CodeSha256))
	}
	// The invocation before the move is in the logs PostgreSQL serves.
	out, err := d2.Logs().FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("/aws/lambda/moved"),
		FilterPattern: aws.String(`"` + requestID + `"`)})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, e := range out.Events {
		lines = append(lines, strings.Fields(aws.ToString(e.Message))[0])
	}
	if strings.Join(lines, " ") != "START END REPORT" {
		t.Fatalf("the moved invocation's log lines: %q, want START END REPORT", lines)
	}
	if got := invokeString(t, c2, "moved"); got != "kept" {
		t.Fatalf("invoke after migrate = %q", got)
	}
	// The code link handed out before the move still works: the key moved too.
	old := strings.Replace(aws.ToString(before.Code.Location), d.URL, d2.URL, 1)
	if code, _ := fetch(t, old); code != 200 {
		t.Errorf("old code link after migrate: HTTP %d", code)
	}
}

// TestStoreRefused: lambdad does not start on a store it cannot use.
func TestStoreRefused(t *testing.T) {
	for _, url := range []string{"mysql://x", "postgres://nobody@127.0.0.1:1/x?connect_timeout=2"} {
		_, err := server.New(server.Config{DataDir: t.TempDir(), Store: url})
		if err == nil || !strings.Contains(err.Error(), "--store") {
			t.Errorf("server.New(--store %s) = %v, want refused naming --store", url, err)
		}
	}
}
