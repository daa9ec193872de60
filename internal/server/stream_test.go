package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/server"
	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// streamNode is a streamifyResponse handler. "chunks" writes chunk 1, waits
// 500 ms, then writes chunk 2 carrying the time (Unix ms) just before it was
// written, so the test can tell chunk 1 reached it before chunk 2 existed.
// "fail" writes a chunk and throws; "buffered" is the event's size in bytes.
const streamNode = `
exports.handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
  switch (event.op) {
  case 'chunks':
    responseStream.write('chunk-1;');
    await new Promise((r) => setTimeout(r, 500));
    responseStream.write('chunk-2@' + Date.now());
    responseStream.end();
    return;
  case 'fail':
    console.log('about to fail');
    responseStream.write('partial');
    await new Promise((r) => setTimeout(r, 50));
    throw new TypeError('broke mid-stream');
  case 'http':
    responseStream = awslambda.HttpResponseStream.from(responseStream, {
      statusCode: 201, headers: { 'x-custom': 'yes', 'content-type': 'text/plain' }, cookies: ['a=1', 'b=2'] });
    responseStream.write('hello ');
    await new Promise((r) => setTimeout(r, 500));
    responseStream.end('world@' + Date.now());
    return;
  case 'big':
    const block = Buffer.alloc(1 << 20, 'x');
    for (let i = 0; i < event.mb; i++) {
      if (!responseStream.write(block)) await new Promise((r) => responseStream.once('drain', r));
    }
    responseStream.end();
    return;
  }
  responseStream.end(JSON.stringify(event));
});
`

// streamEvents reads an InvokeWithResponseStream's events, recording when
// each payload chunk arrived.
type streamEvents struct {
	chunks   []string
	arrived  []time.Time
	complete *types.InvokeWithResponseStreamCompleteEvent
}

