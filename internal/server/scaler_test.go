package server_test

import (
	"context"
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

// bornSrc is a Node.js handler that answers which process ran it and when
// that process was initialized (ms since the epoch), after waiting ms.
const bornSrc = `const proc = require('node:crypto').randomUUID();
const born = Date.now();
exports.handler = async (event) => {
  await new Promise((r) => setTimeout(r, event.ms || 0));
  return { proc, born };
};
`

// managedFn creates a Node.js function on the provider "multiconc" with one
// invocation per environment, so that every environment shows as one slot.
func managedFn(t *testing.T, c *lambda.Client, name string) {
	t.Helper()
	testkit.CreateActive(t, c, onCapacityProvider(t, c, testkit.NodeFunction(t, name, "index.js", "index.handler", bornSrc), 1))
}

// publishOne publishes name's version 1 and returns it as the API answers.
func publishOne(t *testing.T, c *lambda.Client, name string) *lambda.PublishVersionOutput {
	t.Helper()
	out, err := c.PublishVersion(context.Background(), &lambda.PublishVersionInput{FunctionName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func putScaling(t *testing.T, c *lambda.Client, name, q string, min, max int32) {
	t.Helper()
	if _, err := c.PutFunctionScalingConfig(context.Background(), &lambda.PutFunctionScalingConfigInput{FunctionName: aws.String(name), Qualifier: aws.String(q),
		FunctionScalingConfig: &types.FunctionScalingConfig{MinExecutionEnvironments: aws.Int32(min), MaxExecutionEnvironments: aws.Int32(max)}}); err != nil {
		t.Fatal(err)
	}
}

// outcome is one invoke of a burst: the process that ran it, or a throttle.
type outcome struct {
	Proc      string
	Node      string // the node it ran on, for handlers that say
	Born      float64
	Log       string
	Throttled bool
}

// burst invokes name:q n times at once, each waiting ms in the handler.
// Throttles are outcomes (checked to be AWS's 429); other errors fail.
func burst(t *testing.T, c *lambda.Client, name, q string, n, ms int) []outcome {
	t.Helper()
	out := make([]outcome, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			res, err := c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String(name), Qualifier: aws.String(q),
				Payload: []byte(`{"ms":` + itoa(ms) + `}`), LogType: types.LogTypeTail})
			if err != nil {
				if testkit.IsType[*types.TooManyRequestsException](err) {
					testkit.APIErr(t, err, "TooManyRequestsException", 429, "Rate Exceeded.")
					out[i].Throttled = true
					return
				}
				t.Error(err)
				return
			}
			if res.FunctionError != nil {
				t.Errorf("invoke %d: %s %s", i, *res.FunctionError, res.Payload)
				return
			}
			o := testkit.DecodeJSON[outcome](t, res.Payload)
			o.Log = testkit.Tail(t, res)
			out[i] = o
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return out
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// tally counts a burst's distinct processes and throttles.
func tally(os []outcome) (procs, throttled int) {
	seen := map[string]bool{}
	for _, o := range os {
		if o.Throttled {
			throttled++
		} else if !seen[o.Proc] {
			seen[o.Proc] = true
			procs++
		}
	}
	return procs, throttled
}

// TestManagedInstancesMinimumBeforeInvoke: publishing a version on a
// capacity provider starts its three default environments before it is
// Active (Pending first); invokes then run on them without a cold start,
// and one beyond every slot is throttled with a 429, not cold-started.
func TestManagedInstancesMinimumBeforeInvoke(t *testing.T) {
	t.Parallel()
	_, c := servertest.InvokeEnv(t, nil)
	managedFn(t, c, "mi-min")
	pub := publishOne(t, c, "mi-min")
	if pub.State != types.StatePending || pub.StateReasonCode != types.StateReasonCodeCreating {
		t.Fatalf("published version: State %s %s, want Pending while its environments start", pub.State, pub.StateReasonCode)
	}
	_, err := c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("mi-min"), Qualifier: aws.String("1")})
	if err == nil {
		// The environments may have been that fast; otherwise AWS's
		// answer for a Pending function.
		t.Log("version 1 was already Active")
	} else {
		testkit.APIErr(t, err, "ResourceConflictException", 409, "The operation cannot be performed at this time. The function is currently in the following state: Pending")
	}
	got := testkit.WaitVersionActive(t, c, "mi-min", "1")
	if got.State != types.StateActive {
		t.Fatalf("State = %s", got.State)
	}
	sent := float64(time.Now().UnixMilli())
	outs := burst(t, c, "mi-min", "1", 3, 1000)
	if procs, thr := tally(outs); procs != 3 || thr != 0 {
		t.Fatalf("3 invokes on 3 environments: %d processes, %d throttled: %+v", procs, thr, outs)
	}
	for _, o := range outs {
		if o.Born >= sent {
			t.Errorf("process %s was initialized at %.0f, after the invokes were sent (%.0f): a cold start", o.Proc, o.Born, sent)
		}
		if strings.Contains(o.Log, "initDurationMs") {
			t.Errorf("an invoke reports an init:\n%s", o.Log)
		}
	}
	// Every slot taken: a fourth invoke is throttled, not cold-started
	// (the default maximum is 3 environments).
	outs = burst(t, c, "mi-min", "1", 4, 1000)
	if procs, thr := tally(outs); procs != 3 || thr != 1 {
		t.Fatalf("4 invokes on 3 environments: %d processes, %d throttled", procs, thr)
	}
}

// TestManagedInstancesScalingConfig: lowering Max retires the environments
// above it, raising Min starts more at once, and Max caps the scaler.
func TestManagedInstancesScalingConfig(t *testing.T) {
	t.Parallel()
	_, c := servertest.InvokeEnv(t, nil)
	managedFn(t, c, "mi-sc")
	publishOne(t, c, "mi-sc")
	// The function_active_v2 waiter (GetFunction) sees it too.
	if g := testkit.WaitActive(t, c, "mi-sc:1"); g.Configuration.State != types.StateActive || aws.ToString(g.Configuration.Version) != "1" {
		t.Fatalf("GetFunction mi-sc:1 = %s %s", g.Configuration.State, aws.ToString(g.Configuration.Version))
	}
	// Min 1, Max 1: two of the three environments go; two invokes at once
	// find one slot, however long the scaler has.
	putScaling(t, c, "mi-sc", "1", 1, 1)
	testkit.Eventually(t, 10*time.Second, "environments above Max retired", func() bool {
		_, thr := tally(burst(t, c, "mi-sc", "1", 2, 300))
		return thr == 1
	})
	for range 3 {
		if procs, thr := tally(burst(t, c, "mi-sc", "1", 2, 300)); procs != 1 || thr != 1 {
			t.Fatalf("Max 1: %d processes, %d throttled", procs, thr)
		}
	}
	// Min 2: one more environment starts, without any invoke.
	putScaling(t, c, "mi-sc", "1", 2, 2)
	testkit.Eventually(t, 10*time.Second, "a second environment", func() bool {
		procs, thr := tally(burst(t, c, "mi-sc", "1", 2, 300))
		return procs == 2 && thr == 0
	})
	if procs, thr := tally(burst(t, c, "mi-sc", "1", 3, 300)); procs != 2 || thr != 1 {
		t.Fatalf("Max 2: %d processes, %d throttled", procs, thr)
	}
}

// TestManagedInstancesScaleUp: saturation makes the scaler add
// environments, asynchronously, up to Max.
func TestManagedInstancesScaleUp(t *testing.T) {
	t.Parallel()
	_, c := servertest.InvokeEnv(t, nil)
	managedFn(t, c, "mi-up")
	publishOne(t, c, "mi-up")
	testkit.WaitVersionActive(t, c, "mi-up", "1")
	putScaling(t, c, "mi-up", "1", 1, 4)
	testkit.Eventually(t, 20*time.Second, "the scaler to add environments for 4 invokes at once", func() bool {
		procs, thr := tally(burst(t, c, "mi-up", "1", 4, 500))
		return procs == 4 && thr == 0
	})
	// More than Max is throttled, however long the load lasts.
	for range 3 {
		if procs, thr := tally(burst(t, c, "mi-up", "1", 6, 300)); procs != 4 || thr != 2 {
			t.Fatalf("Max 4: %d processes, %d throttled", procs, thr)
		}
	}
}

// TestManagedInstancesScaleDown: idle environments above Min are removed
// one at a time, never below Min.
func TestManagedInstancesScaleDown(t *testing.T) {
	t.Parallel()
	_, c := servertest.InvokeEnv(t, func(cfg *server.Config) { cfg.ManagedScaleInterval = 50 * time.Millisecond })
	managedFn(t, c, "mi-down")
	publishOne(t, c, "mi-down")
	testkit.WaitVersionActive(t, c, "mi-down", "1")
	putScaling(t, c, "mi-down", "1", 1, 3)
	// Ten idle looks per environment: 0.5 s each; the first burst after
	// finds one environment (and makes the scaler add more again).
	time.Sleep(2 * time.Second)
	if procs, thr := tally(burst(t, c, "mi-down", "1", 3, 1000)); procs != 1 || thr != 2 {
		t.Fatalf("after idling: %d processes, %d throttled; want Min's one", procs, thr)
	}
}

// TestManagedInstancesScaleOnCPU: an environment whose CPU is busy beyond
// the provider's target (a Manual scaling policy of 10%, low enough to
// hold on a loaded machine) is given another, though its slots are far
// from taken.
func TestManagedInstancesScaleOnCPU(t *testing.T) {
	t.Parallel()
	_, c := servertest.InvokeEnv(t, nil)
	if _, err := c.CreateCapacityProvider(context.Background(), &lambda.CreateCapacityProviderInput{
		CapacityProviderName: aws.String("cpu10"),
		VpcConfig:            &types.CapacityProviderVpcConfig{SubnetIds: []string{"subnet-1"}, SecurityGroupIds: []string{"sg-1"}},
		PermissionsConfig:    &types.CapacityProviderPermissionsConfig{CapacityProviderOperatorRoleArn: aws.String("arn:aws:iam::" + testkit.InvokeAccount + ":role/op")},
		CapacityProviderScalingConfig: &types.CapacityProviderScalingConfig{ScalingMode: types.CapacityProviderScalingModeManual,
			ScalingPolicies: []types.TargetTrackingScalingPolicy{{PredefinedMetricType: types.CapacityProviderPredefinedMetricTypeLambdaCapacityProviderAverageCPUUtilization, TargetValue: aws.Float64(10)}}},
	}); err != nil {
		t.Fatal(err)
	}
	const src = `const proc = require('node:crypto').randomUUID();
const born = Date.now();
exports.handler = async (event) => {
  const end = Date.now() + (event.burn || 0);
  while (Date.now() < end) {}
  await new Promise((r) => setTimeout(r, event.ms || 0));
  return { proc, born };
};
`
	in := onCapacityProvider(t, c, testkit.NodeFunction(t, "mi-cpu", "index.js", "index.handler", src), 4)
	in.CapacityProviderConfig.LambdaManagedInstancesCapacityProviderConfig.CapacityProviderArn = aws.String("arn:aws:lambda:" + testkit.Region + ":" + testkit.InvokeAccount + ":capacity-provider:cpu10")
	testkit.CreateActive(t, c, in)
	publishOne(t, c, "mi-cpu")
	testkit.WaitVersionActive(t, c, "mi-cpu", "1")
	putScaling(t, c, "mi-cpu", "1", 1, 1)
	testkit.Eventually(t, 10*time.Second, "one environment left", func() bool {
		_, thr := tally(burst(t, c, "mi-cpu", "1", 5, 300))
		return thr == 1
	})
	// The scaler's next looks forget those bursts' load before Max rises.
	time.Sleep(2500 * time.Millisecond)
	putScaling(t, c, "mi-cpu", "1", 1, 2)
	// One invocation burns its vCPU for 4 s: one slot of four is taken,
	// but CPU is far above the target.
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, err := c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("mi-cpu"), Qualifier: aws.String("1"), Payload: []byte(`{"burn":4000}`)}); err != nil {
			t.Error(err)
		}
	}()
	time.Sleep(3 * time.Second)
	procs, thr := tally(burst(t, c, "mi-cpu", "1", 4, 300))
	<-done
	if thr != 0 || procs < 2 {
		t.Fatalf("4 invokes beside a CPU-bound one: %d processes, %d throttled; want a second environment", procs, thr)
	}
}

