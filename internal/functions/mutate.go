package functions

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/lambdad/lambdad/internal/awsproto"
	"github.com/lambdad/lambdad/internal/limits"
	"github.com/lambdad/lambdad/internal/spec"
	"github.com/lambdad/lambdad/internal/store"
)

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

// unsupported refuses fields lambdad cannot honour yet, naming them.
func unsupported(codeSigning *string, publishTo *string) error {
	if codeSigning != nil {
		return awsproto.NotImplemented("CodeSigningConfigArn (code signing)")
	}
	if publishTo != nil {
		return awsproto.NotImplemented("PublishTo")
	}
	return nil
}

// Create is CreateFunction; staged, when not nil, is in.Code.ZipFile already
// written to the blob store.
func (s *Service) Create(ctx context.Context, id awsproto.Identity, in *spec.CreateFunctionRequest, staged StagedZip) (*spec.FunctionConfiguration, error) {
	ref, err := ParseRef(id, *in.FunctionName, nil)
	if err != nil {
		return nil, err
	}
	if len(ref.Name) > 64 {
		return nil, awsproto.InvalidParameter("1 validation error detected: %s", awsproto.ConstraintMessage(ref.Name, "functionName", "Member must have length less than or equal to 64"))
	}
	if ref.Qualifier != "" {
		return nil, awsproto.InvalidParameter("Unsupported function name format: %s. The function name cannot include a qualifier.", *in.FunctionName)
	}
	if err := unsupported(in.CodeSigningConfigArn, in.PublishTo); err != nil {
		return nil, err
	}
	pkg := "Zip"
	if in.PackageType != nil {
		pkg = *in.PackageType
	}
	if pkg == "Zip" {
		if in.Runtime == nil || in.Handler == nil {
			return nil, awsproto.InvalidParameter("Runtime and Handler are mandatory parameters for functions created with deployment packages.")
		}
		if err := checkRuntime(*in.Runtime); err != nil {
			return nil, err
		}
		if in.Code.ImageUri != nil {
			return nil, awsproto.InvalidParameter("Please don't provide ImageUri when updating a function with packageType Zip.")
		}
	} else if in.Code.ImageUri == nil {
		return nil, awsproto.InvalidParameter("Please provide ImageUri when creating a function with packageType Image.")
	}
	if err := checkEnvironment(in.Environment); err != nil {
		return nil, err
	}
	if len(in.Layers) > limits.LayersPerFunction {
		return nil, awsproto.InvalidParameter("Cannot reference more than %d layers.", limits.LayersPerFunction)
	}
	if len(in.Tags) > maxTags {
		return nil, awsproto.InvalidParameter("Number of tags exceeds resource tag limit.")
	}
	logging, err := loggingConfig(in.LoggingConfig, nil, ref.Name)
	if err != nil {
		return nil, err
	}
	ci := codeInput{Zip: in.Code.ZipFile, Staged: staged, S3Bucket: in.Code.S3Bucket, S3Key: in.Code.S3Key, S3Version: in.Code.S3ObjectVersion, ImageURI: in.Code.ImageUri}
	if ci.empty() {
		return nil, awsproto.InvalidParameter("Please provide a source for function code.")
	}
	// Refuse a duplicate before storing code.
	if _, err := s.GetConfiguration(ctx, ref); err == nil {
		return nil, awsproto.Conflict("Function already exist: %s", ref.Name)
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
	err = s.update(ctx, func(tx store.Tx) error {
		if tx.Get(bFunctions, fnKey(ref)) != nil {
			return awsproto.Conflict("Function already exist: %s", ref.Name)
		}
		layers, codes, err := s.resolveLayers(tx, id, in.Layers)
		if err != nil {
			return err
		}
		rec.Latest.Config.Layers, rec.Latest.Layers = layers, codes
		if err := refVersion(tx, &rec.Latest, fnKey(ref)+"/"+Latest); err != nil {
			return err
		}
		if publish {
			v, err := s.publishTx(tx, ref, rec, nil, now, true)
			if err != nil {
				return err
			}
			published = v
		}
		return s.save(tx, ref, rec)
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
		out.FunctionArn = str(ref.ARN())
	}
	return &out, nil
}

// publishTx publishes rec's $LATEST as a new version, or returns the last
// published one when nothing changed since.
func (s *Service) publishTx(tx store.Tx, ref Ref, rec *record, desc *string, t time.Time, pending bool) (*version, error) {
	d := rec.Latest.digest()
	if rec.LastPublish != nil && rec.LastPublish.Digest == d && desc == nil {
		if v, err := s.loadVersion(tx, ref, versionNumber(rec.LastPublish.Version)); err == nil && v != nil {
			return v, nil
		}
	}
	rec.LastVersion++
	n := rec.LastVersion
	vref := ref
	vref.Qualifier = strconv.Itoa(n)
	v := &version{Config: rec.Latest.Config, Code: rec.Latest.Code}
	v.Config.Version = str(vref.Qualifier)
	v.Config.FunctionArn = str(vref.QualifiedARN())
	v.Config.LastModified = lastModified(t)
	if desc != nil {
		v.Config.Description = desc
	}
	if ss := v.Config.SnapStart; ss != nil && ss.ApplyOn != nil && *ss.ApplyOn == "PublishedVersions" {
		v.Config.SnapStart = &spec.SnapStartResponse{ApplyOn: ss.ApplyOn, OptimizationStatus: str("On")}
	}
	if pending {
		// Published with Publish=true on create or code update: it starts Pending.
		v.begin(transPublish, t, s.cfg.Transition)
	} else {
		v.Config.RevisionId = str(newRevision())
		v.Trans, v.NextRevision = "", ""
	}
	v.Layers = rec.Latest.Layers
	if err := refVersion(tx, v, verKey(ref, n)); err != nil {
		return nil, err
	}
	if err := s.saveVersion(tx, ref, n, v); err != nil {
		return nil, err
	}
	rec.LastPublish = &publishMark{Version: vref.Qualifier, Digest: d}
	// Publishing changes $LATEST's RevisionId too.
	if rec.Latest.settled(t) {
		rec.Latest.settle(t)
		rec.Latest.Config.RevisionId = str(newRevision())
	} else {
		rec.Latest.NextRevision = newRevision()
	}
	return v, nil
}

// Publish is PublishVersion.
func (s *Service) Publish(ctx context.Context, ref Ref, codeSha256, desc, revision *string) (*spec.FunctionConfiguration, error) {
	var out spec.FunctionConfiguration
	err := s.update(ctx, func(tx store.Tx) error {
		rec, err := s.load(tx, ref)
		if err != nil {
			return err
		}
		if rec == nil {
			return notFound(ref)
		}
		now := s.cfg.Now()
		if err := checkIdle(ref, &rec.Latest, now); err != nil {
			return err
		}
		if err := checkRevision(revision, &rec.Latest, now); err != nil {
			return err
		}
		rec.Latest.settle(now)
		cur := *rec.Latest.Config.CodeSha256
		if codeSha256 != nil && *codeSha256 != cur {
			return awsproto.InvalidParameter("CodeSHA256 (%s) is different from current CodeSHA256 in $LATEST (%s). Please try again with the CodeSHA256 in $LATEST.", *codeSha256, cur)
		}
		v, err := s.publishTx(tx, ref, rec, desc, now, false)
		if err != nil {
			return err
		}
		out = v.view(now)
		return s.save(tx, ref, rec)
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}