func readStream(t *testing.T, out *lambda.InvokeWithResponseStreamOutput) streamEvents {
	t.Helper()
	var ev streamEvents
	stream := out.GetStream()
	defer stream.Close()
	for e := range stream.Events() {
		switch v := e.(type) {
		case *types.InvokeWithResponseStreamResponseEventMemberPayloadChunk:
			ev.chunks = append(ev.chunks, string(v.Value.Payload))
			ev.arrived = append(ev.arrived, time.Now())
		case *types.InvokeWithResponseStreamResponseEventMemberInvokeComplete:
			ev.complete = &v.Value
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("event stream: %v", err)
	}
	if ev.complete == nil {
		t.Fatalf("no InvokeComplete event (chunks %q)", ev.chunks)
	}
	return ev
}

func streamInvoke(t *testing.T, c *lambda.Client, in *lambda.InvokeWithResponseStreamInput) *lambda.InvokeWithResponseStreamOutput {
	t.Helper()
	out, err := c.InvokeWithResponseStream(context.Background(), in)
	if err != nil {
		t.Fatalf("InvokeWithResponseStream: %v", err)
	}
	return out
}

// TestInvokeWithResponseStreamNode streams a Node.js streamifyResponse
// handler through aws-sdk-go-v2's event stream decoder.
func TestInvokeWithResponseStreamNode(t *testing.T) {
	t.Parallel()
	d, _ := servertest.InvokeEnv(t, nil)
	c := streamClient(d)
	name := "node-stream"
	testkit.CreateActive(t, c, testkit.NodeFunction(t, name, "index.js", "index.handler", streamNode))

	t.Run("incremental", func(t *testing.T) {
		out := streamInvoke(t, c, &lambda.InvokeWithResponseStreamInput{FunctionName: aws.String(name), Payload: []byte(`{"op":"chunks"}`)})
		if v := aws.ToString(out.ExecutedVersion); v != "$LATEST" {
			t.Errorf("ExecutedVersion = %q", v)
		}
		if ct := aws.ToString(out.ResponseStreamContentType); ct != "application/vnd.amazon.eventstream" {
			t.Errorf("Content-Type = %q", ct)
		}
		ev := readStream(t, out)
		checkIncremental(t, ev.chunks, ev.arrived)
		if ev.complete.ErrorCode != nil || ev.complete.LogResult != nil {
			t.Errorf("InvokeComplete = %+v", ev.complete)
		}
	})

	t.Run("error mid-stream", func(t *testing.T) {
		out := streamInvoke(t, c, &lambda.InvokeWithResponseStreamInput{FunctionName: aws.String(name), Payload: []byte(`{"op":"fail"}`), LogType: types.LogTypeTail})
		ev := readStream(t, out)
		if strings.Join(ev.chunks, "") != "partial" {
			t.Errorf("chunks %q", ev.chunks)
		}
		if aws.ToString(ev.complete.ErrorCode) != "TypeError" || aws.ToString(ev.complete.ErrorDetails) != "broke mid-stream" {
			t.Errorf("InvokeComplete error %q %q", aws.ToString(ev.complete.ErrorCode), aws.ToString(ev.complete.ErrorDetails))
		}
		log, err := base64.StdEncoding.DecodeString(aws.ToString(ev.complete.LogResult))
		if err != nil || !strings.Contains(string(log), "about to fail") || !strings.Contains(string(log), "REPORT RequestId:") {
			t.Errorf("LogResult %q (%v)", log, err)
		}
		// The environment goes on serving.
		ev = readStream(t, streamInvoke(t, c, &lambda.InvokeWithResponseStreamInput{FunctionName: aws.String(name), Payload: []byte(`{"op":"echo"}`)}))
		if got := strings.Join(ev.chunks, ""); got != `{"op":"echo"}` {
			t.Errorf("after the failure: %q", got)
		}
	})

	t.Run("plain invoke of a streaming handler", func(t *testing.T) {
		out := testkit.Call(t, c, name, `{"op":"chunks"}`)
		if !strings.HasPrefix(string(out.Payload), "chunk-1;chunk-2@") || out.FunctionError != nil {
			t.Errorf("Invoke = %q, error %v", out.Payload, aws.ToString(out.FunctionError))
		}
		// An error in the trailers is the invocation's error.
		out = testkit.Call(t, c, name, `{"op":"fail"}`)
		doc := testkit.DecodeJSON[map[string]any](t, out.Payload)
		if aws.ToString(out.FunctionError) != "Unhandled" || doc["errorType"] != "TypeError" || doc["errorMessage"] != "broke mid-stream" {
			t.Errorf("Invoke of a failing stream = %s, error %q", out.Payload, aws.ToString(out.FunctionError))
		}
	})

	t.Run("not found", func(t *testing.T) {
		_, err := c.InvokeWithResponseStream(context.Background(), &lambda.InvokeWithResponseStreamInput{FunctionName: aws.String("nope")})
		testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Function not found: "+testkit.InvokeARN("nope")+":$LATEST")
	})
}

// TestInvokeWithResponseStreamBuffered streams the result of handlers that
// do not stream: whole, then InvokeComplete.
func TestInvokeWithResponseStreamBuffered(t *testing.T) {
	t.Parallel()
	d, _ := servertest.InvokeEnv(t, nil)
	c := streamClient(d)
	testkit.CreateActive(t, c, testkit.PyFunction(t, "py-buffered", `
def handler(event, context):
    if event.get("fail"):
        raise ValueError("no luck")
    return {"echo": event}
`))
	ev := readStream(t, streamInvoke(t, c, &lambda.InvokeWithResponseStreamInput{FunctionName: aws.String("py-buffered"), Payload: []byte(`{"a":1}`)}))
	if got := strings.Join(ev.chunks, ""); got != `{"echo": {"a": 1}}` {
		t.Errorf("payload %q", got)
	}
	if ev.complete.ErrorCode != nil {
		t.Errorf("InvokeComplete %+v", ev.complete)
	}
	// Through an alias: the version that ran, and the log's tail.
	ctx := context.Background()
	if _, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("py-buffered")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("py-buffered"), Name: aws.String("live"), FunctionVersion: aws.String("1")}); err != nil {
		t.Fatal(err)
	}
	out := streamInvoke(t, c, &lambda.InvokeWithResponseStreamInput{FunctionName: aws.String("py-buffered"), Qualifier: aws.String("live"),
		LogType: types.LogTypeTail, Payload: []byte(`{"b":2}`)})
	if v := aws.ToString(out.ExecutedVersion); v != "1" {
		t.Errorf("ExecutedVersion through the alias = %q", v)
	}
	ev = readStream(t, out)
	log, _ := base64.StdEncoding.DecodeString(aws.ToString(ev.complete.LogResult))
	if got := strings.Join(ev.chunks, ""); got != `{"echo": {"b": 2}}` || !strings.Contains(string(log), "START RequestId:") || !strings.Contains(string(log), "Version: 1") {
		t.Errorf("payload %q, LogResult %q", got, log)
	}
	ev = readStream(t, streamInvoke(t, c, &lambda.InvokeWithResponseStreamInput{FunctionName: aws.String("py-buffered"), Payload: []byte(`{"fail":true}`)}))
	if len(ev.chunks) != 0 || aws.ToString(ev.complete.ErrorCode) != "ValueError" || aws.ToString(ev.complete.ErrorDetails) != "no luck" {
		b, _ := json.Marshal(ev.complete)
		t.Errorf("failure: chunks %q, complete %s", ev.chunks, b)
	}
}

