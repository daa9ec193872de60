package server_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/server"
	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

func hotReloadInput(name, dir string) *lambda.CreateFunctionInput {
	return &lambda.CreateFunctionInput{
		FunctionName: aws.String(name),
		Role:         aws.String(testkit.Role),
		Runtime:      types.RuntimePython312,
		Handler:      aws.String("app.handler"),
		Code:         &types.FunctionCode{S3Bucket: aws.String("hot-reload"), S3Key: aws.String(dir)},
	}
}

// TestHotReloadOnlyUnderRoots: hot-reload code must resolve under
// --hot-reload-roots and keep apart from the data directory, at create, at
// update and again at invoke. Before, any absolute directory was mounted as
// /var/task, "/" included, with lambdad's metadata.db and secrets in it.
func TestHotReloadOnlyUnderRoots(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	data := filepath.Join(root, "data")
	code := filepath.Join(root, "code")
	if err := os.MkdirAll(code, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(code, "app.py"), []byte("def handler(e, c):\n    return 'hot'\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	escape := filepath.Join(root, "escape")
	if err := os.Symlink("/", escape); err != nil {
		t.Fatal(err)
	}
	d := servertest.StartLambdad(t, data, func(c *server.Config) { c.HotReloadRoots = root })
	c := servertest.InvokeClient(d)
	ctx := context.Background()

	for _, dir := range []string{"/", "/etc", filepath.Dir(root), escape, escape + "/tmp", root + "/code/../..", root, data, filepath.Join(data, "blobs")} {
		_, err := c.CreateFunction(ctx, hotReloadInput("hot", dir))
		e := testkit.APIErrPrefix(t, err, "InvalidParameterValueException", 400, "The hot-reload directory ")
		if e != nil && !strings.Contains(e.ErrorMessage(), "--hot-reload-roots") {
			t.Errorf("%s: the message does not name --hot-reload-roots: %s", dir, e.ErrorMessage())
		}
		if _, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("hot")}); testkit.HTTPStatus(err) != 404 {
			t.Fatalf("%s: a refused function was stored: %v", dir, err)
		}
	}

	testkit.CreateActive(t, c, hotReloadInput("hot", code))
	if got := string(testkit.Call(t, c, "hot", "{}").Payload); got != `"hot"` {
		t.Fatalf("allowed hot reload: %s", got)
	}
	_, err := c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("hot"), S3Bucket: aws.String("hot-reload"), S3Key: aws.String("/")})
	testkit.APIErrPrefix(t, err, "InvalidParameterValueException", 400, "The hot-reload directory / is not under the directories lambdad allows (--hot-reload-roots)")
	if got := string(testkit.Call(t, c, "hot", "{}").Payload); got != `"hot"` {
		t.Fatalf("after a refused update: %s", got)
	}

	// The function's directory later escapes its root through a symlink:
	// invoke refuses to run it.
	if err := os.Rename(code, code+".old"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc", code); err != nil {
		t.Fatal(err)
	}
	_, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("hot")})
	testkit.APIErrPrefix(t, err, "InvalidParameterValueException", 400, "arn:aws:lambda:us-east-1:000000000000:function:hot cannot run: The hot-reload directory "+code+" is not under the directories lambdad allows (--hot-reload-roots).")
	os.Remove(code)
	if err := os.Rename(code+".old", code); err != nil {
		t.Fatal(err)
	}

	// Restarted with hot reload off, the stored function no longer runs.
	d.Stop()
	d = servertest.StartLambdad(t, data, func(c *server.Config) { c.HotReloadRoots = "none" })
	c = servertest.InvokeClient(d)
	_, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("hot")})
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "arn:aws:lambda:us-east-1:000000000000:function:hot cannot run: Hot reloading is turned off: lambdad runs with --hot-reload-roots none.")
	_, err = c.CreateFunction(ctx, hotReloadInput("hot2", code))
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "Hot reloading is turned off: lambdad runs with --hot-reload-roots none.")
}

// TestHotReloadRefusedToFunctions: a function that calls CreateFunction or
// UpdateFunctionCode with hot-reload code, signed with its own credentials,
// gets 403 AccessDeniedException whatever the path, even an allowed one.
// Before, a function made "/" its own /var/task and read the host.
func TestHotReloadRefusedToFunctions(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	d := servertest.StartLambdad(t, t.TempDir(), func(c *server.Config) { c.HotReloadRoots = root })
	c := servertest.InvokeClient(d)
	src := pySigV4 + `
def handler(event, context):
    def create(name, path):
        return call('POST', '/2015-03-31/functions', json.dumps({
            'FunctionName': name, 'Runtime': 'python3.12', 'Role': 'arn:aws:iam::000000000000:role/r',
            'Handler': 'app.handler', 'Code': {'S3Bucket': 'hot-reload', 'S3Key': path}}).encode())
    return {
        'root': create('evil', '/'),
        'allowed': create('evil2', event['allowed']),
        'update': call('PUT', '/2015-03-31/functions/' + os.environ['AWS_LAMBDA_FUNCTION_NAME'] + '/code',
                       json.dumps({'S3Bucket': 'hot-reload', 'S3Key': '/'}).encode()),
        'list': call('GET', '/2015-03-31/functions/'),
    }
`
	testkit.CreateActive(t, c, testkit.PyFunction(t, "attacker", src))
	out := testkit.Call(t, c, "attacker", `{"allowed":"`+root+`"}`)
	got := testkit.DecodeJSON[map[string]pyAnswer](t, out.Payload)
	for _, k := range []string{"root", "allowed", "update"} {
		a := got[k]
		if a.Status != 403 || a.Type != "AccessDeniedException" || !strings.Contains(a.Body, "functions' own credentials cannot use hot reload") ||
			!strings.Contains(a.Body, `"message":"User: arn:aws:lambda:us-east-1:000000000000:function:attacker is not authorized to perform: lambda:`) {
			t.Errorf("%s: %+v", k, a)
		}
	}
	if got["list"].Status != 200 {
		t.Errorf("the function's credentials do not work at all: %+v", got["list"])
	}
	for _, name := range []string{"evil", "evil2"} {
		if _, err := c.GetFunction(context.Background(), &lambda.GetFunctionInput{FunctionName: aws.String(name)}); testkit.HTTPStatus(err) != 404 {
			t.Errorf("%s was created: %v", name, err)
		}
	}
}
