package server_test

import (
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/archive/archivetest"
	"github.com/lambdad/lambdad/internal/server"
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

// TestNodeLayerPackagesFromESModules: an index.mjs handler imports packages
// from its layer's nodejs/nodeN/node_modules and nodejs/node_modules (an ES
// package with an exports map, a CommonJS one, and the nodeN directory
// winning over the shared one), as on AWS; on Node 20 (off-thread module
// hooks) and on Node 22 (in-thread hooks).
func TestNodeLayerPackagesFromESModules(t *testing.T) {
	t.Parallel()
	node22 := testkit.RepoScript(t, "node.sh", "22")
	_, c := servertest.InvokeEnv(t, func(cfg *server.Config) { cfg.Nodes = []string{node22} })
	for _, tc := range []struct {
		runtime types.Runtime
		major   int
	}{{types.RuntimeNodejs20x, 20}, {types.RuntimeNodejs22x, 22}} {
		t.Run(string(tc.runtime), func(t *testing.T) {
			t.Parallel()
			nm := "nodejs/node_modules/"
			vm := fmt.Sprintf("nodejs/node%d/node_modules/", tc.major)
			layer := publishLayer(t, c, fmt.Sprintf("esm-layer-%d", tc.major), archivetest.Zip(t,
				archivetest.File{Name: nm + "esm-pkg/package.json", Body: `{"name":"esm-pkg","type":"module","exports":{".":"./lib/main.js"}}`},
				archivetest.File{Name: nm + "esm-pkg/lib/main.js", Body: `import { word } from "./word.js"; export const greet = () => word;`},
				archivetest.File{Name: nm + "esm-pkg/lib/word.js", Body: `export const word = "esm from layer";`},
				archivetest.File{Name: nm + "cjs-pkg/index.js", Body: `module.exports = { where: "cjs from layer" };`},
				archivetest.File{Name: nm + "ver-pkg/index.js", Body: `module.exports = "shared node_modules";`},
				archivetest.File{Name: vm + "ver-pkg/index.js", Body: fmt.Sprintf(`module.exports = "node%d node_modules";`, tc.major)},
			))
			name := fmt.Sprintf("esm-layers-%d", tc.major)
			in := testkit.NodeFunction(t, name, "index.mjs", "index.handler", `import { greet } from "esm-pkg";
import cjs from "cjs-pkg";
import ver from "ver-pkg";
export const handler = async () => {
  let missing;
  try { await import("no-such-pkg"); } catch (e) { missing = e.code; }
  return [greet(), cjs.where, ver, missing];
};
`)
			in.Runtime = tc.runtime
			in.Layers = []string{aws.ToString(layer.LayerVersionArn)}
			testkit.CreateActive(t, c, in)
			out := testkit.Call(t, c, name, `{}`)
			want := fmt.Sprintf(`["esm from layer","cjs from layer","node%d node_modules","ERR_MODULE_NOT_FOUND"]`, tc.major)
			if got := string(out.Payload); got != want {
				t.Errorf("%s: got %s (error %q), want %s", tc.runtime, got, aws.ToString(out.FunctionError), want)
			}
		})
	}
}