// TestInvokeWithResponseStreamGo streams an aws-lambda-go handler that
// returns an io.Reader, unchanged from what runs on AWS.
func TestInvokeWithResponseStreamGo(t *testing.T) {
	t.Parallel()
	d, _ := servertest.InvokeEnv(t, nil)
	c := streamClient(d)
	name := "go-stream"
	testkit.CreateActive(t, c, testkit.GoFunction(name, testkit.GoBootstrapZip(t, "testdata/gostream")))

	t.Run("incremental", func(t *testing.T) {
		ev := readStream(t, streamInvoke(t, c, &lambda.InvokeWithResponseStreamInput{FunctionName: aws.String(name), Payload: []byte(`{"op":"chunks"}`)}))
		checkIncremental(t, ev.chunks, ev.arrived)
		if ev.complete.ErrorCode != nil {
			t.Errorf("InvokeComplete %+v", ev.complete)
		}
	})

	t.Run("error mid-stream", func(t *testing.T) {
		ev := readStream(t, streamInvoke(t, c, &lambda.InvokeWithResponseStreamInput{FunctionName: aws.String(name), Payload: []byte(`{"op":"fail"}`)}))
		if strings.Join(ev.chunks, "") != "chunk-1;" {
			t.Errorf("chunks %q", ev.chunks)
		}
		// aws-lambda-go names the error by its Go type.
		if aws.ToString(ev.complete.ErrorCode) != "errorString" || aws.ToString(ev.complete.ErrorDetails) != "broke mid-stream" {
			t.Errorf("InvokeComplete error %q %q", aws.ToString(ev.complete.ErrorCode), aws.ToString(ev.complete.ErrorDetails))
		}
	})

	t.Run("function URL", func(t *testing.T) {
		id := streamURL(t, c, name)
		resp, err := http.Get(d.URL + "/_lambdad/url/" + id + "/go")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 202 || resp.Header.Get("Content-Type") != "text/plain" || resp.Header.Get("X-From") != "go" ||
			strings.Join(resp.Header.Values("Set-Cookie"), ",") != "c=3" {
			t.Errorf("status %d, headers %v", resp.StatusCode, resp.Header)
		}
		parts, arrived := readParts(t, resp.Body)
		checkIncremental(t, parts, arrived)
	})
}

