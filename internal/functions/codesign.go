package functions

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"github.com/lambdad/lambdad/internal/caller"
	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/spec"
	"github.com/lambdad/lambdad/internal/store"
)

// Code signing configs. lambdad keeps them and their functions as AWS does,
// but it cannot reach AWS Signer, so it cannot verify any signature: every
// artifact counts as unsigned (untrusted). A function's config therefore
// acts on each deployment of its code or layers as UntrustedArtifactOnDeployment
// says for an untrusted artifact: Warn deploys and logs a warning, Enforce
// refuses with CodeVerificationFailedException. The README says so.
const (
	bCodeSigning   = "codesigning"   // acct/region/csc-id -> storedCodeSigningConfig
	bFnCodeSigning = "fncodesigning" // acct/region/function -> the config's ARN
)

// codeSigningConfig is a code signing config in memory.
type codeSigningConfig struct {
	ID           string
	Description  string
	Profiles     []string
	Policy       string // Warn or Enforce
	LastModified string
	Tags         map[string]string
}

// storedCodeSigningConfig is a code signing config (bucket codesigning).
type storedCodeSigningConfig struct {
	ID           string            `json:"id"`
	Description  string            `json:"description"`
	Profiles     []string          `json:"profiles"`
	Policy       string            `json:"policy"`
	LastModified string            `json:"lastModified"`
	Tags         map[string]string `json:"tags,omitempty"`
}

func encodeCodeSigning(c *codeSigningConfig) ([]byte, error) {
	return json.Marshal(storedCodeSigningConfig(*c))
}

func decodeCodeSigning(raw []byte, c *codeSigningConfig) error {
	var s storedCodeSigningConfig
	if err := json.Unmarshal(raw, &s); err != nil {
		return err
	}
	*c = codeSigningConfig(s)
	return nil
}

// CodeSigningRef names a code signing config.
type CodeSigningRef struct{ Account, Region, ID string }

// ARN is the config's ARN.
func (r CodeSigningRef) ARN() string {
	return "arn:aws:lambda:" + r.Region + ":" + r.Account + ":code-signing-config:" + r.ID
}

func (r CodeSigningRef) key() string { return r.Account + "/" + r.Region + "/" + r.ID }

// codeSigningNotFound is AWS's answer (recorded) for a config the Get,
// Update, Delete and ListFunctionsBy operations cannot find.
func codeSigningNotFound(arn string) error {
	return fault.NotFoundf("CodeSigningConfig", "The Lambda code signing configuration %s can not be found.", arn)
}

// codeSigningConfigNotFound is AWS's answer (recorded) when a function is to
// use a config that does not exist.
func codeSigningConfigNotFound(arn string) error {
	return fault.New(fault.CodeSigningConfigNotFound, "The code signing configuration cannot be found. Check that the provided configuration is not deleted: %s.", arn)
}

// codeSigningImage is AWS's answer for an Image function (recorded for
// GetFunctionCodeSigningConfig; Put and Delete [?]).
func codeSigningImage() error {
	return fault.InvalidParameterf("Code signing is not supported for functions created with container images.")
}

// untrusted is what Enforce answers for code lambdad cannot verify. [?] The
// two sentences are AWS's (as CloudFormation relays them); whether AWS
// adds more (such as the resource) is not confirmed.
func untrusted() error {
	return fault.New(fault.CodeVerificationFailed, "Lambda cannot deploy the function. The function or layer might be signed using a signature that the client is not configured to accept.")
}

// ParseCodeSigningARN reads a config's ARN (the model has checked its
// form). A config of another account or region is one the caller cannot
// find.
func ParseCodeSigningARN(id caller.Identity, arn string) (CodeSigningRef, bool) {
	parts := strings.Split(arn, ":")
	if len(parts) != 7 || parts[5] != "code-signing-config" {
		return CodeSigningRef{}, false
	}
	ref := CodeSigningRef{Region: parts[3], Account: parts[4], ID: parts[6]}
	return ref, ref.Account == id.Account && ref.Region == id.Region
}

