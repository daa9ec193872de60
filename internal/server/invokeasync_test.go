//lint:file-ignore SA1019 InvokeAsync is deprecated, and this file tests that lambdad still serves it.

package server_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// TestInvokeAsync covers the deprecated InvokeAsync: 202 with
// {"Status":202}, and the function runs as an Event invoke under the
// request id the answer carried.
func TestInvokeAsync(t *testing.T) {
	t.Parallel()
	d, c := servertest.InvokeEnv(t, servertest.IsolationOff)
	ctx := context.Background()
	dir := t.TempDir()
	testkit.CreateActive(t, c, markerFunction(t, "go-async", testkit.GoBootstrapZip(t, "testdata/goecho"), dir))

	out, err := c.InvokeAsync(ctx, &lambda.InvokeAsyncInput{FunctionName: aws.String("go-async"),
		InvokeArgs: strings.NewReader(`{"op":"marker","name":"async","value":"ran"}`)})
	if err != nil || out.Status != 202 {
		t.Fatalf("InvokeAsync: %v %+v", err, out)
	}
	id, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
	testkit.Eventually(t, 10*time.Second, "the InvokeAsync event never ran", func() bool { return len(testkit.Markers(t, dir, "async-")) == 1 })
	if m := testkit.Markers(t, dir, "async-")[0]; !strings.HasPrefix(m, "async-"+id+"-") {
		t.Errorf("marker %s, request id %s", m, id)
	}

	// The body, as AWS sends it.
	req, _ := http.NewRequest("POST", d.URL+"/2014-11-13/functions/go-async/invoke-async/", bytes.NewReader([]byte(`{"op":"marker","name":"raw"}`)))
	req.Header.Set("Authorization", testkit.InvokeAuth)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 202 || string(body) != `{"Status":202}` {
		t.Errorf("raw InvokeAsync: %d %s", resp.StatusCode, body)
	}

	_, err = c.InvokeAsync(ctx, &lambda.InvokeAsyncInput{FunctionName: aws.String("nope"), InvokeArgs: strings.NewReader(`{}`)})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Function not found: "+testkit.InvokeARN("nope")+":$LATEST")
	_, err = c.InvokeAsync(ctx, &lambda.InvokeAsyncInput{FunctionName: aws.String("go-async"), InvokeArgs: strings.NewReader(`{`)})
	testkit.APIErrPrefix(t, err, "InvalidRequestContentException", 400, "Could not parse request body into json: ")
}
