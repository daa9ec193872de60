package functions

import (
	"context"

	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/ids"
	"github.com/lambdad/lambdad/internal/spec"
	"github.com/lambdad/lambdad/internal/store"
)

// bAliases holds aliases: acct/region/name/alias -> alias.
const bAliases = "aliases"

type alias struct {
	Name        string             `json:"name"`
	Version     string             `json:"version"`
	Description string             `json:"description"`
	Weights     map[string]float64 `json:"weights,omitempty"`
	RevisionID  string             `json:"revisionId"`
}

func aliasKey(fn Ref, name string) string { return fnKey(fn) + "/" + name }

func (a *alias) config(fn Ref) *spec.AliasConfiguration {
	out := &spec.AliasConfiguration{
		AliasArn: str(fn.ARN() + ":" + a.Name), Name: str(a.Name), FunctionVersion: str(a.Version),
		Description: str(a.Description), RevisionId: str(a.RevisionID),
	}
	if len(a.Weights) > 0 {
		out.RoutingConfig = &spec.AliasRoutingConfiguration{AdditionalVersionWeights: a.Weights}
	}
	return out
}

func loadAlias(tx store.Tx, fn Ref, name string) (*alias, error) {
	raw := tx.Get(bAliases, aliasKey(fn, name))
	if raw == nil {
		return nil, nil
	}
	a := new(alias)
	return a, decodeAlias(raw, a)
}

