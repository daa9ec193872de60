package server_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/archive/archivetest"
	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

func publishLayer(t *testing.T, c *lambda.Client, name string, zip []byte, runtimes ...types.Runtime) *lambda.PublishLayerVersionOutput {
	t.Helper()
	out, err := c.PublishLayerVersion(context.Background(), &lambda.PublishLayerVersionInput{
		LayerName: aws.String(name), Content: &types.LayerVersionContentInput{ZipFile: zip},
		CompatibleRuntimes: runtimes, Description: aws.String("layer " + name),
	})
	if err != nil {
		t.Fatalf("PublishLayerVersion %s: %v", name, err)
	}
	return out
}

func TestLayerLifecycle(t *testing.T) {
	t.Parallel()
	_, c := servertest.NewEnv(t, servertest.FastTransition)
	ctx := context.Background()
	zip := archivetest.Zip(t, archivetest.File{Name: "python/mylib.py", Body: "X = 1\n"})
	v1 := publishLayer(t, c, "libs", zip, types.RuntimePython312)
	arn := "arn:aws:lambda:us-east-1:" + testkit.Account + ":layer:libs"
	if aws.ToString(v1.LayerArn) != arn || aws.ToString(v1.LayerVersionArn) != arn+":1" || v1.Version != 1 {
		t.Errorf("v1 = %s %s %d", aws.ToString(v1.LayerArn), aws.ToString(v1.LayerVersionArn), v1.Version)
	}
	if aws.ToString(v1.Content.CodeSha256) != testkit.SHA256B64(zip) || v1.Content.CodeSize != int64(len(zip)) {
		t.Errorf("content = %+v", v1.Content)
	}
	if !strings.HasSuffix(aws.ToString(v1.CreatedDate), "+0000") || len(v1.CompatibleArchitectures) != 0 {
		t.Errorf("CreatedDate %q, architectures %v", aws.ToString(v1.CreatedDate), v1.CompatibleArchitectures)
	}
	resp, err := http.Get(aws.ToString(v1.Content.Location))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(got, zip) {
		t.Errorf("Content.Location served %d bytes, want the layer zip", len(got))
	}
	v2 := publishLayer(t, c, "libs", zip, types.RuntimeNodejs20x)
	if v2.Version != 2 {
		t.Errorf("second version = %d", v2.Version)
	}

	g, err := c.GetLayerVersion(ctx, &lambda.GetLayerVersionInput{LayerName: aws.String("libs"), VersionNumber: aws.Int64(1)})
	if err != nil || aws.ToString(g.Description) != "layer libs" || g.CompatibleRuntimes[0] != types.RuntimePython312 {
		t.Errorf("GetLayerVersion: %v %+v", err, g)
	}
	ga, err := c.GetLayerVersionByArn(ctx, &lambda.GetLayerVersionByArnInput{Arn: aws.String(arn + ":2")})
	if err != nil || ga.Version != 2 {
		t.Errorf("GetLayerVersionByArn: %v", err)
	}
	lv, err := c.ListLayerVersions(ctx, &lambda.ListLayerVersionsInput{LayerName: aws.String("libs")})
	if err != nil || len(lv.LayerVersions) != 2 || lv.LayerVersions[0].Version != 2 {
		t.Errorf("ListLayerVersions (newest first): %v %+v", err, lv)
	}
	lv, _ = c.ListLayerVersions(ctx, &lambda.ListLayerVersionsInput{LayerName: aws.String("libs"), CompatibleRuntime: types.RuntimePython312})
	if len(lv.LayerVersions) != 1 || lv.LayerVersions[0].Version != 1 {
		t.Errorf("ListLayerVersions python3.12: %+v", lv.LayerVersions)
	}
	ll, err := c.ListLayers(ctx, &lambda.ListLayersInput{})
	if err != nil || len(ll.Layers) != 1 || aws.ToString(ll.Layers[0].LayerName) != "libs" || ll.Layers[0].LatestMatchingVersion.Version != 2 {
		t.Errorf("ListLayers: %v %+v", err, ll)
	}
	empty, err := c.ListLayerVersions(ctx, &lambda.ListLayerVersionsInput{LayerName: aws.String("nope")})
	if err != nil || len(empty.LayerVersions) != 0 {
		t.Errorf("ListLayerVersions of a missing layer: %v %+v", err, empty)
	}

	_, err = c.GetLayerVersion(ctx, &lambda.GetLayerVersionInput{LayerName: aws.String("libs"), VersionNumber: aws.Int64(9)})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "The resource you requested does not exist.")
	_, err = c.GetLayerVersion(ctx, &lambda.GetLayerVersionInput{LayerName: aws.String("libs"), VersionNumber: aws.Int64(0)})
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "Layer Version Cannot be less than 1")

	// A function keeps a deleted layer version's code.
	fn := testkit.CreateInput("uses-layer", testkit.HandlerZip(t, "import mylib\ndef handler(e, c):\n    return mylib.X\n"))
	fn.Layers = []string{arn + ":1"}
	testkit.CreateActive(t, c, fn)
	if _, err := c.DeleteLayerVersion(ctx, &lambda.DeleteLayerVersionInput{LayerName: aws.String("libs"), VersionNumber: aws.Int64(1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteLayerVersion(ctx, &lambda.DeleteLayerVersionInput{LayerName: aws.String("libs"), VersionNumber: aws.Int64(1)}); err != nil {
		t.Errorf("deleting again: %v", err)
	}
	_, err = c.GetLayerVersion(ctx, &lambda.GetLayerVersionInput{LayerName: aws.String("libs"), VersionNumber: aws.Int64(1)})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "The resource you requested does not exist.")
	if out := testkit.MustInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("uses-layer")}); string(out.Payload) != "1" || out.FunctionError != nil {
		t.Errorf("invoke with a deleted layer version: %s", out.Payload)
	}
	v3 := publishLayer(t, c, "libs", zip)
	if v3.Version != 3 {
		t.Errorf("numbers are not reused: got %d", v3.Version)
	}
}

