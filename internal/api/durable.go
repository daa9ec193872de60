package api

import (
	"context"
	"strings"

	"github.com/lambdad/lambdad/internal/awsproto"
	"github.com/lambdad/lambdad/internal/caller"
	"github.com/lambdad/lambdad/internal/durable"
	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/functions"
	"github.com/lambdad/lambdad/internal/limits"
	"github.com/lambdad/lambdad/internal/spec"
)

// The durable execution operations (docs/durable.md 1.4-1.8): thin
// handlers over durable.Service. A function's SDK calls the checkpoint and
// state operations with its environment's credentials, which are its
// account's: every operation acts only on executions of the caller's
// account and region.

// ownExecution says whether execution arn belongs to the caller's account
// and region: arn:aws:lambda:<region>:<account>:function:...
func ownExecution(id caller.Identity, arn string) bool {
	return strings.HasPrefix(arn, "arn:aws:lambda:"+id.Region+":"+id.Account+":function:")
}

func (h *Handler) registerDurable() {
	d := h.cfg.Durable
	if d == nil {
		return // the operations keep answering 501
	}
	s := h.svc
	wake := func(arn string) {
		if arn != "" && h.cfg.WakeDurable != nil {
			h.cfg.WakeDurable(arn)
		}
	}
	// Bodies over 6 MB (the model's largest OperationPayload, and Invoke's
	// limit) are refused naming the operation, as AWS words Invoke's [?]
	// (AWS's answer for the durable operations is not recorded).
	for _, op := range []string{"CheckpointDurableExecution", "SendDurableExecutionCallbackSuccess",
		"SendDurableExecutionCallbackFailure", "StopDurableExecution"} {
		s.Limit(op, awsproto.BodyLimit{Max: limits.InvokeRequestBytes, Err: func(int64) error {
			return awsproto.Errorf("RequestTooLargeException", "Request must be smaller than %d bytes for the %s operation", limits.InvokeRequestBytes, op)
		}})
	}
	awsproto.On(s, "CheckpointDurableExecution", func(ctx context.Context, id caller.Identity, in *spec.CheckpointDurableExecutionRequest) (*spec.CheckpointDurableExecutionResponse, error) {
		arn := *in.DurableExecutionArn
		if !ownExecution(id, arn) {
			return nil, durable.InvalidToken()
		}
		if len(in.Updates) > 0 && h.cfg.ChainDurable == nil {
			for _, u := range in.Updates {
				if u.Type != nil && *u.Type == durable.TypeChainedInvoke {
					// Nothing would run the target: refuse rather than
					// leave the operation STARTED for ever.
					return nil, fault.Unsupported("CHAINED_INVOKE operations")
				}
			}
		}
		res, err := d.Checkpoint(ctx, arn, *in.CheckpointToken, deref(in.ClientToken), in.Updates)
		if err != nil {
			return nil, err
		}
		for _, id := range res.ChainedInvokes {
			for _, op := range res.Operations {
				if op.ID == id {
					h.cfg.ChainDurable(arn, op)
				}
			}
		}
		out := &spec.CheckpointDurableExecutionResponse{NewExecutionState: &spec.CheckpointUpdatedExecutionState{
			Operations: durable.SpecOperations(res.Execution, res.Operations)}}
		if res.Token != "" {
			out.CheckpointToken = &res.Token
		}
		return out, nil
	})
	awsproto.On(s, "GetDurableExecutionState", func(ctx context.Context, id caller.Identity, in *spec.GetDurableExecutionStateRequest) (*spec.GetDurableExecutionStateResponse, error) {
		arn := *in.DurableExecutionArn
		if !ownExecution(id, arn) {
			return nil, durable.InvalidToken()
		}
		ops, next, ex, err := d.State(ctx, arn, *in.CheckpointToken, deref(in.Marker), int(deref32(in.MaxItems)))
		if err != nil {
			return nil, err
		}
		return &spec.GetDurableExecutionStateResponse{Operations: durable.SpecOperations(ex, ops), NextMarker: next}, nil
	})
	awsproto.On(s, "GetDurableExecution", func(ctx context.Context, id caller.Identity, in *spec.GetDurableExecutionRequest) (*spec.GetDurableExecutionResponse, error) {
		arn := *in.DurableExecutionArn
		if !ownExecution(id, arn) {
			return nil, durable.ExecutionNotFound(arn)
		}
		ex, err := d.Get(ctx, arn)
		if err != nil {
			return nil, err
		}
		out := durable.SpecExecution(ex, in.IncludeExecutionData == nil || *in.IncludeExecutionData)
		return &out, nil
	})
	awsproto.On(s, "GetDurableExecutionHistory", func(ctx context.Context, id caller.Identity, in *spec.GetDurableExecutionHistoryRequest) (*spec.GetDurableExecutionHistoryResponse, error) {
		arn := *in.DurableExecutionArn
		if !ownExecution(id, arn) {
			return nil, durable.ExecutionNotFound(arn)
		}
		// IncludeExecutionData defaults to true: "The default is true." (the
		// model's documentation of the member, and the API reference).
		evs, next, err := d.History(ctx, arn, in.IncludeExecutionData == nil || *in.IncludeExecutionData,
			deref(in.Marker), int(deref32(in.MaxItems)), in.ReverseOrder != nil && *in.ReverseOrder)
		if err != nil {
			return nil, err
		}
		out := &spec.GetDurableExecutionHistoryResponse{Events: make([]spec.Event, len(evs)), NextMarker: next}
		for i := range evs {
			out.Events[i] = durable.SpecEvent(&evs[i])
		}
		return out, nil
	})
	awsproto.On(s, "ListDurableExecutionsByFunction", func(ctx context.Context, id caller.Identity, in *spec.ListDurableExecutionsByFunctionRequest) (*spec.ListDurableExecutionsByFunctionResponse, error) {
		ref, err := functions.ParseRef(id, *in.FunctionName, in.Qualifier)
		if err != nil {
			return nil, err
		}
		cfg, err := h.cfg.Functions.GetConfiguration(ctx, ref)
		if err != nil {
			return nil, err
		}
		// Newest first unless ReverseOrder ("Set to true to return results
		// in chronological order (oldest first). Default is false.", the
		// model's documentation); without a Qualifier, $LATEST's ("If not
		// specified, lists executions for the $LATEST version.").
		q := durable.ListInput{FunctionARN: ref.ARN(), Name: deref(in.DurableExecutionName), Statuses: in.Statuses,
			OldestFirst: in.ReverseOrder != nil && *in.ReverseOrder, Marker: deref(in.Marker), MaxItems: int(deref32(in.MaxItems)),
			Version: functions.Latest}
		if ref.Qualifier != "" {
			// An alias lists the executions of the version it points to [?].
			q.Version = deref(cfg.Version)
		}
		if in.StartedAfter != nil {
			q.StartedAfter = in.StartedAfter.Time
		}
		if in.StartedBefore != nil {
			q.StartedBefore = in.StartedBefore.Time
		}
		exs, next, err := d.ListByFunction(ctx, q)
		if err != nil {
			return nil, err
		}
		out := &spec.ListDurableExecutionsByFunctionResponse{DurableExecutions: make([]spec.Execution, len(exs)), NextMarker: next}
		for i := range exs {
			out.DurableExecutions[i] = durable.SpecListItem(&exs[i])
		}
		return out, nil
	})
	awsproto.On(s, "StopDurableExecution", func(ctx context.Context, id caller.Identity, in *spec.StopDurableExecutionRequest) (*spec.StopDurableExecutionResponse, error) {
		arn := *in.DurableExecutionArn
		if !ownExecution(id, arn) {
			return nil, durable.ExecutionNotFound(arn)
		}
		at, err := d.Stop(ctx, arn, durable.FromSpecError(in.Error))
		if err != nil {
			return nil, err
		}
		return &spec.StopDurableExecutionResponse{StopTimestamp: &spec.Timestamp{Time: at}}, nil
	})
	// A callback id names its execution inside; it must be the caller's.
	ownCallback := func(ctx context.Context, id caller.Identity, cb string) error {
		arn, err := d.CallbackExecution(ctx, cb)
		if err == nil && !ownExecution(id, arn) {
			err = durable.CallbackNotFound()
		}
		return err
	}
	awsproto.On(s, "SendDurableExecutionCallbackSuccess", func(ctx context.Context, id caller.Identity, in *spec.SendDurableExecutionCallbackSuccessRequest) (*spec.SendDurableExecutionCallbackSuccessResponse, error) {
		if err := ownCallback(ctx, id, *in.CallbackId); err != nil {
			return nil, err
		}
		arn, err := d.CallbackSuccess(ctx, *in.CallbackId, in.Result)
		if err != nil {
			return nil, err
		}
		wake(arn)
		return &spec.SendDurableExecutionCallbackSuccessResponse{}, nil
	})
	awsproto.On(s, "SendDurableExecutionCallbackFailure", func(ctx context.Context, id caller.Identity, in *spec.SendDurableExecutionCallbackFailureRequest) (*spec.SendDurableExecutionCallbackFailureResponse, error) {
		if err := ownCallback(ctx, id, *in.CallbackId); err != nil {
			return nil, err
		}
		arn, err := d.CallbackFailure(ctx, *in.CallbackId, durable.FromSpecError(in.Error))
		if err != nil {
			return nil, err
		}
		wake(arn)
		return &spec.SendDurableExecutionCallbackFailureResponse{}, nil
	})
	awsproto.On(s, "SendDurableExecutionCallbackHeartbeat", func(ctx context.Context, id caller.Identity, in *spec.SendDurableExecutionCallbackHeartbeatRequest) (*spec.SendDurableExecutionCallbackHeartbeatResponse, error) {
		if err := ownCallback(ctx, id, *in.CallbackId); err != nil {
			return nil, err
		}
		if err := d.CallbackHeartbeat(ctx, *in.CallbackId); err != nil {
			return nil, err
		}
		return &spec.SendDurableExecutionCallbackHeartbeatResponse{}, nil
	})
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func deref32(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}