// checkAliasTarget verifies an alias's version and routing against the
// function's versions, with AWS's errors.
func (s *Service) checkAliasTarget(tx store.Tx, fn Ref, version string, weights map[string]float64) error {
	if len(weights) > 1 {
		return fault.InvalidParameterf("Number of items in AdditionalVersionWeights cannot be greater than 1")
	}
	if version == Latest && len(weights) > 0 {
		return fault.InvalidParameterf("$LATEST is not supported for an alias pointing to more than 1 version")
	}
	exists := func(v string) error {
		if v == Latest {
			return nil
		}
		if isVersionNumber(v) {
			if x, err := s.loadVersion(tx, fn, versionNumber(v)); err != nil || x != nil {
				return err
			}
		}
		q := fn
		q.Qualifier = v
		return notFound(q)
	}
	if err := exists(version); err != nil {
		return err
	}
	for v := range weights {
		if v == version {
			return fault.InvalidParameterf("Invalid function version %s. Function version %s is already included in routing configuration.", v, v)
		}
		if err := exists(v); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) functionExists(tx store.Tx, fn Ref) error {
	_, err := s.loadFunction(tx, fn.Unqualified())
	return err
}

// CreateAlias is CreateAlias.
func (s *Service) CreateAlias(ctx context.Context, fn Ref, in *spec.CreateAliasRequest) (*spec.AliasConfiguration, error) {
	a := &alias{Name: *in.Name, Version: *in.FunctionVersion, RevisionID: ids.UUID()}
	if in.Description != nil {
		a.Description = *in.Description
	}
	if in.RoutingConfig != nil {
		a.Weights = in.RoutingConfig.AdditionalVersionWeights
	}
	err := s.update(ctx, func(tx store.Tx) error {
		if err := s.functionExists(tx, fn); err != nil {
			return err
		}
		if err := s.checkAliasTarget(tx, fn, a.Version, a.Weights); err != nil {
			return err
		}
		if tx.Get(bAliases, aliasKey(fn, a.Name)) != nil {
			return fault.Conflictf("Alias", "Alias already exists: %s:%s", fn.ARN(), a.Name)
		}
		raw, _ := encodeAlias(a)
		return tx.Put(bAliases, aliasKey(fn, a.Name), raw)
	})
	if err != nil {
		return nil, err
	}
	return a.config(fn), nil
}

// GetAlias is GetAlias.
func (s *Service) GetAlias(ctx context.Context, fn Ref, name string) (*spec.AliasConfiguration, error) {
	var out *spec.AliasConfiguration
	err := s.cfg.Store.View(ctx, func(tx store.Tx) error {
		if err := s.functionExists(tx, fn); err != nil {
			return err
		}
		a, err := loadAlias(tx, fn, name)
		if err != nil {
			return err
		}
		if a == nil {
			return fault.NotFoundf("Alias", "Cannot find alias arn: %s:%s", fn.ARN(), name)
		}
		out = a.config(fn)
		return nil
	})
	return out, err
}

// UpdateAlias is UpdateAlias.
func (s *Service) UpdateAlias(ctx context.Context, fn Ref, in *spec.UpdateAliasRequest) (*spec.AliasConfiguration, error) {
	var out *spec.AliasConfiguration
	err := s.update(ctx, func(tx store.Tx) error {
		if err := s.functionExists(tx, fn); err != nil {
			return err
		}
		a, err := loadAlias(tx, fn, *in.Name)
		if err != nil {
			return err
		}
		if a == nil {
			return fault.NotFoundf("Alias", "Alias not found: %s:%s", fn.ARN(), *in.Name)
		}
		if in.RevisionId != nil && *in.RevisionId != a.RevisionID {
			return revisionMismatch()
		}
		if in.FunctionVersion != nil {
			a.Version = *in.FunctionVersion
		}
		if in.Description != nil {
			a.Description = *in.Description
		}
		if in.RoutingConfig != nil {
			a.Weights = in.RoutingConfig.AdditionalVersionWeights
		}
		if err := s.checkAliasTarget(tx, fn, a.Version, a.Weights); err != nil {
			return err
		}
		a.RevisionID = ids.UUID()
		raw, _ := encodeAlias(a)
		out = a.config(fn)
		return tx.Put(bAliases, aliasKey(fn, a.Name), raw)
	})
	if err == nil {
		// A provisioned alias moved: its environments follow its version.
		s.provisionedChanged(fn)
	}
	return out, err
}

// DeleteAlias is DeleteAlias: deleting an alias that is not there succeeds.
func (s *Service) DeleteAlias(ctx context.Context, fn Ref, name string) error {
	err := s.update(ctx, func(tx store.Tx) error {
		if err := s.functionExists(tx, fn); err != nil {
			return err
		}
		// The alias's provisioned concurrency config goes with it.
		if err := dropProvisioned(tx, fn, name); err != nil {
			return err
		}
		return tx.Delete(bAliases, aliasKey(fn, name))
	})
	if err == nil {
		s.provisionedChanged(fn)
	}
	return err
}

// ListAliases is ListAliases, by name, optionally only those pointing at version.
func (s *Service) ListAliases(ctx context.Context, fn Ref, version, marker *string, max *int32) (*spec.ListAliasesResponse, error) {
	aliases, next, err := listPage(ctx, s, marker, max, func(tx store.Tx, p page) ([]spec.AliasConfiguration, *string, error) {
		if err := s.functionExists(tx, fn); err != nil {
			return nil, nil, err
		}
		aliases, next := pageUnder(tx, bAliases, fn, p, func(_ string, raw []byte) (spec.AliasConfiguration, bool) {
			a := new(alias)
			if decodeAlias(raw, a) != nil || version != nil && a.Version != *version {
				return spec.AliasConfiguration{}, false
			}
			return *a.config(fn), true
		})
		return aliases, next, nil
	})
	if err != nil {
		return nil, err
	}
	return &spec.ListAliasesResponse{Aliases: aliases, NextMarker: next}, nil
}

// aliasRoute is where an alias sends invocations.
type aliasRoute struct {
	Version string
	// Other and Weight: the share of invocations that go to Other instead.
	Other  string
	Weight float64
}

func (a *alias) route() aliasRoute {
	r := aliasRoute{Version: a.Version}
	for v, w := range a.Weights {
		r.Other, r.Weight = v, w
	}
	return r
}

// aliasesOf names the aliases of fn that route to version, as their main
// version or with a weight.
func aliasesOf(tx store.Tx, fn Ref, version string) []string {
	var names []string
	tx.Scan(bAliases, fnKey(fn)+"/", "", func(_ string, raw []byte) bool {
		var a alias
		if decodeAlias(raw, &a) == nil {
			if _, weighted := a.Weights[version]; a.Version == version || weighted {
				names = append(names, a.Name)
			}
		}
		return true
	})
	return names
}