// TestFunctionURLResponseStreamNode serves a RESPONSE_STREAM function URL
// from a Node.js handler that writes an HTTP prelude with
// HttpResponseStream.from.
func TestFunctionURLResponseStreamNode(t *testing.T) {
	t.Parallel()
	d, c := servertest.InvokeEnv(t, nil)
	name := "node-url-stream"
	testkit.CreateActive(t, c, testkit.NodeFunction(t, name, "index.js", "index.handler", `
exports.handler = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream = awslambda.HttpResponseStream.from(responseStream, {
    statusCode: 201, headers: { 'x-custom': 'yes', 'content-type': 'text/plain' }, cookies: ['a=1', 'b=2'] });
  responseStream.write('chunk-1;');
  await new Promise((r) => setTimeout(r, 500));
  responseStream.end('chunk-2@' + Date.now());
});
`))
	id := streamURL(t, c, name)
	resp, err := http.Get(d.URL + "/_lambdad/url/" + id + "/x")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 201 || resp.Header.Get("Content-Type") != "text/plain" || resp.Header.Get("X-Custom") != "yes" ||
		strings.Join(resp.Header.Values("Set-Cookie"), ",") != "a=1,b=2" {
		t.Errorf("status %d, headers %v", resp.StatusCode, resp.Header)
	}
	parts, arrived := readParts(t, resp.Body)
	checkIncremental(t, parts, arrived)

	// A stream that fails before its first byte answers as a failed
	// function does.
	testkit.CreateActive(t, c, testkit.NodeFunction(t, "node-url-fail", "index.js", "index.handler", `
exports.handler = awslambda.streamifyResponse(async () => { throw new Error('nothing to say'); });
`))
	resp, err = http.Get(d.URL + "/_lambdad/url/" + streamURL(t, c, "node-url-fail") + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 502 || string(body) != `{"Message":"Internal Server Error"}` {
		t.Errorf("failing stream: %d %s", resp.StatusCode, body)
	}
}

// streamURL gives name a RESPONSE_STREAM function URL and returns its id.
func streamURL(t *testing.T, c *lambda.Client, name string) string {
	t.Helper()
	fu, err := c.CreateFunctionUrlConfig(context.Background(), &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String(name),
		AuthType: types.FunctionUrlAuthTypeNone, InvokeMode: types.InvokeModeResponseStream})
	if err != nil {
		t.Fatal(err)
	}
	if fu.InvokeMode != types.InvokeModeResponseStream {
		t.Errorf("InvokeMode = %q", fu.InvokeMode)
	}
	u, err := url.Parse(aws.ToString(fu.FunctionUrl))
	if err != nil {
		t.Fatal(err)
	}
	id, _, _ := strings.Cut(u.Host, ".")
	return id
}

// readParts reads a body as it arrives, noting when each read returned.
func readParts(t *testing.T, r io.Reader) ([]string, []time.Time) {
	t.Helper()
	var parts []string
	var arrived []time.Time
	buf := make([]byte, 64<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			parts = append(parts, string(buf[:n]))
			arrived = append(arrived, time.Now())
		}
		if err == io.EOF {
			return parts, arrived
		}
		if err != nil {
			t.Fatalf("read: %v", err)
		}
	}
}

// checkIncremental checks that "chunk-1;" was read before the function
// wrote "chunk-2@<Unix ms>": a buffering server hands both over at the end.
func checkIncremental(t *testing.T, parts []string, arrived []time.Time) {
	t.Helper()
	all := strings.Join(parts, "")
	first, second, ok := strings.Cut(all, ";")
	if !ok || first != "chunk-1" || !strings.HasPrefix(second, "chunk-2@") || !strings.HasPrefix(parts[0], "chunk-1") {
		t.Fatalf("parts %q", parts)
	}
	wrote2, _ := strconv.ParseInt(strings.TrimPrefix(second, "chunk-2@"), 10, 64)
	if read1 := arrived[0].UnixMilli(); read1 >= wrote2 {
		t.Errorf("chunk 1 read at %d, not before chunk 2 was written at %d: the response was buffered", read1, wrote2)
	}
}

