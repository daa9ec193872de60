package functions

import (
	"context"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/spec"
	"github.com/lambdad/lambdad/internal/store"
)

// Functions on Lambda Managed Instances: a function's CapacityProviderConfig
// names a capacity provider (package capacity), which must exist while any
// version of the function uses it.

// CapacityProviders is what functions needs of the capacity providers:
// whether one exists, asked inside the transaction that stores a function
// (the capacity service deletes a provider in a transaction that asks
// UsesCapacityProvider, so neither can slip past the other).
type CapacityProviders interface {
	Exists(tx store.Tx, arn string) bool
}

// managedInstances is a configuration's capacity provider settings, if any.
func managedInstances(c *spec.FunctionConfiguration) *spec.LambdaManagedInstancesCapacityProviderConfig {
	if c.CapacityProviderConfig == nil {
		return nil
	}
	return c.CapacityProviderConfig.LambdaManagedInstancesCapacityProviderConfig
}

// capacityARN is the ARN of the provider a configuration runs on ("" when none).
func capacityARN(c *spec.FunctionConfiguration) string {
	if m := managedInstances(c); m != nil && m.CapacityProviderArn != nil {
		return *m.CapacityProviderArn
	}
	return ""
}

// checkManagedInstances holds $LATEST's configuration c of the function ref
// to the rules of Lambda Managed Instances, inside the transaction that
// stores it. The wording of each refusal is lambdad's: AWS documents the
// rules but not its messages [?].
func (s *Service) checkManagedInstances(tx store.Tx, ref Ref, c *spec.FunctionConfiguration) error {
	arn := capacityARN(c)
	if arn == "" {
		return nil
	}
	// A provider of another account or region is not one this function
	// can see: it is answered as missing.
	own := strings.HasPrefix(arn, "arn:aws:lambda:"+ref.Region+":"+ref.Account+":capacity-provider:")
	if !own || s.cfg.CapacityProviders == nil || !s.cfg.CapacityProviders.Exists(tx, arn) {
		return fault.InvalidParameterf("The capacity provider %s does not exist.", arn) // [?]
	}
	if c.Runtime != nil && !managedInstancesRuntime(*c.Runtime) {
		return fault.InvalidParameterf("Runtime %s is not supported for functions that use a capacity provider. Use java21, python3.13, nodejs22.x, dotnet8, provided.al2023 or a later version of these.", *c.Runtime) // [?]
	}
	if c.MemorySize != nil && *c.MemorySize < 2048 {
		// AWS's answer, as a user quoted it after Terraform met it
		// (nsb413/kiro-lambda-managed-instance, LESSONS_LEARNED.md).
		return fault.New(fault.Invalid, "Lambda Managed Instance functions must have memory size greater than or equal to 2048")
	}
	if min := managedMinMemoryMB(c); c.MemorySize != nil && *c.MemorySize < min {
		return fault.InvalidParameterf("MemorySize %d MB is less than the %d MB a function that uses a capacity provider needs (2 GB and 1 vCPU at least).", *c.MemorySize, min) // [?]
	}
	if ss := c.SnapStart; ss != nil && ss.ApplyOn != nil && *ss.ApplyOn != "None" {
		return fault.InvalidParameterf("SnapStart is not supported for functions that use a capacity provider.") // [?]
	}
	if t := c.TenancyConfig; t != nil && t.TenantIsolationMode != nil {
		return fault.InvalidParameterf("Tenant isolation mode is not supported for functions that use a capacity provider.") // [?]
	}
	return nil
}

// managedMinMemoryMB is the least memory of a function on managed
// instances: "The minimum supported function size is 2GB and 1 vCPU" (AWS's
// best practices for Lambda Managed Instances), so at least one vCPU's worth
// at the function's ExecutionEnvironmentMemoryGiBPerVCpu.
func managedMinMemoryMB(c *spec.FunctionConfiguration) int32 {
	min := int32(2048)
	if m := managedInstances(c); m != nil && m.ExecutionEnvironmentMemoryGiBPerVCpu != nil {
		if perVCPU := int32(math.Ceil(*m.ExecutionEnvironmentMemoryGiBPerVCpu * 1024)); perVCPU > min {
			min = perVCPU
		}
	}
	return min
}

// defaultManagedMemory gives a function created on a capacity provider
// without a MemorySize the least it may have, rather than Lambda's default
// of 128 MB, which managed instances cannot run [?].
func defaultManagedMemory(c *spec.FunctionConfiguration, explicit bool) {
	if !explicit && managedInstances(c) != nil {
		c.MemorySize = i32(managedMinMemoryMB(c))
	}
}

