package functions

import (
	"testing"

	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/spec"
	"github.com/lambdad/lambdad/internal/store"
)

// providers is a fixed set of existing capacity provider ARNs.
type providers map[string]bool

func (p providers) Exists(_ store.Tx, arn string) bool { return p[arn] }

const poolARN = "arn:aws:lambda:us-east-1:123456789012:capacity-provider:pool"

func onPool(in *spec.CreateFunctionRequest) {
	in.Runtime = str("python3.13")
	in.CapacityProviderConfig = &spec.CapacityProviderConfig{LambdaManagedInstancesCapacityProviderConfig: &spec.LambdaManagedInstancesCapacityProviderConfig{CapacityProviderArn: str(poolARN)}}
}

func (f *fixture) users(arn string) int {
	f.t.Helper()
	var n int
	if err := f.s.cfg.Store.View(f.ctx, func(tx store.Tx) error { n = f.s.CapacityProviderUsers(tx, f.id.Account, f.id.Region, arn); return nil }); err != nil {
		f.t.Fatal(err)
	}
	return n
}

func TestCapacityProviderUsersCountsFunctions(t *testing.T) {
	f := newFixture(t)
	f.s.cfg.CapacityProviders = providers{poolARN: true}
	if f.users(poolARN) != 0 {
		t.Fatal("users before any function")
	}
	f.create("a", onPool)
	f.create("b", onPool)
	f.create("plain")
	for _, n := range []string{"a", "b"} {
		if _, err := f.s.Publish(f.ctx, f.ref(n, ""), nil, nil, nil); err != nil {
			t.Fatal(err)
		}
		f.settle()
		if _, err := f.s.PublishLatest(f.ctx, f.ref(n, ""), nil, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	// Two functions, whatever their versions.
	if n := f.users(poolARN); n != 2 {
		t.Fatalf("users = %d, want 2", n)
	}
	// Only its published versions hold "b" on the pool once $LATEST leaves it.
	other := "arn:aws:lambda:us-east-1:123456789012:capacity-provider:other"
	f.s.cfg.CapacityProviders = providers{poolARN: true, other: true}
	_, err := f.s.UpdateConfiguration(f.ctx, f.ref("b", ""), &spec.UpdateFunctionConfigurationRequest{CapacityProviderConfig: &spec.CapacityProviderConfig{
		LambdaManagedInstancesCapacityProviderConfig: &spec.LambdaManagedInstancesCapacityProviderConfig{CapacityProviderArn: str(other)}}})
	if err != nil {
		t.Fatal(err)
	}
	if n := f.users(poolARN); n != 2 {
		t.Fatalf("users after moving $LATEST = %d, want 2", n)
	}
	if err := f.s.Delete(f.ctx, f.ref("a", "")); err != nil {
		t.Fatal(err)
	}
	if n := f.users(poolARN); n != 1 {
		t.Fatalf("users after a delete = %d, want 1", n)
	}
}

func TestManagedInstancesRules(t *testing.T) {
	f := newFixture(t)
	in := createReq(t, "f")
	onPool(in)
	in.Runtime = str("python3.12")
	f.s.cfg.CapacityProviders = providers{poolARN: true}
	_, err := f.s.Create(f.ctx, f.id, in, nil)
	wantFault(t, "runtime", err, fault.InvalidParameter, "", "Runtime python3.12 is not supported for functions that use a capacity provider. Use java21, python3.13, nodejs22.x, dotnet8, provided.al2023 or a later version of these.")
	in.Runtime = str("python3.13")
	f.s.cfg.CapacityProviders = nil
	// Without providers wired, none exists.
	_, err = f.s.Create(f.ctx, f.id, in, nil)
	wantFault(t, "no providers", err, fault.InvalidParameter, "", "The capacity provider "+poolARN+" does not exist.")
	f.s.cfg.CapacityProviders = providers{poolARN: true}
	in.TenancyConfig = &spec.TenancyConfig{TenantIsolationMode: str("PER_TENANT")}
	_, err = f.s.Create(f.ctx, f.id, in, nil)
	wantFault(t, "tenancy", err, fault.InvalidParameter, "", "Tenant isolation mode is not supported for functions that use a capacity provider.")
	in.TenancyConfig = nil
	// At least 2 GB and one vCPU's worth of memory.
	in.MemorySize = i32(1024)
	_, err = f.s.Create(f.ctx, f.id, in, nil)
	wantFault(t, "memory", err, fault.Invalid, "", "Lambda Managed Instance functions must have memory size greater than or equal to 2048")
	in.MemorySize = i32(2048)
	ratio := 4.0
	in.CapacityProviderConfig.LambdaManagedInstancesCapacityProviderConfig.ExecutionEnvironmentMemoryGiBPerVCpu = &ratio
	_, err = f.s.Create(f.ctx, f.id, in, nil)
	wantFault(t, "memory per vCPU", err, fault.InvalidParameter, "", "MemorySize 2048 MB is less than the 4096 MB a function that uses a capacity provider needs (2 GB and 1 vCPU at least).")
	// Without a MemorySize, it gets the least it may have.
	in.MemorySize = nil
	c, err := f.s.Create(f.ctx, f.id, in, nil)
	if err != nil || *c.MemorySize != 4096 {
		t.Fatalf("Create without MemorySize = %v, %v", c, err)
	}
}

func TestScalingConfigStored(t *testing.T) {
	f := newFixture(t)
	f.s.cfg.CapacityProviders = providers{poolARN: true}
	f.create("f", onPool)
	if _, err := f.s.Publish(f.ctx, f.ref("f", ""), nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	v1 := f.ref("f", "1")
	if c, ok, err := f.s.ScalingConfig(f.ctx, v1); ok || err != nil || *c.Min != 3 || *c.Max != 3 {
		t.Fatalf("before a put: %+v %v %v", c, ok, err)
	}
	lo, hi := int32(1), int32(4)
	if _, err := f.s.PutScalingConfig(f.ctx, v1, ScalingConfig{Min: &lo, Max: &hi}); err != nil {
		t.Fatal(err)
	}
	c, ok, err := f.s.ScalingConfig(f.ctx, v1)
	if !ok || err != nil || *c.Min != 1 || *c.Max != 4 {
		t.Fatalf("ScalingConfig = %+v %v %v", c, ok, err)
	}
	_, err = f.s.PutScalingConfig(f.ctx, f.ref("f", Latest), ScalingConfig{})
	wantFault(t, "$LATEST", err, fault.InvalidParameter, "", "Function scaling configuration is only supported for published versions.")
	if err := f.s.Delete(f.ctx, v1); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := f.s.ScalingConfig(f.ctx, v1); ok {
		t.Fatal("a deleted version kept its scaling config")
	}
}

func TestManagedInstancesRuntimes(t *testing.T) {
	for rt, want := range map[string]bool{
		"java21": true, "java25": true, "java17": false, "java8.al2": false,
		"python3.13": true, "python3.14": true, "python3.12": false, "python3.9": false,
		"nodejs22.x": true, "nodejs24.x": true, "nodejs20.x": false,
		"dotnet8": true, "dotnet10": true, "dotnet6": false,
		"provided.al2023": true, "provided.al2": false, "provided": false, "ruby3.4": false,
	} {
		if got := managedInstancesRuntime(rt); got != want {
			t.Errorf("managedInstancesRuntime(%s) = %v", rt, got)
		}
	}
}
