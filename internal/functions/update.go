package functions

import (
	"context"
	"time"

	"github.com/lambdad/lambdad/internal/caller"
	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/limits"
	"github.com/lambdad/lambdad/internal/spec"
	"github.com/lambdad/lambdad/internal/store"
)

// modify runs a change of $LATEST: it refuses while a transition lasts or on
// a RevisionId mismatch, applies fn, and starts the update transition.
func (s *Service) modify(ctx context.Context, ref Ref, revision *string, fn func(tx store.Tx, rec *record) error) (*spec.FunctionConfiguration, *record, error) {
	if err := checkLatest(ref); err != nil {
		return nil, nil, err
	}
	var out spec.FunctionConfiguration
	var saved *record
	err := s.withFunction(ctx, ref, guard{idle: true, revision: revision}, func(tx store.Tx, rec *record, now time.Time) error {
		if err := fn(tx, rec); err != nil {
			return err
		}
		rec.Latest.Config.LastModified = lastModified(now)
		rec.Latest.begin(transUpdate, now, s.cfg.Transition)
		out = rec.Latest.view(now)
		saved = rec
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return &out, saved, nil
}

func checkLatest(ref Ref) error {
	if !ref.IsLatest() {
		return fault.InvalidParameterf("Updating a published version is not supported: %s. Publish a new version instead.", ref.QualifiedARN())
	}
	return nil
}

// checkChangeable runs modify's checks ahead of costly work (storing code),
// which modify then repeats in its own transaction. A missing function is
// answered unqualified, as GetFunction does.
func (s *Service) checkChangeable(ctx context.Context, ref Ref, revision *string, idle bool) error {
	if err := checkLatest(ref); err != nil {
		return err
	}
	return s.cfg.Store.View(ctx, func(tx store.Tx) error {
		rec, err := s.loadFunction(tx, ref.Unqualified())
		if err != nil {
			return err
		}
		return guard{idle: idle, revision: revision}.check(ref, rec, s.cfg.Now())
	})
}

// UpdateConfiguration is UpdateFunctionConfiguration.
func (s *Service) UpdateConfiguration(ctx context.Context, ref Ref, in *spec.UpdateFunctionConfigurationRequest) (*spec.FunctionConfiguration, error) {
	if in.Runtime != nil {
		if err := checkRuntime(*in.Runtime); err != nil {
			return nil, err
		}
	}
	if err := checkEnvironment(in.Environment); err != nil {
		return nil, err
	}
	if len(in.Layers) > limits.LayersPerFunction {
		return nil, fault.InvalidParameterf("Cannot reference more than %d layers.", limits.LayersPerFunction)
	}
	var unused []string
	out, _, err := s.modify(ctx, ref, in.RevisionId, func(tx store.Tx, rec *record) error {
		c := &rec.Latest.Config
		logging, err := loggingConfig(in.LoggingConfig, c.LoggingConfig, ref.Name)
		if err != nil {
			return err
		}
		c.LoggingConfig = logging
		set := func(dst **string, v *string) {
			if v != nil {
				*dst = v
			}
		}
		set(&c.Role, in.Role)
		set(&c.Handler, in.Handler)
		set(&c.Description, in.Description)
		if in.Runtime != nil {
			c.Runtime = in.Runtime
			c.RuntimeVersionConfig = runtimeVersionARN(ref.Region, *in.Runtime)
		}
		if in.KMSKeyArn != nil {
			c.KMSKeyArn = in.KMSKeyArn
			if *in.KMSKeyArn == "" {
				c.KMSKeyArn = nil
			}
		}
		if in.Timeout != nil {
			c.Timeout = in.Timeout
		}
		if in.MemorySize != nil {
			c.MemorySize = in.MemorySize
		}
		if err := checkSizes(c); err != nil {
			return err
		}
		if in.VpcConfig != nil {
			c.VpcConfig = vpcOf(in.VpcConfig)
		}
		if in.Environment != nil {
			vars := in.Environment.Variables
			if vars == nil {
				vars = map[string]string{}
			}
			c.Environment = &spec.EnvironmentResponse{Variables: vars}
		}
		if in.DeadLetterConfig != nil {
			if err := s.checkDeadLetter(ref, in.DeadLetterConfig.TargetArn); err != nil {
				return err
			}
			c.DeadLetterConfig = in.DeadLetterConfig
			if in.DeadLetterConfig.TargetArn == nil || *in.DeadLetterConfig.TargetArn == "" {
				c.DeadLetterConfig = nil
			}
		}
		if in.TracingConfig != nil && in.TracingConfig.Mode != nil {
			c.TracingConfig = &spec.TracingConfigResponse{Mode: in.TracingConfig.Mode}
		}
		if len(in.Layers) > 0 {
			// Layers are artifacts a code signing config checks too.
			if err := s.deployCheck(tx, ref, codeSigningOf(tx, ref), "layers"); err != nil {
				return err
			}
		}
		if in.Layers != nil {
			layers, codes, err := s.resolveLayers(tx, caller.Identity{Account: ref.Account, Region: ref.Region}, in.Layers)
			if err != nil {
				return err
			}
			key := fnKey(ref) + "/" + Latest
			old := version{Layers: rec.Latest.Layers}
			gone, err := unrefVersion(tx, &old, key)
			if err != nil {
				return err
			}
			c.Layers, rec.Latest.Layers = layers, codes
			if err := refVersion(tx, &version{Layers: codes}, key); err != nil {
				return err
			}
			unused = gone
		}
		if in.FileSystemConfigs != nil {
			c.FileSystemConfigs = in.FileSystemConfigs
		}
		if in.ImageConfig != nil {
			c.ImageConfigResponse = &spec.ImageConfigResponse{ImageConfig: in.ImageConfig}
		}
		if in.EphemeralStorage != nil {
			c.EphemeralStorage = in.EphemeralStorage
		}
		if in.SnapStart != nil {
			if snapStartOn(in.SnapStart) {
				if err := RefuseTenantIsolated(c, FeatureSnapStart); err != nil {
					return err
				}
			}
			c.SnapStart = snapStartOf(in.SnapStart)
		}
		if in.CapacityProviderConfig != nil {
			if managedInstances(c) == nil {
				// A function made without a capacity provider keeps none:
				// AWS's answer, as a user quoted it after Terraform met it
				// (nsb413/kiro-lambda-managed-instance, LESSONS_LEARNED.md).
				return fault.InvalidParameterf("CapacityProviderConfig isn't supported for Lambda Default functions")
			}
			c.CapacityProviderConfig = in.CapacityProviderConfig
		}
		if in.DurableConfig != nil {
			c.DurableConfig = in.DurableConfig
		}
		return s.checkManagedInstances(tx, ref, c)
	})
	if err == nil {
		s.collect(unused)
	}
	return out, err
}

// UpdateCode is UpdateFunctionCode; staged, when not nil, is in.ZipFile
// already written to the blob store.
func (s *Service) UpdateCode(ctx context.Context, ref Ref, in *spec.UpdateFunctionCodeRequest, staged StagedZip) (*spec.FunctionConfiguration, error) {
	ci := codeInput{Zip: in.ZipFile, Staged: staged, S3Bucket: in.S3Bucket, S3Key: in.S3Key, S3Version: in.S3ObjectVersion, ImageURI: in.ImageUri}
	if ci.empty() {
		return nil, fault.InvalidParameterf("Please provide a source for function code.")
	}
	dry := in.DryRun != nil && *in.DryRun
	if err := s.checkChangeable(ctx, ref, in.RevisionId, !dry); err != nil {
		return nil, err
	}
	cur, err := s.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	if in.PublishTo != nil {
		if err := checkPublishTo(&cur.Config); err != nil {
			return nil, err
		}
	}
	pkg := *cur.Config.PackageType
	if pkg == "Zip" && ci.ImageURI != nil {
		return nil, fault.InvalidParameterf("Please don't provide ImageUri when updating a function with packageType Zip.")
	}
	if pkg == "Zip" {
		if err := s.refuseEnforced(ctx, ref.Unqualified()); err != nil {
			return nil, err
		}
	}
	if pkg == "Image" && ci.ImageURI == nil {
		return nil, fault.InvalidParameterf("Please provide ImageUri when updating a function with packageType Image.")
	}
	// Shared until the reference commits: see collect.
	s.codeMu.RLock()
	code, err := s.intake(ctx, ci, dry)
	if err != nil || dry {
		s.codeMu.RUnlock()
		s.dropIfUnusedCode(code)
	}
	if err != nil {
		return nil, err
	}
	if dry {
		// Validate everything, change nothing.
		out := cur.Config
		out.CodeSha256, out.CodeSize = str(codeSha(code)), i64(code.Size)
		return &out, nil
	}
	var unused []string
	publish := in.Publish != nil && *in.Publish
	var out *spec.FunctionConfiguration
	err = s.commitCode(ctx, func() error {
		var err error
		out, _, err = s.modify(ctx, ref, in.RevisionId, func(tx store.Tx, rec *record) error {
			if pkg == "Zip" {
				if err := s.deployCheck(tx, ref, codeSigningOf(tx, ref), "code"); err != nil {
					return err
				}
			}
			old := rec.Latest.Code
			rec.Latest.Code = code
			c := &rec.Latest.Config
			c.CodeSha256, c.CodeSize = str(codeSha(code)), i64(code.Size)
			if len(in.Architectures) > 0 {
				c.Architectures = in.Architectures
			}
			key := fnKey(ref) + "/" + Latest
			if err := refCode(tx, code, key); err != nil {
				return err
			}
			if old.SHA256Hex != code.SHA256Hex {
				gone, err := unrefCode(tx, old, key)
				if err != nil {
					return err
				}
				if gone {
					unused = append(unused, old.SHA256Hex)
				}
			}
			return nil
		})
		return err
	})
	s.codeMu.RUnlock()
	if err != nil {
		s.dropIfUnusedCode(code)
		return nil, err
	}
	s.collect(unused)
	if in.PublishTo != nil && !dry {
		// Like Publish, it publishes while the update is still in progress.
		return s.publishLatest(ctx, ref, nil, nil, guard{})
	}
	if publish {
		// AWS publishes in the same step: the response is $LATEST's.
		// AWS answers with the new version, Pending.
		return s.publishAfterUpdate(ctx, ref)
	}
	return out, nil
}
