package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// Tenant isolation (TenancyConfig PER_TENANT), through the real API with
// real Python and Node functions.

// tenantMismatch is AWS's documented InvalidParameterValueException text
// for a tenant that does not fit the function (invoke/tenancy.go).
const tenantMismatch = "Tenant ID configuration not specified or passed to a function when tenant isolation is not enabled."

func perTenant() *types.TenancyConfig {
	return &types.TenancyConfig{TenantIsolationMode: types.TenantIsolationModePerTenant}
}

// pyTenant answers with its process's random id, its tenant and what its
// process has seen; "plant" leaves a file in /tmp and a child process
// marked with the tenant, "look" lists /tmp and every visible process's
// command line, "attack" asks another environment's Runtime API for work.
const pyTenant = `import http.client, json, logging, os, subprocess, sys, uuid

PROC = uuid.uuid4().hex
seen = []
children = []

def handler(event, context):
    seen.append(event.get("mark"))
    if event.get("mark") and os.environ.get("MARKS"):
        open(os.path.join(os.environ["MARKS"], "%s-%s-%s" % (event["mark"], context.tenant_id, PROC)), "w").close()
    logging.getLogger().info("tenant log line")
    out = {"proc": PROC, "tenant": context.tenant_id, "seen": seen, "api": os.environ["AWS_LAMBDA_RUNTIME_API"]}
    op = event.get("op")
    if op == "plant":
        with open("/tmp/secret-" + context.tenant_id, "w") as f:
            f.write("mine")
        children.append(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", "marker-" + context.tenant_id]))
    elif op == "look":
        out["tmp"] = sorted(os.listdir("/tmp"))
        cmds = []
        for p in os.listdir("/proc"):
            if p.isdigit():
                try:
                    with open("/proc/%s/cmdline" % p, "rb") as f:
                        cmds.append(f.read().replace(b"\0", b" ").decode())
                except OSError:
                    pass
        out["cmds"] = cmds
    elif op == "attack":
        host, port = event["api"].split(":")
        try:
            c = http.client.HTTPConnection(host, int(port), timeout=4)
            c.request("GET", "/2018-06-01/runtime/invocation/next")
            r = c.getresponse()
            out["attack"] = "status %d %s" % (r.status, r.getheader("Lambda-Runtime-Aws-Request-Id"))
            if r.status == 200:
                rid = r.getheader("Lambda-Runtime-Aws-Request-Id")
                r.read()
                c.request("POST", "/2018-06-01/runtime/invocation/%s/response" % rid, json.dumps({"proc": "attacker"}))
                c.getresponse().read()
        except Exception as e:
            out["attack"] = "refused: %r" % (e,)
    return out
`

type tenantOut struct {
	Proc   string   `json:"proc"`
	Tenant *string  `json:"tenant"`
	Seen   []string `json:"seen"`
	API    string   `json:"api"`
	Tmp    []string `json:"tmp"`
	Cmds   []string `json:"cmds"`
	Attack string   `json:"attack"`
}

func tenantCall(t *testing.T, c *lambda.Client, name, tenant, payload string) tenantOut {
	t.Helper()
	out := testkit.MustInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String(name), TenantId: aws.String(tenant), Payload: []byte(payload)})
	if out.FunctionError != nil {
		t.Fatalf("%s for tenant %s failed: %s", name, tenant, out.Payload)
	}
	return testkit.DecodeJSON[tenantOut](t, out.Payload)
}

