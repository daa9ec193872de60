package invoke

import (
	"math"
	"strings"

	"github.com/lambdad/lambdad/internal/limits"
	"github.com/lambdad/lambdad/internal/sandbox"
	"github.com/lambdad/lambdad/internal/spec"
)

// defaultGiBPerVCPU is ExecutionEnvironmentMemoryGiBPerVCpu when unset [?]:
// AWS's model says 2.0 to 8.0 and documents no default; 2 is the
// compute-optimised ratio its guide starts from.
const defaultGiBPerVCPU = 2.0

// managedInstances sizes a function on a capacity provider (Lambda Managed
// Instances) as AWS's guides do:
//
//   - an environment has the function's MemorySize, and
//     MemorySize / (ExecutionEnvironmentMemoryGiBPerVCpu * 1024) vCPUs
//     (at least one): sandbox.Function.CPUs, which the environment's cgroup
//     enforces with cpu.max where the cpu controller is available;
//   - it holds PerExecutionEnvironmentMaxConcurrency invocations at once,
//     or the runtime's default per vCPU when unset: Node.js 64, Python 16
//     (both from AWS's runtime pages), Java and .NET 32 [?], others 16 [?].
//
// Logs are JSON: "Lambda Managed Instances only support JSON log format"
// (AWS's log format guide), whatever LoggingConfig says; with invocations
// interleaved, each line names its request id.
//
// Functions without a capacity provider run one invocation per
// environment, unconstrained in CPU, as before.
func managedInstances(f *sandbox.Function, cfg *spec.FunctionConfiguration) {
	cp := cfg.CapacityProviderConfig
	if cp == nil || cp.LambdaManagedInstancesCapacityProviderConfig == nil {
		return
	}
	mi := cp.LambdaManagedInstancesCapacityProviderConfig
	ratio := defaultGiBPerVCPU
	if mi.ExecutionEnvironmentMemoryGiBPerVCpu != nil && *mi.ExecutionEnvironmentMemoryGiBPerVCpu > 0 {
		ratio = *mi.ExecutionEnvironmentMemoryGiBPerVCpu
	}
	mem := float64(deref32(cfg.MemorySize, limits.DefaultMemoryMB))
	f.CPUs = max(1, mem/(ratio*1024))
	if f.LogFormat != "JSON" {
		f.LogFormat = "JSON"
		f.Env = append(f.Env, "AWS_LAMBDA_LOG_FORMAT=JSON")
	}
	if mi.PerExecutionEnvironmentMaxConcurrency != nil {
		f.MaxConcurrency = int(*mi.PerExecutionEnvironmentMaxConcurrency)
		return
	}
	perCPU := 16
	switch rt := deref(cfg.Runtime); {
	case strings.HasPrefix(rt, "nodejs"):
		perCPU = 64
	case strings.HasPrefix(rt, "java"), strings.HasPrefix(rt, "dotnet"):
		perCPU = 32
	}
	f.MaxConcurrency = int(math.Ceil(f.CPUs)) * perCPU
}
