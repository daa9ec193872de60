package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/server"
	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// TestDefaultAccount checks --account: a key that is not 12 digits (moto's
// FOOBARKEY) acts as the configured account, in ARNs and in the function's
// own context; a 12-digit key still is its own account.
func TestDefaultAccount(t *testing.T) {
	t.Parallel()
	d := servertest.StartLambdad(t, t.TempDir(), func(c *server.Config) { c.Account = "123456789012"; c.Isolation = "off" })
	foobar := testkit.Client(d.URL, "FOOBARKEY", "bar", testkit.Region)
	ctx := context.Background()
	in := testkit.PyFunction(t, "acct", "def handler(e, c):\n    return c.invoked_function_arn\n")
	in.Role = aws.String("arn:aws:iam::123456789012:role/lambda-role")
	fn := testkit.CreateActive(t, foobar, in)
	if want := "arn:aws:lambda:us-east-1:123456789012:function:acct"; aws.ToString(fn.Configuration.FunctionArn) != want {
		t.Errorf("FunctionArn = %s, want %s", aws.ToString(fn.Configuration.FunctionArn), want)
	}
	out := testkit.Call(t, foobar, "acct", `{}`)
	if got := string(out.Payload); got != `"arn:aws:lambda:us-east-1:123456789012:function:acct"` {
		t.Errorf("invoked_function_arn = %s", got)
	}
	// Another account's key sees nothing of it.
	other := testkit.Client(d.URL, "111122223333", "bar", testkit.Region)
	_, err := other.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("acct")})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Function not found: arn:aws:lambda:us-east-1:111122223333:function:acct")
	// Nor does the default account's when --account is not set.
	d0 := servertest.StartLambdad(t, t.TempDir(), nil)
	c0 := testkit.Client(d0.URL, "FOOBARKEY", "bar", testkit.Region)
	fn0 := testkit.Create(t, c0, testkit.PyFunction(t, "acct", "def handler(e, c):\n    return 1\n"))
	if arn := aws.ToString(fn0.FunctionArn); !strings.Contains(arn, ":000000000000:") {
		t.Errorf("without --account: %s", arn)
	}
}

// postReset POSTs /_lambdad/reset, signed with key/secret when key is set.
func postReset(t *testing.T, url, key, secret string) (int, server.Reset) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/_lambdad/reset", nil)
	if key != "" {
		sum := sha256.Sum256(nil)
		err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: key, SecretAccessKey: secret}, req,
			hex.EncodeToString(sum[:]), "lambda", testkit.Region, time.Now())
		if err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out server.Reset
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode, out
}

