package api

import (
	"context"

	"github.com/lambdad/lambdad/internal/awsproto"
	"github.com/lambdad/lambdad/internal/caller"
	"github.com/lambdad/lambdad/internal/functions"
	"github.com/lambdad/lambdad/internal/spec"
)

// registerRecursion serves a function's recursive loop setting, which
// invoke's loop detection reads (invoke/recursion.go).
func (h *Handler) registerRecursion() {
	s := h.svc
	fs := h.cfg.Functions
	awsproto.On(s, "PutFunctionRecursionConfig", func(ctx context.Context, id caller.Identity, in *spec.PutFunctionRecursionConfigRequest) (*spec.PutFunctionRecursionConfigResponse, error) {
		ref, err := functions.ParseRef(id, *in.FunctionName, nil)
		if err != nil {
			return nil, err
		}
		if err := fs.PutRecursion(ctx, ref, *in.RecursiveLoop); err != nil {
			return nil, err
		}
		return &spec.PutFunctionRecursionConfigResponse{RecursiveLoop: in.RecursiveLoop}, nil
	})
	awsproto.On(s, "GetFunctionRecursionConfig", func(ctx context.Context, id caller.Identity, in *spec.GetFunctionRecursionConfigRequest) (*spec.GetFunctionRecursionConfigResponse, error) {
		ref, err := functions.ParseRef(id, *in.FunctionName, nil)
		if err != nil {
			return nil, err
		}
		mode, err := fs.GetRecursion(ctx, ref)
		if err != nil {
			return nil, err
		}
		return &spec.GetFunctionRecursionConfigResponse{RecursiveLoop: &mode}, nil
	})
}
