package api

import (
	"context"
	"strings"

	"github.com/lambdad/lambdad/internal/awsproto"
	"github.com/lambdad/lambdad/internal/caller"
	"github.com/lambdad/lambdad/internal/capacity"
	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/functions"
	"github.com/lambdad/lambdad/internal/spec"
)

// registerCapacity serves Lambda Managed Instances' control plane: capacity
// providers, the function versions on them, and function scaling configs.
func (h *Handler) registerCapacity() {
	s := h.svc
	cp := h.cfg.Capacity
	fs := h.cfg.Functions
	if cp == nil {
		return
	}
	ref := func(id caller.Identity, name string) (capacity.Ref, error) {
		return capacity.ParseName(id.Account, id.Region, name)
	}
	awsproto.On(s, "CreateCapacityProvider", func(ctx context.Context, id caller.Identity, in *spec.CreateCapacityProviderRequest) (*spec.CreateCapacityProviderResponse, error) {
		r, err := ref(id, *in.CapacityProviderName)
		if err != nil {
			return nil, err
		}
		if len(in.Tags) > 50 {
			return nil, awsproto.InvalidParameter("Number of tags exceeds resource tag limit.")
		}
		p := capacity.Provider{
			SubnetIDs:            in.VpcConfig.SubnetIds,
			SecurityGroupIDs:     in.VpcConfig.SecurityGroupIds,
			OperatorRoleARN:      *in.PermissionsConfig.CapacityProviderOperatorRoleArn,
			InstanceRequirements: instanceRequirementsIn(in.InstanceRequirements),
			Scaling:              scalingIn(in.CapacityProviderScalingConfig),
			Tags:                 in.Tags,
			PropagateTags:        propagateIn(in.PropagateTags),
			Logging:              loggingIn(in.TelemetryConfig),
		}
		if in.KmsKeyArn != nil {
			p.KMSKeyARN = *in.KmsKeyArn
		}
		out, err := cp.Create(ctx, r, p)
		if err != nil {
			return nil, err
		}
		return &spec.CreateCapacityProviderResponse{CapacityProvider: providerOut(out)}, nil
	})
	awsproto.On(s, "GetCapacityProvider", func(ctx context.Context, id caller.Identity, in *spec.GetCapacityProviderRequest) (*spec.GetCapacityProviderResponse, error) {
		r, err := ref(id, *in.CapacityProviderName)
		if err != nil {
			return nil, err
		}
		out, err := cp.Get(ctx, r)
		if err != nil {
			return nil, err
		}
		return &spec.GetCapacityProviderResponse{CapacityProvider: providerOut(out)}, nil
	})
	awsproto.On(s, "UpdateCapacityProvider", func(ctx context.Context, id caller.Identity, in *spec.UpdateCapacityProviderRequest) (*spec.UpdateCapacityProviderResponse, error) {
		r, err := ref(id, *in.CapacityProviderName)
		if err != nil {
			return nil, err
		}
		out, err := cp.Update(ctx, r, capacity.Update{
			Scaling:       scalingIn(in.CapacityProviderScalingConfig),
			PropagateTags: propagateIn(in.PropagateTags),
			Logging:       loggingIn(in.TelemetryConfig),
		})
		if err != nil {
			return nil, err
		}
		return &spec.UpdateCapacityProviderResponse{CapacityProvider: providerOut(out)}, nil
	})
	awsproto.On(s, "DeleteCapacityProvider", func(ctx context.Context, id caller.Identity, in *spec.DeleteCapacityProviderRequest) (*spec.DeleteCapacityProviderResponse, error) {
		r, err := ref(id, *in.CapacityProviderName)
		if err != nil {
			return nil, err
		}
		out, err := cp.Delete(ctx, r)
		if err != nil {
			return nil, err
		}
		return &spec.DeleteCapacityProviderResponse{CapacityProvider: providerOut(out)}, nil
	})
	awsproto.On(s, "ListCapacityProviders", func(ctx context.Context, id caller.Identity, in *spec.ListCapacityProvidersRequest) (*spec.ListCapacityProvidersResponse, error) {
		state := ""
		if in.State != nil {
			state = *in.State
		}
		items, next, err := cp.List(ctx, id.Account, id.Region, state, in.Marker, in.MaxItems)
		if err != nil {
			return nil, err
		}
		out := &spec.ListCapacityProvidersResponse{CapacityProviders: make([]spec.CapacityProvider, 0, len(items)), NextMarker: next}
		for i := range items {
			out.CapacityProviders = append(out.CapacityProviders, *providerOut(&items[i]))
		}
		return out, nil
	})
	awsproto.On(s, "ListFunctionVersionsByCapacityProvider", func(ctx context.Context, id caller.Identity, in *spec.ListFunctionVersionsByCapacityProviderRequest) (*spec.ListFunctionVersionsByCapacityProviderResponse, error) {
		r, err := ref(id, *in.CapacityProviderName)
		if err != nil {
			return nil, err
		}
		p, err := cp.Get(ctx, r)
		if err != nil {
			return nil, err
		}
		items, next, err := fs.ListVersionsByCapacityProvider(ctx, id.Account, id.Region, p.ARN, in.Marker, in.MaxItems)
		if err != nil {
			return nil, err
		}
		return &spec.ListFunctionVersionsByCapacityProviderResponse{CapacityProviderArn: ptr(p.ARN), FunctionVersions: items, NextMarker: next}, nil
	})
	awsproto.On(s, "PutFunctionScalingConfig", func(ctx context.Context, id caller.Identity, in *spec.PutFunctionScalingConfigRequest) (*spec.PutFunctionScalingConfigResponse, error) {
		r, err := functions.ParseRef(id, *in.FunctionName, in.Qualifier)
		if err != nil {
			return nil, err
		}
		var c functions.ScalingConfig
		if sc := in.FunctionScalingConfig; sc != nil {
			c = functions.ScalingConfig{Min: sc.MinExecutionEnvironments, Max: sc.MaxExecutionEnvironments}
		}
		state, err := fs.PutScalingConfig(ctx, r, c)
		if err != nil {
			return nil, err
		}
		return &spec.PutFunctionScalingConfigResponse{FunctionState: ptr(state)}, nil
	})
	awsproto.On(s, "GetFunctionScalingConfig", func(ctx context.Context, id caller.Identity, in *spec.GetFunctionScalingConfigRequest) (*spec.GetFunctionScalingConfigResponse, error) {
		r, err := functions.ParseRef(id, *in.FunctionName, in.Qualifier)
		if err != nil {
			return nil, err
		}
		c, err := fs.GetScalingConfig(ctx, r)
		if err != nil {
			return nil, err
		}
		// AWS shows a config under Requested while it settles and under
		// Applied once in effect, clearing the other (as Terraform's
		// provider reads it); lambdad's takes effect at once.
		sc := &spec.FunctionScalingConfig{MinExecutionEnvironments: c.Min, MaxExecutionEnvironments: c.Max}
		return &spec.GetFunctionScalingConfigResponse{FunctionArn: ptr(r.QualifiedARN()), AppliedFunctionScalingConfig: sc}, nil
	})
}

