package server_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/server"
	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// readmeSnippets are the README's code blocks marked <!-- snippet: name -->.
func readmeSnippets(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?s)<!-- snippet: ([a-z-]+) -->\n```[a-z]*\n(.*?)```")
	out := map[string]string{}
	for _, m := range re.FindAllStringSubmatch(string(b), -1) {
		out[m[1]] = m[2]
	}
	return out
}

// TestReadmeFunctionURLSnippets runs the README's Python (urllib) and Node
// (fetch, http) snippets against function URLs in both forms: the path form
// (--function-url-host path) and the default host form.
func TestReadmeFunctionURLSnippets(t *testing.T) {
	t.Parallel()
	snippets := readmeSnippets(t)
	const src = "def handler(e, c):\n    return {'statusCode': 200, 'body': e['rawPath'] + ' ' + e['queryStringParameters']['name']}\n"
	for _, form := range []string{"path", "host"} {
		t.Run(form, func(t *testing.T) {
			t.Parallel()
			d, c := servertest.InvokeEnv(t, func(cfg *server.Config) {
				cfg.Isolation = "off"
				if form == "path" {
					cfg.FunctionURLHost = "path"
				}
			})
			testkit.CreateActive(t, c, testkit.PyFunction(t, "web", src))
			out, err := c.CreateFunctionUrlConfig(context.Background(), &lambda.CreateFunctionUrlConfigInput{
				FunctionName: aws.String("web"), AuthType: types.FunctionUrlAuthTypeNone})
			if err != nil {
				t.Fatal(err)
			}
			url := aws.ToString(out.FunctionUrl)
			if form == "path" && !strings.HasPrefix(url, d.URL+"/_lambdad/url/") || form == "host" && !strings.Contains(url, ".lambda-url.us-east-1.localhost:") {
				t.Fatalf("FunctionUrl %s", url)
			}
			for _, lang := range []struct{ name, bin, file string }{{"python", "python3", "call.py"}, {"node", "node", "call.mjs"}} {
				code, ok := snippets[lang.name+"-"+form]
				if !ok {
					t.Fatalf("README has no snippet %s-%s", lang.name, form)
				}
				file := filepath.Join(t.TempDir(), lang.file)
				if err := os.WriteFile(file, []byte(code), 0o644); err != nil {
					t.Fatal(err)
				}
				cmd := exec.Command(lang.bin, file)
				cmd.Env = append(os.Environ(), "FUNCTION_URL="+url)
				got, err := cmd.CombinedOutput()
				if want := "200 /hello " + lang.name + "\n"; err != nil || string(got) != want {
					t.Errorf("%s-%s: %q %v, want %q", lang.name, form, got, err, want)
				}
			}
		})
	}
}

// TestReadmeQuickStart runs the README's quick start as a fresh shell
// would: bash with nothing in its environment but PATH, against a real
// lambdad (on its own port instead of 9001), and checks the answer.
func TestReadmeQuickStart(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("aws"); err != nil {
		t.Fatal("the README's quick start needs the AWS CLI (see Prerequisites)")
	}
	script, ok := readmeSnippets(t)["quickstart"]
	if !ok {
		t.Fatal("README has no quick start snippet")
	}
	// Without fallback, as lambdad starts by default: the snippet picks a
	// runtime this host runs exactly.
	d, _ := servertest.InvokeEnv(t, func(c *server.Config) { servertest.IsolationOff(c); c.RuntimeFallback = false })
	script = strings.ReplaceAll(script, "http://127.0.0.1:9001", d.URL)
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.HasSuffix(strings.TrimSpace(string(out)), `{"hello": "you"}`) {
		t.Errorf("quick start: %v\n%s", err, out)
	}
}
