package functions

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"github.com/lambdad/lambdad/internal/caller"
	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/limits"
	"github.com/lambdad/lambdad/internal/spec"
	"github.com/lambdad/lambdad/internal/store"
)

func notFound(r Ref) error {
	return fault.NotFoundf("Function", "Function not found: %s", r.QualifiedARN())
}

// checkRevision compares a caller's RevisionId with the one in effect.
func checkRevision(want *string, v *version, now time.Time) error {
	if want != nil && *want != v.revision(now) {
		return revisionMismatch()
	}
	return nil
}

func revisionMismatch() error {
	return fault.PreconditionFailedf("The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id")
}

// checkIdle refuses a change while the function is still being created or updated.
func checkIdle(r Ref, v *version, now time.Time) error {
	if v.settled(now) {
		return nil
	}
	if v.Trans == transCreate {
		return fault.Conflictf("Function", "The operation cannot be performed at this time. The function is currently in the following state: Pending")
	}
	return fault.Conflictf("Function", "The operation cannot be performed at this time. An update is in progress for resource: %s", r.ARN())
}

// Function is what GetFunction returns besides the code location.
type Function struct {
	Config   spec.FunctionConfiguration
	Code     Code
	Tags     map[string]string
	Reserved *int32
}

// GetConfiguration returns one version's configuration.
func (s *Service) GetConfiguration(ctx context.Context, r Ref) (*spec.FunctionConfiguration, error) {
	var out spec.FunctionConfiguration
	err := s.cfg.Store.View(ctx, func(tx store.Tx) error {
		_, v, err := s.resolve(tx, r)
		if err != nil {
			return err
		}
		out = v.view(s.cfg.Now())
		s.managedState(&out)
		s.runtimeState(&out)
		qualifyLatest(&out, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// qualifyLatest shows the ARN the caller named: $LATEST's qualified when
// named, and an alias's ARN for a version reached through it.
func qualifyLatest(c *spec.FunctionConfiguration, r Ref) {
	if r.Qualifier != "" {
		c.FunctionArn = str(r.QualifiedARN())
	}
}

// Get returns a version with its code and the function's tags.
func (s *Service) Get(ctx context.Context, r Ref) (*Function, error) {
	var out Function
	err := s.cfg.Store.View(ctx, func(tx store.Tx) error {
		rec, v, err := s.resolve(tx, r)
		if err != nil {
			return err
		}
		out = Function{Config: v.view(s.cfg.Now()), Code: v.Code, Tags: rec.Tags, Reserved: rec.Reserved}
		s.managedState(&out.Config)
		s.runtimeState(&out.Config)
		qualifyLatest(&out.Config, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// resolve loads the function and the version its qualifier names.
func (s *Service) resolve(tx store.Tx, r Ref) (*record, *version, error) {
	rec, err := s.loadFunction(tx, r.Unqualified())
	if err != nil {
		return nil, nil, err
	}
	if r.IsLatest() {
		return rec, &rec.Latest, nil
	}
	q := r.Qualifier
	if q == LatestPublished {
		v, err := s.loadLatestPublished(tx, r)
		if err == nil && v == nil {
			err = notFound(r)
		}
		return rec, v, err
	}
	if !isVersionNumber(q) {
		a, err := loadAlias(tx, r, q)
		if err != nil {
			return nil, nil, err
		}
		if a == nil {
			return nil, nil, notFound(r)
		}
		if a.Version == Latest {
			return rec, &rec.Latest, nil
		}
		q = a.Version
	}
	v, err := s.loadVersion(tx, r, versionNumber(q))
	if err != nil {
		return nil, nil, err
	}
	if v == nil {
		return nil, nil, notFound(r)
	}
	return rec, v, nil
}

// runtimeVersionARN is a stable per-runtime RuntimeVersionArn.
func runtimeVersionARN(region, runtime string) *spec.RuntimeVersionConfig {
	sum := sha256.Sum256([]byte("lambdad/" + runtime))
	return &spec.RuntimeVersionConfig{RuntimeVersionArn: str("arn:aws:lambda:" + region + "::runtime:" + hex.EncodeToString(sum[:]))}
}

func vpcOf(v *spec.VpcConfig) *spec.VpcConfigResponse {
	if v == nil {
		return nil
	}
	out := &spec.VpcConfigResponse{SubnetIds: v.SubnetIds, SecurityGroupIds: v.SecurityGroupIds, Ipv6AllowedForDualStack: v.Ipv6AllowedForDualStack}
	if len(v.SubnetIds) > 0 {
		out.VpcId = str("vpc-lambdad")
	} else {
		out.VpcId = str("")
	}
	if out.SubnetIds == nil {
		out.SubnetIds = []string{}
	}
	if out.SecurityGroupIds == nil {
		out.SecurityGroupIds = []string{}
	}
	return out
}

func snapStartOf(s *spec.SnapStart) *spec.SnapStartResponse {
	apply := "None"
	if s != nil && s.ApplyOn != nil {
		apply = *s.ApplyOn
	}
	return &spec.SnapStartResponse{ApplyOn: str(apply), OptimizationStatus: str("Off")}
}

// Create is CreateFunction; staged, when not nil, is in.Code.ZipFile already
// written to the blob store.
func (s *Service) Create(ctx context.Context, id caller.Identity, in *spec.CreateFunctionRequest, staged StagedZip) (*spec.FunctionConfiguration, error) {
	ref, err := ParseRef(id, *in.FunctionName, nil)
	if err != nil {
		return nil, err
	}
	if len(ref.Name) > 64 {
		return nil, fault.InvalidParameterViolation(fault.Violation{Field: "functionName", Value: ref.Name, Constraint: "Member must have length less than or equal to 64"})
	}
	if ref.Qualifier != "" {
		return nil, fault.InvalidParameterf("Unsupported function name format: %s. The function name cannot include a qualifier.", *in.FunctionName)
	}
	if err := checkCreateTenancy(in); err != nil {
		return nil, err
	}
	// Before the code is taken in: a refusal after it would hold codeMu.
	if err := checkSizes(&spec.FunctionConfiguration{Timeout: in.Timeout, MemorySize: in.MemorySize, CapacityProviderConfig: in.CapacityProviderConfig}); err != nil {
		return nil, err
	}
	if in.DeadLetterConfig != nil {
		if err := s.checkDeadLetter(ref, in.DeadLetterConfig.TargetArn); err != nil {
			return nil, err
		}
	}
	pkg := "Zip"
	if in.PackageType != nil {
		pkg = *in.PackageType
	}
	if pkg == "Zip" {
		if in.Runtime == nil || in.Handler == nil {
			return nil, fault.InvalidParameterf("Runtime and Handler are mandatory parameters for functions created with deployment packages.")
		}
		if err := checkRuntime(*in.Runtime); err != nil {
			return nil, err
		}
		if in.Code.ImageUri != nil {
			return nil, fault.InvalidParameterf("Please don't provide ImageUri when updating a function with packageType Zip.")
		}
	} else if in.Code.ImageUri == nil {
		return nil, fault.InvalidParameterf("Please provide ImageUri when creating a function with packageType Image.")
	}
	if err := checkEnvironment(in.Environment); err != nil {
		return nil, err
	}
	if len(in.Layers) > limits.LayersPerFunction {
		return nil, fault.InvalidParameterf("Cannot reference more than %d layers.", limits.LayersPerFunction)
	}
	if len(in.Tags) > maxTags {
		return nil, fault.InvalidParameterf("Number of tags exceeds resource tag limit.")
	}
	logging, err := loggingConfig(in.LoggingConfig, nil, ref.Name)
	if err != nil {
		return nil, err
	}
	ci := codeInput{Zip: in.Code.ZipFile, Staged: staged, S3Bucket: in.Code.S3Bucket, S3Key: in.Code.S3Key, S3Version: in.Code.S3ObjectVersion, ImageURI: in.Code.ImageUri}
	if ci.empty() {
		return nil, fault.InvalidParameterf("Please provide a source for function code.")
	}
	// Refuse a duplicate before storing code.
	if _, err := s.GetConfiguration(ctx, ref); err == nil {
		return nil, fault.Conflictf("Function", "Function already exist: %s", ref.Name)
	}
	// Shared until the reference commits: see collect.
	s.codeMu.RLock()
	code, err := s.intake(ctx, ci, false)
	if err != nil {
		s.codeMu.RUnlock()
		s.dropIfUnusedCode(code)
		return nil, err
	}
	now := s.cfg.Now()
	c := spec.FunctionConfiguration{
		FunctionName:           str(ref.Name),
		FunctionArn:            str(ref.ARN()),
		Role:                   in.Role,
		CodeSize:               i64(code.Size),
		Description:            str(""),
		Timeout:                i32(limits.DefaultTimeoutSeconds),
		MemorySize:             i32(limits.DefaultMemoryMB),
		LastModified:           lastModified(now),
		CodeSha256:             str(codeSha(code)),
		Version:                str(Latest),
		TracingConfig:          &spec.TracingConfigResponse{Mode: str("PassThrough")},
		PackageType:            str(pkg),
		Architectures:          []string{"x86_64"},
		EphemeralStorage:       &spec.EphemeralStorage{Size: i32(limits.DefaultEphemeralStorageMB)},
		SnapStart:              snapStartOf(in.SnapStart),
		LoggingConfig:          logging,
		KMSKeyArn:              in.KMSKeyArn,
		DeadLetterConfig:       in.DeadLetterConfig,
		VpcConfig:              vpcOf(in.VpcConfig),
		FileSystemConfigs:      in.FileSystemConfigs,
		TenancyConfig:          in.TenancyConfig,
		CapacityProviderConfig: in.CapacityProviderConfig,
		DurableConfig:          in.DurableConfig,
	}
	if pkg == "Zip" {
		c.Runtime, c.Handler = in.Runtime, in.Handler
		c.RuntimeVersionConfig = runtimeVersionARN(ref.Region, *in.Runtime)
	}
	if in.Description != nil {
		c.Description = in.Description
	}
	if in.Timeout != nil {
		c.Timeout = in.Timeout
	}
	if in.MemorySize != nil {
		c.MemorySize = in.MemorySize
	}
	defaultManagedMemory(&c, in.MemorySize != nil)
	if in.TracingConfig != nil && in.TracingConfig.Mode != nil {
		c.TracingConfig.Mode = in.TracingConfig.Mode
	}
	if len(in.Architectures) > 0 {
		c.Architectures = in.Architectures
	}
	if in.EphemeralStorage != nil {
		c.EphemeralStorage = in.EphemeralStorage
	}
	if in.Environment != nil {
		c.Environment = &spec.EnvironmentResponse{Variables: in.Environment.Variables}
		if c.Environment.Variables == nil {
			c.Environment.Variables = map[string]string{}
		}
	}
	if in.ImageConfig != nil {
		c.ImageConfigResponse = &spec.ImageConfigResponse{ImageConfig: in.ImageConfig}
	}
	rec := &record{Latest: version{Config: c, Code: code}, Tags: in.Tags}
	rec.Latest.begin(transCreate, now, s.cfg.Transition)
	publish := in.Publish != nil && *in.Publish
	var published *version
	err = s.commitCode(ctx, func() error {
		return s.update(ctx, func(tx store.Tx) error {
			if tx.Get(bFunctions, fnKey(ref)) != nil {
				return fault.Conflictf("Function", "Function already exist: %s", ref.Name)
			}
			if err := s.checkCreateCodeSigning(tx, id, ref, in); err != nil {
				return err
			}
			layers, codes, err := s.resolveLayers(tx, id, in.Layers)
			if err != nil {
				return err
			}
			rec.Latest.Config.Layers, rec.Latest.Layers = layers, codes
			if err := s.checkManagedInstances(tx, ref, &rec.Latest.Config); err != nil {
				return err
			}
			if err := refVersion(tx, &rec.Latest, fnKey(ref)+"/"+Latest); err != nil {
				return err
			}
			if in.PublishTo != nil {
				// It publishes $LATEST.PUBLISHED instead of a numbered version [?].
				v, _, err := s.publishLatestTx(tx, ref, rec, nil, now)
				if err != nil {
					return err
				}
				published = v
			} else if publish {
				v, err := s.publishTx(tx, ref, rec, nil, now, true)
				if err != nil {
					return err
				}
				published = v
			}
			return s.save(tx, ref, rec)
		})
	})
	s.codeMu.RUnlock()
	if err != nil {
		s.dropIfUnusedCode(code)
		return nil, err
	}
	out := rec.Latest.view(now)
	if published != nil {
		// AWS answers with version 1, under the unqualified ARN.
		out = published.view(now)
		s.managedState(&out)
		s.managedChanged(ref, &out)
		out.FunctionArn = str(ref.ARN())
	}
	return &out, nil
}

// List is ListFunctions: $LATEST of each function by name, or with all=true
// every version too. The cost of a page does not grow with the number of
// functions: it seeks to the marker's key.
func (s *Service) List(ctx context.Context, id caller.Identity, marker *string, max *int32, all bool) (*spec.ListFunctionsResponse, error) {
	prefix := id.Account + "/" + id.Region + "/"
	now := s.cfg.Now()
	fns, next, err := listPage(ctx, s, marker, max, func(tx store.Tx, p page) ([]spec.FunctionConfiguration, *string, error) {
		var out []spec.FunctionConfiguration
		var last string
		full := false
		// The marker is "<name>" or, with all, "<name>/<version>".
		afterName, afterVer, _ := strings.Cut(p.after, "/")
		start := ""
		if afterName != "" {
			start = prefix + afterName
			if all && afterVer != "" {
				start = "" // resume inside this function first
			}
		}
		visit := func(key string, raw []byte) bool {
			name := key[len(prefix):]
			var rec record
			if decodeRecord(raw, &rec) != nil {
				return true
			}
			if !all {
				if len(out) == p.n {
					full = true
					return false
				}
				out = append(out, rec.Latest.listView(now, false))
				last = name
				return true
			}
			ref := Ref{Account: id.Account, Region: id.Region, Name: name}
			skipTo := ""
			if name == afterName {
				skipTo = afterVer
			}
			if skipTo == "" {
				if len(out) == p.n {
					full = true
					return false
				}
				out = append(out, rec.Latest.listView(now, true))
				last = name + "/" + Latest
			}
			vafter := ""
			if skipTo != "" && skipTo != Latest {
				vafter = fnKey(ref) + "/" + skipTo
			}
			tx.Scan(bVersions, fnKey(ref)+"/", vafter, func(k string, vraw []byte) bool {
				if len(out) == p.n {
					full = true
					return false
				}
				var v version
				if decodeVersion(vraw, &v) != nil {
					return true
				}
				out = append(out, v.listView(now, false))
				last = name + "/" + k[strings.LastIndexByte(k, '/')+1:]
				return true
			})
			return !full
		}
		resumed := true
		if all && afterName != "" && afterVer != "" {
			if raw := tx.Get(bFunctions, prefix+afterName); raw != nil {
				resumed = visit(prefix+afterName, raw)
			}
			start = prefix + afterName
		}
		if resumed {
			if err := tx.Scan(bFunctions, prefix, start, visit); err != nil {
				return nil, nil, err
			}
		}
		if full {
			return out, encodeMarker(last), nil
		}
		return out, nil, nil
	})
	if err != nil {
		return nil, err
	}
	return &spec.ListFunctionsResponse{Functions: fns, NextMarker: next}, nil
}

// Delete is DeleteFunction: the whole function, or one published version.
func (s *Service) Delete(ctx context.Context, ref Ref) error {
	if ref.Qualifier == Latest {
		return fault.InvalidParameterf("$LATEST version cannot be deleted without deleting the function.")
	}
	var unused []string
	err := s.update(ctx, func(tx store.Tx) error {
		unused = nil // the store may run this again
		// Not withFunction: the record goes, or is saved only when the
		// deleted version was the last published one.
		rec, err := s.loadFunction(tx, ref.Unqualified())
		if err != nil {
			return err
		}
		drop := func(v *version, key string) error {
			gone, err := unrefVersion(tx, v, key)
			unused = append(unused, gone...)
			return err
		}
		if ref.Qualifier != "" {
			if !isVersionNumber(ref.Qualifier) {
				return fault.InvalidParameterf("Deletion of aliases is not currently supported.")
			}
			n := versionNumber(ref.Qualifier)
			v, err := s.loadVersion(tx, ref, n)
			if err != nil {
				return err
			}
			if v == nil {
				return nil // deleting a version that is gone already succeeds, as in AWS
			}
			if names := aliasesOf(tx, ref, ref.Qualifier); len(names) > 0 {
				return fault.Conflictf("Function", "Unable to delete version because the following aliases reference it: [%s]", strings.Join(names, ", "))
			}
			if err := tx.Delete(bVersions, verKey(ref, n)); err != nil {
				return err
			}
			if err := dropScaling(tx, ref); err != nil {
				return err
			}
			if err := dropProvisioned(tx, ref, ref.Qualifier); err != nil {
				return err
			}
			if err := tx.Delete(bManagedState, provKey(ref.Unqualified(), ref.Qualifier)); err != nil {
				return err
			}
			if rec.LastPublish != nil && rec.LastPublish.Version == ref.Qualifier {
				rec.LastPublish = nil
				if err := s.save(tx, ref, rec); err != nil {
					return err
				}
			}
			return drop(v, verKey(ref, n))
		}
		var keys []string
		tx.Scan(bVersions, fnKey(ref)+"/", "", func(k string, raw []byte) bool {
			keys = append(keys, k)
			return true
		})
		for _, k := range keys {
			n := versionNumber(k[strings.LastIndexByte(k, '/')+1:])
			v, err := s.loadVersion(tx, ref, n)
			if err != nil {
				return err
			}
			if err := tx.Delete(bVersions, k); err != nil {
				return err
			}
			if v != nil {
				if err := drop(v, k); err != nil {
					return err
				}
			}
		}
		if err := drop(&rec.Latest, fnKey(ref)+"/"+Latest); err != nil {
			return err
		}
		gone, err := s.dropLatestPublished(tx, ref)
		if err != nil {
			return err
		}
		unused = append(unused, gone...)
		if err := deleteURLs(tx, ref); err != nil {
			return err
		}
		for _, b := range []string{bAliases, bPolicies, bInvokeConfigs, bScaling, bProvisioned, bProvState, bManagedState} {
			if err := deletePrefix(tx, b, fnKey(ref)+"/"); err != nil {
				return err
			}
		}
		if err := tx.Delete(bFnCodeSigning, fnKey(ref)); err != nil {
			return err
		}
		if err := tx.Delete(bReservations, fnKey(ref)); err != nil {
			return err
		}
		return tx.Delete(bFunctions, fnKey(ref))
	})
	if err != nil {
		return err
	}
	// Retire the environments first: collecting removes the unpacked code
	// they run from.
	if s.cfg.Deleted != nil {
		s.cfg.Deleted(ref.ARN(), ref.Qualifier)
	}
	s.collect(unused)
	return nil
}
