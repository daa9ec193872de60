package api

import (
	"context"

	"github.com/lambdad/lambdad/internal/awsproto"
	"github.com/lambdad/lambdad/internal/caller"
	"github.com/lambdad/lambdad/internal/functions"
	"github.com/lambdad/lambdad/internal/spec"
)

// registerLayerPermissions serves layer versions' resource policies. Only
// the layer's owner manages them (ParseLayer refuses another account's).
func (h *Handler) registerLayerPermissions() {
	s := h.svc
	fs := h.cfg.Functions
	awsproto.On(s, "AddLayerVersionPermission", func(ctx context.Context, id caller.Identity, in *spec.AddLayerVersionPermissionRequest) (*spec.AddLayerVersionPermissionResponse, error) {
		ref, err := functions.ParseLayer(id, *in.LayerName)
		if err != nil {
			return nil, err
		}
		st, rev, err := fs.AddLayerPermission(ctx, ref, *in.VersionNumber, in)
		if err != nil {
			return nil, err
		}
		return &spec.AddLayerVersionPermissionResponse{Statement: &st, RevisionId: &rev}, nil
	})
	awsproto.On(s, "GetLayerVersionPolicy", func(ctx context.Context, id caller.Identity, in *spec.GetLayerVersionPolicyRequest) (*spec.GetLayerVersionPolicyResponse, error) {
		ref, err := functions.ParseLayer(id, *in.LayerName)
		if err != nil {
			return nil, err
		}
		return fs.GetLayerPolicy(ctx, ref, *in.VersionNumber)
	})
	awsproto.On(s, "RemoveLayerVersionPermission", func(ctx context.Context, id caller.Identity, in *spec.RemoveLayerVersionPermissionRequest) (spec.Output, error) {
		ref, err := functions.ParseLayer(id, *in.LayerName)
		if err != nil {
			return nil, err
		}
		return nil, fs.RemoveLayerPermission(ctx, ref, *in.VersionNumber, *in.StatementId, in.RevisionId)
	})
}
