package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"time"

	"github.com/lambdad/lambdad/internal/awsproto"
	"github.com/lambdad/lambdad/internal/caller"
	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/functions"
	"github.com/lambdad/lambdad/internal/funcurl"
	"github.com/lambdad/lambdad/internal/invoke"
	"github.com/lambdad/lambdad/internal/limits"
	"github.com/lambdad/lambdad/internal/spec"
)

// StreamInvoker is an Invoker that can stream a response
// (InvokeWithResponseStream, function URLs in RESPONSE_STREAM mode).
type StreamInvoker interface {
	InvokeStream(ctx context.Context, ref functions.Ref, payload []byte, opts invoke.Options, st invoke.Stream) (invoke.Result, bool, error)
}

// bufferedChunk is the largest PayloadChunk a buffered response is cut
// into (the event stream decoders of AWS's SDKs take up to 16 MB).
const bufferedChunk = 1 << 20

// registerStream makes InvokeWithResponseStream live when the data plane
// streams.
func (h *Handler) registerStream() {
	si, ok := h.cfg.Invoker.(StreamInvoker)
	if !ok {
		return
	}
	h.svc.Limit("InvokeWithResponseStream", awsproto.BodyLimit{Max: limits.InvokeRequestBytes, Err: func(int64) error {
		return awsproto.Errorf("RequestTooLargeException", "Request must be smaller than %d bytes for the InvokeFunction operation", limits.InvokeRequestBytes)
	}})
	awsproto.On(h.svc, "InvokeWithResponseStream", func(ctx context.Context, id caller.Identity, in *spec.InvokeWithResponseStreamRequest) (spec.Output, error) {
		ref, err := functions.ParseRef(id, *in.FunctionName, in.Qualifier)
		if err != nil {
			return nil, err
		}
		opts, err := invokeOptions(ctx, &spec.InvocationRequest{FunctionName: in.FunctionName, Qualifier: in.Qualifier,
			LogType: in.LogType, ClientContext: in.ClientContext, TenantId: in.TenantId, InvocationType: in.InvocationType})
		if err != nil {
			return nil, err
		}
		if opts.Type == invoke.DryRun {
			if _, err := h.cfg.Invoker.Invoke(ctx, ref, in.Payload, opts); err != nil {
				return nil, err
			}
			return &spec.InvokeWithResponseStreamResponse{StatusCode: ptr(int32(http.StatusNoContent))}, nil
		}
		return &streamOutput{ctx: ctx, si: si, ref: ref, payload: in.Payload, opts: opts}, nil
	})
}

// streamOutput runs the invocation as its response is written: the event
// stream starts when the function's response does (or, for a buffered
// response, when it is complete); an error before that is the operation's.
type streamOutput struct {
	spec.InvokeWithResponseStreamResponse
	ctx     context.Context
	si      StreamInvoker
	ref     functions.Ref
	payload []byte
	opts    invoke.Options
}

func (o *streamOutput) ServeStream(w http.ResponseWriter) error {
	ew := &eventWriter{w: w, rc: http.NewResponseController(w)}
	res, streamed, err := o.si.InvokeStream(o.ctx, o.ref, o.payload, o.opts, ew)
	if err != nil && !ew.started {
		return err
	}
	if !ew.started {
		ew.start(res.ExecutedVersion)
	}
	var done spec.InvokeWithResponseStreamCompleteEvent
	switch {
	case err != nil:
		// The stream began, then the platform failed [?].
		done.ErrorCode, done.ErrorDetails = ptr("ServiceException"), ptr(err.Error())
	case res.FunctionError != "":
		code, details := functionErrorOf(res)
		done.ErrorCode, done.ErrorDetails = &code, &details
	case !streamed:
		// A buffered response goes out whole, in chunks.
		for p := res.Payload; len(p) > 0; {
			n := min(len(p), bufferedChunk)
			if _, err := ew.Write(p[:n]); err != nil {
				return nil
			}
			p = p[n:]
		}
	}
	if o.opts.Tail {
		done.LogResult = ptr(base64.StdEncoding.EncodeToString(res.LogTail))
	}
	b, _ := json.Marshal(&done)
	ew.event("InvokeComplete", "application/json", b)
	return nil
}