// TestReset checks POST /_lambdad/reset: every function, layer, code
// signing config and capacity provider of every account is gone, their
// environments stop, and the same names can be created again at once.
func TestReset(t *testing.T) {
	t.Parallel()
	d, c := servertest.InvokeEnv(t, servertest.IsolationOff)
	other := testkit.Client(d.URL, testkit.Account, "secret", testkit.Region)
	ctx := context.Background()
	testkit.CreateActive(t, c, testkit.PyFunction(t, "keep", "def handler(e, c):\n    return 1\n"))
	testkit.CreateActive(t, other, testkit.PyFunction(t, "keep", "def handler(e, c):\n    return 2\n"))
	testkit.Call(t, c, "keep", `{}`)
	if _, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("keep")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PublishLayerVersion(ctx, &lambda.PublishLayerVersionInput{LayerName: aws.String("lib"),
		Content: &types.LayerVersionContentInput{ZipFile: testkit.HandlerZip(t, "x = 1\n")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateCodeSigningConfig(ctx, &lambda.CreateCodeSigningConfigInput{AllowedPublishers: &types.AllowedPublishers{
		SigningProfileVersionArns: []string{"arn:aws:signer:us-east-1:000000000000:/signing-profiles/p/abcdefghij"}}}); err != nil {
		t.Fatal(err)
	}
	createProvider(t, other, "cp")
	if n := envCount(t, d.URL); n != 1 {
		t.Fatalf("environments before reset: %d", n)
	}
	status, out := postReset(t, d.URL, "", "")
	if status != http.StatusOK {
		t.Fatalf("reset: %d", status)
	}
	if out.Functions != 2 || out.Layers != 1 || out.CodeSigningConfigs != 1 || out.CapacityProviders != 1 {
		t.Errorf("reset removed %+v", out)
	}
	t.Logf("reset took %.1f ms", out.Seconds*1000)
	for _, cl := range []*lambda.Client{c, other} {
		fns, err := cl.ListFunctions(ctx, &lambda.ListFunctionsInput{FunctionVersion: types.FunctionVersionAll})
		if err != nil || len(fns.Functions) != 0 {
			t.Errorf("functions after reset: %v %v", fns, err)
		}
		ls, err := cl.ListLayers(ctx, &lambda.ListLayersInput{})
		if err != nil || len(ls.Layers) != 0 {
			t.Errorf("layers after reset: %v %v", ls, err)
		}
		cs, err := cl.ListCodeSigningConfigs(ctx, &lambda.ListCodeSigningConfigsInput{})
		if err != nil || len(cs.CodeSigningConfigs) != 0 {
			t.Errorf("code signing configs after reset: %v %v", cs, err)
		}
		cp, err := cl.ListCapacityProviders(ctx, &lambda.ListCapacityProvidersInput{})
		if err != nil || len(cp.CapacityProviders) != 0 {
			t.Errorf("capacity providers after reset: %v %v", cp, err)
		}
	}
	_, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("keep")})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Function not found: "+testkit.InvokeARN("keep"))
	testkit.Eventually(t, 5*time.Second, "environments stopped", func() bool { return envCount(t, d.URL) == 0 })
	// The same name again, with other code: nothing of the old one runs.
	testkit.CreateActive(t, c, testkit.PyFunction(t, "keep", "def handler(e, c):\n    return 3\n"))
	if got := string(testkit.Call(t, c, "keep", `{}`).Payload); got != "3" {
		t.Errorf("after reset the new function answered %s", got)
	}
	// A layer name numbers its versions from 1 again.
	lv, err := c.PublishLayerVersion(ctx, &lambda.PublishLayerVersionInput{LayerName: aws.String("lib"),
		Content: &types.LayerVersionContentInput{ZipFile: testkit.HandlerZip(t, "x = 2\n")}})
	if err != nil || lv.Version != 1 {
		t.Errorf("a layer after reset: %v %v", lv, err)
	}
}

// TestResetWhileInvoking resets while an invoke runs: the invoke finishes
// on its environment, which then stops.
func TestResetWhileInvoking(t *testing.T) {
	t.Parallel()
	d, c := servertest.InvokeEnv(t, servertest.IsolationOff)
	testkit.CreateActive(t, c, testkit.PyFunction(t, "slow", "import time\ndef handler(e, c):\n    time.sleep(1)\n    return 'done'\n"))
	done := make(chan *lambda.InvokeOutput, 1)
	go func() {
		out, err := c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("slow")})
		if err != nil {
			t.Error(err)
		}
		done <- out
	}()
	testkit.Eventually(t, 5*time.Second, "the invoke started", func() bool { return envCount(t, d.URL) == 1 })
	if status, out := postReset(t, d.URL, "", ""); status != http.StatusOK || out.Functions != 1 {
		t.Fatalf("reset: %d %+v", status, out)
	}
	if out := <-done; out != nil && string(out.Payload) != `"done"` {
		t.Errorf("the running invoke answered %s", out.Payload)
	}
	testkit.Eventually(t, 5*time.Second, "environments stopped", func() bool { return envCount(t, d.URL) == 0 })
}

// TestResetAuthorization: with --credentials, only a request signed with
// an --admin-keys key resets, whatever its address; without, loopback
// clients may, but never a function's environment.
func TestResetAuthorization(t *testing.T) {
	t.Parallel()
	d := servertest.StartLambdad(t, t.TempDir(), func(c *server.Config) {
		c.Credentials = map[string]string{"ADMIN": "s1", "USER": "s2"}
		c.AdminKeys = []string{"ADMIN"}
	})
	for _, k := range []struct{ key, secret string }{{"", ""}, {"USER", "s2"}, {"ADMIN", "wrong"}} {
		if status, _ := postReset(t, d.URL, k.key, k.secret); status != http.StatusForbidden {
			t.Errorf("reset signed by %q: %d, want 403", k.key, status)
		}
	}
	if status, _ := postReset(t, d.URL, "ADMIN", "s1"); status != http.StatusOK {
		t.Errorf("reset by the admin key: %d", status)
	}
	if os.Geteuid() != 0 {
		t.Skip("a function's connections are known by their owner only with isolation, as root")
	}
	// A function tries it on the loopback address lambdad gave it.
	d2, c := servertest.InvokeEnv(t, nil)
	testkit.CreateActive(t, c, testkit.PyFunction(t, "wiper", `import os, urllib.request, urllib.error
def handler(e, c):
    req = urllib.request.Request(os.environ["AWS_ENDPOINT_URL_LAMBDA"] + "/_lambdad/reset", method="POST", data=b"")
    try:
        return urllib.request.urlopen(req, timeout=5).status
    except urllib.error.HTTPError as err:
        return err.code
`))
	if got := string(testkit.Call(t, c, "wiper", `{}`).Payload); got != "403" {
		t.Errorf("a function's reset answered %s, want 403", got)
	}
	if _, err := c.GetFunction(context.Background(), &lambda.GetFunctionInput{FunctionName: aws.String("wiper")}); err != nil {
		t.Errorf("the function wiped itself: %v", err)
	}
	_ = d2
}