// TestManagedInstancesBudget: a capacity provider's MaxVCpuCount bounds the
// vCPUs of every environment on it: a version whose minimum does not fit
// is Failed with CapacityProviderScalingLimitExceeded, and the scaler stops
// at the budget (the invokes beyond it are throttled).
func TestManagedInstancesBudget(t *testing.T) {
	t.Parallel()
	_, c := servertest.InvokeEnv(t, nil)
	ctx := context.Background()
	if _, err := c.CreateCapacityProvider(ctx, &lambda.CreateCapacityProviderInput{
		CapacityProviderName:          aws.String("tight"),
		VpcConfig:                     &types.CapacityProviderVpcConfig{SubnetIds: []string{"subnet-1"}, SecurityGroupIds: []string{"sg-1"}},
		PermissionsConfig:             &types.CapacityProviderPermissionsConfig{CapacityProviderOperatorRoleArn: aws.String("arn:aws:iam::" + testkit.InvokeAccount + ":role/op")},
		CapacityProviderScalingConfig: &types.CapacityProviderScalingConfig{MaxVCpuCount: aws.Int32(2)},
	}); err != nil {
		t.Fatal(err)
	}
	tight := "arn:aws:lambda:" + testkit.Region + ":" + testkit.InvokeAccount + ":capacity-provider:tight"
	mk := func(name string) {
		in := onCapacityProvider(t, c, testkit.NodeFunction(t, name, "index.js", "index.handler", bornSrc), 1)
		in.CapacityProviderConfig.LambdaManagedInstancesCapacityProviderConfig.CapacityProviderArn = aws.String(tight)
		testkit.CreateActive(t, c, in) // 2048 MB at 2 GiB per vCPU: one vCPU each
		publishOne(t, c, name)
	}
	mk("mi-budget")
	// Three environments of one vCPU do not fit two vCPUs.
	waitState(t, c, "mi-budget", types.StateFailed, types.StateReasonCodeCapacityProviderScalingLimitExceeded)
	// One does: the version is Active; under load the scaler adds a
	// second, and no third.
	putScaling(t, c, "mi-budget", "1", 1, 5)
	waitState(t, c, "mi-budget", types.StateActive, "")
	testkit.Eventually(t, 20*time.Second, "a second environment", func() bool {
		procs, _ := tally(burst(t, c, "mi-budget", "1", 3, 500))
		return procs == 2
	})
	for range 3 {
		if procs, thr := tally(burst(t, c, "mi-budget", "1", 3, 300)); procs != 2 || thr != 1 {
			t.Fatalf("budget of 2 vCPUs: %d processes, %d throttled", procs, thr)
		}
	}
	// Another function on the provider finds the budget taken.
	mk("mi-budget2")
	putScaling(t, c, "mi-budget2", "1", 1, 1)
	waitState(t, c, "mi-budget2", types.StateFailed, types.StateReasonCodeCapacityProviderScalingLimitExceeded)
	// Deleting the first function gives its vCPUs back.
	if _, err := c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("mi-budget")}); err != nil {
		t.Fatal(err)
	}
	putScaling(t, c, "mi-budget2", "1", 1, 1)
	waitState(t, c, "mi-budget2", types.StateActive, "")
}

