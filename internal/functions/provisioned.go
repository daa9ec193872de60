package functions

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/limits"
	"github.com/lambdad/lambdad/internal/spec"
	"github.com/lambdad/lambdad/internal/store"
)

// bProvisioned holds provisioned concurrency configs:
// acct/region/name/qualifier (a version number or an alias name).
const bProvisioned = "provisioned"

// storedProvisioned is a provisioned concurrency config (bucket
// provisioned). Its status and counts are not stored: they are the data
// plane's, read live (Config.ProvisionedState).
type storedProvisioned struct {
	Requested int32  `json:"requested"`
	Modified  string `json:"modified"`
}

// ProvisionedState is what the data plane has of one config: how many
// environments it asked for, how many finished init and are alive, and
// whether their init failed.
type ProvisionedState struct {
	Requested int32
	Allocated int32
	Failed    bool
	// Version is the version the environments run.
	Version string
}

// ProvisionedTarget is one config as the data plane keeps it: the version
// whose environments it provisions (an alias's own version).
type ProvisionedTarget struct {
	Qualifier, Version string
	Requested          int32
}

// Provisioned concurrency statuses and reasons, as AWS shows them.
const (
	provInProgress = "IN_PROGRESS"
	provReady      = "READY"
	provFailed     = "FAILED"
	// ProvisionedInitFailure is AWS's StatusReason when init failed.
	ProvisionedInitFailure = "FUNCTION_ERROR_INIT_FAILURE"
)

func provKey(fn Ref, qualifier string) string { return fnKey(fn) + "/" + qualifier }

func noProvisionedConfig() error {
	return fault.New(fault.ProvisionedConfigNotFound, "No Provisioned Concurrency Config found for this function")
}

func loadProvisioned(tx store.Tx, fn Ref, qualifier string) (*storedProvisioned, error) {
	raw := tx.Get(bProvisioned, provKey(fn, qualifier))
	if raw == nil {
		return nil, nil
	}
	p := new(storedProvisioned)
	return p, json.Unmarshal(raw, p)
}

// provisionedTarget checks the function and qualifier of a provisioned
// concurrency operation, with AWS's errors, and returns the function and
// the version the qualifier names (an alias's own version). onLatest is
// the message for $LATEST, which Put words differently from Get and Delete.
func (s *Service) provisionedTarget(tx store.Tx, ref Ref, onLatest string) (*record, string, *alias, error) {
	if ref.IsLatest() {
		return nil, "", nil, fault.InvalidParameterf("%s", onLatest)
	}
	q := ref.Qualifier
	missing := func() error {
		if isVersionNumber(q) {
			return notFound(ref)
		}
		return fault.NotFoundf("Alias", "Cannot find alias arn: %s", ref.QualifiedARN())
	}
	rec, err := s.load(tx, ref.Unqualified())
	if err != nil {
		return nil, "", nil, err
	}
	if rec == nil {
		return nil, "", nil, missing()
	}
	if isVersionNumber(q) {
		v, err := s.loadVersion(tx, ref, versionNumber(q))
		if err != nil {
			return nil, "", nil, err
		}
		if v == nil {
			return nil, "", nil, missing()
		}
		return rec, q, nil, nil
	}
	a, err := loadAlias(tx, ref, q)
	if err != nil {
		return nil, "", nil, err
	}
	if a == nil {
		return nil, "", nil, missing()
	}
	return rec, a.Version, a, nil
}

const (
	msgProvisionedLatest      = "Provisioned Concurrency Configs cannot be applied to unpublished function versions."
	msgProvisionedNotVersion  = "The function resource provided must be an alias or a published version."
	msgProvisionedOverAlias   = "Alias can't be used for Provisioned Concurrency configuration on an already Provisioned version"
	msgProvisionedUnderAlias  = "Version is pointed by a Provisioned Concurrency alias"
	msgProvisionedOverReserve = "Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution for function"
	// [?] AWS's words for a tenant-isolated function were not found; CDK's
	// TenancyConfig says provisioned concurrency is incompatible with it.
	msgProvisionedTenancy = "Provisioned Concurrency is not supported for functions with tenant isolation mode PER_TENANT."
	// [?] AWS's words were not found; the docs say provisioned concurrency
	// cannot be managed on an alias while it has a routing configuration.
	msgProvisionedRouting = "Invalid alias configuration for Provisioned Concurrency: the alias has a routing configuration."
	// [?] AWS's words were not found; its Managed Instances guide says
	// those functions have no provisioned concurrency (they scale on their
	// capacity provider's instances, with a minimum of environments).
	msgProvisionedManaged = "Provisioned Concurrency is not supported for functions that use a capacity provider."
)

