package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

func TestFunctionURLConfigs(t *testing.T) {
	t.Parallel()
	_, c := servertest.NewEnv(t, servertest.FastTransition)
	ctx := context.Background()
	testkit.CreateActive(t, c, testkit.CreateInput("web", testkit.HandlerZip(t, "x = 1\n")))
	fn := aws.String("web")
	created, err := c.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{FunctionName: fn, AuthType: types.FunctionUrlAuthTypeNone})
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(aws.ToString(created.FunctionUrl))
	if err != nil || !strings.Contains(u.Host, ".lambda-url.us-east-1.localhost:") || aws.ToString(created.FunctionArn) != testkit.FnARN("web") || created.AuthType != "NONE" {
		t.Errorf("CreateFunctionUrlConfig = %s %s %s", aws.ToString(created.FunctionUrl), aws.ToString(created.FunctionArn), created.AuthType)
	}
	_, err = c.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{FunctionName: fn, AuthType: types.FunctionUrlAuthTypeNone})
	testkit.APIErr(t, err, "ResourceConflictException", 409, "Failed to create function url config for [functionArn = "+testkit.FnARN("web")+"]. Error message:  FunctionUrlConfig exists for this Lambda function")
	got, err := c.GetFunctionUrlConfig(ctx, &lambda.GetFunctionUrlConfigInput{FunctionName: fn})
	if err != nil || got.InvokeMode != types.InvokeModeBuffered || aws.ToString(got.FunctionUrl) != aws.ToString(created.FunctionUrl) {
		t.Errorf("GetFunctionUrlConfig: %v %+v", err, got)
	}
	up, err := c.UpdateFunctionUrlConfig(ctx, &lambda.UpdateFunctionUrlConfigInput{FunctionName: fn, AuthType: types.FunctionUrlAuthTypeAwsIam})
	if err != nil || up.AuthType != types.FunctionUrlAuthTypeAwsIam {
		t.Errorf("UpdateFunctionUrlConfig: %v", err)
	}
	list, err := c.ListFunctionUrlConfigs(ctx, &lambda.ListFunctionUrlConfigsInput{FunctionName: fn})
	if err != nil || len(list.FunctionUrlConfigs) != 1 {
		t.Errorf("ListFunctionUrlConfigs: %v", err)
	}
	_, err = c.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("nope"), AuthType: types.FunctionUrlAuthTypeNone})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Function does not exist")
	_, err = c.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{FunctionName: fn, Qualifier: aws.String("1"), AuthType: types.FunctionUrlAuthTypeNone})
	testkit.APIErr(t, err, "ValidationException", 400, `1 validation error detected: Value '1' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: ((?!^\d+$)^[0-9a-zA-Z-_]+$)`)
	_, err = c.GetFunctionUrlConfig(ctx, &lambda.GetFunctionUrlConfigInput{FunctionName: fn, Qualifier: aws.String("nosuchalias")})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "The resource you requested does not exist.")
	if _, err := c.DeleteFunctionUrlConfig(ctx, &lambda.DeleteFunctionUrlConfigInput{FunctionName: fn}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetFunctionUrlConfig(ctx, &lambda.GetFunctionUrlConfigInput{FunctionName: fn})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "The resource you requested does not exist.")
}