// waitState waits until name's version 1 is in state (with code, unless "").
func waitState(t *testing.T, c *lambda.Client, name string, state types.State, code types.StateReasonCode) {
	t.Helper()
	testkit.Eventually(t, 20*time.Second, name+":1 "+string(state)+" "+string(code), func() bool {
		g, err := c.GetFunctionConfiguration(context.Background(), &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(name), Qualifier: aws.String("1")})
		return err == nil && g.State == state && (code == "" || g.StateReasonCode == code)
	})
}

// TestManagedInstancesHostMemory: the environments of every provider share
// the host's memory: with 4 GB, three 2 GB environments do not fit.
func TestManagedInstancesHostMemory(t *testing.T) {
	t.Parallel()
	_, c := servertest.InvokeEnv(t, func(cfg *server.Config) { cfg.ManagedMemoryMB = 4096 })
	managedFn(t, c, "mi-mem")
	publishOne(t, c, "mi-mem")
	waitState(t, c, "mi-mem", types.StateFailed, types.StateReasonCodeCapacityProviderScalingLimitExceeded)
	putScaling(t, c, "mi-mem", "1", 2, 3)
	waitState(t, c, "mi-mem", types.StateActive, "")
	if procs, thr := tally(burst(t, c, "mi-mem", "1", 3, 500)); procs != 2 || thr != 1 {
		t.Fatalf("4 GB for 2 GB environments: %d processes, %d throttled", procs, thr)
	}
}

