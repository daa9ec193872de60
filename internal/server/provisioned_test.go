package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/server"
	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// provPy answers how its environment was initialized, by which process,
// and sleeps when asked, to keep its environment busy.
const provPy = `import os, time
PID = os.urandom(8).hex()
INIT = os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE")
def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return {"init": INIT, "pid": PID}
`

// provNode is provPy for Node.
const provNode = `const INIT = process.env.AWS_LAMBDA_INITIALIZATION_TYPE;
const PID = require("crypto").randomBytes(8).toString("hex");
exports.handler = async (event) => {
  await new Promise(r => setTimeout(r, (event.sleep || 0) * 1000));
  return { init: INIT, pid: PID };
};
`

type provAnswer struct {
	Init string `json:"init"`
	// PID is a random id of the process (isolated, each is PID 1).
	PID string `json:"pid"`
}

// provInvoke invokes name:qualifier with a tail of its log.
func provInvoke(t *testing.T, c *lambda.Client, name, qualifier string, sleep float64) (provAnswer, string) {
	t.Helper()
	out := testkit.MustInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String(name), Qualifier: aws.String(qualifier),
		Payload: fmt.Appendf(nil, `{"sleep":%g}`, sleep), LogType: types.LogTypeTail})
	if out.FunctionError != nil {
		t.Fatalf("invoke %s:%s: %s %s", name, qualifier, *out.FunctionError, out.Payload)
	}
	return testkit.DecodeJSON[provAnswer](t, out.Payload), testkit.Tail(t, out)
}

// waitProvisioned waits for the config of name:qualifier to reach status.
func waitProvisioned(t *testing.T, c *lambda.Client, name, qualifier string, status types.ProvisionedConcurrencyStatusEnum) *lambda.GetProvisionedConcurrencyConfigOutput {
	t.Helper()
	var got *lambda.GetProvisionedConcurrencyConfigOutput
	testkit.Eventually(t, 30*time.Second, "provisioned concurrency "+string(status), func() bool {
		out, err := c.GetProvisionedConcurrencyConfig(context.Background(), &lambda.GetProvisionedConcurrencyConfigInput{FunctionName: aws.String(name), Qualifier: aws.String(qualifier)})
		if err != nil {
			t.Fatal(err)
		}
		got = out
		return out.Status == status
	})
	return got
}

func putProvisioned(t *testing.T, c *lambda.Client, name, qualifier string, n int32) *lambda.PutProvisionedConcurrencyConfigOutput {
	t.Helper()
	var st testkit.RawStatus
	out, err := c.PutProvisionedConcurrencyConfig(context.Background(), &lambda.PutProvisionedConcurrencyConfigInput{
		FunctionName: aws.String(name), Qualifier: aws.String(qualifier), ProvisionedConcurrentExecutions: aws.Int32(n)}, st.Option())
	if err != nil {
		t.Fatalf("PutProvisionedConcurrencyConfig %s:%s %d: %v", name, qualifier, n, err)
	}
	if st.Code != 202 {
		t.Errorf("PutProvisionedConcurrencyConfig answered HTTP %d, want 202", st.Code)
	}
	return out
}

func publish(t *testing.T, c *lambda.Client, name string) string {
	t.Helper()
	out, err := c.PublishVersion(context.Background(), &lambda.PublishVersionInput{FunctionName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "version active", func() bool {
		g, err := c.GetFunctionConfiguration(context.Background(), &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(name), Qualifier: out.Version})
		return err == nil && g.State == types.StateActive
	})
	return aws.ToString(out.Version)
}

func TestProvisionedConcurrencyPython(t *testing.T) {
	t.Parallel()
	testProvisioned(t, testkit.PyFunction(t, "prov-py", provPy))
}

func TestProvisionedConcurrencyNode(t *testing.T) {
	t.Parallel()
	testProvisioned(t, testkit.NodeFunction(t, "prov-node", "index.js", "index.handler", provNode))
}