func newCodeSigningID() string {
	var b [9]byte
	rand.Read(b[:]) // never fails
	return "csc-" + hex.EncodeToString(b[:])[:17]
}

func (c *codeSigningConfig) view(ref CodeSigningRef) *spec.CodeSigningConfig {
	return &spec.CodeSigningConfig{
		CodeSigningConfigId:  str(c.ID),
		CodeSigningConfigArn: str(ref.ARN()),
		Description:          str(c.Description),
		AllowedPublishers:    &spec.AllowedPublishers{SigningProfileVersionArns: slices.Clone(c.Profiles)},
		CodeSigningPolicies:  &spec.CodeSigningPolicies{UntrustedArtifactOnDeployment: str(c.Policy)},
		LastModified:         str(c.LastModified),
	}
}

func loadCodeSigning(tx store.Tx, ref CodeSigningRef) (*codeSigningConfig, error) {
	raw := tx.Get(bCodeSigning, ref.key())
	if raw == nil {
		return nil, nil
	}
	c := new(codeSigningConfig)
	if err := decodeCodeSigning(raw, c); err != nil {
		return nil, fmt.Errorf("decode code signing config %s: %w", ref.key(), err)
	}
	return c, nil
}

// CreateCodeSigning is CreateCodeSigningConfig. The model has checked
// AllowedPublishers (1 to 20 ARNs) and the policy's value.
func (s *Service) CreateCodeSigning(ctx context.Context, id caller.Identity, in *spec.CreateCodeSigningConfigRequest) (*spec.CodeSigningConfig, error) {
	c := &codeSigningConfig{ID: newCodeSigningID(), Profiles: in.AllowedPublishers.SigningProfileVersionArns,
		Policy: spec.CodeSigningPolicyWarn, LastModified: *lastModified(s.cfg.Now()), Tags: maps.Clone(in.Tags)}
	if in.Description != nil {
		c.Description = *in.Description
	}
	if p := in.CodeSigningPolicies; p != nil && p.UntrustedArtifactOnDeployment != nil {
		c.Policy = *p.UntrustedArtifactOnDeployment
	}
	ref := CodeSigningRef{Account: id.Account, Region: id.Region, ID: c.ID}
	raw, err := encodeCodeSigning(c)
	if err != nil {
		return nil, err
	}
	if err := s.update(ctx, func(tx store.Tx) error { return tx.Put(bCodeSigning, ref.key(), raw) }); err != nil {
		return nil, err
	}
	return c.view(ref), nil
}

// GetCodeSigning is GetCodeSigningConfig.
func (s *Service) GetCodeSigning(ctx context.Context, id caller.Identity, arn string) (*spec.CodeSigningConfig, error) {
	ref, ok := ParseCodeSigningARN(id, arn)
	if !ok {
		return nil, codeSigningNotFound(arn)
	}
	var out *spec.CodeSigningConfig
	err := s.cfg.Store.View(ctx, func(tx store.Tx) error {
		c, err := loadCodeSigning(tx, ref)
		if err != nil {
			return err
		}
		if c == nil {
			return codeSigningNotFound(arn)
		}
		out = c.view(ref)
		return nil
	})
	return out, err
}

// UpdateCodeSigning is UpdateCodeSigningConfig: what is given replaces
// what was; nothing given answers the config as it is.
func (s *Service) UpdateCodeSigning(ctx context.Context, id caller.Identity, in *spec.UpdateCodeSigningConfigRequest) (*spec.CodeSigningConfig, error) {
	arn := *in.CodeSigningConfigArn
	ref, ok := ParseCodeSigningARN(id, arn)
	if !ok {
		return nil, codeSigningNotFound(arn)
	}
	var out *spec.CodeSigningConfig
	err := s.update(ctx, func(tx store.Tx) error {
		c, err := loadCodeSigning(tx, ref)
		if err != nil {
			return err
		}
		if c == nil {
			return codeSigningNotFound(arn)
		}
		changed := false
		if in.Description != nil {
			c.Description, changed = *in.Description, true
		}
		if in.AllowedPublishers != nil {
			c.Profiles, changed = in.AllowedPublishers.SigningProfileVersionArns, true
		}
		if p := in.CodeSigningPolicies; p != nil && p.UntrustedArtifactOnDeployment != nil {
			c.Policy, changed = *p.UntrustedArtifactOnDeployment, true
		}
		if changed {
			c.LastModified = *lastModified(s.cfg.Now())
			raw, err := encodeCodeSigning(c)
			if err != nil {
				return err
			}
			if err := tx.Put(bCodeSigning, ref.key(), raw); err != nil {
				return err
			}
		}
		out = c.view(ref)
		return nil
	})
	return out, err
}

