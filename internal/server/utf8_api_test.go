package server_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// TestInvalidUTF8Refused: a payload that is JSON but not UTF-8 never reaches
// the function; AWS answers 400 InvalidRequestContentException in its JSON
// parser's (Jackson's) words, and so does any other JSON body.
func TestInvalidUTF8Refused(t *testing.T) {
	t.Parallel()
	d, c := servertest.InvokeEnv(t, servertest.IsolationOff)
	marker := filepath.Join(t.TempDir(), "ran")
	testkit.CreateActive(t, c, testkit.PyFunction(t, "utf8", "def handler(e, c):\n    open("+quotePy(marker)+", 'a').write('x')\n    return e\n"))
	ctx := context.Background()
	for _, tc := range []struct {
		payload []byte
		msg     string
		typ     types.InvocationType
	}{
		{[]byte("{\"a\":\"\x80\"}"), "Invalid UTF-8 start byte 0x80\n at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); line: 1, column: 8]", types.InvocationTypeRequestResponse},
		{[]byte("{\n\"a\": \"\xe2\x28\xa1\"}"), "Invalid UTF-8 middle byte 0x28\n at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); line: 2, column: 9]", types.InvocationTypeRequestResponse},
		{[]byte("\"\xff\""), "Invalid UTF-8 start byte 0xff\n at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); line: 1, column: 3]", types.InvocationTypeEvent},
	} {
		_, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("utf8"), Payload: tc.payload, InvocationType: tc.typ})
		testkit.APIErr(t, err, "InvalidRequestContentException", 400, "Could not parse request body into json: Could not parse payload into json: "+tc.msg)
		if !testkit.IsType[*types.InvalidRequestContentException](err) {
			t.Errorf("want *types.InvalidRequestContentException, got %T", err)
		}
	}
	// Valid multi-byte text still runs.
	if out := testkit.Call(t, c, "utf8", `{"a":"été ✓ 𝄞"}`); string(out.Payload) != `{"a": "été ✓ 𝄞"}` {
		t.Errorf("valid UTF-8: %s", out.Payload)
	}
	if b, _ := os.ReadFile(marker); len(b) != 1 {
		t.Errorf("the function ran %d times, want once (only for the valid payload)", len(b))
	}

	// Any other JSON body: an UpdateFunctionConfiguration with a bad description.
	req, _ := http.NewRequest("PUT", d.URL+"/2015-03-31/functions/utf8/configuration", bytes.NewReader([]byte("{\"Description\":\"caf\xe9\"}")))
	req.Header.Set("Authorization", testkit.InvokeAuth)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 || resp.Header.Get("X-Amzn-ErrorType") != "InvalidRequestContentException" {
		t.Errorf("a JSON body with invalid UTF-8: %d %s", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
	}
	got, err := c.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("utf8")})
	if err != nil || aws.ToString(got.Description) != "" {
		t.Errorf("the description changed: %v %q", err, aws.ToString(got.Description))
	}
}

// quotePy is s as a Python string literal.
func quotePy(s string) string { return "'" + s + "'" }