func testProvisioned(t *testing.T, in *lambda.CreateFunctionInput) {
	_, c := servertest.InvokeEnv(t, nil)
	ctx := context.Background()
	name := aws.ToString(in.FunctionName)
	testkit.CreateActive(t, c, in)
	v := publish(t, c, name)

	put := putProvisioned(t, c, name, v, 2)
	if put.Status != types.ProvisionedConcurrencyStatusEnumInProgress || aws.ToInt32(put.RequestedProvisionedConcurrentExecutions) != 2 ||
		aws.ToInt32(put.AllocatedProvisionedConcurrentExecutions) != 0 || aws.ToInt32(put.AvailableProvisionedConcurrentExecutions) != 0 {
		t.Errorf("Put answered %s requested %d allocated %d available %d, want IN_PROGRESS 2 0 0", put.Status,
			aws.ToInt32(put.RequestedProvisionedConcurrentExecutions), aws.ToInt32(put.AllocatedProvisionedConcurrentExecutions), aws.ToInt32(put.AvailableProvisionedConcurrentExecutions))
	}
	if _, err := time.Parse("2006-01-02T15:04:05-0700", aws.ToString(put.LastModified)); err != nil {
		t.Errorf("LastModified %q is not AWS's format: %v", aws.ToString(put.LastModified), err)
	}
	got := waitProvisioned(t, c, name, v, types.ProvisionedConcurrencyStatusEnumReady)
	if aws.ToInt32(got.AllocatedProvisionedConcurrentExecutions) != 2 || aws.ToInt32(got.AvailableProvisionedConcurrentExecutions) != 2 || got.StatusReason != nil {
		t.Errorf("READY with allocated %d available %d reason %v, want 2 2 none", aws.ToInt32(got.AllocatedProvisionedConcurrentExecutions),
			aws.ToInt32(got.AvailableProvisionedConcurrentExecutions), got.StatusReason)
	}

	// Both environments finished init before any invoke: the first one
	// that lands on each shows no Init Duration.
	pids := map[string]bool{}
	a, tail := provInvoke(t, c, name, v, 0)
	if a.Init != "provisioned-concurrency" || strings.Contains(tail, "Init Duration") || !strings.Contains(tail, "REPORT RequestId") {
		t.Errorf("first invoke of the provisioned version: init %q, log %q; want provisioned-concurrency and a REPORT without Init Duration", a.Init, tail)
	}
	pids[a.PID] = true

	// $LATEST is not provisioned.
	if a, tail := provInvoke(t, c, name, "$LATEST", 0); a.Init != "on-demand" || !strings.Contains(tail, "Init Duration") {
		t.Errorf("$LATEST: init %q, log %q; want on-demand with an Init Duration", a.Init, tail)
	}

	// Three at once: two on the provisioned environments, the third
	// spills over to an on-demand one.
	var mu sync.Mutex
	var answers []provAnswer
	var tails []string
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			a, tail := provInvoke(t, c, name, v, 1)
			mu.Lock()
			answers, tails = append(answers, a), append(tails, tail)
			mu.Unlock()
		})
	}
	wg.Wait()
	inits := map[string]int{}
	for i, a := range answers {
		inits[a.Init]++
		if a.Init == "provisioned-concurrency" {
			pids[a.PID] = true
			if strings.Contains(tails[i], "Init Duration") {
				t.Errorf("an invoke on a provisioned environment shows an Init Duration: %q", tails[i])
			}
		}
	}
	if inits["provisioned-concurrency"] != 2 || inits["on-demand"] != 1 || len(pids) != 2 {
		t.Errorf("three concurrent invokes ran %v in provisioned processes %v; want 2 provisioned (the 2 processes) and 1 on-demand", inits, pids)
	}

	// Publishing new code leaves the provisioned version's environments alone.
	if _, err := c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String(name), Description: aws.String("v2")}); err != nil {
		t.Fatal(err)
	}
	testkit.WaitUpdated(t, c, name)
	publish(t, c, name)
	if a, tail := provInvoke(t, c, name, v, 0); a.Init != "provisioned-concurrency" || !pids[a.PID] || strings.Contains(tail, "Init Duration") {
		t.Errorf("after publishing a new version: init %q pid %s (provisioned %v); want one of the provisioned processes", a.Init, a.PID, pids)
	}

	// List shows the config with its counts.
	list, err := c.ListProvisionedConcurrencyConfigs(ctx, &lambda.ListProvisionedConcurrencyConfigsInput{FunctionName: aws.String(name)})
	if err != nil || len(list.ProvisionedConcurrencyConfigs) != 1 {
		t.Fatalf("List = %+v, %v; want one config", list, err)
	}
	if it := list.ProvisionedConcurrencyConfigs[0]; aws.ToString(it.FunctionArn) != testkit.InvokeARN(name)+":"+v || it.Status != types.ProvisionedConcurrencyStatusEnumReady ||
		aws.ToInt32(it.AllocatedProvisionedConcurrentExecutions) != 2 {
		t.Errorf("List item %s %s allocated %d, want %s:%s READY 2", aws.ToString(it.FunctionArn), it.Status, aws.ToInt32(it.AllocatedProvisionedConcurrentExecutions), testkit.InvokeARN(name), v)
	}

	// Deleting the config retires its environments: the version runs on demand.
	var st testkit.RawStatus
	if _, err := c.DeleteProvisionedConcurrencyConfig(ctx, &lambda.DeleteProvisionedConcurrencyConfigInput{FunctionName: aws.String(name), Qualifier: aws.String(v)}, st.Option()); err != nil || st.Code != 204 {
		t.Fatalf("Delete: %v (HTTP %d), want 204", err, st.Code)
	}
	_, err = c.GetProvisionedConcurrencyConfig(ctx, &lambda.GetProvisionedConcurrencyConfigInput{FunctionName: aws.String(name), Qualifier: aws.String(v)})
	testkit.APIErr(t, err, "ProvisionedConcurrencyConfigNotFoundException", 404, "No Provisioned Concurrency Config found for this function")
	testkit.Eventually(t, 10*time.Second, "an on-demand environment after the delete", func() bool {
		a, _ := provInvoke(t, c, name, v, 0)
		return a.Init == "on-demand" && !pids[a.PID]
	})
}

