package server_test

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
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

// repoScript runs scripts/<name> of this repository and returns what it
// prints. node.sh and durable-sdk.sh install once (from npm) and then answer
// at once; .ci/run installs both before the tests.
func repoScript(t testing.TB, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join("..", "..", "scripts", name), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("scripts/%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// durableSDKFiles are the files of node_modules holding AWS's durable
// execution SDK, named as a function zip holds them (node_modules/...).
func durableSDKFiles(t testing.TB) []archivetest.File {
	t.Helper()
	mods := repoScript(t, "durable-sdk.sh")
	var files []archivetest.File
	err := filepath.WalkDir(mods, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(filepath.Dir(mods), p)
		if err != nil {
			return err
		}
		f := archivetest.File{Name: filepath.ToSlash(rel)}
		if d.Type()&fs.ModeSymlink != 0 {
			f.Symlink, err = os.Readlink(p)
		} else {
			var b []byte
			b, err = os.ReadFile(p)
			f.Body = string(b)
		}
		files = append(files, f)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestNodeBinariesRunExactVersions: with --node-binaries naming a Node 22,
// nodejs22.x runs on it, isolated, while nodejs20.x keeps --node. AWS's
// durable execution SDK (which needs Node 22) zipped with a function, as its
// users deploy it, loads there and refuses an invocation that does not come
// from a durable execution, as it does on AWS for a function without
// DurableConfig.
func TestNodeBinariesRunExactVersions(t *testing.T) {
	t.Parallel()
	node22 := repoScript(t, "node.sh", "22")
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

	files := append(durableSDKFiles(t), archivetest.File{Name: "index.mjs", Body: `import { withDurableExecution } from "@aws/durable-execution-sdk-js";
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
