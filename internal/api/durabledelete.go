package api

import (
	"context"

	"github.com/lambdad/lambdad/internal/awsproto"
	"github.com/lambdad/lambdad/internal/caller"
	"github.com/lambdad/lambdad/internal/durable"
	"github.com/lambdad/lambdad/internal/spec"
)

// registerDurableDelete serves DeleteDurableExecution, which AWS added
// after the model's copy (spec/model/.../added-2.json), as durable.go serves
// the others.
func (h *Handler) registerDurableDelete() {
	d := h.cfg.Durable
	if d == nil {
		return
	}
	awsproto.On(h.svc, "DeleteDurableExecution", func(ctx context.Context, id caller.Identity, in *spec.DeleteDurableExecutionRequest) (*spec.DeleteDurableExecutionResponse, error) {
		arn := *in.DurableExecutionArn
		if !ownExecution(id, arn) {
			return nil, durable.ExecutionNotFound(arn)
		}
		at, err := d.Delete(ctx, arn)
		if err != nil {
			return nil, err
		}
		return &spec.DeleteDurableExecutionResponse{DeletionRequestTimestamp: &spec.Timestamp{Time: at}}, nil
	})
}