// capacityTags resolves the Resource of a tag operation that names a
// capacity provider (ok false: it names something else).
func (h *Handler) capacityTags(id caller.Identity, resource string) (capacity.Ref, bool, error) {
	if h.cfg.Capacity == nil || !strings.Contains(resource, ":capacity-provider:") {
		return capacity.Ref{}, false, nil
	}
	if _, ok := capacity.ParseARN(resource); !ok {
		return capacity.Ref{}, true, fault.InvalidParameterf("Invalid ARN: %s", resource)
	}
	r, err := capacity.ParseName(id.Account, id.Region, resource)
	return r, true, err
}

func instanceRequirementsIn(in *spec.InstanceRequirements) *capacity.InstanceRequirements {
	if in == nil {
		return nil
	}
	return &capacity.InstanceRequirements{Architectures: in.Architectures, AllowedInstanceTypes: in.AllowedInstanceTypes, ExcludedInstanceTypes: in.ExcludedInstanceTypes}
}

func scalingIn(in *spec.CapacityProviderScalingConfig) *capacity.Scaling {
	if in == nil {
		return nil
	}
	out := &capacity.Scaling{MaxVCpuCount: in.MaxVCpuCount}
	if in.ScalingMode != nil {
		out.ScalingMode = *in.ScalingMode
	}
	for _, p := range in.ScalingPolicies {
		out.Policies = append(out.Policies, capacity.Policy{Metric: deref(p.PredefinedMetricType), Target: derefF(p.TargetValue)})
	}
	return out
}

func propagateIn(in *spec.PropagateTags) *capacity.PropagateTags {
	if in == nil {
		return nil
	}
	return &capacity.PropagateTags{Mode: deref(in.Mode), ExplicitTags: in.ExplicitTags}
}

func loggingIn(in *spec.CapacityProviderTelemetryConfig) *capacity.Logging {
	if in == nil || in.LoggingConfig == nil {
		return nil
	}
	return &capacity.Logging{SystemLogLevel: deref(in.LoggingConfig.SystemLogLevel), LogGroup: deref(in.LoggingConfig.LogGroup)}
}

func derefF(f *float64) float64 {
	if f == nil {
		return 0
	}
	return *f
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// providerOut is a provider as the API shows it.
func providerOut(p *capacity.Provider) *spec.CapacityProvider {
	out := &spec.CapacityProvider{
		CapacityProviderArn: ptr(p.ARN),
		State:               ptr(p.State),
		VpcConfig:           &spec.CapacityProviderVpcConfig{SubnetIds: p.SubnetIDs, SecurityGroupIds: p.SecurityGroupIDs},
		PermissionsConfig:   &spec.CapacityProviderPermissionsConfig{CapacityProviderOperatorRoleArn: ptr(p.OperatorRoleARN)},
		KmsKeyArn:           optional(p.KMSKeyARN),
		LastModified:        ptr(p.LastModified),
	}
	if out.VpcConfig.SecurityGroupIds == nil {
		out.VpcConfig.SecurityGroupIds = []string{}
	}
	if ir := p.InstanceRequirements; ir != nil {
		out.InstanceRequirements = &spec.InstanceRequirements{Architectures: ir.Architectures, AllowedInstanceTypes: ir.AllowedInstanceTypes, ExcludedInstanceTypes: ir.ExcludedInstanceTypes}
	}
	if sc := p.Scaling; sc != nil {
		o := &spec.CapacityProviderScalingConfig{MaxVCpuCount: sc.MaxVCpuCount, ScalingMode: optional(sc.ScalingMode)}
		for _, pol := range sc.Policies {
			o.ScalingPolicies = append(o.ScalingPolicies, spec.TargetTrackingScalingPolicy{PredefinedMetricType: ptr(pol.Metric), TargetValue: ptr(pol.Target)})
		}
		out.CapacityProviderScalingConfig = o
	}
	if pt := p.PropagateTags; pt != nil {
		out.PropagateTags = &spec.PropagateTags{Mode: optional(pt.Mode), ExplicitTags: pt.ExplicitTags}
	}
	if l := p.Logging; l != nil {
		out.TelemetryConfig = &spec.CapacityProviderTelemetryConfig{LoggingConfig: &spec.CapacityProviderLoggingConfig{SystemLogLevel: optional(l.SystemLogLevel), LogGroup: optional(l.LogGroup)}}
	}
	return out
}