// functionErrorOf is an InvokeComplete's ErrorCode and ErrorDetails for a
// failed invocation: the error document's errorType and errorMessage [?:
// AWS's mapping is not documented; this is what the event's two strings
// can carry of the document].
func functionErrorOf(res invoke.Result) (code, details string) {
	var doc struct {
		Type    string `json:"errorType"`
		Message string `json:"errorMessage"`
	}
	_ = json.Unmarshal(res.Payload, &doc)
	code, details = doc.Type, doc.Message
	if code == "" {
		code = res.FunctionError
	}
	if details == "" && doc.Type == "" {
		details = string(res.Payload)
	}
	return code, details
}

// eventWriter is the invoke.Stream of an InvokeWithResponseStream: each
// write of the function is one PayloadChunk event, flushed at once.
type eventWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	started bool
	buf     []byte
	failed  error
}

func (e *eventWriter) start(version string) {
	e.started = true
	h := e.w.Header()
	h.Set("Content-Type", "application/vnd.amazon.eventstream")
	if version != "" {
		h.Set("X-Amz-Executed-Version", version)
	}
	e.w.WriteHeader(http.StatusOK)
}

func (e *eventWriter) Begin(version, _ string) error {
	e.start(version)
	return e.flush()
}

func (e *eventWriter) Write(p []byte) (int, error) {
	if err := e.event("PayloadChunk", "application/octet-stream", p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (e *eventWriter) event(eventType, contentType string, payload []byte) error {
	if e.failed != nil {
		return e.failed
	}
	// Head, payload and CRC go out as three writes: the payload is not
	// copied.
	head, crc := awsproto.EventHead(e.buf[:0], eventType, contentType, len(payload))
	tail := awsproto.EventTail(head[len(head):], crc, payload)
	e.buf = head
	_ = e.rc.SetWriteDeadline(time.Now().Add(funcurl.StalledClient))
	for _, p := range [][]byte{head, payload, tail} {
		if _, err := e.w.Write(p); err != nil {
			e.failed = err
			return err
		}
	}
	return e.flush()
}

func (e *eventWriter) flush() error {
	if err := e.rc.Flush(); err != nil {
		e.failed = err
	}
	return e.failed
}

// serveURLStream answers a function URL in RESPONSE_STREAM mode: the
// function's response reaches the client as the function writes it. A
// function that answers buffered is answered as a BUFFERED URL would [?].
func (h *Handler) serveURLStream(ctx context.Context, w http.ResponseWriter, si StreamInvoker, ref functions.Ref, urlID string, event []byte, requestID string) {
	sw := funcurl.NewStreamWriter(w)
	res, streamed, err := si.InvokeStream(ctx, ref, event, invoke.Options{RequestID: requestID}, sw)
	if streamed && sw.Finish(err == nil && res.FunctionError == "") {
		// Sent: a failure after the status can only cut the body short.
		if err == nil && res.FunctionError != "" {
			h.cfg.Logger.Debug("function URL stream ended by a function error", "url", urlID, "error", res.FunctionError)
		}
		return
	}
	switch {
	case err != nil && fault.Is(err, fault.TooManyRequests):
		funcurl.WriteError(w, http.StatusTooManyRequests, "Rate Exceeded.")
	case err != nil:
		h.cfg.Logger.Warn("function URL invoke", "url", urlID, "err", err)
		funcurl.WriteError(w, http.StatusBadGateway, "Internal Server Error")
	case res.FunctionError != "" || streamed:
		funcurl.WriteError(w, http.StatusBadGateway, "Internal Server Error")
	default:
		funcurl.WriteResponse(w, res.Payload)
	}
}