// PutProvisioned is PutProvisionedConcurrencyConfig.
func (s *Service) PutProvisioned(ctx context.Context, ref Ref, n int32) (*spec.PutProvisionedConcurrencyConfigResponse, error) {
	var cfg storedProvisioned
	err := s.update(ctx, func(tx store.Tx) error {
		rec, version, al, err := s.provisionedTarget(tx, ref, msgProvisionedLatest)
		if err != nil {
			return err
		}
		if t := rec.Latest.Config.TenancyConfig; t != nil && t.TenantIsolationMode != nil && *t.TenantIsolationMode == "PER_TENANT" {
			return fault.InvalidParameterf("%s", msgProvisionedTenancy)
		}
		if capacityARN(&rec.Latest.Config) != "" {
			return fault.InvalidParameterf("%s", msgProvisionedManaged)
		}
		if version == Latest {
			// [?] An alias of $LATEST: AWS's words for it were not found;
			// these are its words for $LATEST itself.
			return fault.InvalidParameterf("%s", msgProvisionedLatest)
		}
		if al != nil && len(al.Weights) > 0 {
			return fault.InvalidParameterf("%s", msgProvisionedRouting)
		}
		fn := ref.Unqualified()
		// One config per version: on the version itself or on one alias
		// that points to it.
		var conflict error
		var others int32
		tx.Scan(bProvisioned, fnKey(fn)+"/", "", func(k string, raw []byte) bool {
			q := k[len(fnKey(fn))+1:]
			var p storedProvisioned
			if q == ref.Qualifier || json.Unmarshal(raw, &p) != nil {
				return true
			}
			others += p.Requested
			otherVersion := q
			if !isVersionNumber(q) {
				if a, _ := loadAlias(tx, fn, q); a != nil {
					otherVersion = a.Version
				}
			}
			if otherVersion == version && conflict == nil {
				if al == nil {
					conflict = fault.Conflictf("ProvisionedConcurrencyConfig", "%s", msgProvisionedUnderAlias)
				} else {
					conflict = fault.Conflictf("ProvisionedConcurrencyConfig", "%s", msgProvisionedOverAlias)
				}
			}
			return true
		})
		if conflict != nil {
			return conflict
		}
		if err := s.checkProvisionedLimits(tx, fn, rec, others+n, n); err != nil {
			return err
		}
		cfg = storedProvisioned{Requested: n, Modified: provisionedModified(s.cfg.Now())}
		raw, _ := json.Marshal(cfg)
		return tx.Put(bProvisioned, provKey(fn, ref.Qualifier), raw)
	})
	if err != nil {
		return nil, err
	}
	s.provisionedChanged(ref.Unqualified())
	st := s.provisionedState(ref, cfg)
	// A new or changed config is in progress until the data plane has
	// made its environments.
	return &spec.PutProvisionedConcurrencyConfigResponse{
		RequestedProvisionedConcurrentExecutions: i32(n),
		AvailableProvisionedConcurrentExecutions: st.AvailableProvisionedConcurrentExecutions,
		AllocatedProvisionedConcurrentExecutions: st.AllocatedProvisionedConcurrentExecutions,
		Status:                                   str(provInProgress),
		LastModified:                             str(cfg.Modified),
	}, nil
}

// checkProvisionedLimits holds the function's provisioned concurrency
// (total, n of it requested now) to its reserved concurrency, or, without
// one, to the account's unreserved concurrency and its minimum.
func (s *Service) checkProvisionedLimits(tx store.Tx, fn Ref, rec *record, total, n int32) error {
	if rec.Reserved != nil {
		if total > *rec.Reserved {
			return fault.InvalidParameterf("%s", msgProvisionedOverReserve)
		}
		return nil
	}
	// The account's unreserved concurrency: its limit less what functions
	// reserve and what functions without a reservation provision.
	unreserved := s.cfg.ConcurrencyLimit - provisionedOutsideReservations(tx, fn)
	tx.Scan(bFunctions, fn.Account+"/"+fn.Region+"/", "", func(k string, raw []byte) bool {
		var r record
		if decodeRecord(raw, &r) == nil && r.Reserved != nil {
			unreserved -= *r.Reserved
		}
		return true
	})
	// This function's other configs come out of the same pool.
	unreserved -= total - n
	if n > unreserved {
		return fault.InvalidParameterf("Specified ConcurrentExecutions for function is greater than account's unreserved concurrency [%d].", unreserved)
	}
	if unreserved-n < limits.MinUnreservedConcurrency {
		return fault.InvalidParameterf("Specified ConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [%d].", limits.MinUnreservedConcurrency)
	}
	return nil
}

