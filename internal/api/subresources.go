package api

import (
	"context"

	"github.com/lambdad/lambdad/internal/awsproto"
	"github.com/lambdad/lambdad/internal/caller"
	"github.com/lambdad/lambdad/internal/functions"
	"github.com/lambdad/lambdad/internal/spec"
)

// registerSubresources serves what hangs off a function: aliases, resource
// policies (kept and returned; lambdad has no IAM to enforce them) and event
// invoke configs.
func (h *Handler) registerSubresources() {
	s := h.svc
	fs := h.cfg.Functions
	// function resolves the FunctionName of an alias operation, which
	// names the function itself (a qualifier in it is refused).
	function := func(id caller.Identity, name string) (functions.Ref, error) {
		ref, err := functions.ParseRef(id, name, nil)
		if err == nil && ref.Qualifier != "" {
			err = awsproto.InvalidParameter("Aliases are managed on the function itself; %s names a version or alias.", name)
		}
		return ref, err
	}
	awsproto.On(s, "CreateAlias", func(ctx context.Context, id caller.Identity, in *spec.CreateAliasRequest) (*spec.AliasConfiguration, error) {
		ref, err := function(id, *in.FunctionName)
		if err != nil {
			return nil, err
		}
		return fs.CreateAlias(ctx, ref, in)
	})
	awsproto.On(s, "GetAlias", func(ctx context.Context, id caller.Identity, in *spec.GetAliasRequest) (*spec.AliasConfiguration, error) {
		ref, err := function(id, *in.FunctionName)
		if err != nil {
			return nil, err
		}
		return fs.GetAlias(ctx, ref, *in.Name)
	})
	awsproto.On(s, "UpdateAlias", func(ctx context.Context, id caller.Identity, in *spec.UpdateAliasRequest) (*spec.AliasConfiguration, error) {
		ref, err := function(id, *in.FunctionName)
		if err != nil {
			return nil, err
		}
		return fs.UpdateAlias(ctx, ref, in)
	})
	awsproto.On(s, "DeleteAlias", func(ctx context.Context, id caller.Identity, in *spec.DeleteAliasRequest) (spec.Output, error) {
		ref, err := function(id, *in.FunctionName)
		if err != nil {
			return nil, err
		}
		return nil, fs.DeleteAlias(ctx, ref, *in.Name)
	})
	awsproto.On(s, "ListAliases", func(ctx context.Context, id caller.Identity, in *spec.ListAliasesRequest) (*spec.ListAliasesResponse, error) {
		ref, err := function(id, *in.FunctionName)
		if err != nil {
			return nil, err
		}
		return fs.ListAliases(ctx, ref, in.FunctionVersion, in.Marker, in.MaxItems)
	})
	awsproto.On(s, "AddPermission", func(ctx context.Context, id caller.Identity, in *spec.AddPermissionRequest) (*spec.AddPermissionResponse, error) {
		ref, err := functions.ParseRef(id, *in.FunctionName, in.Qualifier)
		if err != nil {
			return nil, err
		}
		st, err := fs.AddPermission(ctx, ref, in)
		if err != nil {
			return nil, err
		}
		return &spec.AddPermissionResponse{Statement: &st}, nil
	})
	awsproto.On(s, "RemovePermission", func(ctx context.Context, id caller.Identity, in *spec.RemovePermissionRequest) (spec.Output, error) {
		ref, err := functions.ParseRef(id, *in.FunctionName, in.Qualifier)
		if err != nil {
			return nil, err
		}
		return nil, fs.RemovePermission(ctx, ref, *in.StatementId, in.RevisionId)
	})
	awsproto.On(s, "GetPolicy", func(ctx context.Context, id caller.Identity, in *spec.GetPolicyRequest) (*spec.GetPolicyResponse, error) {
		ref, err := functions.ParseRef(id, *in.FunctionName, in.Qualifier)
		if err != nil {
			return nil, err
		}
		return fs.GetPolicy(ctx, ref)
	})
	awsproto.On(s, "PutFunctionEventInvokeConfig", func(ctx context.Context, id caller.Identity, in *spec.PutFunctionEventInvokeConfigRequest) (*spec.FunctionEventInvokeConfig, error) {
		ref, err := functions.ParseRef(id, *in.FunctionName, in.Qualifier)
		if err != nil {
			return nil, err
		}
		return fs.PutEventConfig(ctx, ref, in.MaximumRetryAttempts, in.MaximumEventAgeInSeconds, in.DestinationConfig, false)
	})
	awsproto.On(s, "UpdateFunctionEventInvokeConfig", func(ctx context.Context, id caller.Identity, in *spec.UpdateFunctionEventInvokeConfigRequest) (*spec.FunctionEventInvokeConfig, error) {
		ref, err := functions.ParseRef(id, *in.FunctionName, in.Qualifier)
		if err != nil {
			return nil, err
		}
		return fs.PutEventConfig(ctx, ref, in.MaximumRetryAttempts, in.MaximumEventAgeInSeconds, in.DestinationConfig, true)
	})
	awsproto.On(s, "GetFunctionEventInvokeConfig", func(ctx context.Context, id caller.Identity, in *spec.GetFunctionEventInvokeConfigRequest) (*spec.FunctionEventInvokeConfig, error) {
		ref, err := functions.ParseRef(id, *in.FunctionName, in.Qualifier)
		if err != nil {
			return nil, err
		}
		return fs.GetEventConfig(ctx, ref)
	})
	awsproto.On(s, "DeleteFunctionEventInvokeConfig", func(ctx context.Context, id caller.Identity, in *spec.DeleteFunctionEventInvokeConfigRequest) (spec.Output, error) {
		ref, err := functions.ParseRef(id, *in.FunctionName, in.Qualifier)
		if err != nil {
			return nil, err
		}
		return nil, fs.DeleteEventConfig(ctx, ref)
	})
	awsproto.On(s, "ListFunctionEventInvokeConfigs", func(ctx context.Context, id caller.Identity, in *spec.ListFunctionEventInvokeConfigsRequest) (*spec.ListFunctionEventInvokeConfigsResponse, error) {
		ref, err := functions.ParseRef(id, *in.FunctionName, nil)
		if err != nil {
			return nil, err
		}
		return fs.ListEventConfigs(ctx, ref.Unqualified(), in.Marker, in.MaxItems)
	})
}