// TestManagedInstancesInitFailure: a version whose init fails is Failed.
func TestManagedInstancesInitFailure(t *testing.T) {
	t.Parallel()
	_, c := servertest.InvokeEnv(t, nil)
	in := onCapacityProvider(t, c, testkit.PyFunction(t, "mi-fail", "raise RuntimeError('no')\ndef handler(e, c):\n    return 1\n"), 4)
	testkit.CreateActive(t, c, in)
	publishOne(t, c, "mi-fail")
	waitState(t, c, "mi-fail", types.StateFailed, types.StateReasonCodeFunctionError)
}

// TestManagedInstancesRestart: after a restart of lambdad, the minimum
// environments of a published version are started again before any invoke.
func TestManagedInstancesRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := servertest.StartLambdad(t, dir, nil)
	c := servertest.InvokeClient(d)
	in := onCapacityProvider(t, c, testkit.NodeFunction(t, "mi-restart", "index.js", "index.handler", bornSrc), 1)
	in.PublishTo = types.FunctionVersionLatestPublishedLatestPublished
	testkit.CreateActive(t, c, in)
	testkit.WaitVersionActive(t, c, "mi-restart", "$LATEST.PUBLISHED")
	putScaling(t, c, "mi-restart", "$LATEST.PUBLISHED", 2, 2)
	d.Stop()

	d = servertest.StartLambdad(t, dir, nil)
	c = servertest.InvokeClient(d)
	testkit.WaitVersionActive(t, c, "mi-restart", "$LATEST.PUBLISHED")
	sent := float64(time.Now().UnixMilli())
	outs := burst(t, c, "mi-restart", "$LATEST.PUBLISHED", 2, 500)
	if procs, thr := tally(outs); procs != 2 || thr != 0 {
		t.Fatalf("after restart: %d processes, %d throttled", procs, thr)
	}
	for _, o := range outs {
		if o.Born >= sent {
			t.Errorf("process %s initialized after the invokes were sent", o.Proc)
		}
	}
}
