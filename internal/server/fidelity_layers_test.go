package server_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/lambdad/lambdad/internal/archive/archivetest"
	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// TestPythonLayerSitePackages: a python3.12 function finds a layer's
// python/lib/python3.12/site-packages whatever the host's Python is, and the
// .pth files of the layer's site directories are processed, as on AWS.
func TestPythonLayerSitePackages(t *testing.T) {
	t.Parallel()
	_, c := servertest.InvokeEnv(t, nil)
	site := "python/lib/python3.12/site-packages/"
	layer := publishLayer(t, c, "pysite", archivetest.Zip(t,
		archivetest.File{Name: site + "vpkg/__init__.py", Body: "WHERE = 'python3.12 site-packages'\n"},
		archivetest.File{Name: site + "vendored.pth", Body: "# comment\nvendored\nimport os, textwrap; os.environ['LAYER_PTH_RAN'] = textwrap.__name__\n"},
		archivetest.File{Name: site + "vendored/deep.py", Body: "WHERE = 'from a .pth of site-packages'\n"},
		archivetest.File{Name: "python/top.pth", Body: "toplib\n"},
		archivetest.File{Name: "python/toplib/top.py", Body: "WHERE = 'from a .pth of /opt/python'\n"},
		// Another version's packages are not the runtime's.
		archivetest.File{Name: "python/lib/python3.11/site-packages/otherver.py", Body: "WHERE = 'wrong version'\n"},
	))
	fn := testkit.PyFunction(t, "py-site", `import os, vpkg, deep, top
def handler(e, c):
    try:
        import otherver
        other = otherver.WHERE
    except ImportError:
        other = "not importable"
    import sys
    order = [p.rsplit("/", 1)[-1] for p in sys.path[:5]]
    return [vpkg.WHERE, deep.WHERE, top.WHERE, os.environ.get("LAYER_PTH_RAN"), other, order]
`)
	fn.Layers = []string{aws.ToString(layer.LayerVersionArn)}
	testkit.CreateActive(t, c, fn)
	out := testkit.Call(t, c, "py-site", `{}`)
	want := `["python3.12 site-packages", "from a .pth of site-packages", "from a .pth of /opt/python", "textwrap", "not importable", ["task", "site-packages", "python", "vendored", "toplib"]]`
	if got := string(out.Payload); got != want {
		t.Errorf("layer site packages: got %s (error %q), want %s", got, aws.ToString(out.FunctionError), want)
	}
}