// TestFunctionURLServesHTTP calls a function through its URL, by host name
// and by lambdad's path form, and checks the 2.0 event and the response.
func TestFunctionURLServesHTTP(t *testing.T) {
	t.Parallel()
	d, c := servertest.InvokeEnv(t, nil)
	ctx := context.Background()
	src := `import json
def handler(event, context):
    if event['rawPath'] == '/structured':
        return {'statusCode': 201, 'headers': {'X-Custom': 'yes'}, 'cookies': ['a=1'], 'body': 'made'}
    if event['rawPath'] == '/fail':
        raise RuntimeError('no')
    return {'event': event}
`
	testkit.CreateActive(t, c, testkit.PyFunction(t, "site", src))
	cfg, err := c.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("site"), AuthType: types.FunctionUrlAuthTypeNone,
		Cors: &types.Cors{AllowOrigins: []string{"https://app.example"}, AllowMethods: []string{"GET", "POST"}}})
	if err != nil {
		t.Fatal(err)
	}
	fu, _ := url.Parse(aws.ToString(cfg.FunctionUrl))
	id, _, _ := strings.Cut(fu.Host, ".")

	do := func(method, path, body string, hdr map[string]string, byHost bool) (*http.Response, string) {
		t.Helper()
		target := d.URL + "/_lambdad/url/" + id + path
		if byHost {
			target = d.URL + path
		}
		req, _ := http.NewRequest(method, target, strings.NewReader(body))
		if byHost {
			req.Host = fu.Host
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	for _, byHost := range []bool{true, false} {
		resp, body := do("POST", "/items/7?x=1&x=2&y=z", `{"n":1}`, map[string]string{"Content-Type": "application/json", "Cookie": "s=abc; t=d"}, byHost)
		var out struct {
			Event struct {
				Version, RawPath, RawQueryString, Body string
				Cookies                                []string
				Headers, QueryStringParameters         map[string]string
				IsBase64Encoded                        bool
				RequestContext                         struct {
					APIID string `json:"apiId"`
					HTTP  struct{ Method, Path string }
				}
			}
		}
		if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &out) != nil {
			t.Fatalf("by host %v: HTTP %d %s", byHost, resp.StatusCode, body)
		}
		e := out.Event
		if e.Version != "2.0" || e.RawPath != "/items/7" || e.RawQueryString != "x=1&x=2&y=z" || e.QueryStringParameters["x"] != "1,2" ||
			e.Body != `{"n":1}` || e.IsBase64Encoded || e.Headers["content-type"] != "application/json" || len(e.Cookies) != 2 ||
			e.RequestContext.HTTP.Method != "POST" || e.RequestContext.APIID != id {
			t.Errorf("by host %v: event = %+v", byHost, e)
		}
	}
	resp, body := do("GET", "/structured", "", nil, true)
	if resp.StatusCode != 201 || body != "made" || resp.Header.Get("X-Custom") != "yes" || resp.Header.Get("Set-Cookie") != "a=1" {
		t.Errorf("structured response: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	resp, body = do("GET", "/fail", "", nil, true)
	if resp.StatusCode != 502 || body != `{"Message":"Internal Server Error"}` {
		t.Errorf("function error: %d %s", resp.StatusCode, body)
	}
	resp, _ = do("OPTIONS", "/anything", "", map[string]string{"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}, true)
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example" || resp.Header.Get("Access-Control-Allow-Methods") != "GET,POST" {
		t.Errorf("CORS preflight: %d %v", resp.StatusCode, resp.Header)
	}
	if _, err := c.UpdateFunctionUrlConfig(ctx, &lambda.UpdateFunctionUrlConfigInput{FunctionName: aws.String("site"), AuthType: types.FunctionUrlAuthTypeAwsIam}); err != nil {
		t.Fatal(err)
	}
	if resp, body := do("GET", "/", "", nil, true); resp.StatusCode != 403 || body != `{"Message":"Forbidden"}` {
		t.Errorf("AWS_IAM URL without a signature: %d %s", resp.StatusCode, body)
	}
	if resp, _ := do("GET", "/", "", map[string]string{"Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=0"}, true); resp.StatusCode != 200 {
		t.Errorf("AWS_IAM URL with a signature: %d", resp.StatusCode)
	}
	if _, err := c.DeleteFunctionUrlConfig(ctx, &lambda.DeleteFunctionUrlConfigInput{FunctionName: aws.String("site")}); err != nil {
		t.Fatal(err)
	}
	if resp, _ := do("GET", "/", "", nil, true); resp.StatusCode != 404 {
		t.Errorf("deleted URL: %d", resp.StatusCode)
	}
}
