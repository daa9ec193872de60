package api

import (
	"context"
	"net/http"

	"github.com/lambdad/lambdad/internal/awsproto"
	"github.com/lambdad/lambdad/internal/caller"
	"github.com/lambdad/lambdad/internal/functions"
	"github.com/lambdad/lambdad/internal/ids"
	"github.com/lambdad/lambdad/internal/invoke"
	"github.com/lambdad/lambdad/internal/spec"
)

// invokeAsyncOutput is InvokeAsync's answer: 202 and {"Status": 202} in
// the body, as AWS sends it (the model puts Status in the status code only;
// SDKs read it from there).
type invokeAsyncOutput struct {
	Status int32 `json:"Status"`
}

func (o *invokeAsyncOutput) EncodeHTTP(e spec.Encoder) { e.Status(int(o.Status)) }
func (o *invokeAsyncOutput) JSONBody() any             { return o }

// invokeAsync is the deprecated InvokeAsync: the function runs as an Event
// invoke of its $LATEST (the operation has no qualifier).
func (h *Handler) invokeAsync(ctx context.Context, id caller.Identity, in *spec.InvokeAsyncRequest) (*invokeAsyncOutput, error) {
	ref, err := functions.ParseRef(id, *in.FunctionName, nil)
	if err != nil {
		return nil, err
	}
	opts := invoke.Options{Type: invoke.Event, RequestID: awsproto.RequestID(ctx), TraceHeader: awsproto.TraceHeader(ctx)}
	if opts.RequestID == "" {
		opts.RequestID = ids.UUID()
	}
	if _, err := h.cfg.Invoker.Invoke(ctx, ref, in.InvokeArgs, opts); err != nil {
		return nil, err
	}
	return &invokeAsyncOutput{Status: http.StatusAccepted}, nil
}