// provInitFailPy fails its init only when provisioned, as LocalStack's
// recorded test does.
const provInitFailPy = `import os
if os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") == "provisioned-concurrency":
    raise Exception("Intentional failure upon provisioned concurrency initialization")
def handler(event, context):
    return {"init": os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE")}
`

func TestProvisionedConcurrencyInitFailure(t *testing.T) {
	t.Parallel()
	_, c := servertest.InvokeEnv(t, nil)
	name := "prov-fail"
	testkit.CreateActive(t, c, testkit.PyFunction(t, name, provInitFailPy))
	v := publish(t, c, name)
	putProvisioned(t, c, name, v, 1)
	got := waitProvisioned(t, c, name, v, types.ProvisionedConcurrencyStatusEnumFailed)
	if aws.ToString(got.StatusReason) != "FUNCTION_ERROR_INIT_FAILURE" || aws.ToInt32(got.AllocatedProvisionedConcurrentExecutions) != 0 ||
		aws.ToInt32(got.AvailableProvisionedConcurrentExecutions) != 0 || aws.ToInt32(got.RequestedProvisionedConcurrentExecutions) != 1 {
		t.Errorf("FAILED: reason %q allocated %d available %d requested %d; want FUNCTION_ERROR_INIT_FAILURE 0 0 1", aws.ToString(got.StatusReason),
			aws.ToInt32(got.AllocatedProvisionedConcurrentExecutions), aws.ToInt32(got.AvailableProvisionedConcurrentExecutions), aws.ToInt32(got.RequestedProvisionedConcurrentExecutions))
	}
	// Invokes are not sent to failed provisioned concurrency.
	out := testkit.MustInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String(name), Qualifier: aws.String(v)})
	if a := testkit.DecodeJSON[provAnswer](t, out.Payload); out.FunctionError != nil || a.Init != "on-demand" {
		t.Errorf("invoke after FAILED: %s %v, want an on-demand run", out.Payload, out.FunctionError)
	}
}

