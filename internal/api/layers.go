package api

import (
	"context"

	"github.com/lambdad/lambdad/internal/awsproto"
	"github.com/lambdad/lambdad/internal/blobs"
	"github.com/lambdad/lambdad/internal/caller"
	"github.com/lambdad/lambdad/internal/functions"
	"github.com/lambdad/lambdad/internal/limits"
	"github.com/lambdad/lambdad/internal/spec"
)

func (h *Handler) registerLayers() {
	s := h.svc
	fs := h.cfg.Functions
	s.Limit("PublishLayerVersion", awsproto.BodyLimit{Max: limits.CodeRequestBytes, Err: tooLarge("PublishLayerVersion", limits.CodeRequestBytes)})
	// withLocation adds the signed download link of the layer's zip.
	withLocation := func(ctx context.Context, lv *functions.LayerVersion) *spec.GetLayerVersionResponse {
		out := lv.Out
		content := *out.Content
		content.Location = h.codeLocation(ctx, lv.Code).Location
		out.Content = &content
		return &out
	}
	awsproto.OnUpload(s, "PublishLayerVersion", h.stageZip(), func(ctx context.Context, id caller.Identity, in *spec.PublishLayerVersionRequest, up awsproto.Upload[*blobs.Writer]) (*spec.PublishLayerVersionResponse, error) {
		if err := zippedLimit(in.Content.ZipFile); err != nil {
			return nil, err
		}
		lv, err := fs.PublishLayer(ctx, id, in, staged(up))
		if err != nil {
			return nil, err
		}
		o := withLocation(ctx, lv)
		return &spec.PublishLayerVersionResponse{Content: o.Content, LayerArn: o.LayerArn, LayerVersionArn: o.LayerVersionArn,
			Description: o.Description, CreatedDate: o.CreatedDate, Version: o.Version, CompatibleArchitectures: o.CompatibleArchitectures,
			CompatibleRuntimes: o.CompatibleRuntimes, LicenseInfo: o.LicenseInfo}, nil
	})
	awsproto.On(s, "GetLayerVersion", func(ctx context.Context, id caller.Identity, in *spec.GetLayerVersionRequest) (*spec.GetLayerVersionResponse, error) {
		// Another account's version is served when that account granted it.
		lv, err := fs.GetLayerFor(ctx, id, functions.ParseLayerRead(id, *in.LayerName), *in.VersionNumber)
		if err != nil {
			return nil, err
		}
		return withLocation(ctx, lv), nil
	})
	awsproto.On(s, "GetLayerVersionByArn", func(ctx context.Context, id caller.Identity, in *spec.GetLayerVersionByArnRequest) (*spec.GetLayerVersionResponse, error) {
		lv, err := fs.GetLayerByARN(ctx, id, *in.Arn)
		if err != nil {
			return nil, err
		}
		return withLocation(ctx, lv), nil
	})
	awsproto.On(s, "DeleteLayerVersion", func(ctx context.Context, id caller.Identity, in *spec.DeleteLayerVersionRequest) (spec.Output, error) {
		ref, err := functions.ParseLayer(id, *in.LayerName)
		if err != nil {
			return nil, err
		}
		return nil, fs.DeleteLayer(ctx, ref, *in.VersionNumber)
	})
	awsproto.On(s, "ListLayerVersions", func(ctx context.Context, id caller.Identity, in *spec.ListLayerVersionsRequest) (*spec.ListLayerVersionsResponse, error) {
		ref, err := functions.ParseLayer(id, *in.LayerName)
		if err != nil {
			return nil, err
		}
		return fs.ListLayerVersions(ctx, ref, in.CompatibleRuntime, in.CompatibleArchitecture, in.Marker, in.MaxItems)
	})
	awsproto.On(s, "ListLayers", func(ctx context.Context, id caller.Identity, in *spec.ListLayersRequest) (*spec.ListLayersResponse, error) {
		return fs.ListLayers(ctx, id, in.CompatibleRuntime, in.CompatibleArchitecture, in.Marker, in.MaxItems)
	})
}
