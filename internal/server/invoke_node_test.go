package server_test

import (
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/server"
	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

func TestInvokeNode(t *testing.T) {
	t.Parallel()
	_, c := servertest.InvokeEnv(t, nil)

	cases := []struct {
		name, file, handler, src string
	}{
		{
			name: "node-esm", file: "index.mjs", handler: "index.handler",
			src: `let count = 0;
export const handler = async (event, context) => {
  count++;
  console.log("esm says", event.say);
  return { kind: "esm", event, count, requestId: context.awsRequestId, name: process.env.AWS_LAMBDA_FUNCTION_NAME };
};
`,
		},
		{
			name: "node-callback", file: "app.js", handler: "app.lambdaHandler",
			src: `let count = 0;
exports.lambdaHandler = function (event, context, callback) {
  count++;
  console.log("callback says", event.say);
  setTimeout(() => callback(null, { kind: "callback", event, count, requestId: context.awsRequestId, name: process.env.AWS_LAMBDA_FUNCTION_NAME }), 10);
};
`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			testkit.CreateActive(t, c, testkit.NodeFunction(t, tc.name, tc.file, tc.handler, tc.src))
			type result struct {
				Kind, RequestID, Name string
				Event                 map[string]any
				Count                 int
			}
			for i := 1; i <= 2; i++ {
				out := testkit.MustInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String(tc.name), Payload: []byte(`{"say":"hi"}`), LogType: types.LogTypeTail})
				if out.FunctionError != nil {
					t.Fatalf("function error: %s", out.Payload)
				}
				r := testkit.DecodeJSON[result](t, out.Payload)
				kind := strings.TrimPrefix(tc.name, "node-")
				if r.Kind != kind || r.Name != tc.name || r.Count != i || !reflect.DeepEqual(r.Event, map[string]any{"say": "hi"}) {
					t.Errorf("invoke %d = %s", i, out.Payload)
				}
				log := testkit.Tail(t, out)
				if startID(t, log) != r.RequestID || !strings.Contains(log, kind+" says hi") {
					t.Errorf("tail of %s:\n%s", tc.name, log)
				}
			}
		})
	}
}

// TestInvokeHotReload: code "uploaded" from the hot-reload bucket is a
// directory on this machine, run in place.
func TestInvokeHotReload(t *testing.T) {
	t.Parallel()
	code := t.TempDir()
	_, c := servertest.InvokeEnv(t, func(cfg *server.Config) { cfg.HotReloadRoots = code })
	write := func(v string) {
		t.Helper()
		src := "VALUE = " + v + "\nn = 0\n\ndef handler(event, context):\n    global n\n    n += 1\n    return [VALUE, n]\n"
		if err := os.WriteFile(filepath.Join(code, "app.py"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(`"first"`)
	testkit.CreateActive(t, c, &lambda.CreateFunctionInput{
		FunctionName: aws.String("py-hot"),
		Role:         aws.String(testkit.Role),
		Runtime:      types.RuntimePython312,
		Handler:      aws.String("app.handler"),
		Code:         &types.FunctionCode{S3Bucket: aws.String("hot-reload"), S3Key: aws.String(code)},
	})
	if got := string(testkit.Call(t, c, "py-hot", `{}`).Payload); got != `["first", 1]` {
		t.Fatalf("first invoke = %s", got)
	}
	// An edit is seen by the very next invoke: the environment running the
	// old files is replaced. The second edit keeps the file's size.
	for _, v := range []string{`"second"`, `"third!"`} {
		write(v)
		if got, want := string(testkit.Call(t, c, "py-hot", `{}`).Payload), "["+v+", 1]"; got != want {
			t.Errorf("after editing app.py the function answers %s, want %s", got, want)
		}
	}
	// Unchanged files keep the environment warm.
	if got := string(testkit.Call(t, c, "py-hot", `{}`).Payload); got != `["third!", 2]` {
		t.Errorf("without an edit: %s", got)
	}
}

// TestInvokeAWSCLI drives Invoke with the AWS CLI, as users do.
func TestInvokeAWSCLI(t *testing.T) {
	t.Parallel()
	awsBin, err := exec.LookPath("aws")
	if err != nil {
		t.Skip("aws CLI not installed")
	}
	d, c := servertest.InvokeEnv(t, nil)
	testkit.CreateActive(t, c, testkit.PyFunction(t, "py-cli", "def handler(event, context):\n    print('cli log line')\n    return {'got': event}\n"))

	home := t.TempDir()
	outFile := filepath.Join(home, "out.json")
	cmd := exec.Command(awsBin, "lambda", "invoke", "--function-name", "py-cli",
		"--payload", `{"from":"cli"}`, "--log-type", "Tail",
		"--endpoint-url", d.URL, "--region", testkit.Region, "--output", "json", outFile)
	cmd.Env = append(os.Environ(), "HOME="+home, "AWS_ACCESS_KEY_ID="+testkit.InvokeKey, "AWS_SECRET_ACCESS_KEY=secret",
		"AWS_CONFIG_FILE="+filepath.Join(home, "none"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "none"))
	stdout, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("aws lambda invoke: %v\n%s%s", err, stdout, stderr)
	}
	res := testkit.DecodeJSON[struct {
		StatusCode      int
		ExecutedVersion string
		LogResult       string
		FunctionError   *string
	}](t, stdout)
	if res.StatusCode != 200 || res.ExecutedVersion != "$LATEST" || res.FunctionError != nil {
		t.Errorf("CLI output: %s", stdout)
	}
	log, err := base64.StdEncoding.DecodeString(res.LogResult)
	if err != nil || !strings.Contains(string(log), "cli log line") || !strings.Contains(string(log), "REPORT RequestId: ") {
		t.Errorf("CLI LogResult = %q (%v)", log, err)
	}
	if b, err := os.ReadFile(outFile); err != nil || string(b) != `{"got": {"from": "cli"}}` {
		t.Errorf("outfile = %q, %v", b, err)
	}
}
