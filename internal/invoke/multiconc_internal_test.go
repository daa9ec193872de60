package invoke

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/lambdad/lambdad/internal/sandbox"
	"github.com/lambdad/lambdad/internal/spec"
)

// TestManagedInstancesSizing pins how a capacity provider config sizes an
// environment: vCPUs from MemorySize and the GiB-per-vCPU ratio, and the
// invocations per environment, set or the runtime's default per vCPU.
func TestManagedInstancesSizing(t *testing.T) {
	mi := func(n *int32, ratio *float64) *spec.CapacityProviderConfig {
		return &spec.CapacityProviderConfig{LambdaManagedInstancesCapacityProviderConfig: &spec.LambdaManagedInstancesCapacityProviderConfig{
			CapacityProviderArn:                   aws.String("arn:aws:lambda:us-east-1:000000000000:capacity-provider:p"),
			PerExecutionEnvironmentMaxConcurrency: n,
			ExecutionEnvironmentMemoryGiBPerVCpu:  ratio,
		}}
	}
	for _, tc := range []struct {
		name string
		cfg  spec.FunctionConfiguration
		conc int
		cpus float64
	}{
		{"no capacity provider", spec.FunctionConfiguration{Runtime: aws.String("nodejs22.x")}, 0, 0},
		{"set", spec.FunctionConfiguration{Runtime: aws.String("python3.13"), MemorySize: aws.Int32(4096), CapacityProviderConfig: mi(aws.Int32(10), nil)}, 10, 2},
		{"ratio 4", spec.FunctionConfiguration{Runtime: aws.String("python3.13"), MemorySize: aws.Int32(8192), CapacityProviderConfig: mi(aws.Int32(3), aws.Float64(4))}, 3, 2},
		{"node default", spec.FunctionConfiguration{Runtime: aws.String("nodejs22.x"), MemorySize: aws.Int32(2048), CapacityProviderConfig: mi(nil, nil)}, 64, 1},
		{"python default", spec.FunctionConfiguration{Runtime: aws.String("python3.13"), MemorySize: aws.Int32(4096), CapacityProviderConfig: mi(nil, nil)}, 32, 2},
		{"at least one vCPU", spec.FunctionConfiguration{Runtime: aws.String("provided.al2023"), MemorySize: aws.Int32(512), CapacityProviderConfig: mi(nil, aws.Float64(8))}, 16, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f sandbox.Function
			managedInstances(&f, &tc.cfg)
			if f.MaxConcurrency != tc.conc || f.CPUs != tc.cpus {
				t.Fatalf("MaxConcurrency %d CPUs %v, want %d and %v", f.MaxConcurrency, f.CPUs, tc.conc, tc.cpus)
			}
		})
	}
}
