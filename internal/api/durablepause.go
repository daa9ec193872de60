package api

import (
	"context"

	"github.com/lambdad/lambdad/internal/awsproto"
	"github.com/lambdad/lambdad/internal/caller"
	"github.com/lambdad/lambdad/internal/durable"
	"github.com/lambdad/lambdad/internal/spec"
)

// registerDurablePause serves PauseDurableExecution and
// ResumeDurableExecution, which AWS added after the model's copy
// (spec/model/.../added-2.json): 202 with an empty body, the status
// changing as durable.Pause and Resume say.
func (h *Handler) registerDurablePause() {
	d := h.cfg.Durable
	if d == nil {
		return
	}
	awsproto.On(h.svc, "PauseDurableExecution", func(ctx context.Context, id caller.Identity, in *spec.PauseDurableExecutionRequest) (*spec.PauseDurableExecutionResponse, error) {
		arn := *in.DurableExecutionArn
		if !ownExecution(id, arn) {
			return nil, durable.ExecutionNotFound(arn)
		}
		err := d.Pause(ctx, arn, durable.PauseInput{ClientToken: deref(in.ClientToken), Reason: in.Reason, TimeoutPaused: in.ExecutionTimeoutPaused})
		if err != nil {
			return nil, err
		}
		return &spec.PauseDurableExecutionResponse{}, nil
	})
	awsproto.On(h.svc, "ResumeDurableExecution", func(ctx context.Context, id caller.Identity, in *spec.ResumeDurableExecutionRequest) (*spec.ResumeDurableExecutionResponse, error) {
		arn := *in.DurableExecutionArn
		if !ownExecution(id, arn) {
			return nil, durable.ExecutionNotFound(arn)
		}
		wake, err := d.Resume(ctx, arn, durable.ResumeInput{ClientToken: deref(in.ClientToken), Reason: in.Reason})
		if err != nil {
			return nil, err
		}
		if wake != "" && h.cfg.WakeDurable != nil {
			h.cfg.WakeDurable(wake)
		}
		return &spec.ResumeDurableExecutionResponse{}, nil
	})
}
