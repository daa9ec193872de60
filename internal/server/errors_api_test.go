package server_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/archive/archivetest"
	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

func TestCreateFunctionValidation(t *testing.T) {
	t.Parallel()
	_, c := servertest.NewEnv(t, servertest.FastTransition)
	ctx := context.Background()
	zip := testkit.HandlerZip(t, "a\n")

	cases := []struct {
		name   string
		mutate func(*lambda.CreateFunctionInput)
		code   string
		status int
		msg    string // exact, or a prefix when prefix is set
		prefix bool
	}{
		{
			name:   "memory below minimum",
			mutate: func(in *lambda.CreateFunctionInput) { in.MemorySize = aws.Int32(100) },
			code:   "ValidationException", status: 400,
			msg: "1 validation error detected: Value '100' at 'memorySize' failed to satisfy constraint: Member must have value greater than or equal to 128",
		},
		{
			name:   "bad role",
			mutate: func(in *lambda.CreateFunctionInput) { in.Role = aws.String("r1") },
			code:   "ValidationException", status: 400,
			msg: `1 validation error detected: Value 'r1' at 'role' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+`,
		},
		{
			name: "two architectures",
			mutate: func(in *lambda.CreateFunctionInput) {
				in.Architectures = []types.Architecture{types.ArchitectureX8664, types.ArchitectureArm64}
			},
			code: "ValidationException", status: 400,
			msg: "1 validation error detected: Value '[x86_64, arm64]' at 'architectures' failed to satisfy constraint: Member must have length less than or equal to 1",
		},
		{
			name:   "unknown runtime",
			mutate: func(in *lambda.CreateFunctionInput) { in.Runtime = "non-existent-runtime" },
			code:   "InvalidParameterValueException", status: 400,
			msg: "Value non-existent-runtime at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [", prefix: true,
		},
		{
			name:   "runtime is case-sensitive",
			mutate: func(in *lambda.CreateFunctionInput) { in.Runtime = "PYTHON3.9" },
			code:   "InvalidParameterValueException", status: 400,
			msg: "Value PYTHON3.9 at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [", prefix: true,
		},
		{
			name:   "deprecated runtime",
			mutate: func(in *lambda.CreateFunctionInput) { in.Runtime = "python3.7" },
			code:   "InvalidParameterValueException", status: 400,
			msg: "The runtime parameter of python3.7 is no longer supported for creating or updating AWS Lambda functions. We recommend you use a supported runtime while creating or updating functions.",
		},
		{
			name: "environment over 4KB",
			mutate: func(in *lambda.CreateFunctionInput) {
				// {"LARGE_VAR":"…"} is 16 bytes plus the value: 4097 in all.
				in.Environment = &types.Environment{Variables: map[string]string{"LARGE_VAR": strings.Repeat("x", 4081)}}
			},
			code: "InvalidParameterValueException", status: 400,
			msg: `Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: {"LARGE_VAR":"` + strings.Repeat("x", 4081) + `"}`,
		},
		{
			name:   "not a zip",
			mutate: func(in *lambda.CreateFunctionInput) { in.Code.ZipFile = []byte("this is not a zip file") },
			code:   "InvalidParameterValueException", status: 400,
			msg: "Could not unzip uploaded file. Please check your file, then try to upload again.",
		},
		{
			name: "zip escaping its root",
			mutate: func(in *lambda.CreateFunctionInput) {
				in.Code.ZipFile = archivetest.Zip(t, archivetest.File{Name: "handler.py", Body: "a"}, archivetest.File{Name: "../evil.py", Body: "b"})
			},
			code: "InvalidParameterValueException", status: 400,
			msg: "Could not unzip uploaded file. Please check your file, then try to upload again.", prefix: true,
		},
		{
			name: "name longer than 64",
			mutate: func(in *lambda.CreateFunctionInput) {
				in.FunctionName = aws.String(strings.Repeat("a", 65))
			},
			code: "InvalidParameterValueException", status: 400,
			msg: "1 validation error detected: Value '" + strings.Repeat("a", 65) + "' at 'functionName' failed to satisfy constraint: Member must have length less than or equal to 64",
		},
		{
			name:   "name with a bad character",
			mutate: func(in *lambda.CreateFunctionInput) { in.FunctionName = aws.String("my-function!") },
			code:   "ValidationException", status: 400,
			msg: "1 validation error detected: Value 'my-function!' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: ", prefix: true,
		},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			name := "fn-invalid-" + string(rune('a'+i))
			in := testkit.CreateInput(name, zip)
			tc.mutate(in)
			_, err := c.CreateFunction(ctx, in)
			if tc.prefix {
				testkit.APIErrPrefix(t, err, tc.code, tc.status, tc.msg)
			} else {
				testkit.APIErr(t, err, tc.code, tc.status, tc.msg)
			}
			if tc.code == "InvalidParameterValueException" && !testkit.IsType[*types.InvalidParameterValueException](err) {
				t.Errorf("want *types.InvalidParameterValueException, got %T", err)
			}
			// Nothing was created.
			_, err = c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(name)})
			if !testkit.IsType[*types.ResourceNotFoundException](err) {
				t.Errorf("after a refused create, GetFunction: %v, want ResourceNotFoundException", err)
			}
		})
	}

	// The runtime message lists the runtimes and allows an ARN.
	in := testkit.CreateInput("fn-runtime-msg", zip)
	in.Runtime = "non-existent-runtime"
	_, err := c.CreateFunction(ctx, in)
	if ae := testkit.APIErrPrefix(t, err, "InvalidParameterValueException", 400, ""); ae != nil {
		msg := ae.ErrorMessage()
		if !strings.HasSuffix(msg, "] or be a valid ARN") || !strings.Contains(msg, "python3.12") || !strings.Contains(msg, "provided.al2023") || strings.Contains(msg, "validation error detected") {
			t.Errorf("unknown runtime message = %q", msg)
		}
	}

	// The environment limit is inclusive: exactly 4096 bytes is fine.
	in = testkit.CreateInput("fn-env-4096", zip)
	in.Environment = &types.Environment{Variables: map[string]string{"LARGE_VAR": strings.Repeat("x", 4080)}}
	if _, err := c.CreateFunction(ctx, in); err != nil {
		t.Errorf("environment of exactly 4096 bytes: %v", err)
	}

	// Nothing refused above counts in the account.
	acct, err := c.GetAccountSettings(ctx, &lambda.GetAccountSettingsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if got := acct.AccountUsage.FunctionCount; got != 1 {
		t.Errorf("FunctionCount = %d after refused creates, want 1", got)
	}
	if got := acct.AccountUsage.TotalCodeSize; got != int64(len(zip)) {
		t.Errorf("TotalCodeSize = %d, want %d", got, len(zip))
	}
}