func TestProvisionedConcurrencyAlias(t *testing.T) {
	t.Parallel()
	_, c := servertest.InvokeEnv(t, nil)
	ctx := context.Background()
	name := "prov-alias"
	testkit.CreateActive(t, c, testkit.PyFunction(t, name, provPy))
	v1 := publish(t, c, name)
	if _, err := c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String(name), Name: aws.String("live"), FunctionVersion: aws.String(v1)}); err != nil {
		t.Fatal(err)
	}
	putProvisioned(t, c, name, "live", 1)
	waitProvisioned(t, c, name, "live", types.ProvisionedConcurrencyStatusEnumReady)
	// The alias's version runs provisioned, through the alias or not.
	for _, q := range []string{"live", v1} {
		if a, tail := provInvoke(t, c, name, q, 0); a.Init != "provisioned-concurrency" || strings.Contains(tail, "Init Duration") {
			t.Errorf("invoke %s: init %q, log %q; want provisioned-concurrency without Init Duration", q, a.Init, tail)
		}
	}
	// The version itself cannot have one too (AWS's recorded conflict).
	_, err := c.PutProvisionedConcurrencyConfig(ctx, &lambda.PutProvisionedConcurrencyConfigInput{FunctionName: aws.String(name), Qualifier: aws.String(v1), ProvisionedConcurrentExecutions: aws.Int32(1)})
	testkit.APIErr(t, err, "ResourceConflictException", 409, "Version is pointed by a Provisioned Concurrency alias")

	// Moving the alias moves its provisioned concurrency.
	if _, err := c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String(name), Description: aws.String("v2")}); err != nil {
		t.Fatal(err)
	}
	testkit.WaitUpdated(t, c, name)
	v2 := publish(t, c, name)
	if _, err := c.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: aws.String(name), Name: aws.String("live"), FunctionVersion: aws.String(v2)}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 30*time.Second, "the alias's new version provisioned", func() bool {
		a, _ := provInvoke(t, c, name, v2, 0)
		return a.Init == "provisioned-concurrency"
	})
	waitProvisioned(t, c, name, "live", types.ProvisionedConcurrencyStatusEnumReady)
	if a, _ := provInvoke(t, c, name, v1, 0); a.Init != "on-demand" {
		t.Errorf("the alias's old version still runs %q, want on-demand", a.Init)
	}
	// The config is the alias's, not its version's.
	_, err = c.GetProvisionedConcurrencyConfig(ctx, &lambda.GetProvisionedConcurrencyConfigInput{FunctionName: aws.String(name), Qualifier: aws.String(v2)})
	testkit.APIErr(t, err, "ProvisionedConcurrencyConfigNotFoundException", 404, "No Provisioned Concurrency Config found for this function")

	// Deleting the alias deletes its config.
	if _, err := c.DeleteAlias(ctx, &lambda.DeleteAliasInput{FunctionName: aws.String(name), Name: aws.String("live")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetProvisionedConcurrencyConfig(ctx, &lambda.GetProvisionedConcurrencyConfigInput{FunctionName: aws.String(name), Qualifier: aws.String("live")})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Cannot find alias arn: "+testkit.InvokeARN(name)+":live")
	list, err := c.ListProvisionedConcurrencyConfigs(ctx, &lambda.ListProvisionedConcurrencyConfigsInput{FunctionName: aws.String(name)})
	if err != nil || len(list.ProvisionedConcurrencyConfigs) != 0 {
		t.Errorf("List after deleting the alias = %+v, %v; want none", list, err)
	}
	testkit.Eventually(t, 10*time.Second, "v2 on demand once the alias is gone", func() bool {
		a, _ := provInvoke(t, c, name, v2, 0)
		return a.Init == "on-demand"
	})
}

func TestProvisionedConcurrencyRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := servertest.StartLambdad(t, dir, nil)
	c := servertest.InvokeClient(d)
	name := "prov-restart"
	testkit.CreateActive(t, c, testkit.PyFunction(t, name, provPy))
	v := publish(t, c, name)
	putProvisioned(t, c, name, v, 2)
	waitProvisioned(t, c, name, v, types.ProvisionedConcurrencyStatusEnumReady)
	d.Stop()

	d = servertest.StartLambdad(t, dir, nil)
	c = servertest.InvokeClient(d)
	waitProvisioned(t, c, name, v, types.ProvisionedConcurrencyStatusEnumReady)
	if a, tail := provInvoke(t, c, name, v, 0); a.Init != "provisioned-concurrency" || strings.Contains(tail, "Init Duration") {
		t.Errorf("after a restart: init %q, log %q; want provisioned-concurrency without Init Duration", a.Init, tail)
	}
}

