package functions

import (
	"context"
	"strings"

	"github.com/lambdad/lambdad/internal/spec"
	"github.com/lambdad/lambdad/internal/store"
)

// Lambda Managed Instances: a published version of a function on a
// capacity provider is Pending until the data plane has started its
// minimum execution environments ("starts three execution environments
// before marking your function version ACTIVE", AWS's Scaling Lambda
// Managed Instances guide), and Failed if their init fails. Its State is
// therefore the data plane's (Config.ManagedState); the control plane
// tells it of every change (Config.ManagedChanged).

// ManagedState is the data plane's state of one published version on a
// capacity provider: State Active, Pending or Failed, with AWS's
// StateReason and StateReasonCode when not Active.
type ManagedState struct {
	State, Reason, ReasonCode string
}

// ManagedTarget is one published version of a function that runs on a
// capacity provider: what the data plane keeps started.
type ManagedTarget struct {
	Version  string // a number or $LATEST.PUBLISHED
	Provider string // the capacity provider's ARN
}

// managedState puts the data plane's state of c's version into c, when c is
// a published version on a capacity provider whose transition is over. It
// reports whether c is Active.
func (s *Service) managedState(c *spec.FunctionConfiguration) bool {
	if c.State == nil || *c.State != "Active" {
		return c.State == nil
	}
	if s.cfg.ManagedState == nil || capacityARN(c) == "" || c.Version == nil || *c.Version == Latest || c.FunctionArn == nil {
		return true
	}
	arn := strings.TrimSuffix(*c.FunctionArn, ":"+*c.Version)
	rev := ""
	if c.RevisionId != nil {
		rev = *c.RevisionId
	}
	st, ok := s.cfg.ManagedState(arn, *c.Version, rev)
	if !ok {
		// Not yet seen by the data plane: it is about to start it.
		st = ManagedState{State: "Pending", Reason: "The function is being created.", ReasonCode: "Creating"}
	}
	if st.State == "Active" {
		return true
	}
	c.State, c.StateReason, c.StateReasonCode = str(st.State), str(st.Reason), str(st.ReasonCode)
	return false
}

// managedChanged tells the data plane that fn's published versions on a
// capacity provider, or their scaling configs, may have changed.
func (s *Service) managedChanged(fn Ref, c *spec.FunctionConfiguration) {
	if s.cfg.ManagedChanged != nil && (c == nil || capacityARN(c) != "") {
		s.cfg.ManagedChanged(fn.Unqualified())
	}
}

// ManagedTargets lists fn's published versions that run on a capacity
// provider ($LATEST.PUBLISHED first), for the data plane.
func (s *Service) ManagedTargets(ctx context.Context, fn Ref) ([]ManagedTarget, error) {
	fn = fn.Unqualified()
	var out []ManagedTarget
	err := s.cfg.Store.View(ctx, func(tx store.Tx) error {
		if lp, err := s.loadLatestPublished(tx, fn); err != nil {
			return err
		} else if lp != nil && capacityARN(&lp.Config) != "" {
			out = append(out, ManagedTarget{Version: LatestPublished, Provider: capacityARN(&lp.Config)})
		}
		return tx.Scan(bVersions, fnKey(fn)+"/", "", func(k string, raw []byte) bool {
			var v version
			if decodeVersion(raw, &v) == nil && capacityARN(&v.Config) != "" && v.Config.Version != nil {
				out = append(out, ManagedTarget{Version: *v.Config.Version, Provider: capacityARN(&v.Config)})
			}
			return true
		})
	})
	return out, err
}

// ManagedFunctions lists every function with a published version on a
// capacity provider (their environments are started again at start).
func (s *Service) ManagedFunctions(ctx context.Context) ([]Ref, error) {
	seen := map[string]bool{}
	var out []Ref
	add := func(fk string) {
		if seen[fk] {
			return
		}
		seen[fk] = true
		if parts := strings.SplitN(fk, "/", 3); len(parts) == 3 {
			out = append(out, Ref{Account: parts[0], Region: parts[1], Name: parts[2]})
		}
	}
	err := s.cfg.Store.View(ctx, func(tx store.Tx) error {
		err := tx.Scan(bLatestPublished, "", "", func(k string, raw []byte) bool {
			var v version
			if decodeVersion(raw, &v) == nil && capacityARN(&v.Config) != "" {
				add(k)
			}
			return true
		})
		if err != nil {
			return err
		}
		return tx.Scan(bVersions, "", "", func(k string, raw []byte) bool {
			var v version
			if decodeVersion(raw, &v) == nil && capacityARN(&v.Config) != "" {
				add(k[:strings.LastIndexByte(k, '/')])
			}
			return true
		})
	})
	return out, err
}
