package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/archive/archivetest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// A CommonJS handler and an ES module handler that load the AWS SDK the
// runtime provides, and a package of the function's own that has the name
// of an SDK client and must win over it, as on AWS.
const (
	sdkCJS = `const { S3Client } = require('@aws-sdk/client-s3');
const own = require('@aws-sdk/client-sts');
exports.handler = async () => ({
  version: process.version,
  s3: typeof S3Client === 'function' && typeof new S3Client({ region: 'us-east-1' }).send,
  own: own.mine === true,
  env: process.env.AWS_EXECUTION_ENV,
});
`
	sdkESM = `import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import own from '@aws-sdk/client-sts';
export const handler = async () => ({
  version: process.version,
  s3: typeof S3Client === 'function' && typeof new S3Client({ region: 'us-east-1' }).send,
  ddb: typeof DynamoDBDocumentClient,
  own: own.mine === true,
});
`
	ownPkg = `{"name":"@aws-sdk/client-sts","version":"0.0.1","main":"index.js"}`
	ownJS  = `module.exports = { mine: true };`
)

// TestRuntimesInstallNode installs nodejs22.x with `lambdad runtimes
// install` (Node 22 from npm's node-linux package and the AWS SDK v3,
// through the machine's npm), sees `lambdad runtimes` list it, and runs
// nodejs22.x functions on it in a lambdad over that data directory
// (confined where the host allows): Node 22 runs, and both require() and
// import find the SDK, after the function's own packages.
func TestRuntimesInstallNode(t *testing.T) {
	if testing.Short() {
		t.Skip("installs Node from npm")
	}
	if _, err := exec.LookPath("npm"); err != nil {
		t.Fatal("npm is needed (see Prerequisites)")
	}
	bin := lambdadBin.Path(t)
	dir := filepath.Join(t.TempDir(), "data")
	ctx := context.Background()
	// Two installs at once: the lock makes one install and the other find
	// it installed when it gets the lock.
	outs := make([][]byte, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range outs {
		wg.Go(func() {
			outs[i], errs[i] = exec.CommandContext(ctx, bin, "runtimes", "install", "nodejs22.x", "--data-dir", dir).CombinedOutput()
		})
	}
	wg.Wait()
	both := string(outs[0]) + string(outs[1])
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("lambdad runtimes install nodejs22.x: %v %v\n%s", errs[0], errs[1], both)
	}
	m := regexp.MustCompile(`installed nodejs22\.x: node (22\.\d+\.\d+) at (\S+)`).FindStringSubmatch(both)
	if m == nil || m[2] != filepath.Join(dir, "runtimes", "nodejs22.x", "bin", "node") ||
		strings.Count(both, "npm pack ") != 1 || !strings.Contains(both, "nodejs22.x is installed already: node "+m[1]) {
		t.Fatalf("install outputs:\n%s", both)
	}
	version := m[1]

	// The listing names it, through LAMBDAD_DATA_DIR this time.
	list := exec.CommandContext(ctx, bin, "runtimes")
	list.Env = append(list.Environ(), "LAMBDAD_DATA_DIR="+dir)
	listed, err := list.CombinedOutput()
	row := regexp.MustCompile(`(?m)^nodejs22\.x +ok +` + regexp.QuoteMeta(version) + ` +` + regexp.QuoteMeta(m[2]) + ` +lambdad +AWS SDK v3: `).Match(listed)
	if err != nil || !row {
		t.Errorf("lambdad runtimes: %v\n%s", err, listed)
	}

	p := testkit.StartProcess(t, bin, "", nil, "--listen", "127.0.0.1:0", "--data-dir", dir, "--transition", "20ms")
	cl := newLambdaClient(p.Addr)
	for _, fn := range []struct{ name, file, src string }{{"sdk-cjs", "index.js", sdkCJS}, {"sdk-esm", "index.mjs", sdkESM}} {
		zip := archivetest.Zip(t,
			archivetest.File{Name: fn.file, Body: fn.src},
			archivetest.File{Name: "node_modules/@aws-sdk/client-sts/package.json", Body: ownPkg},
			archivetest.File{Name: "node_modules/@aws-sdk/client-sts/index.js", Body: ownJS})
		testkit.CreateActive(t, cl, &lambda.CreateFunctionInput{
			FunctionName: aws.String(fn.name), Role: aws.String(testkit.Role), Runtime: types.RuntimeNodejs22x,
			Handler: aws.String("index.handler"), Timeout: aws.Int32(30), Code: &types.FunctionCode{ZipFile: zip},
		})
		res := testkit.Call(t, cl, fn.name, `{}`)
		if res.FunctionError != nil {
			t.Fatalf("%s: %s %s\n%s", fn.name, aws.ToString(res.FunctionError), res.Payload, p.Log())
		}
		got := testkit.DecodeJSON[map[string]any](t, res.Payload)
		if got["version"] != "v"+version || got["s3"] != "function" || got["own"] != true {
			t.Errorf("%s: %s, want Node v%s, the SDK's S3Client and the function's own client-sts", fn.name, res.Payload, version)
		}
		if fn.name == "sdk-cjs" && got["env"] != "AWS_Lambda_nodejs22.x" {
			t.Errorf("AWS_EXECUTION_ENV = %v", got["env"])
		}
		if fn.name == "sdk-esm" && got["ddb"] != "function" {
			t.Errorf("lib-dynamodb by import: %s", res.Payload)
		}
	}
	// Exact: no fallback is reported.
	cfg, err := cl.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("sdk-cjs")})
	if err != nil || cfg.State != types.StateActive || (cfg.RuntimeVersionConfig != nil && cfg.RuntimeVersionConfig.Error != nil) {
		t.Errorf("configuration: %v %+v", err, cfg)
	}
}

