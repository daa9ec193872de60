// Command gostream is a provided.al2023 function built by the streaming
// tests with aws-lambda-go: its handler returns an io.Reader, which
// aws-lambda-go posts to the Runtime API as it is read (chunked, errors in
// trailers). The event's "op" selects what it streams.
package main

import (
	"context"
	"errors"
	"io"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

type request struct {
	Op      string `json:"op"`
	RawPath string `json:"rawPath"`
}

// chunks writes chunk 1, waits 500 ms, then writes chunk 2 with the time
// (Unix ms) just before it was written; fail ends the stream with an error.
func chunks(w *io.PipeWriter, fail bool) {
	w.Write([]byte("chunk-1;"))
	time.Sleep(500 * time.Millisecond)
	if fail {
		w.CloseWithError(errors.New("broke mid-stream"))
		return
	}
	w.Write([]byte("chunk-2@" + strconv.FormatInt(time.Now().UnixMilli(), 10)))
	w.Close()
}

func handle(ctx context.Context, req request) (io.Reader, error) {
	r, w := io.Pipe()
	switch {
	case req.RawPath != "": // a function URL's event
		go chunks(w, false)
		return &events.LambdaFunctionURLStreamingResponse{
			StatusCode: 202,
			Headers:    map[string]string{"Content-Type": "text/plain", "X-From": "go"},
			Cookies:    []string{"c=3"},
			Body:       r,
		}, nil
	case req.Op == "fail":
		go chunks(w, true)
	default:
		go chunks(w, false)
	}
	return r, nil
}

func main() { lambda.Start(handle) }
