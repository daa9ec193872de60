package api

import (
	"context"

	"github.com/lambdad/lambdad/internal/awsproto"
	"github.com/lambdad/lambdad/internal/caller"
	"github.com/lambdad/lambdad/internal/esm"
	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/spec"
)

// registerESM serves event source mappings (internal/esm).
func (h *Handler) registerESM() {
	s := h.svc
	m := h.cfg.ESM
	if m == nil {
		return
	}
	awsproto.On(s, "CreateEventSourceMapping", func(ctx context.Context, id caller.Identity, in *spec.CreateEventSourceMappingRequest) (*spec.EventSourceMappingConfiguration, error) {
		return m.Create(ctx, id, in)
	})
	awsproto.On(s, "GetEventSourceMapping", func(ctx context.Context, id caller.Identity, in *spec.GetEventSourceMappingRequest) (*spec.EventSourceMappingConfiguration, error) {
		return m.Get(ctx, esm.RefOf(id, *in.UUID))
	})
	awsproto.On(s, "UpdateEventSourceMapping", func(ctx context.Context, id caller.Identity, in *spec.UpdateEventSourceMappingRequest) (*spec.EventSourceMappingConfiguration, error) {
		return m.Update(ctx, esm.RefOf(id, *in.UUID), in)
	})
	awsproto.On(s, "DeleteEventSourceMapping", func(ctx context.Context, id caller.Identity, in *spec.DeleteEventSourceMappingRequest) (*spec.EventSourceMappingConfiguration, error) {
		return m.Delete(ctx, esm.RefOf(id, *in.UUID))
	})
	awsproto.On(s, "ListEventSourceMappings", func(ctx context.Context, id caller.Identity, in *spec.ListEventSourceMappingsRequest) (*spec.ListEventSourceMappingsResponse, error) {
		return m.List(ctx, id, in.EventSourceArn, in.FunctionName, in.Marker, in.MaxItems)
	})
}

// esmTags tells whether a tagged resource is an event source mapping: ok
// is false for anything else. One of another account or region is not
// found, as AWS answers.
func (h *Handler) esmTags(id caller.Identity, resource string) (esm.Ref, bool, error) {
	if h.cfg.ESM == nil || !esm.IsARN(resource) {
		return esm.Ref{}, false, nil
	}
	r, ok := esm.ParseARN(resource)
	if !ok {
		return r, true, fault.InvalidParameterf("Invalid ARN: %s", resource)
	}
	if r.Account != id.Account || r.Region != id.Region {
		return r, true, fault.NotFoundf("EventSourceMapping", "Event source mapping not found: %s", resource)
	}
	return r, true, nil
}