// TestProvisionedConcurrencyRefusals checks every refusal against AWS's
// recorded errors, and that nothing changed after it.
func TestProvisionedConcurrencyRefusals(t *testing.T) {
	t.Parallel()
	d, c := servertest.InvokeEnv(t, nil)
	ctx := context.Background()
	name := "prov-refuse"
	testkit.CreateActive(t, c, testkit.PyFunction(t, name, provPy))
	v := publish(t, c, name)
	arn := testkit.InvokeARN(name)
	missing := testkit.InvokeARN("doesnotexist")
	nc := testkit.Client(d.URL, testkit.InvokeKey, "secret", testkit.Region, testkit.SkipClientValidation)

	put := func(fn, q string, n int32) error {
		_, err := nc.PutProvisionedConcurrencyConfig(ctx, &lambda.PutProvisionedConcurrencyConfigInput{FunctionName: aws.String(fn), Qualifier: aws.String(q), ProvisionedConcurrentExecutions: aws.Int32(n)})
		return err
	}
	get := func(fn, q string) error {
		_, err := c.GetProvisionedConcurrencyConfig(ctx, &lambda.GetProvisionedConcurrencyConfigInput{FunctionName: aws.String(fn), Qualifier: aws.String(q)})
		return err
	}
	del := func(fn, q string) error {
		_, err := c.DeleteProvisionedConcurrencyConfig(ctx, &lambda.DeleteProvisionedConcurrencyConfigInput{FunctionName: aws.String(fn), Qualifier: aws.String(q)})
		return err
	}
	nf := "ResourceNotFoundException"
	testkit.APIErr(t, get(name, v), "ProvisionedConcurrencyConfigNotFoundException", 404, "No Provisioned Concurrency Config found for this function")
	testkit.APIErr(t, get("doesnotexist", "noalias"), nf, 404, "Cannot find alias arn: "+missing+":noalias")
	testkit.APIErr(t, get(name, "noalias"), nf, 404, "Cannot find alias arn: "+arn+":noalias")
	testkit.APIErr(t, get(name, "10"), nf, 404, "Function not found: "+arn+":10")
	testkit.APIErr(t, get(name, "$LATEST"), "InvalidParameterValueException", 400, "The function resource provided must be an alias or a published version.")
	_, err := c.ListProvisionedConcurrencyConfigs(ctx, &lambda.ListProvisionedConcurrencyConfigsInput{FunctionName: aws.String("doesnotexist")})
	testkit.APIErr(t, err, nf, 404, "Function not found: "+missing)
	testkit.APIErr(t, del("doesnotexist", v), nf, 404, "Function not found: "+missing+":"+v)
	testkit.APIErr(t, del(name, "noalias"), nf, 404, "Cannot find alias arn: "+arn+":noalias")
	testkit.APIErr(t, del(name, "10"), nf, 404, "Function not found: "+arn+":10")
	testkit.APIErr(t, del(name, "$LATEST"), "InvalidParameterValueException", 400, "The function resource provided must be an alias or a published version.")
	if err := del(name, v); err != nil {
		t.Errorf("deleting a config that is not there: %v, want success", err)
	}
	testkit.APIErr(t, put(name, v, 0), "ValidationException", 400, "1 validation error detected: Value '0' at 'provisionedConcurrentExecutions' failed to satisfy constraint: Member must have value greater than or equal to 1")
	testkit.APIErr(t, put("doesnotexist", "noalias", 1), nf, 404, "Cannot find alias arn: "+missing+":noalias")
	testkit.APIErr(t, put("doesnotexist", "1", 1), nf, 404, "Function not found: "+missing+":1")
	testkit.APIErr(t, put(name, "doesnotexist", 1), nf, 404, "Cannot find alias arn: "+arn+":doesnotexist")
	testkit.APIErr(t, put(name, "10", 1), nf, 404, "Function not found: "+arn+":10")
	testkit.APIErr(t, put(name, "$LATEST", 1), "InvalidParameterValueException", 400, "Provisioned Concurrency Configs cannot be applied to unpublished function versions.")
	// Limits against the account (1000, 100 kept unreserved).
	testkit.APIErr(t, put(name, v, 1001), "InvalidParameterValueException", 400, "Specified ConcurrentExecutions for function is greater than account's unreserved concurrency [1000].")
	testkit.APIErr(t, put(name, v, 1000), "InvalidParameterValueException", 400, "Specified ConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [100].")
	list, err := c.ListProvisionedConcurrencyConfigs(ctx, &lambda.ListProvisionedConcurrencyConfigsInput{FunctionName: aws.String(name)})
	if err != nil || list.ProvisionedConcurrencyConfigs == nil || len(list.ProvisionedConcurrencyConfigs) != 0 {
		t.Fatalf("after every refusal, List = %+v, %v; want []", list, err)
	}

	// Against reserved concurrency (AWS's recorded overlap test).
	putProvisioned(t, c, name, v, 2)
	waitProvisioned(t, c, name, v, types.ProvisionedConcurrencyStatusEnumReady)
	_, err = c.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String(name), ReservedConcurrentExecutions: aws.Int32(1)})
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, " ReservedConcurrentExecutions  1 should not be lower than function's total provisioned concurrency [2].")
	if _, err := c.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String(name), ReservedConcurrentExecutions: aws.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	// Reserved equals provisioned: nothing is left for $LATEST.
	_, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(name)})
	testkit.APIErr(t, err, "TooManyRequestsException", 429, "Rate Exceeded.")
	if a, _ := provInvoke(t, c, name, v, 0); a.Init != "provisioned-concurrency" {
		t.Errorf("the provisioned version ran %q with reserved = provisioned, want provisioned-concurrency", a.Init)
	}
	if _, err := c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String(name), Description: aws.String("v2")}); err != nil {
		t.Fatal(err)
	}
	testkit.WaitUpdated(t, c, name)
	v2 := publish(t, c, name)
	over := "Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution for function"
	testkit.APIErr(t, put(name, v2, 1), "InvalidParameterValueException", 400, over)
	testkit.APIErr(t, put(name, v, 3), "InvalidParameterValueException", 400, over)
	// An alias on the provisioned version cannot provision it again.
	if _, err := c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String(name), Name: aws.String("live"), FunctionVersion: aws.String(v)}); err != nil {
		t.Fatal(err)
	}
	testkit.APIErr(t, put(name, "live", 1), "ResourceConflictException", 409, "Alias can't be used for Provisioned Concurrency configuration on an already Provisioned version")
	got := waitProvisioned(t, c, name, v, types.ProvisionedConcurrencyStatusEnumReady)
	if aws.ToInt32(got.RequestedProvisionedConcurrentExecutions) != 2 {
		t.Errorf("after refused changes, requested = %d, want 2", aws.ToInt32(got.RequestedProvisionedConcurrentExecutions))
	}
	list, err = c.ListProvisionedConcurrencyConfigs(ctx, &lambda.ListProvisionedConcurrencyConfigsInput{FunctionName: aws.String(name)})
	if err != nil || len(list.ProvisionedConcurrencyConfigs) != 1 {
		t.Errorf("after refused changes, List = %+v, %v; want the one config", list, err)
	}
}