// functionsUsing lists the functions (keys of bFnCodeSigning) whose config
// is arn, in key order.
func functionsUsing(tx store.Tx, ref CodeSigningRef) []string {
	prefix := ref.Account + "/" + ref.Region + "/"
	var out []string
	tx.Scan(bFnCodeSigning, prefix, "", func(k string, raw []byte) bool {
		if string(raw) == ref.ARN() {
			out = append(out, k[len(prefix):])
		}
		return true
	})
	return out
}

// DeleteCodeSigning is DeleteCodeSigningConfig: only a config no function
// uses can go.
func (s *Service) DeleteCodeSigning(ctx context.Context, id caller.Identity, arn string) error {
	ref, ok := ParseCodeSigningARN(id, arn)
	if !ok {
		return codeSigningNotFound(arn)
	}
	return s.update(ctx, func(tx store.Tx) error {
		if tx.Get(bCodeSigning, ref.key()) == nil {
			return codeSigningNotFound(arn)
		}
		if fns := functionsUsing(tx, ref); len(fns) > 0 {
			// [?] AWS's wording is not recorded; its docs say a config in
			// use cannot be deleted (ResourceConflictException).
			return fault.Conflictf("CodeSigningConfig", "The code signing configuration cannot be deleted because it is used by the following functions: %s", strings.Join(fns, ", "))
		}
		return tx.Delete(bCodeSigning, ref.key())
	})
}

// ListCodeSigning is ListCodeSigningConfigs: the account's configs in the
// region, by id.
func (s *Service) ListCodeSigning(ctx context.Context, id caller.Identity, marker *string, max *int32) (*spec.ListCodeSigningConfigsResponse, error) {
	prefix := id.Account + "/" + id.Region + "/"
	items, next, err := listPage(ctx, s, marker, max, func(tx store.Tx, p page) ([]spec.CodeSigningConfig, *string, error) {
		var out []spec.CodeSigningConfig
		var next *string
		after := ""
		if p.after != "" {
			after = prefix + p.after
		}
		tx.Scan(bCodeSigning, prefix, after, func(k string, raw []byte) bool {
			if len(out) == p.n {
				next = encodeMarker(*out[len(out)-1].CodeSigningConfigId)
				return false
			}
			var c codeSigningConfig
			if decodeCodeSigning(raw, &c) == nil {
				out = append(out, *c.view(CodeSigningRef{Account: id.Account, Region: id.Region, ID: c.ID}))
			}
			return true
		})
		return out, next, nil
	})
	if err != nil {
		return nil, err
	}
	return &spec.ListCodeSigningConfigsResponse{CodeSigningConfigs: items, NextMarker: next}, nil
}

