package api

import (
	"context"

	"github.com/lambdad/lambdad/internal/awsproto"
	"github.com/lambdad/lambdad/internal/caller"
	"github.com/lambdad/lambdad/internal/functions"
	"github.com/lambdad/lambdad/internal/spec"
)

// registerRuntimeManagement serves a version's runtime update mode
// (functions/runtimemgmt.go).
func (h *Handler) registerRuntimeManagement() {
	s := h.svc
	fs := h.cfg.Functions
	out := func(m *functions.RuntimeManagement) (mode, arn, version *string) {
		if m.RuntimeVersionARN != "" {
			version = &m.RuntimeVersionARN
		}
		return &m.UpdateRuntimeOn, &m.FunctionARN, version
	}
	awsproto.On(s, "PutRuntimeManagementConfig", func(ctx context.Context, id caller.Identity, in *spec.PutRuntimeManagementConfigRequest) (*spec.PutRuntimeManagementConfigResponse, error) {
		ref, err := functions.ParseRef(id, *in.FunctionName, in.Qualifier)
		if err != nil {
			return nil, err
		}
		var arn string
		if in.RuntimeVersionArn != nil {
			arn = *in.RuntimeVersionArn
		}
		m, err := fs.PutRuntimeManagement(ctx, ref, *in.UpdateRuntimeOn, arn)
		if err != nil {
			return nil, err
		}
		r := &spec.PutRuntimeManagementConfigResponse{}
		r.UpdateRuntimeOn, r.FunctionArn, r.RuntimeVersionArn = out(m)
		return r, nil
	})
	awsproto.On(s, "GetRuntimeManagementConfig", func(ctx context.Context, id caller.Identity, in *spec.GetRuntimeManagementConfigRequest) (*spec.GetRuntimeManagementConfigResponse, error) {
		ref, err := functions.ParseRef(id, *in.FunctionName, in.Qualifier)
		if err != nil {
			return nil, err
		}
		m, err := fs.GetRuntimeManagement(ctx, ref)
		if err != nil {
			return nil, err
		}
		r := &spec.GetRuntimeManagementConfigResponse{}
		r.UpdateRuntimeOn, r.FunctionArn, r.RuntimeVersionArn = out(m)
		return r, nil
	})
}