// TestProvisionedConcurrencyRefusedSetups: a tenant-isolated function, a
// function on a capacity provider, and an alias with a routing configuration, cannot have provisioned
// concurrency; nothing is kept or started.
func TestProvisionedConcurrencyRefusedSetups(t *testing.T) {
	t.Parallel()
	_, c := servertest.InvokeEnv(t, nil)
	ctx := context.Background()
	in := testkit.PyFunction(t, "prov-tenant", provPy)
	in.TenancyConfig = &types.TenancyConfig{TenantIsolationMode: types.TenantIsolationModePerTenant}
	testkit.CreateActive(t, c, in)
	v := publish(t, c, "prov-tenant")
	_, err := c.PutProvisionedConcurrencyConfig(ctx, &lambda.PutProvisionedConcurrencyConfigInput{FunctionName: aws.String("prov-tenant"), Qualifier: aws.String(v), ProvisionedConcurrentExecutions: aws.Int32(1)})
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "Provisioned Concurrency is not supported for functions with tenant isolation mode PER_TENANT.")
	_, err = c.GetProvisionedConcurrencyConfig(ctx, &lambda.GetProvisionedConcurrencyConfigInput{FunctionName: aws.String("prov-tenant"), Qualifier: aws.String(v)})
	testkit.APIErr(t, err, "ProvisionedConcurrencyConfigNotFoundException", 404, "No Provisioned Concurrency Config found for this function")

	// A function on a capacity provider scales on its provider's
	// instances (minimum environments), never by provisioned concurrency.
	testkit.CreateActive(t, c, onCapacityProvider(t, c, testkit.PyFunction(t, "prov-managed", provPy), 2))
	vm := publish(t, c, "prov-managed")
	_, err = c.PutProvisionedConcurrencyConfig(ctx, &lambda.PutProvisionedConcurrencyConfigInput{FunctionName: aws.String("prov-managed"), Qualifier: aws.String(vm), ProvisionedConcurrentExecutions: aws.Int32(1)})
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "Provisioned Concurrency is not supported for functions that use a capacity provider.")
	_, err = c.GetProvisionedConcurrencyConfig(ctx, &lambda.GetProvisionedConcurrencyConfigInput{FunctionName: aws.String("prov-managed"), Qualifier: aws.String(vm)})
	testkit.APIErr(t, err, "ProvisionedConcurrencyConfigNotFoundException", 404, "No Provisioned Concurrency Config found for this function")

	name := "prov-routing"
	testkit.CreateActive(t, c, testkit.PyFunction(t, name, provPy))
	v1 := publish(t, c, name)
	if _, err := c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String(name), Description: aws.String("v2")}); err != nil {
		t.Fatal(err)
	}
	testkit.WaitUpdated(t, c, name)
	v2 := publish(t, c, name)
	if _, err := c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String(name), Name: aws.String("canary"), FunctionVersion: aws.String(v1),
		RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{v2: 0.5}}}); err != nil {
		t.Fatal(err)
	}
	_, err = c.PutProvisionedConcurrencyConfig(ctx, &lambda.PutProvisionedConcurrencyConfigInput{FunctionName: aws.String(name), Qualifier: aws.String("canary"), ProvisionedConcurrentExecutions: aws.Int32(1)})
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "Invalid alias configuration for Provisioned Concurrency: the alias has a routing configuration.")
	list, err := c.ListProvisionedConcurrencyConfigs(ctx, &lambda.ListProvisionedConcurrencyConfigsInput{FunctionName: aws.String(name)})
	if err != nil || len(list.ProvisionedConcurrencyConfigs) != 0 {
		t.Errorf("after the refusal, List = %+v, %v; want none", list, err)
	}
	if a, _ := provInvoke(t, c, name, v1, 0); a.Init != "on-demand" {
		t.Errorf("after the refusal, %s ran %q, want on-demand", v1, a.Init)
	}
}