// TestStreamLimits: a stream over --stream-max-mb ends with
// Function.ResponseSizeTooLarge, past 6 MB it is held to
// --stream-bandwidth-kbps, and a function that times out mid-stream ends
// it with Sandbox.Timedout.
func TestStreamLimits(t *testing.T) {
	t.Parallel()
	d, _ := servertest.InvokeEnv(t, func(cfg *server.Config) {
		cfg.StreamMaxBytes, cfg.StreamBandwidth = 9<<20, 2<<20
	})
	c := streamClient(d)
	big := testkit.NodeFunction(t, "stream-big", "index.js", "index.handler", streamNode)
	big.Timeout = aws.Int32(30)
	testkit.CreateActive(t, c, big)
	hang := testkit.NodeFunction(t, "stream-hang", "index.js", "index.handler", `
exports.handler = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.write('started');
  await new Promise((r) => setTimeout(r, 5000));
});
`)
	hang.Timeout = aws.Int32(1)
	testkit.CreateActive(t, c, hang)
	size := func(ev streamEvents) (n int) {
		for _, ch := range ev.chunks {
			n += len(ch)
		}
		return n
	}

	t.Run("bandwidth past 6 MB", func(t *testing.T) {
		start := time.Now()
		ev := readStream(t, streamInvoke(t, c, &lambda.InvokeWithResponseStreamInput{FunctionName: aws.String("stream-big"), Payload: []byte(`{"op":"big","mb":8}`)}))
		// 2 MB past the first 6 at 2 MB/s: about a second.
		if el := time.Since(start); el < 800*time.Millisecond || size(ev) != 8<<20 || ev.complete.ErrorCode != nil {
			t.Errorf("8 MB in %v, %d bytes, complete %+v", el, size(ev), ev.complete)
		}
	})
	t.Run("too large", func(t *testing.T) {
		ev := readStream(t, streamInvoke(t, c, &lambda.InvokeWithResponseStreamInput{FunctionName: aws.String("stream-big"), Payload: []byte(`{"op":"big","mb":12}`)}))
		if size(ev) > 9<<20 || aws.ToString(ev.complete.ErrorCode) != "Function.ResponseSizeTooLarge" ||
			aws.ToString(ev.complete.ErrorDetails) != "Response payload size exceeded maximum allowed payload size (9437184 bytes)." {
			t.Errorf("%d bytes, complete %q %q", size(ev), aws.ToString(ev.complete.ErrorCode), aws.ToString(ev.complete.ErrorDetails))
		}
	})
	t.Run("timeout", func(t *testing.T) {
		ev := readStream(t, streamInvoke(t, c, &lambda.InvokeWithResponseStreamInput{FunctionName: aws.String("stream-hang")}))
		if strings.Join(ev.chunks, "") != "started" || aws.ToString(ev.complete.ErrorCode) != "Sandbox.Timedout" ||
			!strings.HasSuffix(aws.ToString(ev.complete.ErrorDetails), "Task timed out after 1.00 seconds") {
			t.Errorf("chunks %q, complete %q %q", ev.chunks, aws.ToString(ev.complete.ErrorCode), aws.ToString(ev.complete.ErrorDetails))
		}
	})
}

// TestStreamManagedInstances: a streamifyResponse handler in an
// environment that holds several invocations at once answers buffered,
// whole, with its error when it fails.
func TestStreamManagedInstances(t *testing.T) {
	t.Parallel()
	d, _ := servertest.InvokeEnv(t, nil)
	c := streamClient(d)
	testkit.CreateActive(t, c, onCapacityProvider(t, c, testkit.NodeFunction(t, "mi-stream", "index.js", "index.handler", streamNode), 4))
	ev := readStream(t, streamInvoke(t, c, &lambda.InvokeWithResponseStreamInput{FunctionName: aws.String("mi-stream"), Payload: []byte(`{"op":"chunks"}`)}))
	if got := strings.Join(ev.chunks, ""); !strings.HasPrefix(got, "chunk-1;chunk-2@") || ev.complete.ErrorCode != nil {
		t.Errorf("chunks %q, complete %+v", ev.chunks, ev.complete)
	}
	out := testkit.Call(t, c, "mi-stream", `{"op":"fail"}`)
	if doc := testkit.DecodeJSON[map[string]any](t, out.Payload); aws.ToString(out.FunctionError) != "Unhandled" || doc["errorType"] != "TypeError" {
		t.Errorf("failing stream: %s", out.Payload)
	}
}

// streamClient is the SDK client of the invoke tests for d, working around
// a race in smithy-go (v1.28.9): once the response has come, the SDK closes
// the request body, and its body's WriteTo then returns io.EOF as an error
// instead of 0, nil. net/http calls that WriteTo after sending the body, to
// check that nothing is left; when the response comes first (lambdad's
// event stream starts as soon as the function writes, often within a
// millisecond on loopback), the transport takes the EOF for a failed write
// and closes the connection under the response it is reading. Hiding
// WriteTo from the transport leaves it Read, which the SDK answers right.
// Nothing of the response's decoding is changed.
func streamClient(d *servertest.Daemon) *lambda.Client {
	return testkit.Client(d.URL, testkit.InvokeKey, "secret", testkit.Region, func(o *lambda.Options) {
		o.HTTPClient = readOnlyBodies{awshttp.NewBuildableClient()}
	})
}

type readOnlyBodies struct{ c *awshttp.BuildableClient }

func (r readOnlyBodies) Do(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		req.Body = struct{ io.ReadCloser }{req.Body}
	}
	return r.c.Do(req)
}
