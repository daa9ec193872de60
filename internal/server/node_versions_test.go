package server_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/archive/archivetest"
	"github.com/lambdad/lambdad/internal/server"
	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// TestNodeBinariesRunExactVersions: with --node-binaries naming a Node 22,
// nodejs22.x runs on it, isolated, while nodejs20.x keeps --node. AWS's
// durable execution SDK (which needs Node 22) zipped with a function, as its
// users deploy it, loads there and refuses an invocation that does not come
// from a durable execution, as it does on AWS for a function without
// DurableConfig.
func TestNodeBinariesRunExactVersions(t *testing.T) {
	t.Parallel()
	node22 := testkit.RepoScript(t, "node.sh", "22")
	host, err := exec.Command("node", "--version").Output()
	if err != nil {
		t.Skip("no host node:", err)
	}
	_, c := servertest.InvokeEnv(t, func(cfg *server.Config) { cfg.Nodes = []string{node22} })

	src := `export const handler = async () => process.version;`
	for _, tc := range []struct {
		runtime types.Runtime
		want    string
	}{
		{types.RuntimeNodejs22x, `"v22.`},
		{types.RuntimeNodejs20x, `"` + strings.TrimSpace(string(host))},
	} {
		name := "version-" + strings.ReplaceAll(string(tc.runtime), ".", "")
		in := testkit.NodeFunction(t, name, "index.mjs", "index.handler", src)
		in.Runtime = tc.runtime
		testkit.CreateActive(t, c, in)
		out := testkit.Call(t, c, name, `{}`)
		if out.FunctionError != nil || !strings.HasPrefix(string(out.Payload), tc.want) {
			t.Errorf("%s runs node %s (error %v), want %s…", tc.runtime, out.Payload, aws.ToString(out.FunctionError), tc.want)
		}
	}

	files := append(testkit.DurableSDKFiles(t), archivetest.File{Name: "index.mjs", Body: `import { withDurableExecution } from "@aws/durable-execution-sdk-js";
export const handler = withDurableExecution(async (event, context) => context.step("s", async () => 1));
`})
	testkit.CreateActive(t, c, &lambda.CreateFunctionInput{
		FunctionName: aws.String("uses-durable-sdk"),
		Role:         aws.String(testkit.Role),
		Runtime:      types.RuntimeNodejs22x,
		Handler:      aws.String("index.handler"),
		Code:         &types.FunctionCode{ZipFile: archivetest.Zip(t, files...)},
	})
	out := testkit.Call(t, c, "uses-durable-sdk", `{"order": 1}`)
	got := testkit.DecodeJSON[struct{ ErrorType, ErrorMessage string }](t, out.Payload)
	const msg = "Unexpected payload provided to start the durable execution.\nCheck your resource configurations to confirm the durability is set."
	if aws.ToString(out.FunctionError) != "Unhandled" || got.ErrorType != "Error" || got.ErrorMessage != msg {
		t.Errorf("the SDK answered %v %s, want Unhandled Error %q", aws.ToString(out.FunctionError), out.Payload, msg)
	}
}