// TestProvisionedConcurrencyOutlivesIdleTimeout: the idle janitor stops
// on-demand environments, never provisioned ones.
func TestProvisionedConcurrencyOutlivesIdleTimeout(t *testing.T) {
	t.Parallel()
	_, c := servertest.InvokeEnv(t, func(cfg *server.Config) { cfg.IdleTimeout = 200 * time.Millisecond })
	name := "prov-idle"
	testkit.CreateActive(t, c, testkit.PyFunction(t, name, provPy))
	v := publish(t, c, name)
	putProvisioned(t, c, name, v, 1)
	waitProvisioned(t, c, name, v, types.ProvisionedConcurrencyStatusEnumReady)
	first, _ := provInvoke(t, c, name, v, 0)
	od, _ := provInvoke(t, c, name, "$LATEST", 0)
	time.Sleep(time.Second) // five idle timeouts
	again, tail := provInvoke(t, c, name, v, 0)
	if again.PID != first.PID || again.Init != "provisioned-concurrency" || strings.Contains(tail, "Init Duration") {
		t.Errorf("after idling: %+v (log %q), want the same provisioned process %+v without Init Duration", again, tail, first)
	}
	if od2, tail := provInvoke(t, c, name, "$LATEST", 0); od2.PID == od.PID || !strings.Contains(tail, "Init Duration") {
		t.Errorf("the on-demand environment of $LATEST outlived the idle timeout (%s), want a cold start", od2.PID)
	}
}

// TestProvisionedConcurrencyListPages: ListProvisionedConcurrencyConfigs
// pages by MaxItems and Marker.
func TestProvisionedConcurrencyListPages(t *testing.T) {
	t.Parallel()
	_, c := servertest.InvokeEnv(t, nil)
	ctx := context.Background()
	name := "prov-pages"
	testkit.CreateActive(t, c, testkit.PyFunction(t, name, provPy))
	var versions []string
	for i := range 3 {
		if i > 0 {
			if _, err := c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String(name), Description: aws.String(fmt.Sprint(i))}); err != nil {
				t.Fatal(err)
			}
			testkit.WaitUpdated(t, c, name)
		}
		v := publish(t, c, name)
		putProvisioned(t, c, name, v, 1)
		versions = append(versions, testkit.InvokeARN(name)+":"+v)
	}
	var got []string
	var marker *string
	for pages := 0; ; pages++ {
		out, err := c.ListProvisionedConcurrencyConfigs(ctx, &lambda.ListProvisionedConcurrencyConfigsInput{FunctionName: aws.String(name), MaxItems: aws.Int32(2), Marker: marker})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.ProvisionedConcurrencyConfigs) > 2 {
			t.Fatalf("page of %d, want at most 2", len(out.ProvisionedConcurrencyConfigs))
		}
		for _, it := range out.ProvisionedConcurrencyConfigs {
			got = append(got, aws.ToString(it.FunctionArn))
		}
		if marker = out.NextMarker; marker == nil || pages > 3 {
			break
		}
	}
	if strings.Join(got, " ") != strings.Join(versions, " ") {
		t.Errorf("pages listed %v, want %v", got, versions)
	}
}