func TestTenancyInvoke(t *testing.T) {
	t.Parallel()
	_, c := servertest.InvokeEnv(t, nil)
	ctx := context.Background()
	in := testkit.PyFunction(t, "tenanted", pyTenant)
	in.TenancyConfig = perTenant()
	in.LoggingConfig = &types.LoggingConfig{LogFormat: types.LogFormatJson}
	testkit.CreateActive(t, c, in)
	testkit.CreateActive(t, c, testkit.PyFunction(t, "shared", pyTenant))

	t.Run("refusals", func(t *testing.T) {
		_, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("tenanted"), Payload: []byte(`{}`)})
		testkit.APIErr(t, err, "InvalidParameterValueException", 400, tenantMismatch)
		_, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("tenanted"), Payload: []byte(`{}`), InvocationType: types.InvocationTypeEvent})
		testkit.APIErr(t, err, "InvalidParameterValueException", 400, tenantMismatch)
		_, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("shared"), TenantId: aws.String("a"), Payload: []byte(`{}`)})
		testkit.APIErr(t, err, "InvalidParameterValueException", 400, tenantMismatch)
		_, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("tenanted"), TenantId: aws.String("bad#tenant"), Payload: []byte(`{}`)})
		testkit.APIErr(t, err, "ValidationException", 400,
			"1 validation error detected: Value 'bad#tenant' at 'tenantId' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9\\._:\\/=+\\-@ ]+")
		_, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("tenanted"), TenantId: aws.String(strings.Repeat("t", 257)), Payload: []byte(`{}`)})
		testkit.APIErrPrefix(t, err, "ValidationException", 400, "1 validation error detected: Value '"+strings.Repeat("t", 257)+"' at 'tenantId' failed to satisfy constraint: Member must have length less than or equal to 256")
	})

	t.Run("environments", func(t *testing.T) {
		a1 := tenantCall(t, c, "tenanted", "a", `{"mark":"a1"}`)
		b1 := tenantCall(t, c, "tenanted", "b", `{"mark":"b1"}`)
		a2 := tenantCall(t, c, "tenanted", "a", `{"mark":"a2"}`)
		b2 := tenantCall(t, c, "tenanted", "b", `{"mark":"b2"}`)
		if a1.Proc == b1.Proc || a1.Proc == b2.Proc || a2.Proc == b1.Proc {
			t.Fatalf("tenants a and b shared a process: a %s %s, b %s %s", a1.Proc, a2.Proc, b1.Proc, b2.Proc)
		}
		if a1.Proc != a2.Proc || b1.Proc != b2.Proc {
			t.Errorf("no warm reuse within a tenant: a %s %s, b %s %s", a1.Proc, a2.Proc, b1.Proc, b2.Proc)
		}
		if aws.ToString(a2.Tenant) != "a" || aws.ToString(b2.Tenant) != "b" {
			t.Errorf("context.tenant_id: a saw %v, b saw %v", a2.Tenant, b2.Tenant)
		}
		if !slices.Equal(a2.Seen, []string{"a1", "a2"}) || !slices.Equal(b2.Seen, []string{"b1", "b2"}) {
			t.Errorf("a process saw another tenant's events: a %v, b %v", a2.Seen, b2.Seen)
		}
		// A function without isolation has tenant_id None, as AWS's runtime.
		shared := testkit.DecodeJSON[tenantOut](t, testkit.Call(t, c, "shared", `{}`).Payload)
		if shared.Tenant != nil {
			t.Errorf("context.tenant_id of a function without isolation: %q, want None", *shared.Tenant)
		}
	})

	t.Run("logs", func(t *testing.T) {
		out := testkit.MustInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("tenanted"), TenantId: aws.String("blue"),
			Payload: []byte(`{}`), LogType: types.LogTypeTail})
		recs := jsonLines(t, testkit.Tail(t, out))
		var start, report, app bool
		for _, r := range recs {
			switch {
			case r["type"] == "platform.start":
				start = r["record"].(map[string]any)["tenantId"] == "blue"
			case r["type"] == "platform.report":
				report = r["record"].(map[string]any)["tenantId"] == "blue"
			case r["message"] == "tenant log line":
				app = r["tenantId"] == "blue"
			}
		}
		if !start || !report || !app {
			t.Errorf("tenantId in platform.start %v, platform.report %v, application log %v:\n%v", start, report, app, recs)
		}
	})
}