// provisionedOutsideReservations is the provisioned concurrency of the
// account's functions that reserve none, fn's own left out: it comes out of
// the account's unreserved concurrency.
func provisionedOutsideReservations(tx store.Tx, fn Ref) int32 {
	var total int32
	self := fnKey(fn)
	reserved := map[string]bool{}
	tx.Scan(bProvisioned, fn.Account+"/"+fn.Region+"/", "", func(k string, raw []byte) bool {
		fk := k[:strings.LastIndexByte(k, '/')]
		if fk == self {
			return true
		}
		r, seen := reserved[fk]
		if !seen {
			var rec record
			if raw := tx.Get(bFunctions, fk); raw != nil && decodeRecord(raw, &rec) == nil {
				r = rec.Reserved != nil
			}
			reserved[fk] = r
		}
		var p storedProvisioned
		if !r && json.Unmarshal(raw, &p) == nil {
			total += p.Requested
		}
		return true
	})
	return total
}

// provisionedTotal is the sum of a function's provisioned concurrency.
func provisionedTotal(tx store.Tx, fn Ref) int32 {
	var total int32
	tx.Scan(bProvisioned, fnKey(fn)+"/", "", func(_ string, raw []byte) bool {
		var p storedProvisioned
		if json.Unmarshal(raw, &p) == nil {
			total += p.Requested
		}
		return true
	})
	return total
}

