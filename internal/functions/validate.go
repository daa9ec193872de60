package functions

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/spec"
)

// blockedRuntimes can no longer be used to create or update functions
// (functions that have them still run).
var blockedRuntimes = map[string]bool{
	"python2.7": true, "python3.6": true, "python3.7": true, "python3.8": true,
	"nodejs": true, "nodejs4.3": true, "nodejs4.3-edge": true, "nodejs6.10": true, "nodejs8.10": true,
	"nodejs10.x": true, "nodejs12.x": true, "nodejs14.x": true, "nodejs16.x": true,
	"dotnetcore1.0": true, "dotnetcore2.0": true, "dotnetcore2.1": true, "dotnetcore3.1": true, "dotnet6": true,
	"ruby2.5": true, "ruby2.7": true, "java8": true, "go1.x": true, "provided": true,
}

// runtimeEnum is the set AWS's message for an unknown runtime lists, in
// AWS's order (LocalStack's AWS-recorded snapshot of January 2026): the
// runtimes it still takes as values, blocked ones among them.
const runtimeEnum = "nodejs20.x, python3.14, provided.al2023, python3.12, python3.13, nodejs24.x, nodejs22.x, java25, " +
	"python3.10, python3.11, java21, ruby3.3, ruby3.4, ruby3.2, python3.8, python3.9, java17, nodejs16.x, dotnet10, " +
	"dotnet8, java11, dotnet6, nodejs18.x, provided.al2, java8.al2"

// checkRuntime answers an unknown runtime with InvalidParameterValueException,
// as AWS does (not ValidationException), and refuses blocked ones.
func checkRuntime(rt string) error {
	if blockedRuntimes[rt] {
		return fault.InvalidParameterf("The runtime parameter of %s is no longer supported for creating or updating AWS Lambda functions. We recommend you use a supported runtime while creating or updating functions.", rt)
	}
	if !slices.Contains(strings.Split(runtimeEnum, ", "), rt) {
		return fault.InvalidParameterf("Value %s at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [%s] or be a valid ARN", rt, runtimeEnum)
	}
	return nil
}

// reservedEnv are the variables Lambda sets itself and does not let a function override.
var reservedEnv = []string{
	"_HANDLER", "_X_AMZN_TRACE_ID", "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_DEFAULT_REGION", "AWS_EXECUTION_ENV",
	"AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION",
	"AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
	"AWS_LAMBDA_RUNTIME_API", "AWS_REGION", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
	"LAMBDA_RUNTIME_DIR", "LAMBDA_TASK_ROOT",
}

// maxEnvBytes is the limit on the JSON form of a function's variables.
const maxEnvBytes = 4096

func checkEnvironment(env *spec.Environment) error {
	if env == nil || len(env.Variables) == 0 {
		return nil
	}
	var used []string
	for _, k := range reservedEnv {
		if _, ok := env.Variables[k]; ok {
			used = append(used, k)
		}
	}
	if len(used) > 0 {
		return fault.InvalidParameterf("Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: %s", strings.Join(used, ", "))
	}
	raw, _ := json.Marshal(env.Variables) // AWS measures the compact JSON

	if len(raw) > maxEnvBytes {
		return fault.InvalidParameterf("Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: %s", raw)
	}
	return nil
}

// loggingConfig applies defaults and AWS's rule that log levels need JSON.
func loggingConfig(in *spec.LoggingConfig, prev *spec.LoggingConfig, name string) (*spec.LoggingConfig, error) {
	out := spec.LoggingConfig{LogFormat: str("Text"), LogGroup: str("/aws/lambda/" + name)}
	if prev != nil {
		out = *prev
	}
	if in == nil {
		return &out, nil
	}
	if in.LogFormat != nil {
		out.LogFormat = in.LogFormat
	}
	if in.LogGroup != nil {
		out.LogGroup = in.LogGroup
	}
	if in.ApplicationLogLevel != nil {
		out.ApplicationLogLevel = in.ApplicationLogLevel
	}
	if in.SystemLogLevel != nil {
		out.SystemLogLevel = in.SystemLogLevel
	}
	if *out.LogFormat == "Text" {
		if in.ApplicationLogLevel != nil || in.SystemLogLevel != nil {
			return nil, fault.InvalidParameterf(`LogLevel is not supported when LogFormat is set to "Text". Remove LogLevel from your request or change the LogFormat to "JSON" and try again.`)
		}
		out.ApplicationLogLevel, out.SystemLogLevel = nil, nil
	} else {
		if out.ApplicationLogLevel == nil {
			out.ApplicationLogLevel = str("INFO")
		}
		if out.SystemLogLevel == nil {
			out.SystemLogLevel = str("INFO")
		}
	}
	return &out, nil
}