// TestTenancyEvent: an Event invoke keeps its tenant through the queue; the
// function leaves a marker naming the tenant it saw and its process.
func TestTenancyEvent(t *testing.T) {
	t.Parallel()
	_, c := servertest.InvokeEnv(t, servertest.IsolationOff)
	dir := t.TempDir()
	in := testkit.PyFunction(t, "tenant-events", pyTenant)
	in.TenancyConfig = perTenant()
	in.Environment = &types.Environment{Variables: map[string]string{"MARKS": dir}}
	testkit.CreateActive(t, c, in)
	a := tenantCall(t, c, "tenant-events", "a", `{}`)
	testkit.MustInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("tenant-events"), TenantId: aws.String("ev"),
		Payload: []byte(`{"mark":"queued"}`), InvocationType: types.InvocationTypeEvent})
	testkit.Eventually(t, 15*time.Second, "the queued event never ran", func() bool { return len(testkit.Markers(t, dir, "queued-")) == 1 })
	m := testkit.Markers(t, dir, "queued-")[0]
	if !strings.HasPrefix(m, "queued-ev-") || strings.HasSuffix(m, a.Proc) {
		t.Errorf("the event ran as %q: want tenant ev, in a process not tenant a's (%s)", m, a.Proc)
	}
}

// TestTenancyEnvironmentLimit: AWS allows a function's tenants 2,500
// environments (active or idle) per 1,000 concurrent executions; with a
// reserved concurrency of 1 that is 2, and a third tenant is throttled
// while the first two go on.
func TestTenancyEnvironmentLimit(t *testing.T) {
	t.Parallel()
	_, c := servertest.InvokeEnv(t, servertest.IsolationOff)
	ctx := context.Background()
	in := testkit.PyFunction(t, "few-tenants", pyTenant)
	in.TenancyConfig = perTenant()
	testkit.CreateActive(t, c, in)
	if _, err := c.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("few-tenants"), ReservedConcurrentExecutions: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	a := tenantCall(t, c, "few-tenants", "a", `{}`)
	tenantCall(t, c, "few-tenants", "b", `{}`)
	_, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("few-tenants"), TenantId: aws.String("c"), Payload: []byte(`{}`)})
	testkit.APIErr(t, err, "TooManyRequestsException", 429, "Rate exceeded")
	if again := tenantCall(t, c, "few-tenants", "a", `{}`); again.Proc != a.Proc {
		t.Errorf("tenant a lost its warm environment: %s then %s", a.Proc, again.Proc)
	}
}

func jsonLines(t *testing.T, log string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(log), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err == nil {
			out = append(out, m)
		}
	}
	return out
}

// nodeTenant shows context.tenantId and logs a JSON record.
const nodeTenant = `const PROC = require("crypto").randomUUID();
exports.handler = async (event, context) => {
  console.log("node tenant line");
  return { proc: PROC, tenant: context.tenantId === undefined ? null : context.tenantId };
};
`

func TestTenancyNode(t *testing.T) {
	t.Parallel()
	_, c := servertest.InvokeEnv(t, nil)
	in := testkit.NodeFunction(t, "node-tenanted", "index.js", "index.handler", nodeTenant)
	in.TenancyConfig = perTenant()
	in.LoggingConfig = &types.LoggingConfig{LogFormat: types.LogFormatJson}
	testkit.CreateActive(t, c, in)
	testkit.CreateActive(t, c, testkit.NodeFunction(t, "node-shared", "index.js", "index.handler", nodeTenant))
	call := func(tenant string) (tenantOut, string) {
		out := testkit.MustInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("node-tenanted"), TenantId: aws.String(tenant),
			Payload: []byte(`{}`), LogType: types.LogTypeTail})
		return testkit.DecodeJSON[tenantOut](t, out.Payload), testkit.Tail(t, out)
	}
	a1, logA := call("a")
	b1, _ := call("b")
	a2, _ := call("a")
	if a1.Proc == b1.Proc || a1.Proc != a2.Proc {
		t.Errorf("processes: a %s then %s, b %s", a1.Proc, a2.Proc, b1.Proc)
	}
	if aws.ToString(a1.Tenant) != "a" || aws.ToString(b1.Tenant) != "b" {
		t.Errorf("context.tenantId: a %v, b %v", a1.Tenant, b1.Tenant)
	}
	var app bool
	for _, r := range jsonLines(t, logA) {
		if r["message"] == "node tenant line" {
			app = r["tenantId"] == "a"
		}
	}
	if !app {
		t.Errorf("no tenantId in the JSON application log:\n%s", logA)
	}
	shared := testkit.DecodeJSON[tenantOut](t, testkit.Call(t, c, "node-shared", `{}`).Payload)
	if shared.Tenant != nil {
		t.Errorf("context.tenantId without isolation: %q", *shared.Tenant)
	}
}