// environments reads lambdad_environments from the daemon's metrics.
func environments(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url + "/_lambdad/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for line := range strings.Lines(string(body)) {
		if v, ok := strings.CutPrefix(line, "lambdad_environments "); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no lambdad_environments in %s", body)
	return ""
}

// TestProvisionedConcurrencyDeleteFunction: deleting the function (or the
// provisioned version) stops its provisioned environments.
func TestProvisionedConcurrencyDeleteFunction(t *testing.T) {
	t.Parallel()
	d, c := servertest.InvokeEnv(t, nil)
	ctx := context.Background()
	name := "prov-delete"
	testkit.CreateActive(t, c, testkit.PyFunction(t, name, provPy))
	v := publish(t, c, name)
	putProvisioned(t, c, name, v, 2)
	waitProvisioned(t, c, name, v, types.ProvisionedConcurrencyStatusEnumReady)
	if n := environments(t, d.URL); n != "2" {
		t.Fatalf("%s environments with 2 provisioned and no invoke, want 2", n)
	}
	if _, err := c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String(name), Qualifier: aws.String(v)}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "provisioned environments stopped with their version", func() bool { return environments(t, d.URL) == "0" })
	v2 := publish(t, c, name)
	putProvisioned(t, c, name, v2, 1)
	waitProvisioned(t, c, name, v2, types.ProvisionedConcurrencyStatusEnumReady)
	if _, err := c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "provisioned environments stopped with their function", func() bool { return environments(t, d.URL) == "0" })
}

// TestProvisionedConcurrencyOnPendingVersion: a config put while its
// version is still Pending (CreateFunction with Publish) becomes READY
// once the version is active.
func TestProvisionedConcurrencyOnPendingVersion(t *testing.T) {
	t.Parallel()
	_, c := servertest.InvokeEnv(t, func(cfg *server.Config) { cfg.Transition = 500 * time.Millisecond })
	in := testkit.PyFunction(t, "prov-pending", provPy)
	in.Publish = true
	out, err := c.CreateFunction(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	v := aws.ToString(out.Version)
	putProvisioned(t, c, "prov-pending", v, 1)
	if got, err := c.GetProvisionedConcurrencyConfig(context.Background(), &lambda.GetProvisionedConcurrencyConfigInput{FunctionName: aws.String("prov-pending"), Qualifier: aws.String(v)}); err != nil || got.Status != types.ProvisionedConcurrencyStatusEnumInProgress {
		t.Errorf("while the version is Pending: %v, %v; want IN_PROGRESS", got, err)
	}
	waitProvisioned(t, c, "prov-pending", v, types.ProvisionedConcurrencyStatusEnumReady)
}

// TestProvisionedConcurrencyUpdate: a config changed while in progress or
// ready ends with exactly the environments last asked for.
func TestProvisionedConcurrencyUpdate(t *testing.T) {
	t.Parallel()
	d, c := servertest.InvokeEnv(t, nil)
	name := "prov-update"
	testkit.CreateActive(t, c, testkit.PyFunction(t, name, provPy))
	v := publish(t, c, name)
	putProvisioned(t, c, name, v, 2)
	putProvisioned(t, c, name, v, 3) // while the first two start
	got := waitProvisioned(t, c, name, v, types.ProvisionedConcurrencyStatusEnumReady)
	if aws.ToInt32(got.RequestedProvisionedConcurrentExecutions) != 3 || aws.ToInt32(got.AllocatedProvisionedConcurrentExecutions) != 3 {
		t.Errorf("raised to 3: %+v", got)
	}
	time.Sleep(500 * time.Millisecond) // any extra start would be done by now
	if n := environments(t, d.URL); n != "3" {
		t.Errorf("%s environments after raising 2 to 3, want exactly 3", n)
	}
	putProvisioned(t, c, name, v, 1)
	got = waitProvisioned(t, c, name, v, types.ProvisionedConcurrencyStatusEnumReady)
	if aws.ToInt32(got.AllocatedProvisionedConcurrentExecutions) != 1 {
		t.Errorf("lowered to 1: %+v", got)
	}
	testkit.Eventually(t, 5*time.Second, "one environment left", func() bool { return environments(t, d.URL) == "1" })
}
