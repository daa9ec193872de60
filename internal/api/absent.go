package api

import (
	"context"

	"github.com/lambdad/lambdad/internal/awsproto"
	"github.com/lambdad/lambdad/internal/caller"
	"github.com/lambdad/lambdad/internal/functions"
	"github.com/lambdad/lambdad/internal/spec"
)

// registerAbsent answers the reads IaC tools (Terraform, SAM) make right
// after creating a function, about resources lambdad cannot create yet:
// event source mappings (when lambdad runs without them). Since nothing can create them,
// "there are none" is the true answer; creating them answers 501.
func (h *Handler) registerAbsent() {
	s := h.svc
	fs := h.cfg.Functions
	// exists resolves name (and qualifier) to a function, or AWS's 404.
	exists := func(ctx context.Context, id caller.Identity, name string, q *string) (functions.Ref, error) {
		ref, err := functions.ParseRef(id, name, q)
		if err != nil {
			return ref, err
		}
		_, err = fs.GetConfiguration(ctx, ref)
		return ref, err
	}
	if h.cfg.ESM != nil {
		return // esm.go serves them
	}
	awsproto.On(s, "ListEventSourceMappings", func(ctx context.Context, id caller.Identity, in *spec.ListEventSourceMappingsRequest) (*spec.ListEventSourceMappingsResponse, error) {
		if in.FunctionName != nil {
			if _, err := exists(ctx, id, *in.FunctionName, nil); err != nil {
				return nil, err
			}
		}
		return &spec.ListEventSourceMappingsResponse{EventSourceMappings: []spec.EventSourceMappingConfiguration{}}, nil
	})
}