func TestTenancyControlPlane(t *testing.T) {
	t.Parallel()
	d, c := servertest.InvokeEnv(t, servertest.IsolationOff)
	ctx := context.Background()
	in := testkit.PyFunction(t, "iso", pyTenant)
	in.TenancyConfig = perTenant()
	got := testkit.CreateActive(t, c, in)
	if got.Configuration.TenancyConfig == nil || got.Configuration.TenancyConfig.TenantIsolationMode != types.TenantIsolationModePerTenant {
		t.Fatalf("TenancyConfig after create: %+v", got.Configuration.TenancyConfig)
	}
	missing := func(name string) {
		t.Helper()
		_, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(name)})
		testkit.APIErrPrefix(t, err, "ResourceNotFoundException", 404, "Function not found")
	}

	// A mode outside the model's enum.
	bad := testkit.PyFunction(t, "bad-mode", pyTenant)
	bad.TenancyConfig = &types.TenancyConfig{TenantIsolationMode: "PER_REQUEST"}
	_, err := c.CreateFunction(ctx, bad)
	testkit.APIErr(t, err, "ValidationException", 400,
		"1 validation error detected: Value 'PER_REQUEST' at 'tenancyConfig.tenantIsolationMode' failed to satisfy constraint: Member must satisfy enum value set: [PER_TENANT]")
	missing("bad-mode")

	// SnapStart with isolation, at creation and later.
	snap := testkit.PyFunction(t, "iso-snap", pyTenant)
	snap.TenancyConfig = perTenant()
	snap.SnapStart = &types.SnapStart{ApplyOn: types.SnapStartApplyOnPublishedVersions}
	_, err = c.CreateFunction(ctx, snap)
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "SnapStart is not supported for functions with tenant isolation mode enabled.")
	missing("iso-snap")
	_, err = c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("iso"),
		SnapStart: &types.SnapStart{ApplyOn: types.SnapStartApplyOnPublishedVersions}, Description: aws.String("changed")})
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "SnapStart is not supported for functions with tenant isolation mode enabled.")
	cfg, err := c.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("iso")})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SnapStart.ApplyOn != types.SnapStartApplyOnNone || aws.ToString(cfg.Description) != "" || aws.ToString(cfg.RevisionId) != aws.ToString(got.Configuration.RevisionId) {
		t.Errorf("a refused update changed the function: SnapStart %v, Description %q", cfg.SnapStart.ApplyOn, aws.ToString(cfg.Description))
	}
	// SnapStart None stays allowed.
	if _, err := c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("iso"),
		SnapStart: &types.SnapStart{ApplyOn: types.SnapStartApplyOnNone}}); err != nil {
		t.Errorf("SnapStart None on a tenant-isolated function: %v", err)
	}
	testkit.WaitUpdated(t, c, "iso")

	// Function URLs.
	_, err = c.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("iso"), AuthType: types.FunctionUrlAuthTypeNone})
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "Function URLs is not supported for functions with tenant isolation mode enabled.")
	_, err = c.GetFunctionUrlConfig(ctx, &lambda.GetFunctionUrlConfigInput{FunctionName: aws.String("iso")})
	testkit.APIErrPrefix(t, err, "ResourceNotFoundException", 404, "")

	// Fixed at creation: UpdateFunctionConfiguration has no TenancyConfig
	// in its model, so one sent anyway is not read.
	body := []byte(`{"TenancyConfig":{"TenantIsolationMode":"PER_TENANT"},"Description":"raw"}`)
	for _, fn := range []string{"iso", "plain"} {
		if fn == "plain" {
			testkit.CreateActive(t, c, testkit.PyFunction(t, "plain", pyTenant))
		}
		req, _ := http.NewRequest(http.MethodPut, d.URL+"/2015-03-31/functions/"+fn+"/configuration", bytes.NewReader(body))
		req.Header.Set("Authorization", testkit.InvokeAuth)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("UpdateFunctionConfiguration of %s: %d", fn, resp.StatusCode)
		}
		testkit.WaitUpdated(t, c, fn)
		cfg, err := c.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(fn)})
		if err != nil {
			t.Fatal(err)
		}
		if isolated := cfg.TenancyConfig != nil; isolated != (fn == "iso") {
			t.Errorf("%s: TenancyConfig changed by an update: %+v", fn, cfg.TenancyConfig)
		}
	}
	// Published versions keep it.
	v, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("iso")})
	if err != nil {
		t.Fatal(err)
	}
	if v.TenancyConfig == nil || v.TenancyConfig.TenantIsolationMode != types.TenantIsolationModePerTenant {
		t.Errorf("published version's TenancyConfig: %+v", v.TenancyConfig)
	}
}