// TestRuntimesInstallPython: lambdad says why it cannot install CPython
// and what does.
func TestRuntimesInstallPython(t *testing.T) {
	out, err := exec.Command(lambdadBin.Path(t), "runtimes", "install", "python3.12", "--data-dir", t.TempDir()).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "lambdad cannot install CPython python3.12") || !strings.Contains(string(out), "`uv python install 3.12`") {
		t.Errorf("runtimes install python3.12: %v\n%s", err, out)
	}
}

// TestRuntimesList runs `lambdad runtimes` in process: it honours the
// interpreter flags and their LAMBDAD_* variables, and --runtime-fallback.
func TestRuntimesList(t *testing.T) {
	t.Parallel()
	node := filepath.Join(t.TempDir(), "node24")
	script := "#!/bin/sh\ncase \"$1\" in --version) echo v24.9.1 ;; *) exit 1 ;; esac\n"
	if err := os.WriteFile(node, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	env := map[string]string{"LAMBDAD_DATA_DIR": dir, "LAMBDAD_NODE_BINARIES": node, "LAMBDAD_NODE": "no-such-node"}
	var out bytes.Buffer
	if err := runRuntimes(context.Background(), nil, lookupIn(env), &out); err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile(`(?m)^nodejs24\.x +ok +24\.9\.1 +` + regexp.QuoteMeta(node) + ` +--node-binaries`)
	if !row.Match(out.Bytes()) || !regexp.MustCompile(`(?m)^provided\.al2023 +ok`).Match(out.Bytes()) {
		t.Errorf("listing:\n%s", out.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "runtimes")); err != nil {
		t.Errorf("LAMBDAD_DATA_DIR not used: %v", err)
	}
	// With fallback (a flag after LAMBDAD_*), a Node with no exact binary
	// shows what it would run on; nodejs18.x's nearest is 20 if the host
	// has one, else the 24 above.
	out.Reset()
	if err := runRuntimes(context.Background(), []string{"--runtime-fallback"}, lookupIn(env), &out); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^nodejs22\.x +fallback +\d+\.\d+\.\d+ .* install: lambdad runtimes install nodejs22\.x`).Match(out.Bytes()) {
		t.Errorf("listing with --runtime-fallback:\n%s", out.String())
	}
	if err := runRuntimes(context.Background(), []string{"nodejs22.x"}, lookupIn(env), &out); err == nil || !strings.Contains(err.Error(), "lambdad runtimes install nodejs22.x") {
		t.Errorf("runtimes nodejs22.x: %v", err)
	}
	if err := runRuntimes(context.Background(), []string{"install", "java21", "--data-dir", t.TempDir()}, lookupIn(nil), &out); err == nil || !strings.Contains(err.Error(), "cannot install java21") {
		t.Errorf("install java21: %v", err)
	}
}