// ListFunctionsByCodeSigning is ListFunctionsByCodeSigningConfig: the
// unqualified ARNs of the functions that use the config, by name.
func (s *Service) ListFunctionsByCodeSigning(ctx context.Context, id caller.Identity, arn string, marker *string, max *int32) (*spec.ListFunctionsByCodeSigningConfigResponse, error) {
	ref, ok := ParseCodeSigningARN(id, arn)
	if !ok {
		return nil, codeSigningNotFound(arn)
	}
	items, next, err := listPage(ctx, s, marker, max, func(tx store.Tx, p page) ([]string, *string, error) {
		if tx.Get(bCodeSigning, ref.key()) == nil {
			return nil, nil, codeSigningNotFound(arn)
		}
		var out []string
		for _, name := range functionsUsing(tx, ref) {
			if p.after != "" && name <= p.after {
				continue
			}
			if len(out) == p.n {
				last := out[len(out)-1]
				return out, encodeMarker(last[strings.LastIndexByte(last, ':')+1:]), nil
			}
			out = append(out, Ref{Account: ref.Account, Region: ref.Region, Name: name}.ARN())
		}
		return out, nil, nil
	})
	if err != nil {
		return nil, err
	}
	return &spec.ListFunctionsByCodeSigningConfigResponse{FunctionArns: items, NextMarker: next}, nil
}

// functionCodeSigning loads the function that ref names (unqualified) and
// refuses an Image function.
func (s *Service) functionCodeSigning(tx store.Tx, ref Ref) error {
	rec, err := s.loadFunction(tx, ref.Unqualified())
	if err != nil {
		return err
	}
	if p := rec.Latest.Config.PackageType; p != nil && *p == "Image" {
		return codeSigningImage()
	}
	return nil
}

// PutFunctionCodeSigning is PutFunctionCodeSigningConfig. The config is
// checked first, as AWS does (recorded: a missing config and a missing
// function answer CodeSigningConfigNotFoundException). The code the
// function has keeps running: a config acts on deployments only.
func (s *Service) PutFunctionCodeSigning(ctx context.Context, id caller.Identity, ref Ref, arn string) error {
	cref, ok := ParseCodeSigningARN(id, arn)
	if !ok {
		return codeSigningConfigNotFound(arn)
	}
	return s.update(ctx, func(tx store.Tx) error {
		if tx.Get(bCodeSigning, cref.key()) == nil {
			return codeSigningConfigNotFound(arn)
		}
		if err := s.functionCodeSigning(tx, ref); err != nil {
			return err
		}
		return tx.Put(bFnCodeSigning, fnKey(ref), []byte(cref.ARN()))
	})
}

// GetFunctionCodeSigning is GetFunctionCodeSigningConfig: the config's ARN,
// or "" when the function has none (AWS then answers an empty object:
// recorded).
func (s *Service) GetFunctionCodeSigning(ctx context.Context, ref Ref) (string, error) {
	var arn string
	err := s.cfg.Store.View(ctx, func(tx store.Tx) error {
		if err := s.functionCodeSigning(tx, ref); err != nil {
			return err
		}
		arn = string(tx.Get(bFnCodeSigning, fnKey(ref)))
		return nil
	})
	return arn, err
}

// DeleteFunctionCodeSigning is DeleteFunctionCodeSigningConfig; a function
// without a config is not an error (recorded).
func (s *Service) DeleteFunctionCodeSigning(ctx context.Context, ref Ref) error {
	return s.update(ctx, func(tx store.Tx) error {
		if err := s.functionCodeSigning(tx, ref); err != nil {
			return err
		}
		return tx.Delete(bFnCodeSigning, fnKey(ref))
	})
}

// deployCheck applies the policy of the config at arn ("" for none) to a
// deployment of fn's code or layers, which lambdad cannot verify: Enforce
// refuses it, Warn lets it through with a warning in lambdad's log.
func (s *Service) deployCheck(tx store.Tx, fn Ref, arn, what string) error {
	if arn == "" {
		return nil
	}
	cref, _ := ParseCodeSigningARN(caller.Identity{Account: fn.Account, Region: fn.Region}, arn)
	c, err := loadCodeSigning(tx, cref)
	if err != nil {
		return err
	}
	if c == nil {
		return codeSigningConfigNotFound(arn)
	}
	if c.Policy == spec.CodeSigningPolicyEnforce {
		return untrusted()
	}
	s.cfg.Logger.Warn("code signing: deploying an artifact lambdad cannot verify (UntrustedArtifactOnDeployment Warn)",
		slog.String("function", fn.ARN()), slog.String("artifact", what), slog.String("codeSigningConfig", arn))
	return nil
}