// TestTenancyConfinement attacks one tenant from another tenant of the
// same function: /tmp, processes and the Runtime API.
func TestTenancyConfinement(t *testing.T) {
	needIsolation(t)
	t.Parallel()
	_, c := servertest.InvokeEnv(t, nil)
	in := testkit.PyFunction(t, "confined", pyTenant)
	in.TenancyConfig = perTenant()
	in.Timeout = aws.Int32(15)
	testkit.CreateActive(t, c, in)

	planted := tenantCall(t, c, "confined", "a", `{"op":"plant"}`)
	// Positive control: a sees its own file and process.
	self := tenantCall(t, c, "confined", "a", `{"op":"look"}`)
	if self.Proc != planted.Proc || !slices.Contains(self.Tmp, "secret-a") || !slices.ContainsFunc(self.Cmds, func(s string) bool { return strings.Contains(s, "marker-a") }) {
		t.Fatalf("tenant a does not see its own /tmp file and process: %+v", self)
	}
	other := tenantCall(t, c, "confined", "b", `{"op":"look"}`)
	if other.Proc == planted.Proc {
		t.Fatal("tenants a and b share a process")
	}
	if slices.Contains(other.Tmp, "secret-a") {
		t.Errorf("tenant b sees tenant a's /tmp: %v", other.Tmp)
	}
	for _, cmd := range other.Cmds {
		if strings.Contains(cmd, "marker-a") || strings.Contains(cmd, planted.Proc) {
			t.Errorf("tenant b sees tenant a's process: %q", cmd)
		}
	}

	// b asks a's Runtime API for work while a's next invoke is queued.
	var wg sync.WaitGroup
	var attack tenantOut
	wg.Go(func() {
		attack = tenantCall(t, c, "confined", "b", `{"op":"attack","api":"`+planted.API+`"}`)
	})
	time.Sleep(300 * time.Millisecond)
	victim := tenantCall(t, c, "confined", "a", `{"mark":"victim"}`)
	wg.Wait()
	if victim.Proc != planted.Proc || aws.ToString(victim.Tenant) != "a" {
		t.Errorf("tenant a's invoke was answered by someone else: %+v", victim)
	}
	if strings.HasPrefix(attack.Attack, "status 200") || attack.Attack == "" {
		t.Errorf("tenant b reached tenant a's Runtime API: %q", attack.Attack)
	}
	t.Logf("b's attack on a's Runtime API: %s", attack.Attack)
}
