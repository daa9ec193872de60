package api

import (
	"context"

	"github.com/lambdad/lambdad/internal/awsproto"
	"github.com/lambdad/lambdad/internal/caller"
	"github.com/lambdad/lambdad/internal/functions"
	"github.com/lambdad/lambdad/internal/spec"
)

// registerResourcePolicies serves the whole-document policy operations
// (functions/resourcepolicy.go), which AWS added after the model's copy
// (spec/model/.../added-2.json).
func (h *Handler) registerResourcePolicies() {
	s := h.svc
	fs := h.cfg.Functions
	awsproto.On(s, "GetResourcePolicy", func(ctx context.Context, id caller.Identity, in *spec.GetResourcePolicyRequest) (*spec.GetResourcePolicyResponse, error) {
		ref, err := functions.ParseRef(id, *in.ResourceArn, nil)
		if err != nil {
			return nil, err
		}
		p, err := fs.GetResourcePolicy(ctx, ref)
		if err != nil {
			return nil, err
		}
		return &spec.GetResourcePolicyResponse{Policy: &p.Policy, RevisionId: &p.RevisionID}, nil
	})
	awsproto.On(s, "PutResourcePolicy", func(ctx context.Context, id caller.Identity, in *spec.PutResourcePolicyRequest) (*spec.PutResourcePolicyResponse, error) {
		ref, err := functions.ParseRef(id, *in.ResourceArn, nil)
		if err != nil {
			return nil, err
		}
		p, err := fs.PutResourcePolicy(ctx, ref, *in.Policy, in.RevisionId)
		if err != nil {
			return nil, err
		}
		return &spec.PutResourcePolicyResponse{Policy: &p.Policy, RevisionId: &p.RevisionID}, nil
	})
	awsproto.On(s, "DeleteResourcePolicy", func(ctx context.Context, id caller.Identity, in *spec.DeleteResourcePolicyRequest) (spec.Output, error) {
		ref, err := functions.ParseRef(id, *in.ResourceArn, nil)
		if err != nil {
			return nil, err
		}
		return nil, fs.DeleteResourcePolicy(ctx, ref, in.RevisionId)
	})
}
