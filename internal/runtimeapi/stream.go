package runtimeapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"strconv"

	"github.com/lambdad/lambdad/internal/httpwire"
)

// Response streaming (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-custom.html#runtimes-custom-response-streaming):
// a runtime posts .../response with Transfer-Encoding: chunked (AWS's
// runtime interface clients add Lambda-Runtime-Function-Response-Mode:
// streaming; aws-lambda-go does not, and sends every response chunked),
// and reports an error that happens after the first byte in the trailers
// Lambda-Runtime-Function-Error-Type and Lambda-Runtime-Function-Error-Body
// (its body base64). An Env that implements StreamEnv gets such a body as
// it arrives, chunk by chunk, never held whole.

// Trailer and header names of streamed responses.
const (
	hdrResponseMode = "Lambda-Runtime-Function-Response-Mode"
	hdrErrorType    = "Lambda-Runtime-Function-Error-Type"
	hdrErrorBody    = "Lambda-Runtime-Function-Error-Body"
)

// StreamEnv is an Env that can take a response as the runtime sends it.
type StreamEnv interface {
	// ResultStream takes the /response of invocation id while it is read.
	// handled false leaves it to the server, which reads it whole and
	// calls Result: the invocation wants no stream, or id is not the
	// pending one. When handled, the Env took the result (Accepted) and
	// read b to its end, or stopped early (Truncated, or its invocation
	// ended under it).
	ResultStream(id string, b *Body) (v Verdict, handled bool)
}

// Truncated is a StreamEnv's verdict on a body it stopped reading (over
// its limit): the runtime gets 413 and the connection closes.
const Truncated Verdict = 100

// Body is a /response body as it arrives.
type Body struct {
	c       *conn
	left    int64 // bytes left in the chunk, or in a Content-Length body
	chunked bool
	crlf    bool // a chunk's data ended: its CRLF comes before the next size
	eof     bool
	err     error
	budget  int
	// ContentType is the response's Content-Type; Streaming is true when
	// the runtime said Lambda-Runtime-Function-Response-Mode: streaming.
	ContentType string
	Streaming   bool
	// ErrorType and ErrorBody are the error the runtime reported in the
	// trailers, once Read has returned io.EOF; ErrorBody decoded from
	// base64 (as it was sent when it is not base64).
	ErrorType string
	ErrorBody []byte
}

// errBadChunk is a body whose chunked framing is broken.
var errBadChunk = errors.New("runtimeapi: malformed chunked body")

// Read reads the body's next bytes, no more than have arrived: a chunk
// is handed on as soon as any of it is read.
func (b *Body) Read(p []byte) (int, error) {
	for {
		if b.err != nil {
			return 0, b.err
		}
		if b.eof {
			return 0, io.EOF
		}
		if b.left > 0 {
			break
		}
		if !b.chunked {
			b.eof = true
			return 0, io.EOF
		}
		b.err = b.nextChunk()
	}
	if len(p) == 0 {
		return 0, nil
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.c.r.Read(p)
	b.left -= int64(n)
	if err != nil && b.left > 0 {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		b.err = err
	}
	if b.chunked && b.left == 0 {
		b.crlf = true
	}
	return n, nil
}

// nextChunk reads up to the next chunk's data, or the trailers after the
// last chunk.
func (b *Body) nextChunk() error {
	if b.crlf {
		b.budget = maxHeaderBytes
		if end, err := b.c.line(&b.budget); err != nil || len(end) != 0 {
			return errBadChunk
		}
		b.crlf = false
	}
	// Each size line has a header line's budget: a long stream has many.
	b.budget = maxHeaderBytes
	line, err := b.c.line(&b.budget)
	if err != nil {
		return errBadChunk
	}
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i] // chunk extensions
	}
	line = bytes.TrimRight(line, " \t")
	if len(line) == 0 || len(line) > 15 {
		return errBadChunk
	}
	n, err := strconv.ParseInt(string(line), 16, 64)
	if err != nil || n < 0 {
		return errBadChunk
	}
	if n > 0 {
		b.left = n
		return nil
	}
	var errBody []byte
	for { // trailers
		line, err := b.c.line(&b.budget)
		if err != nil {
			return errBadChunk
		}
		if len(line) == 0 {
			break
		}
		name, value, ok := httpwire.HeaderLine(line)
		if !ok {
			return errBadChunk
		}
		switch {
		case httpwire.EqualFold(name, hdrErrorType):
			b.ErrorType = string(value)
		case httpwire.EqualFold(name, hdrErrorBody):
			errBody = append([]byte(nil), value...)
		}
	}
	if b.ErrorType != "" || len(errBody) > 0 {
		b.ErrorBody = decodeErrorBody(b.ErrorType, errBody)
	}
	b.eof = true
	return nil
}

// decodeErrorBody is a trailer's error body: base64 of the error's JSON
// as the runtime clients send it, else what was sent; with no body, the
// error of its type alone.
func decodeErrorBody(errType string, raw []byte) []byte {
	if len(raw) == 0 {
		b, _ := json.Marshal(apiError{Type: errType})
		return b
	}
	if d, err := base64.StdEncoding.DecodeString(string(raw)); err == nil {
		return d
	}
	return raw
}

// streamResult offers a /response to env as it arrives; handled false
// when env leaves it to the buffered path. After it, the connection is
// broken unless the body was read to its end.
func (c *conn) streamResult(env StreamEnv, id string, req *request) (handled bool) {
	b := &Body{c: c, left: req.length, chunked: req.length < 0, budget: maxHeaderBytes,
		ContentType: req.contentType, Streaming: req.streaming}
	c.continue100(req)
	v, handled := env.ResultStream(id, b)
	if !handled {
		return false
	}
	keep := !req.close
	switch {
	case b.err != nil:
		c.respond(400, errBadBody, true, false)
		c.broken = true
	case !b.eof && v != Truncated:
		// The Env stopped reading (its invocation ended under it): the
		// rest of the body cannot be told from a next request.
		c.broken = true
		c.respond(202, bodyAccepted, true, false)
	case v == Truncated:
		c.broken = true
		c.respond(413, c.s.tooLarge, true, false)
	default:
		c.respond(202, bodyAccepted, !keep, false)
	}
	return true
}
