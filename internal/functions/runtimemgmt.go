package functions

import (
	"context"
	"strings"

	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/spec"
	"github.com/lambdad/lambdad/internal/store"
)

// Runtime update modes (UpdateRuntimeOn).
const (
	RuntimeUpdateAuto     = "Auto" // AWS's default
	RuntimeUpdateFunction = "FunctionUpdate"
	RuntimeUpdateManual   = "Manual"
)

// RuntimeManagement is a version's runtime management configuration.
type RuntimeManagement struct {
	UpdateRuntimeOn string
	FunctionARN     string // the version's qualified ARN
	// RuntimeVersionARN is the pinned runtime version, with Manual only.
	RuntimeVersionARN string
}

// lambdad runs every function of a runtime with the one interpreter and
// bootstrap it has, so it has one runtime version per runtime and region:
// runtimeVersionARN (functions.go) names it, and a function's
// RuntimeVersionConfig shows it. Manual pins the ARN the caller gave, which
// is then what RuntimeVersionConfig shows; the function still runs with
// lambdad's runtime.

// PutRuntimeManagement is PutRuntimeManagementConfig on the version ref
// names ($LATEST when unqualified; an alias names its version).
func (s *Service) PutRuntimeManagement(ctx context.Context, ref Ref, mode, arn string) (*RuntimeManagement, error) {
	switch {
	case mode == RuntimeUpdateManual && arn == "":
		// [?] AWS's wording not found
		return nil, fault.InvalidParameterf("RuntimeVersionArn must be specified when UpdateRuntimeOn is Manual.")
	case mode != RuntimeUpdateManual && arn != "":
		// [?] AWS's wording not found
		return nil, fault.InvalidParameterf("RuntimeVersionArn can be specified only when UpdateRuntimeOn is Manual.")
	}
	if arn != "" {
		// arn:<partition>:lambda:<region>::runtime:<id> (the model checked its form)
		if parts := strings.SplitN(arn, ":", 7); len(parts) != 7 || parts[3] != ref.Region {
			// [?] AWS's wording not found
			return nil, fault.InvalidParameterf("The runtime version %s is not available in %s.", arn, ref.Region)
		}
	}
	var out *RuntimeManagement
	err := s.update(ctx, func(tx store.Tx) error {
		rec, v, err := s.resolve(tx, ref)
		if err != nil {
			return err
		}
		if v.Config.Runtime == nil || *v.Config.Runtime == "" {
			// [?] AWS's wording not found
			return fault.InvalidParameterf("Runtime management configuration is not supported for functions without a runtime (container images).")
		}
		v.settle(s.cfg.Now())
		v.RuntimeUpdate = ""
		if mode != RuntimeUpdateAuto {
			v.RuntimeUpdate = mode
		}
		if mode == RuntimeUpdateManual {
			v.Config.RuntimeVersionConfig = &spec.RuntimeVersionConfig{RuntimeVersionArn: &arn}
		} else {
			v.Config.RuntimeVersionConfig = runtimeVersionARN(ref.Region, *v.Config.Runtime)
		}
		out = runtimeManagement(ref, v)
		switch ver := *v.Config.Version; {
		case ver == Latest:
			return s.save(tx, ref, rec)
		case isVersionNumber(ver):
			return s.saveVersion(tx, ref, versionNumber(ver), v)
		}
		// [?] $LATEST.PUBLISHED: AWS's answer not found
		return fault.InvalidParameterf("Runtime management configuration cannot be set on %s.", *v.Config.Version)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// GetRuntimeManagement is GetRuntimeManagementConfig.
func (s *Service) GetRuntimeManagement(ctx context.Context, ref Ref) (*RuntimeManagement, error) {
	var out *RuntimeManagement
	err := s.cfg.Store.View(ctx, func(tx store.Tx) error {
		_, v, err := s.resolve(tx, ref)
		if err == nil {
			out = runtimeManagement(ref, v)
		}
		return err
	})
	return out, err
}

func runtimeManagement(ref Ref, v *version) *RuntimeManagement {
	m := &RuntimeManagement{UpdateRuntimeOn: RuntimeUpdateAuto, FunctionARN: ref.ARN() + ":" + *v.Config.Version}
	if v.RuntimeUpdate != "" {
		m.UpdateRuntimeOn = v.RuntimeUpdate
	}
	if m.UpdateRuntimeOn == RuntimeUpdateManual && v.Config.RuntimeVersionConfig != nil {
		m.RuntimeVersionARN = *v.Config.RuntimeVersionConfig.RuntimeVersionArn
	}
	return m
}