// checkCreateCodeSigning is CreateFunction's CodeSigningConfigArn: the
// config must exist and allow the (unverifiable) code; in the create's
// transaction it is then recorded as the function's.
func (s *Service) checkCreateCodeSigning(tx store.Tx, id caller.Identity, fn Ref, in *spec.CreateFunctionRequest) error {
	if in.CodeSigningConfigArn == nil {
		return nil
	}
	arn := *in.CodeSigningConfigArn
	if in.PackageType != nil && *in.PackageType == "Image" {
		return codeSigningImage()
	}
	if _, ok := ParseCodeSigningARN(id, arn); !ok {
		return codeSigningConfigNotFound(arn)
	}
	if err := s.deployCheck(tx, fn, arn, "code"); err != nil {
		return err
	}
	return tx.Put(bFnCodeSigning, fnKey(fn), []byte(arn))
}

// codeSigningOf is the ARN of fn's config, "" for none.
func codeSigningOf(tx store.Tx, fn Ref) string { return string(tx.Get(bFnCodeSigning, fnKey(fn))) }

// refuseEnforced is UpdateFunctionCode's early check, before the code is
// stored: a Zip function whose config enforces is refused at once. The
// update's transaction checks again (deployCheck), and warns.
func (s *Service) refuseEnforced(ctx context.Context, fn Ref) error {
	return s.cfg.Store.View(ctx, func(tx store.Tx) error {
		arn := codeSigningOf(tx, fn)
		if arn == "" {
			return nil
		}
		cref, _ := ParseCodeSigningARN(caller.Identity{Account: fn.Account, Region: fn.Region}, arn)
		c, err := loadCodeSigning(tx, cref)
		if err == nil && c != nil && c.Policy == spec.CodeSigningPolicyEnforce {
			err = untrusted()
		}
		return err
	})
}

// IsCodeSigningARN reports whether a TagResource/UntagResource/ListTags
// resource names a code signing config.
func IsCodeSigningARN(arn string) bool { return strings.Contains(arn, ":code-signing-config:") }

// TagCodeSigning adds tags to, and removes untag from, the config at arn.
func (s *Service) TagCodeSigning(ctx context.Context, id caller.Identity, arn string, tags map[string]string, untag []string) error {
	ref, ok := ParseCodeSigningARN(id, arn)
	if !ok {
		return codeSigningNotFound(arn)
	}
	return s.update(ctx, func(tx store.Tx) error {
		c, err := loadCodeSigning(tx, ref)
		if err != nil {
			return err
		}
		if c == nil {
			return codeSigningNotFound(arn)
		}
		if c.Tags == nil {
			c.Tags = map[string]string{}
		}
		maps.Copy(c.Tags, tags)
		for _, k := range untag {
			delete(c.Tags, k)
		}
		if len(c.Tags) > maxTags {
			return fault.InvalidParameterf("Number of tags exceeds resource tag limit.")
		}
		if len(c.Tags) == 0 {
			c.Tags = nil
		}
		raw, err := encodeCodeSigning(c)
		if err != nil {
			return err
		}
		return tx.Put(bCodeSigning, ref.key(), raw)
	})
}

// CodeSigningTags is ListTags of the config at arn.
func (s *Service) CodeSigningTags(ctx context.Context, id caller.Identity, arn string) (map[string]string, error) {
	ref, ok := ParseCodeSigningARN(id, arn)
	if !ok {
		return nil, codeSigningNotFound(arn)
	}
	var out map[string]string
	err := s.cfg.Store.View(ctx, func(tx store.Tx) error {
		c, err := loadCodeSigning(tx, ref)
		if err != nil {
			return err
		}
		if c == nil {
			return codeSigningNotFound(arn)
		}
		out = maps.Clone(c.Tags)
		if out == nil {
			out = map[string]string{}
		}
		return nil
	})
	return out, err
}