// envCount reads lambdad_environments from /_lambdad/metrics.
func envCount(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url + "/_lambdad/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, "lambdad_environments "); ok {
			n, _ := strconv.ParseFloat(v, 64)
			return int(n)
		}
	}
	t.Fatalf("no lambdad_environments in\n%s", body)
	return 0
}

// TestFunctionMetrics checks the Prometheus figures per function version
// (invocations, errors, cold starts, throttles, the duration histogram) and
// Go's runtime metrics, through a real scrape.
func TestFunctionMetrics(t *testing.T) {
	t.Parallel()
	d, c := servertest.InvokeEnv(t, servertest.IsolationOff)
	ctx := context.Background()
	testkit.CreateActive(t, c, testkit.PyFunction(t, "m1", "def handler(e, c):\n    if e.get('fail'):\n        raise ValueError('no')\n    return 1\n"))
	testkit.Call(t, c, "m1", `{}`)
	testkit.Call(t, c, "m1", `{}`)
	testkit.Call(t, c, "m1", `{"fail": true}`)
	if _, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("m1")}); err != nil {
		t.Fatal(err)
	}
	testkit.MustInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("m1"), Qualifier: aws.String("1")})
	testkit.CreateActive(t, c, testkit.PyFunction(t, "m2", "def handler(e, c):\n    return 2\n"))
	if _, err := c.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("m2"), ReservedConcurrentExecutions: aws.Int32(0)}); err != nil {
		t.Fatal(err)
	}
	_, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("m2")})
	testkit.APIErrPrefix(t, err, "TooManyRequestsException", 429, "")
	body := scrape(t, d.URL)
	for _, want := range []string{
		`lambdad_function_invocations_total{function="m1",version="$LATEST"} 3` + "\n",
		`lambdad_function_invocations_total{function="m1",version="1"} 1` + "\n",
		`lambdad_function_invocation_errors_total{function="m1",version="$LATEST"} 1` + "\n",
		`lambdad_function_cold_starts_total{function="m1",version="$LATEST"} 1` + "\n",
		`lambdad_function_cold_starts_total{function="m1",version="1"} 1` + "\n",
		`lambdad_function_duration_seconds_count{function="m1",version="$LATEST"} 3` + "\n",
		`lambdad_function_duration_seconds_bucket{function="m1",version="$LATEST",le="+Inf"} 3` + "\n",
		`lambdad_function_throttles_total{function="m2",version="$LATEST"} 1` + "\n",
		"lambdad_invocations_total 4\n", "lambdad_function_errors_total 1\n", "lambdad_throttles_total 1\n",
		"# TYPE go_goroutines gauge\n", "# TYPE process_resident_memory_bytes gauge\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if t.Failed() {
		t.Log(body)
	}
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url + "/_lambdad/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestTransitionZero checks the README's fast-tests setting: with
// --transition 0 nothing is ever Pending or InProgress, so a test needs no
// waiter between CreateFunction, UpdateFunctionCode, PublishVersion and
// Invoke.
func TestTransitionZero(t *testing.T) {
	t.Parallel()
	_, c := servertest.InvokeEnv(t, func(cfg *server.Config) { cfg.Transition = 0; cfg.Isolation = "off" })
	ctx := context.Background()
	created := testkit.Create(t, c, testkit.PyFunction(t, "instant", "def handler(e, c):\n    return 1\n"))
	if created.State != types.StateActive {
		t.Errorf("CreateFunction State %s", created.State)
	}
	testkit.Call(t, c, "instant", `{}`) // no waiter
	up, err := c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("instant"),
		ZipFile: testkit.HandlerZip(t, "def handler(e, c):\n    return 2\n")})
	if err != nil || up.LastUpdateStatus != types.LastUpdateStatusSuccessful {
		t.Fatalf("UpdateFunctionCode: %v %v", up, err)
	}
	if got := string(testkit.Call(t, c, "instant", `{}`).Payload); got != "2" {
		t.Errorf("right after the update: %s", got)
	}
	v, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("instant")})
	if err != nil || v.State != types.StateActive {
		t.Fatalf("PublishVersion: %v %v", v, err)
	}
	testkit.MustInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("instant"), Qualifier: v.Version})
}
