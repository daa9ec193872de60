package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"

	"github.com/lambdad/lambdad/internal/awsproto"
	"github.com/lambdad/lambdad/internal/caller"
	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/functions"
	"github.com/lambdad/lambdad/internal/ids"
	"github.com/lambdad/lambdad/internal/invoke"
	"github.com/lambdad/lambdad/internal/spec"
)

// Invoker is the data plane as the API sees it: Invoke operations and
// function URL requests both go through it.
type Invoker interface {
	Invoke(ctx context.Context, ref functions.Ref, payload []byte, opts invoke.Options) (invoke.Result, error)
}

// invoke is the Invoke operation: the request's headers become the
// invocation's options, the result the response's status and headers.
func (h *Handler) invoke(ctx context.Context, id caller.Identity, in *spec.InvocationRequest) (*spec.InvocationResponse, error) {
	ref, err := functions.ParseRef(id, *in.FunctionName, in.Qualifier)
	if err != nil {
		return nil, err
	}
	opts, err := invokeOptions(ctx, in)
	if err != nil {
		return nil, err
	}
	res, err := h.cfg.Invoker.Invoke(ctx, ref, in.Payload, opts)
	if err != nil {
		return nil, err
	}
	var durableARN *string
	if res.DurableExecutionArn != "" {
		durableARN = &res.DurableExecutionArn
	}
	switch opts.Type {
	case invoke.DryRun:
		return &spec.InvocationResponse{StatusCode: ptr(int32(http.StatusNoContent))}, nil
	case invoke.Event:
		return &spec.InvocationResponse{StatusCode: ptr(int32(http.StatusAccepted)), Payload: []byte{}, DurableExecutionArn: durableARN}, nil
	}
	out := &spec.InvocationResponse{StatusCode: ptr(int32(http.StatusOK)), Payload: res.Payload, ExecutedVersion: ptr(res.ExecutedVersion), DurableExecutionArn: durableARN}
	if res.FunctionError != "" {
		out.FunctionError = ptr(res.FunctionError)
	}
	if opts.Tail {
		out.LogResult = ptr(base64.StdEncoding.EncodeToString(res.LogTail))
	}
	return out, nil
}

// invokeOptions reads an Invoke request's options: its type, its log type,
// its client context (base64 JSON on the wire) and the API request's id,
// which the invocation keeps.
func invokeOptions(ctx context.Context, in *spec.InvocationRequest) (invoke.Options, error) {
	opts := invoke.Options{
		RequestID: awsproto.RequestID(ctx),
		Tail:      in.LogType != nil && *in.LogType == "Tail",
		// What the SDK in a calling function forwards (trace.go in invoke).
		TraceHeader: awsproto.TraceHeader(ctx),
	}
	if in.DurableExecutionName != nil {
		opts.DurableExecutionName = *in.DurableExecutionName
	}
	if in.TenantId != nil { // X-Amz-Tenant-Id, its shape checked by the model
		opts.TenantID = *in.TenantId
	}
	if opts.RequestID == "" {
		opts.RequestID = ids.UUID()
	}
	if in.InvocationType != nil {
		switch *in.InvocationType {
		case "Event":
			opts.Type = invoke.Event
		case "DryRun":
			opts.Type = invoke.DryRun
		}
		// "RequestResponse" is Sync; the model refuses any other value.
	}
	// Lambda hands the client context to synchronous invocations only, and
	// reads it only for them.
	if opts.Type == invoke.Sync && in.ClientContext != nil && *in.ClientContext != "" {
		raw, err := base64.StdEncoding.DecodeString(*in.ClientContext)
		if err != nil || !json.Valid(raw) {
			return opts, fault.New(fault.InvalidContent, "Client context must be a valid Base64-encoded JSON object.")
		}
		opts.ClientContext = raw
	}
	return opts, nil
}
