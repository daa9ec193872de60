package api

import (
	"context"

	"github.com/lambdad/lambdad/internal/awsproto"
	"github.com/lambdad/lambdad/internal/caller"
	"github.com/lambdad/lambdad/internal/functions"
	"github.com/lambdad/lambdad/internal/spec"
)

// registerCodeSigning serves code signing configs and functions' use of
// them (functions/codesign.go says what lambdad can and cannot verify).
func (h *Handler) registerCodeSigning() {
	s := h.svc
	fs := h.cfg.Functions
	awsproto.On(s, "CreateCodeSigningConfig", func(ctx context.Context, id caller.Identity, in *spec.CreateCodeSigningConfigRequest) (*spec.CreateCodeSigningConfigResponse, error) {
		c, err := fs.CreateCodeSigning(ctx, id, in)
		if err != nil {
			return nil, err
		}
		return &spec.CreateCodeSigningConfigResponse{CodeSigningConfig: c}, nil
	})
	awsproto.On(s, "GetCodeSigningConfig", func(ctx context.Context, id caller.Identity, in *spec.GetCodeSigningConfigRequest) (*spec.GetCodeSigningConfigResponse, error) {
		c, err := fs.GetCodeSigning(ctx, id, *in.CodeSigningConfigArn)
		if err != nil {
			return nil, err
		}
		return &spec.GetCodeSigningConfigResponse{CodeSigningConfig: c}, nil
	})
	awsproto.On(s, "UpdateCodeSigningConfig", func(ctx context.Context, id caller.Identity, in *spec.UpdateCodeSigningConfigRequest) (*spec.UpdateCodeSigningConfigResponse, error) {
		c, err := fs.UpdateCodeSigning(ctx, id, in)
		if err != nil {
			return nil, err
		}
		return &spec.UpdateCodeSigningConfigResponse{CodeSigningConfig: c}, nil
	})
	awsproto.On(s, "DeleteCodeSigningConfig", func(ctx context.Context, id caller.Identity, in *spec.DeleteCodeSigningConfigRequest) (spec.Output, error) {
		return nil, fs.DeleteCodeSigning(ctx, id, *in.CodeSigningConfigArn)
	})
	awsproto.On(s, "ListCodeSigningConfigs", func(ctx context.Context, id caller.Identity, in *spec.ListCodeSigningConfigsRequest) (*spec.ListCodeSigningConfigsResponse, error) {
		return fs.ListCodeSigning(ctx, id, in.Marker, in.MaxItems)
	})
	awsproto.On(s, "ListFunctionsByCodeSigningConfig", func(ctx context.Context, id caller.Identity, in *spec.ListFunctionsByCodeSigningConfigRequest) (*spec.ListFunctionsByCodeSigningConfigResponse, error) {
		return fs.ListFunctionsByCodeSigning(ctx, id, *in.CodeSigningConfigArn, in.Marker, in.MaxItems)
	})
	awsproto.On(s, "PutFunctionCodeSigningConfig", func(ctx context.Context, id caller.Identity, in *spec.PutFunctionCodeSigningConfigRequest) (*spec.PutFunctionCodeSigningConfigResponse, error) {
		ref, err := functions.ParseRef(id, *in.FunctionName, nil)
		if err != nil {
			return nil, err
		}
		if err := fs.PutFunctionCodeSigning(ctx, id, ref, *in.CodeSigningConfigArn); err != nil {
			return nil, err
		}
		return &spec.PutFunctionCodeSigningConfigResponse{CodeSigningConfigArn: in.CodeSigningConfigArn, FunctionName: ptr(ref.Name)}, nil
	})
	awsproto.On(s, "GetFunctionCodeSigningConfig", func(ctx context.Context, id caller.Identity, in *spec.GetFunctionCodeSigningConfigRequest) (*spec.GetFunctionCodeSigningConfigResponse, error) {
		ref, err := functions.ParseRef(id, *in.FunctionName, nil)
		if err != nil {
			return nil, err
		}
		arn, err := fs.GetFunctionCodeSigning(ctx, ref)
		if err != nil || arn == "" {
			// A function without a config: AWS answers {} (recorded).
			return &spec.GetFunctionCodeSigningConfigResponse{}, err
		}
		return &spec.GetFunctionCodeSigningConfigResponse{CodeSigningConfigArn: &arn, FunctionName: ptr(ref.Name)}, nil
	})
	awsproto.On(s, "DeleteFunctionCodeSigningConfig", func(ctx context.Context, id caller.Identity, in *spec.DeleteFunctionCodeSigningConfigRequest) (spec.Output, error) {
		ref, err := functions.ParseRef(id, *in.FunctionName, nil)
		if err != nil {
			return nil, err
		}
		return nil, fs.DeleteFunctionCodeSigning(ctx, ref)
	})
}
