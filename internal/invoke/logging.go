package invoke

import (
	"strings"

	"github.com/lambdad/lambdad/internal/sandbox"
	"github.com/lambdad/lambdad/internal/spec"
)

// logging hands LoggingConfig's levels and the runtime's version to the
// sandbox, which filters JSON logs by level and names the runtime in
// INIT_START.
func logging(f *sandbox.Function, cfg *spec.FunctionConfiguration) {
	if lc := cfg.LoggingConfig; lc != nil {
		f.SystemLogLevel, f.ApplicationLogLevel = deref(lc.SystemLogLevel), deref(lc.ApplicationLogLevel)
	}
	f.RuntimeVersion = runtimeVersionName(deref(cfg.Runtime))
	if rv := cfg.RuntimeVersionConfig; rv != nil {
		f.RuntimeVersionARN = deref(rv.RuntimeVersionArn)
	}
}

// runtimeVersionName is the runtime as INIT_START names it: AWS writes
// "python:3.12.v18", "nodejs:20.v13"; lambdad has no numbered runtime
// releases, so the ".vN" is left out [?]: "python:3.12", "nodejs:22",
// "provided:al2023".
func runtimeVersionName(runtime string) string {
	switch {
	case strings.HasPrefix(runtime, "python"):
		return "python:" + strings.TrimPrefix(runtime, "python")
	case strings.HasPrefix(runtime, "nodejs"):
		return "nodejs:" + strings.TrimSuffix(strings.TrimPrefix(runtime, "nodejs"), ".x")
	case strings.HasPrefix(runtime, "provided."):
		return "provided:" + strings.TrimPrefix(runtime, "provided.")
	case runtime == "":
		return "provided"
	}
	return runtime
}