func TestEnvironmentVariableNames(t *testing.T) {
	t.Parallel()
	_, c := servertest.NewEnv(t, servertest.FastTransition)
	ctx := context.Background()
	// AWS's pattern needs two characters at least: "X" is refused.
	for _, key := range []string{"X", "1ABC", "HAS-DASH"} {
		in := testkit.CreateInput("fn-env-key", testkit.HandlerZip(t, "a\n"))
		in.Environment = &types.Environment{Variables: map[string]string{key: "v"}}
		_, err := c.CreateFunction(ctx, in)
		ae := testkit.APIErrPrefix(t, err, "ValidationException", 400, "1 validation error detected: Value ")
		const want = "at 'environment.variables' failed to satisfy constraint: Map keys must satisfy constraint: [Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]"
		if ae != nil && !strings.HasSuffix(ae.ErrorMessage(), want) {
			t.Errorf("env key %q: message %q, want it to end %q", key, ae.ErrorMessage(), want)
		}
	}
	in := testkit.CreateInput("fn-env-reserved", testkit.HandlerZip(t, "a\n"))
	in.Environment = &types.Environment{Variables: map[string]string{"AWS_REGION": "x"}}
	_, err := c.CreateFunction(ctx, in)
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: AWS_REGION")
}

func TestCreateFunctionSizeLimits(t *testing.T) {
	t.Parallel()
	_, c := servertest.NewEnv(t, servertest.FastTransition)
	ctx := context.Background()
	// The zipped limit is checked first: 52428801 bytes fit in the request
	// (base64 makes them 69.9 MB, under 70167211) but not in the zip limit.
	in := testkit.CreateInput("fn-big-zip", make([]byte, 52428801))
	_, err := c.CreateFunction(ctx, in)
	testkit.APIErr(t, err, "RequestEntityTooLargeException", 413, "Zipped size must be smaller than 52428800 bytes")
	// A request over 70167211 bytes is refused as a whole.
	in = testkit.CreateInput("fn-big-request", make([]byte, 53000000))
	_, err = c.CreateFunction(ctx, in)
	testkit.APIErr(t, err, "RequestEntityTooLargeException", 413, "Request must be smaller than 70167211 bytes for the CreateFunction operation")
	_, err = c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("fn-big-zip")})
	if !testkit.IsType[*types.ResourceNotFoundException](err) {
		t.Errorf("oversized create left a function: %v", err)
	}
}