// managedInstancesRuntime reports whether Lambda Managed Instances run
// runtime: "Java 21 and later, Python 3.13 and later, Node.js 22 and
// later, .NET 8 and later", and Rust on provided.al2023 and later (AWS's
// Lambda Managed Instances runtimes page).
func managedInstancesRuntime(runtime string) bool {
	atLeast := func(prefix, suffix string, min int) bool {
		rest, ok := strings.CutPrefix(runtime, prefix)
		if !ok {
			return false
		}
		rest, ok = strings.CutSuffix(rest, suffix)
		n, err := strconv.Atoi(rest)
		return ok && err == nil && n >= min
	}
	return atLeast("java", "", 21) || atLeast("python3.", "", 13) || atLeast("nodejs", ".x", 22) ||
		atLeast("dotnet", "", 8) || atLeast("provided.al", "", 2023)
}

// CapacityProviderUsers counts the functions of the account and region
// with a version ($LATEST included) that runs on the provider arn. The
// capacity service asks it inside the transaction that deletes arn.
func (s *Service) CapacityProviderUsers(tx store.Tx, account, region, arn string) int {
	prefix := account + "/" + region + "/"
	users := map[string]bool{}
	tx.Scan(bFunctions, prefix, "", func(k string, raw []byte) bool {
		var rec record
		if decodeRecord(raw, &rec) == nil && capacityARN(&rec.Latest.Config) == arn {
			users[k] = true
		}
		return true
	})
	for _, b := range []string{bVersions, bLatestPublished} {
		tx.Scan(b, prefix, "", func(k string, raw []byte) bool {
			var v version
			if decodeVersion(raw, &v) == nil && capacityARN(&v.Config) == arn {
				if b == bVersions {
					k = k[:strings.LastIndexByte(k, '/')]
				}
				users[k] = true
			}
			return true
		})
	}
	return len(users)
}

// ListVersionsByCapacityProvider is ListFunctionVersionsByCapacityProvider:
// the published versions ($LATEST.PUBLISHED and numbered ones) of the
// account's functions in the region that run on arn, in function-name and
// version order. $LATEST is left out: only published versions run on a
// provider [?].
func (s *Service) ListVersionsByCapacityProvider(ctx context.Context, account, region, arn string, marker *string, max *int32) ([]spec.FunctionVersionsByCapacityProviderListItem, *string, error) {
	now := s.cfg.Now()
	prefix := account + "/" + region + "/"
	type hit struct {
		key  string // name/qualifier: $LATEST.PUBLISHED sorts before 0000000001
		item spec.FunctionVersionsByCapacityProviderListItem
	}
	return listPage(ctx, s, marker, max, func(tx store.Tx, p page) ([]spec.FunctionVersionsByCapacityProviderListItem, *string, error) {
		var hits []hit
		add := func(key string, raw []byte) {
			var v version
			if key <= p.after || decodeVersion(raw, &v) != nil || capacityARN(&v.Config) != arn {
				return
			}
			view := v.view(now)
			s.managedState(&view)
			hits = append(hits, hit{key, spec.FunctionVersionsByCapacityProviderListItem{FunctionArn: view.FunctionArn, State: view.State}})
		}
		err := tx.Scan(bLatestPublished, prefix, "", func(k string, raw []byte) bool {
			add(k[len(prefix):]+"/"+LatestPublished, raw)
			return true
		})
		if err == nil {
			err = tx.Scan(bVersions, prefix, "", func(k string, raw []byte) bool {
				add(k[len(prefix):], raw)
				return true
			})
		}
		slices.SortFunc(hits, func(a, b hit) int { return strings.Compare(a.key, b.key) })
		var next *string
		if len(hits) > p.n {
			hits = hits[:p.n]
			next = encodeMarker(hits[p.n-1].key)
		}
		items := make([]spec.FunctionVersionsByCapacityProviderListItem, len(hits))
		for i, h := range hits {
			items[i] = h.item
		}
		return items, next, err
	})
}

// Function scaling config (Put/GetFunctionScalingConfig): the minimum and
// maximum execution environments of a published version of a function on a
// capacity provider, kept in their own bucket beside the version.

// bScaling holds acct/region/name/qualifier -> storedScaling.
const bScaling = "scaling"

// ScalingConfig is one published version's scaling configuration.
type ScalingConfig struct {
	Min, Max *int32
}

