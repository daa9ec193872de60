package server_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// pyEnv returns the environment and calls lambdad back through
// AWS_ENDPOINT_URL_LAMBDA, signed with its own credentials, as functions
// using an SDK would.
const pyEnv = pySigV4 + `import time

def handler(event, context):
    env = dict(os.environ)
    root = env.get("LAMBDA_TASK_ROOT", "")
    env["_task_root_has_handler"] = str(os.path.isfile(os.path.join(root, "handler.py")))
    env["_runtime_dir_exists"] = str(os.path.isdir(env.get("LAMBDA_RUNTIME_DIR", "/nonexistent")))
    env["_localtime_offset"] = str(time.localtime().tm_gmtoff)
    r = call("GET", "/2015-03-31/functions/" + env["AWS_LAMBDA_FUNCTION_NAME"] + "/configuration")
    env["_callback_function_name"] = json.loads(r["body"]).get("FunctionName", str(r))
    print("env-marker", context.aws_request_id)
    return env
`

func TestInvokeEnvironment(t *testing.T) {
	t.Parallel()
	d, c := servertest.InvokeEnv(t, nil)
	ctx := context.Background()
	name := "py-env"
	in := testkit.PyFunction(t, name, pyEnv)
	in.MemorySize = aws.Int32(256)
	in.Environment = &types.Environment{Variables: map[string]string{"MY_VAR": "hello", "WITH_EQUALS": "a=b=c"}}
	testkit.CreateActive(t, c, in)

	env := testkit.DecodeJSON[map[string]string](t, testkit.Call(t, c, name, `{}`).Payload)
	want := map[string]string{
		"AWS_LAMBDA_FUNCTION_NAME":        name,
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
		"AWS_REGION":                      testkit.Region,
		"AWS_DEFAULT_REGION":              testkit.Region,
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/" + name,
		"_HANDLER":                        "handler.handler",
		"AWS_EXECUTION_ENV":               "AWS_Lambda_python3.12",
		"TZ":                              ":UTC",
		"MY_VAR":                          "hello",
		"WITH_EQUALS":                     "a=b=c",
		"AWS_ENDPOINT_URL_LAMBDA":         d.URL,
		"_task_root_has_handler":          "True",
		"_runtime_dir_exists":             "True",
		"_localtime_offset":               "0",
		"_callback_function_name":         name,
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
	if s := env["AWS_LAMBDA_LOG_STREAM_NAME"]; !regexp.MustCompile(`^\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}$`).MatchString(s) {
		t.Errorf("AWS_LAMBDA_LOG_STREAM_NAME = %q, want yyyy/mm/dd/[$LATEST]<32 hex>", s)
	}
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR", "AWS_LAMBDA_RUNTIME_API"} {
		if env[k] == "" {
			t.Errorf("%s is not set", k)
		}
	}

	t.Run("configuration update reaches the next invoke", func(t *testing.T) {
		_, err := c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{
			FunctionName: aws.String(name),
			Environment:  &types.Environment{Variables: map[string]string{"MY_VAR": "changed"}},
			MemorySize:   aws.Int32(512),
		})
		if err != nil {
			t.Fatal(err)
		}
		testkit.WaitUpdated(t, c, name)
		env := testkit.DecodeJSON[map[string]string](t, testkit.Call(t, c, name, `{}`).Payload)
		if env["MY_VAR"] != "changed" || env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] != "512" {
			t.Errorf("after the update: MY_VAR %q, memory %q; want changed, 512", env["MY_VAR"], env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
		}
		if v, ok := env["WITH_EQUALS"]; ok {
			t.Errorf("a variable removed by the update is still set: WITH_EQUALS=%q", v)
		}
	})

	t.Run("reserved names are refused", func(t *testing.T) {
		for _, keys := range [][]string{{"AWS_REGION"}, {"AWS_LAMBDA_FUNCTION_NAME"}, {"LAMBDA_TASK_ROOT"}, {"AWS_SESSION_TOKEN"}} {
			in := testkit.PyFunction(t, "py-reserved", pyEnv)
			in.Environment = &types.Environment{Variables: map[string]string{"FINE": "1"}}
			for _, k := range keys {
				in.Environment.Variables[k] = "x"
			}
			_, err := c.CreateFunction(ctx, in)
			testkit.APIErr(t, err, "InvalidParameterValueException", 400,
				"Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: "+strings.Join(keys, ", "))
		}
		// Updates are held to the same rule.
		_, err := c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{
			FunctionName: aws.String(name),
			Environment:  &types.Environment{Variables: map[string]string{"AWS_REGION": "eu-west-1"}},
		})
		testkit.APIErr(t, err, "InvalidParameterValueException", 400,
			"Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: AWS_REGION")
	})

	t.Run("logs are read through the Logs API", func(t *testing.T) {
		out := testkit.MustInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String(name), LogType: types.LogTypeTail})
		id := startID(t, testkit.Tail(t, out))
		lc := d.Logs()
		var stream string
		testkit.Eventually(t, 5*time.Second, "no log stream holds request "+id, func() bool {
			res, err := lc.FilterLogEvents(context.Background(), &cloudwatchlogs.FilterLogEventsInput{
				LogGroupName: aws.String("/aws/lambda/" + name), FilterPattern: aws.String(`"REPORT RequestId: ` + id + `"`)})
			if err != nil || len(res.Events) != 1 {
				return false
			}
			stream = aws.ToString(res.Events[0].LogStreamName)
			return true
		})
		// Named as AWS names it: date/[version]32 hex digits.
		if !regexp.MustCompile(`^` + time.Now().UTC().Format("2006/01/02") + `/\[\$LATEST\][0-9a-f]{32}$`).MatchString(stream) {
			t.Errorf("log stream %q is not named as AWS names it", stream)
		}
	})
}

// TestInvokeLogFormatJSON: with LoggingConfig LogFormat JSON, the platform
// lines and the logging module's records are JSON, as on AWS.
func TestInvokeLogFormatJSON(t *testing.T) {
	t.Parallel()
	_, c := servertest.InvokeEnv(t, nil)
	in := testkit.PyFunction(t, "py-jsonlog", `import logging
logger = logging.getLogger()

def handler(event, context):
    logger.info("structured hello")
    return "ok"
`)
	in.LoggingConfig = &types.LoggingConfig{LogFormat: types.LogFormatJson}
	testkit.CreateActive(t, c, in)
	out := testkit.MustInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("py-jsonlog"), LogType: types.LogTypeTail})
	if string(out.Payload) != `"ok"` {
		t.Fatalf("payload = %s", out.Payload)
	}
	log := testkit.Tail(t, out)
	var types_ []string
	var app map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(log), "\n") {
		rec := testkit.DecodeJSON[map[string]any](t, []byte(line))
		if ty, ok := rec["type"].(string); ok {
			types_ = append(types_, ty)
			if _, ok := rec["time"].(string); !ok {
				t.Errorf("platform record without time: %s", line)
			}
		}
		if rec["message"] == "structured hello" {
			app = rec
		}
	}
	for _, want := range []string{"platform.start", "platform.report"} {
		if !strings.Contains(strings.Join(types_, ","), want) {
			t.Errorf("no %s record in the JSON tail:\n%s", want, log)
		}
	}
	if app == nil {
		t.Fatalf("no JSON record of the logger.info line:\n%s", log)
	}
	if app["level"] != "INFO" || app["requestId"] == "" || app["requestId"] == nil {
		t.Errorf("application record = %v, want level INFO and the requestId", app)
	}
}
