package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/archive/archivetest"
	"github.com/lambdad/lambdad/internal/runtimes"
	"github.com/lambdad/lambdad/internal/server"
	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// missingRuntime is a nodejs runtime this host has no exact interpreter
// for, and what runs it under fallback, as lambdad's own catalog finds
// them; the test is skipped on a host with every Node lambdad runs.
func missingRuntime(t *testing.T) (runtime string, st runtimes.Status) {
	t.Helper()
	cat, err := runtimes.New(runtimes.Config{Dir: filepath.Join(t.TempDir(), "runtimes"), Fallback: true})
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	for _, rt := range []string{"nodejs24.x", "nodejs22.x", "nodejs18.x", "nodejs20.x"} {
		if st := cat.Status(rt); st.Fallback != "" {
			return rt, st
		}
	}
	t.Skip("every nodejs runtime has its exact interpreter here")
	return "", runtimes.Status{}
}

const fallbackJS = `exports.handler = async () => ({ version: process.version, env: process.env.AWS_EXECUTION_ENV });`

func createNode(t *testing.T, c *lambda.Client, name, runtime string, json bool) {
	t.Helper()
	in := &lambda.CreateFunctionInput{
		FunctionName: aws.String(name), Role: aws.String(testkit.Role), Runtime: types.Runtime(runtime),
		Handler: aws.String("index.handler"),
		Code:    &types.FunctionCode{ZipFile: archivetest.Zip(t, archivetest.File{Name: "index.js", Body: fallbackJS})},
	}
	if json {
		in.LoggingConfig = &types.LoggingConfig{LogFormat: types.LogFormatJson}
	}
	testkit.Create(t, c, in)
}

// TestRuntimeWithoutInterpreter: without --runtime-fallback, a function
// whose runtime has no interpreter of its version here is Failed
// (InvalidRuntime) and its invokes answer Runtime.InvalidEntrypoint, both
// naming the command that installs it.
func TestRuntimeWithoutInterpreter(t *testing.T) {
	t.Parallel()
	rt, _ := missingRuntime(t)
	_, c := servertest.InvokeEnv(t, func(cfg *server.Config) { servertest.IsolationOff(cfg); cfg.RuntimeFallback = false })
	createNode(t, c, "strict", rt, false)
	install := "`lambdad runtimes install " + rt + "`"
	var cfg *lambda.GetFunctionConfigurationOutput
	testkit.Eventually(t, 10*time.Second, "State leaves Pending", func() bool {
		var err error
		cfg, err = c.GetFunctionConfiguration(context.Background(), &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("strict")})
		return err == nil && cfg.State != types.StatePending
	})
	if cfg.State != types.StateFailed || cfg.StateReasonCode != types.StateReasonCodeInvalidRuntime || !strings.Contains(aws.ToString(cfg.StateReason), install) {
		t.Errorf("State %s %s %q, want Failed InvalidRuntime naming %s", cfg.State, cfg.StateReasonCode, aws.ToString(cfg.StateReason), install)
	}
	out := testkit.Call(t, c, "strict", `{}`)
	body := testkit.DecodeJSON[map[string]string](t, out.Payload)
	if aws.ToString(out.FunctionError) != "Unhandled" || body["errorType"] != "Runtime.InvalidEntrypoint" || !strings.Contains(body["errorMessage"], install) {
		t.Errorf("invoke: %s %s", aws.ToString(out.FunctionError), out.Payload)
	}
}

// TestRuntimeFallbackSaysSo: with --runtime-fallback the function runs on
// the nearest Node, keeps AWS_EXECUTION_ENV of its runtime, and its
// configuration (RuntimeVersionConfig.Error) and every REPORT line, text
// or JSON, name the version that really ran.
func TestRuntimeFallbackSaysSo(t *testing.T) {
	t.Parallel()
	rt, st := missingRuntime(t)
	_, c := servertest.InvokeEnv(t, servertest.IsolationOff) // RuntimeFallback is on in servertest
	createNode(t, c, "loose", rt, false)
	createNode(t, c, "loose-json", rt, true)
	note := fmt.Sprintf("node %s (fallback for %s)", st.Version, rt)
	for _, name := range []string{"loose", "loose-json"} {
		testkit.WaitActive(t, c, name)
		cfg, err := c.GetFunctionConfiguration(context.Background(), &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		if rv := cfg.RuntimeVersionConfig; rv == nil || rv.Error == nil || aws.ToString(rv.Error.ErrorCode) != "RuntimeFallback" ||
			aws.ToString(rv.Error.Message) != "Runs on "+note || aws.ToString(rv.RuntimeVersionArn) == "" {
			t.Errorf("%s: RuntimeVersionConfig %+v, want Error RuntimeFallback %q", name, rv, note)
		}
		for i := range 2 { // cold and warm: every REPORT says it
			out := testkit.MustInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String(name), LogType: types.LogTypeTail})
			got := testkit.DecodeJSON[map[string]string](t, out.Payload)
			if got["version"] != "v"+st.Version || got["env"] != "AWS_Lambda_"+rt {
				t.Errorf("%s: ran %s, want v%s with AWS_EXECUTION_ENV of %s", name, out.Payload, st.Version, rt)
			}
			log := testkit.Tail(t, out)
			if name == "loose" {
				if !strings.Contains(log, "\tRuntime Version: "+note+"\t\n") || !strings.Contains(log, "REPORT RequestId: ") {
					t.Errorf("%s invoke %d: REPORT does not name %q:\n%s", name, i, note, log)
				}
				continue
			}
			var found bool
			for line := range strings.SplitSeq(log, "\n") {
				var rec struct {
					Type   string `json:"type"`
					Record struct {
						RuntimeVersion string `json:"runtimeVersion"`
					} `json:"record"`
				}
				if json.Unmarshal([]byte(line), &rec) == nil && rec.Type == "platform.report" {
					found = rec.Record.RuntimeVersion == note
				}
			}
			if !found {
				t.Errorf("%s invoke %d: platform.report does not name %q:\n%s", name, i, note, log)
			}
		}
	}
}