// defaultScaling is the scaling of a version never given one: AWS "starts
// three execution environments before marking your function version
// ACTIVE" (Scaling Lambda Managed Instances), and SAM documents 3 as the
// default of both MinExecutionEnvironments and MaxExecutionEnvironments.
// That GetFunctionScalingConfig shows it before any put is lambdad's guess [?].
func defaultScaling() ScalingConfig { return ScalingConfig{Min: i32(3), Max: i32(3)} }

func scalingKey(ref Ref) string { return fnKey(ref) + "/" + ref.Qualifier }

// scalingVersion loads the published version ref names for a scaling
// config operation, refusing what AWS refuses: $LATEST, aliases and
// functions that do not run on a capacity provider.
func (s *Service) scalingVersion(tx store.Tx, ref Ref) (*version, error) {
	if ref.Qualifier == "" || ref.Qualifier == Latest {
		return nil, fault.InvalidParameterf("Function scaling configuration is only supported for published versions.") // [?]
	}
	if _, err := s.loadFunction(tx, ref.Unqualified()); err != nil {
		return nil, err
	}
	var v *version
	var err error
	switch {
	case ref.Qualifier == LatestPublished:
		v, err = s.loadLatestPublished(tx, ref)
	case isVersionNumber(ref.Qualifier):
		v, err = s.loadVersion(tx, ref, versionNumber(ref.Qualifier))
	default:
		return nil, notFound(ref) // aliases: the model's pattern lets none through
	}
	if err == nil && v == nil {
		err = notFound(ref)
	}
	if err != nil {
		return nil, err
	}
	if capacityARN(&v.Config) == "" {
		return nil, fault.InvalidParameterf("Function scaling configuration is only supported for functions that use a capacity provider.") // [?]
	}
	return v, nil
}

// PutScalingConfig is PutFunctionScalingConfig; it answers the version's State.
func (s *Service) PutScalingConfig(ctx context.Context, ref Ref, cfg ScalingConfig) (string, error) {
	if cfg.Min != nil && cfg.Max != nil && *cfg.Min > *cfg.Max {
		return "", fault.InvalidParameterf("MinExecutionEnvironments must be less than or equal to MaxExecutionEnvironments.") // [?]
	}
	var state string
	err := s.update(ctx, func(tx store.Tx) error {
		v, err := s.scalingVersion(tx, ref)
		if err != nil {
			return err
		}
		view := v.view(s.cfg.Now())
		s.managedState(&view)
		state = *view.State
		return putJSON(tx, bScaling, scalingKey(ref), storedScaling(cfg))
	})
	if err == nil {
		s.managedChanged(ref, nil)
	}
	return state, err
}

// GetScalingConfig is GetFunctionScalingConfig: the requested config, or
// the default when none was put.
func (s *Service) GetScalingConfig(ctx context.Context, ref Ref) (ScalingConfig, error) {
	out := defaultScaling()
	err := s.cfg.Store.View(ctx, func(tx store.Tx) error {
		if _, err := s.scalingVersion(tx, ref); err != nil {
			return err
		}
		var st storedScaling
		ok, err := getJSON(tx, bScaling, scalingKey(ref), &st)
		if ok {
			out = ScalingConfig(st)
		}
		return err
	})
	return out, err
}

// ScalingConfig is the scaling config of a published version, for the data
// plane (the minimum is kept started, the maximum caps): the one put, or
// the default (ok false) when none was.
func (s *Service) ScalingConfig(ctx context.Context, ref Ref) (cfg ScalingConfig, ok bool, err error) {
	cfg = defaultScaling()
	err = s.cfg.Store.View(ctx, func(tx store.Tx) error {
		var st storedScaling
		ok, err = getJSON(tx, bScaling, scalingKey(ref), &st)
		if ok {
			cfg = ScalingConfig(st)
		}
		return err
	})
	return cfg, ok, err
}

// dropScaling forgets the scaling config of ref's version (a deleted
// function's go with its other records).
func dropScaling(tx store.Tx, ref Ref) error { return tx.Delete(bScaling, scalingKey(ref)) }

// storedScaling is a version's scaling config (bucket scaling).
type storedScaling struct {
	Min *int32 `json:"min,omitzero"`
	Max *int32 `json:"max,omitzero"`
}

func putJSON(tx store.Tx, bucket, key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return tx.Put(bucket, key, raw)
}

// getJSON decodes bucket/key into v; ok is false when there is none.
func getJSON(tx store.Tx, bucket, key string, v any) (ok bool, err error) {
	raw := tx.Get(bucket, key)
	if raw == nil {
		return false, nil
	}
	return true, json.Unmarshal(raw, v)
}