// GetProvisioned is GetProvisionedConcurrencyConfig.
func (s *Service) GetProvisioned(ctx context.Context, ref Ref) (*spec.GetProvisionedConcurrencyConfigResponse, error) {
	var cfg *storedProvisioned
	err := s.cfg.Store.View(ctx, func(tx store.Tx) error {
		if _, _, _, err := s.provisionedTarget(tx, ref, msgProvisionedNotVersion); err != nil {
			return err
		}
		var err error
		cfg, err = loadProvisioned(tx, ref.Unqualified(), ref.Qualifier)
		if err == nil && cfg == nil {
			err = noProvisionedConfig()
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	it := s.provisionedState(ref, *cfg)
	return &spec.GetProvisionedConcurrencyConfigResponse{
		RequestedProvisionedConcurrentExecutions: it.RequestedProvisionedConcurrentExecutions,
		AvailableProvisionedConcurrentExecutions: it.AvailableProvisionedConcurrentExecutions,
		AllocatedProvisionedConcurrentExecutions: it.AllocatedProvisionedConcurrentExecutions,
		Status:                                   it.Status, StatusReason: it.StatusReason, LastModified: it.LastModified,
	}, nil
}

// DeleteProvisioned is DeleteProvisionedConcurrencyConfig: deleting a
// config that is not there succeeds, as in AWS.
func (s *Service) DeleteProvisioned(ctx context.Context, ref Ref) error {
	err := s.update(ctx, func(tx store.Tx) error {
		if _, _, _, err := s.provisionedTarget(tx, ref, msgProvisionedNotVersion); err != nil {
			return err
		}
		if err := tx.Delete(bProvState, provKey(ref.Unqualified(), ref.Qualifier)); err != nil {
			return err
		}
		return tx.Delete(bProvisioned, provKey(ref.Unqualified(), ref.Qualifier))
	})
	if err != nil {
		return err
	}
	s.provisionedChanged(ref.Unqualified())
	return nil
}

// ListProvisioned is ListProvisionedConcurrencyConfigs.
func (s *Service) ListProvisioned(ctx context.Context, fn Ref, marker *string, max *int32) (*spec.ListProvisionedConcurrencyConfigsResponse, error) {
	type listed struct {
		ref Ref
		cfg storedProvisioned
	}
	page, next, err := listPage(ctx, s, marker, max, func(tx store.Tx, p page) ([]listed, *string, error) {
		if tx.Get(bFunctions, fnKey(fn)) == nil {
			return nil, nil, notFound(fn)
		}
		items, next := pageUnder(tx, bProvisioned, fn, p, func(q string, raw []byte) (listed, bool) {
			var c storedProvisioned
			if json.Unmarshal(raw, &c) != nil {
				return listed{}, false
			}
			r := fn
			r.Qualifier = q
			return listed{r, c}, true
		})
		return items, next, nil
	})
	if err != nil {
		return nil, err
	}
	// The live counts are read after the transaction: the data plane's
	// lock is never taken inside one.
	items := make([]spec.ProvisionedConcurrencyConfigListItem, len(page))
	for i, l := range page {
		items[i] = s.provisionedState(l.ref, l.cfg)
	}
	return &spec.ListProvisionedConcurrencyConfigsResponse{ProvisionedConcurrencyConfigs: items, NextMarker: next}, nil
}

// provisionedState is a config as the API shows it, with the data plane's
// live counts.
func (s *Service) provisionedState(ref Ref, cfg storedProvisioned) spec.ProvisionedConcurrencyConfigListItem {
	var st ProvisionedState
	if s.cfg.ProvisionedState != nil {
		st, _ = s.cfg.ProvisionedState(ref)
	}
	alloc := min(st.Allocated, cfg.Requested)
	it := spec.ProvisionedConcurrencyConfigListItem{
		FunctionArn:                              str(ref.QualifiedARN()),
		RequestedProvisionedConcurrentExecutions: i32(cfg.Requested),
		AvailableProvisionedConcurrentExecutions: i32(alloc),
		AllocatedProvisionedConcurrentExecutions: i32(alloc),
		Status:                                   str(provInProgress),
		LastModified:                             str(cfg.Modified),
	}
	switch {
	case st.Requested != cfg.Requested: // the data plane has not taken this config yet
	case st.Failed:
		it.Status, it.StatusReason = str(provFailed), str(ProvisionedInitFailure)
		it.AvailableProvisionedConcurrentExecutions, it.AllocatedProvisionedConcurrentExecutions = i32(0), i32(0)
	case st.Allocated >= cfg.Requested:
		it.Status = str(provReady)
	}
	return it
}

func (s *Service) provisionedChanged(fn Ref) {
	if s.cfg.ProvisionedChanged != nil {
		s.cfg.ProvisionedChanged(fn)
	}
}

// ProvisionedTargets lists a function's provisioned concurrency configs
// with the version each provisions; none when the function is gone.
func (s *Service) ProvisionedTargets(ctx context.Context, fn Ref) ([]ProvisionedTarget, error) {
	fn = fn.Unqualified()
	var out []ProvisionedTarget
	err := s.cfg.Store.View(ctx, func(tx store.Tx) error {
		tx.Scan(bProvisioned, fnKey(fn)+"/", "", func(k string, raw []byte) bool {
			q := k[len(fnKey(fn))+1:]
			var p storedProvisioned
			if json.Unmarshal(raw, &p) != nil {
				return true
			}
			t := ProvisionedTarget{Qualifier: q, Version: q, Requested: p.Requested}
			if !isVersionNumber(q) {
				a, _ := loadAlias(tx, fn, q)
				if a == nil || a.Version == Latest {
					return true // $LATEST is never provisioned
				}
				t.Version = a.Version
			}
			out = append(out, t)
			return true
		})
		return nil
	})
	return out, err
}

// ProvisionedFunctions lists every function that has a provisioned
// concurrency config, so that a restarted lambdad provisions them again.
func (s *Service) ProvisionedFunctions(ctx context.Context) ([]Ref, error) {
	var out []Ref
	err := s.cfg.Store.View(ctx, func(tx store.Tx) error {
		last := ""
		tx.Scan(bProvisioned, "", "", func(k string, _ []byte) bool {
			fk := k[:strings.LastIndexByte(k, '/')]
			if fk == last {
				return true
			}
			last = fk
			if parts := strings.SplitN(fk, "/", 3); len(parts) == 3 {
				out = append(out, Ref{Account: parts[0], Region: parts[1], Name: parts[2]})
			}
			return true
		})
		return nil
	})
	return out, err
}

// dropProvisioned deletes the config kept under a version or alias that
// goes away.
func dropProvisioned(tx store.Tx, fn Ref, qualifier string) error {
	if err := tx.Delete(bProvState, provKey(fn.Unqualified(), qualifier)); err != nil {
		return err
	}
	return tx.Delete(bProvisioned, provKey(fn.Unqualified(), qualifier))
}

// provisionedModified is AWS's LastModified of a provisioned concurrency
// config, e.g. 2019-11-21T19:32:12+0000.
func provisionedModified(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05-0700")
}

// RefOfARN is the function an unqualified function ARN names.
func RefOfARN(s string) (Ref, bool) {
	a, ok := lambdaARN(s)
	if !ok {
		return Ref{}, false
	}
	name, _, ok := functionResource(a.Resource)
	return Ref{Account: a.AccountID, Region: a.Region, Name: name}, ok
}

// QualifiedRefOfARN is the function, version or alias a qualified or
// unqualified function ARN names.
func QualifiedRefOfARN(s string) (Ref, bool) {
	a, ok := lambdaARN(s)
	if !ok {
		return Ref{}, false
	}
	name, q, ok := functionResource(a.Resource)
	return Ref{Account: a.AccountID, Region: a.Region, Name: name, Qualifier: q}, ok
}
