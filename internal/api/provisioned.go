package api

import (
	"context"

	"github.com/lambdad/lambdad/internal/awsproto"
	"github.com/lambdad/lambdad/internal/caller"
	"github.com/lambdad/lambdad/internal/functions"
	"github.com/lambdad/lambdad/internal/spec"
)

// registerProvisioned serves provisioned concurrency configs; the data
// plane keeps their environments (invoke/provisioned.go).
func (h *Handler) registerProvisioned() {
	s := h.svc
	fs := h.cfg.Functions
	awsproto.On(s, "PutProvisionedConcurrencyConfig", func(ctx context.Context, id caller.Identity, in *spec.PutProvisionedConcurrencyConfigRequest) (*spec.PutProvisionedConcurrencyConfigResponse, error) {
		ref, err := functions.ParseRef(id, *in.FunctionName, in.Qualifier)
		if err != nil {
			return nil, err
		}
		return fs.PutProvisioned(ctx, ref, *in.ProvisionedConcurrentExecutions)
	})
	awsproto.On(s, "GetProvisionedConcurrencyConfig", func(ctx context.Context, id caller.Identity, in *spec.GetProvisionedConcurrencyConfigRequest) (*spec.GetProvisionedConcurrencyConfigResponse, error) {
		ref, err := functions.ParseRef(id, *in.FunctionName, in.Qualifier)
		if err != nil {
			return nil, err
		}
		return fs.GetProvisioned(ctx, ref)
	})
	awsproto.On(s, "DeleteProvisionedConcurrencyConfig", func(ctx context.Context, id caller.Identity, in *spec.DeleteProvisionedConcurrencyConfigRequest) (spec.Output, error) {
		ref, err := functions.ParseRef(id, *in.FunctionName, in.Qualifier)
		if err != nil {
			return nil, err
		}
		return nil, fs.DeleteProvisioned(ctx, ref)
	})
	awsproto.On(s, "ListProvisionedConcurrencyConfigs", func(ctx context.Context, id caller.Identity, in *spec.ListProvisionedConcurrencyConfigsRequest) (*spec.ListProvisionedConcurrencyConfigsResponse, error) {
		ref, err := functions.ParseRef(id, *in.FunctionName, nil)
		if err != nil {
			return nil, err
		}
		return fs.ListProvisioned(ctx, ref.Unqualified(), in.Marker, in.MaxItems)
	})
}