// TestInvokeWithLayers runs a provided.al2023 function whose bootstrap is in
// a layer, and a Python function importing a module from a layer's python/.
func TestInvokeWithLayers(t *testing.T) {
	t.Parallel()
	_, c := servertest.InvokeEnv(t, nil)
	ctx := context.Background()
	boot, err := c.PublishLayerVersion(ctx, &lambda.PublishLayerVersionInput{LayerName: aws.String("goboot"), Content: &types.LayerVersionContentInput{ZipFile: testkit.GoBootstrapZip(t, "testdata/goecho")}})
	if err != nil {
		t.Fatal(err)
	}
	fn := testkit.GoFunction("boot-from-layer", archivetest.Zip(t, archivetest.File{Name: "README", Body: "code without a bootstrap"}))
	fn.Layers = []string{aws.ToString(boot.LayerVersionArn)}
	testkit.CreateActive(t, c, fn)
	if got := string(testkit.Call(t, c, "boot-from-layer", `{"op":"echo","value":"from /opt"}`).Payload); got != `"from /opt"` {
		t.Errorf("bootstrap from a layer answered %s", got)
	}

	lib := publishLayer(t, c, "pylib", archivetest.Zip(t, archivetest.File{Name: "python/greeting.py", Body: "WORD = 'layered'\n"}))
	over := publishLayer(t, c, "pyover", archivetest.Zip(t, archivetest.File{Name: "python/greeting.py", Body: "WORD = 'later layer wins'\n"}))
	py := testkit.PyFunction(t, "py-layers", "import greeting\ndef handler(e, c):\n    return greeting.WORD\n")
	py.Layers = []string{aws.ToString(lib.LayerVersionArn)}
	testkit.CreateActive(t, c, py)
	if got := string(testkit.Call(t, c, "py-layers", `{}`).Payload); got != `"layered"` {
		t.Errorf("python module from a layer: %s", got)
	}
	if _, err := c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("py-layers"),
		Layers: []string{aws.ToString(lib.LayerVersionArn), aws.ToString(over.LayerVersionArn)}}); err != nil {
		t.Fatal(err)
	}
	testkit.WaitUpdated(t, c, "py-layers")
	if got := string(testkit.Call(t, c, "py-layers", `{}`).Payload); got != `"later layer wins"` {
		t.Errorf("two layers: %s", got)
	}
}

// TestLayerVersionsPagination pages newest first, and resumes in place when
// the version a marker names is deleted between pages.
func TestLayerVersionsPagination(t *testing.T) {
	t.Parallel()
	_, c := servertest.NewEnv(t, servertest.FastTransition)
	ctx := context.Background()
	for i := range 3 {
		publishLayer(t, c, "paged", archivetest.Zip(t, archivetest.File{Name: "f", Body: string(rune('a' + i))}))
	}
	page := func(marker *string) *lambda.ListLayerVersionsOutput {
		t.Helper()
		out, err := c.ListLayerVersions(ctx, &lambda.ListLayerVersionsInput{LayerName: aws.String("paged"), MaxItems: aws.Int32(1), Marker: marker})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	first := page(nil)
	if len(first.LayerVersions) != 1 || first.LayerVersions[0].Version != 3 || first.NextMarker == nil {
		t.Fatalf("first page: %+v", first)
	}
	if _, err := c.DeleteLayerVersion(ctx, &lambda.DeleteLayerVersionInput{LayerName: aws.String("paged"), VersionNumber: aws.Int64(3)}); err != nil {
		t.Fatal(err)
	}
	second := page(first.NextMarker)
	if len(second.LayerVersions) != 1 || second.LayerVersions[0].Version != 2 {
		t.Fatalf("after deleting the marker's version: %+v", second.LayerVersions)
	}
	third := page(second.NextMarker)
	if len(third.LayerVersions) != 1 || third.LayerVersions[0].Version != 1 || third.NextMarker != nil {
		t.Fatalf("last page: %+v", third)
	}
}
