package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/functions"
	"github.com/lambdad/lambdad/internal/server"
	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/store"
	"github.com/lambdad/lambdad/internal/testkit"
)

// copyDir copies the regular files under src to dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// downloadSha256 fetches a code location and returns its SHA-256, base64.
func downloadSha256(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	h := sha256.New()
	io.Copy(h, resp.Body)
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// TestV0DataDirServed opens a data directory written by the lambdad of
// commit ceb31ba (internal/functions/testdata, made by make-v0-datadir.sh)
// and checks that everything the script created is served after the
// upgrade, as the script created it: functions, versions, aliases, layers,
// policy, URL, event invoke config, code, and invokes of the Python and Node
// functions. Restarting on the upgraded directory serves the same.
func TestV0DataDirServed(t *testing.T) {
	dir := t.TempDir()
	copyDir(t, "../functions/testdata/v0-datadir", dir)
	const (
		pySha    = "sgTv2pumWPTR0aXA70skO9SH2B6EWoXOtY+PEtovktw="
		nodeSha  = "Jc8gR82hFo3gIOD8CZNnqkXDsLLKMXiZrrHGlLt4F7U="
		layerARN = "arn:aws:lambda:us-east-1:000000000000:layer:greet"
	)
	ctx := context.Background()
	check := func(c *lambda.Client) {
		t.Helper()
		list, err := c.ListFunctions(ctx, &lambda.ListFunctionsInput{})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, f := range list.Functions {
			names = append(names, aws.ToString(f.FunctionName))
		}
		if strings.Join(names, ",") != "hello,nodefn,queued" {
			t.Errorf("functions = %v", names)
		}

		hello, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("hello")})
		if err != nil {
			t.Fatal(err)
		}
		hc := hello.Configuration
		if hc.Runtime != types.RuntimePython312 || aws.ToString(hc.Handler) != "app.handler" ||
			aws.ToString(hc.Description) != "python fixture" || aws.ToInt32(hc.MemorySize) != 256 || aws.ToInt32(hc.Timeout) != 9 ||
			aws.ToString(hc.Role) != "arn:aws:iam::000000000000:role/fixture" || hc.State != types.StateActive ||
			hc.LastUpdateStatus != types.LastUpdateStatusSuccessful || aws.ToString(hc.CodeSha256) != pySha || hc.CodeSize != 214 ||
			hc.PackageType != types.PackageTypeZip || !reflect.DeepEqual(hc.Architectures, []types.Architecture{types.ArchitectureX8664}) {
			t.Errorf("hello's configuration: %s", jsonOf(hc))
		}
		if !reflect.DeepEqual(hc.Environment.Variables, map[string]string{"WHO": "fixture", "MODE": "v0"}) ||
			aws.ToInt32(hc.EphemeralStorage.Size) != 1024 || len(hc.Layers) != 1 || aws.ToString(hc.Layers[0].Arn) != layerARN+":2" || hc.Layers[0].CodeSize != 166 {
			t.Errorf("hello's environment, storage or layers: %s", jsonOf(hc))
		}
		if l := hc.LoggingConfig; l.LogFormat != types.LogFormatJson || l.ApplicationLogLevel != types.ApplicationLogLevelDebug ||
			l.SystemLogLevel != types.SystemLogLevelWarn || aws.ToString(l.LogGroup) != "/aws/lambda/hello" {
			t.Errorf("hello's logging: %s", jsonOf(l))
		}
		if !reflect.DeepEqual(hello.Tags, map[string]string{"team": "core", "env": "test"}) || hello.Concurrency == nil ||
			aws.ToInt32(hello.Concurrency.ReservedConcurrentExecutions) != 5 {
			t.Errorf("hello's tags %v, concurrency %s", hello.Tags, jsonOf(hello.Concurrency))
		}
		if got := downloadSha256(t, aws.ToString(hello.Code.Location)); got != pySha {
			t.Errorf("hello's code downloads with sha256 %s, want %s", got, pySha)
		}

		vs, err := c.ListVersionsByFunction(ctx, &lambda.ListVersionsByFunctionInput{FunctionName: aws.String("hello")})
		if err != nil {
			t.Fatal(err)
		}
		var versions []string
		for _, v := range vs.Versions {
			versions = append(versions, aws.ToString(v.Version)+"/"+aws.ToString(v.Description)+"/"+jsonOf(v.Timeout))
		}
		if strings.Join(versions, " ") != "$LATEST/python fixture/9 1/first/7 2/second/9" {
			t.Errorf("hello's versions: %v", versions)
		}

		live, err := c.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String("hello"), Name: aws.String("live")})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(live.FunctionVersion) != "1" || aws.ToString(live.Description) != "mostly one" ||
			!reflect.DeepEqual(live.RoutingConfig.AdditionalVersionWeights, map[string]float64{"2": 0.25}) {
			t.Errorf("alias live: %s", jsonOf(live))
		}
		dev, err := c.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String("nodefn"), Name: aws.String("dev")})
		if err != nil || aws.ToString(dev.FunctionVersion) != "$LATEST" {
			t.Errorf("alias dev: %v %s", err, jsonOf(dev))
		}

		lv, err := c.ListLayerVersions(ctx, &lambda.ListLayerVersionsInput{LayerName: aws.String("greet")})
		if err != nil {
			t.Fatal(err)
		}
		if len(lv.LayerVersions) != 2 {
			t.Fatalf("layer versions: %s", jsonOf(lv.LayerVersions))
		}
		l2, l1 := lv.LayerVersions[0], lv.LayerVersions[1]
		if l2.Version != 2 || aws.ToString(l2.Description) != "greet v2" ||
			!reflect.DeepEqual(l2.CompatibleRuntimes, []types.Runtime{types.RuntimePython312, types.RuntimePython313}) ||
			!reflect.DeepEqual(l2.CompatibleArchitectures, []types.Architecture{types.ArchitectureX8664}) ||
			l1.Version != 1 || aws.ToString(l1.Description) != "greet v1" || aws.ToString(l1.LicenseInfo) != "MIT" ||
			!reflect.DeepEqual(l1.CompatibleRuntimes, []types.Runtime{types.RuntimePython312}) {
			t.Errorf("layer versions: %s", jsonOf(lv.LayerVersions))
		}
		layer, err := c.GetLayerVersion(ctx, &lambda.GetLayerVersionInput{LayerName: aws.String("greet"), VersionNumber: aws.Int64(2)})
		if err != nil {
			t.Fatal(err)
		}
		if got := downloadSha256(t, aws.ToString(layer.Content.Location)); got != aws.ToString(layer.Content.CodeSha256) || layer.Content.CodeSize != 166 {
			t.Errorf("layer 2's code downloads with sha256 %s, shown %s", got, aws.ToString(layer.Content.CodeSha256))
		}

		pol, err := c.GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: aws.String("hello")})
		if err != nil {
			t.Fatal(err)
		}
		const wantPolicy = `{"Version":"2012-10-17","Id":"default","Statement":[` +
			`{"Sid":"s3","Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:us-east-1:000000000000:function:hello","Condition":{"StringEquals":{"AWS:SourceAccount":"000000000000"},"ArnLike":{"AWS:SourceArn":"arn:aws:s3:::fixture-bucket"}}},` +
			`{"Sid":"acct","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"lambda:GetFunction","Resource":"arn:aws:lambda:us-east-1:000000000000:function:hello"}]}`
		// A policy's RevisionId is its function's, as on AWS (the stored
		// policy's own revision is not shown).
		fnNow, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("hello")})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(pol.Policy) != wantPolicy || aws.ToString(pol.RevisionId) != aws.ToString(fnNow.Configuration.RevisionId) {
			t.Errorf("policy:\n%s\n%s", aws.ToString(pol.Policy), aws.ToString(pol.RevisionId))
		}

		u, err := c.GetFunctionUrlConfig(ctx, &lambda.GetFunctionUrlConfigInput{FunctionName: aws.String("hello"), Qualifier: aws.String("live")})
		if err != nil {
			t.Fatal(err)
		}
		wantCors := &types.Cors{AllowCredentials: aws.Bool(true), AllowHeaders: []string{"x-fixture"}, AllowMethods: []string{"GET", "POST"},
			AllowOrigins: []string{"https://example.com"}, MaxAge: aws.Int32(60)}
		if u.AuthType != types.FunctionUrlAuthTypeNone || !strings.Contains(aws.ToString(u.FunctionUrl), "radbq9ii3soiojaa52tyt2upgssrbir5") ||
			jsonOf(u.Cors) != jsonOf(wantCors) || u.InvokeMode != types.InvokeModeBuffered {
			t.Errorf("URL config: %s", jsonOf(u))
		}

		ec, err := c.GetFunctionEventInvokeConfig(ctx, &lambda.GetFunctionEventInvokeConfigInput{FunctionName: aws.String("hello")})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToInt32(ec.MaximumRetryAttempts) != 1 || aws.ToInt32(ec.MaximumEventAgeInSeconds) != 600 ||
			aws.ToString(ec.DestinationConfig.OnSuccess.Destination) != "arn:aws:lambda:us-east-1:000000000000:function:nodefn" ||
			aws.ToString(ec.DestinationConfig.OnFailure.Destination) != "arn:aws:lambda:us-east-1:000000000000:function:queued" {
			t.Errorf("event invoke config: %s", jsonOf(ec))
		}

		node, err := c.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("nodefn")})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(node.CodeSha256) != nodeSha || node.Runtime != types.RuntimeNodejs20x || aws.ToInt32(node.MemorySize) != 128 ||
			aws.ToInt32(node.Timeout) != 3 || aws.ToInt32(node.EphemeralStorage.Size) != 512 ||
			!reflect.DeepEqual(node.Architectures, []types.Architecture{types.ArchitectureArm64}) || node.Environment.Variables["COLOR"] != "blue" {
			t.Errorf("nodefn: %s", jsonOf(node))
		}
		queued, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("queued")})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToInt32(queued.Concurrency.ReservedConcurrentExecutions) != 0 || len(queued.Configuration.Layers) != 1 ||
			aws.ToString(queued.Configuration.Layers[0].Arn) != layerARN+":1" {
			t.Errorf("queued: %s", jsonOf(queued))
		}

		// The functions run: Python with its layer, through the alias too, and Node.
		for _, name := range []string{"hello", "hello:live"} {
			out := testkit.Call(t, c, name, `{"k":1}`)
			if out.FunctionError != nil || string(out.Payload) != `{"greeting": "hello v2 fixture", "event": {"k": 1}}` {
				t.Errorf("invoke %s: %v %s", name, out.FunctionError, out.Payload)
			}
		}
		out := testkit.Call(t, c, "nodefn", `{"k":2}`)
		if out.FunctionError != nil || string(out.Payload) != `{"node":true,"color":"blue","event":{"k":2}}` {
			t.Errorf("invoke nodefn: %v %s", out.FunctionError, out.Payload)
		}

		// $LATEST is what version 2 was published from: publishing again
		// without a change returns version 2 (the digest survived).
		pub, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("hello")})
		if err != nil || aws.ToString(pub.Version) != "2" {
			t.Errorf("PublishVersion: %v, version %s", err, aws.ToString(pub.Version))
		}
	}

	d := servertest.StartLambdad(t, dir, nil)
	check(servertest.InvokeClient(d))
	d.Stop()
	// The upgraded directory opens again and serves the same.
	d = servertest.StartLambdad(t, dir, nil)
	check(servertest.InvokeClient(d))
}

// TestNewerDataDirRefused: a data directory whose schema is newer than this
// lambdad's is refused at start, saying why.
func TestNewerDataDirRefused(t *testing.T) {
	dir := t.TempDir()
	srv, err := server.New(server.Config{DataDir: dir, Isolation: "off"})
	if err != nil {
		t.Fatal(err)
	}
	srv.Close()
	setSchema(t, filepath.Join(dir, "metadata.db"), "99")
	_, err = server.New(server.Config{DataDir: dir, Isolation: "off"})
	if want := fmt.Sprintf("the data directory has schema version 99, newer than this lambdad's %d", functions.SchemaVersion); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("server.New = %v", err)
	}
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// setSchema writes the store's schema version as a future lambdad would.
func setSchema(t *testing.T, path, v string) {
	t.Helper()
	st, err := store.OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Update(context.Background(), func(tx store.Tx) error { return tx.Put("meta", "schema", []byte(v)) }); err != nil {
		t.Fatal(err)
	}
}
