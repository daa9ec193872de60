package functions

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/lambdad/lambdad/internal/caller"
	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/limits"
	"github.com/lambdad/lambdad/internal/spec"
	"github.com/lambdad/lambdad/internal/store"
)

// Buckets of layers.
const (
	bLayers    = "layers"    // acct/region/name/%010d -> layerVersion
	bLayerNext = "layernext" // acct/region/name -> highest version ever published
)

// layerVersion is one published, immutable layer version.
type layerVersion struct {
	Name          string   `json:"name"`
	Version       int64    `json:"version"`
	Description   string   `json:"description"`
	Runtimes      []string `json:"runtimes"`
	Architectures []string `json:"architectures"`
	License       *string  `json:"license,omitempty"`
	Created       string   `json:"created"`
	Code          Code     `json:"code"`
}

// LayerRef names a layer in an account and region.
type LayerRef struct{ Account, Region, Name string }

// ARN is the layer's ARN (without version).
func (l LayerRef) ARN() string {
	return "arn:aws:lambda:" + l.Region + ":" + l.Account + ":layer:" + l.Name
}

func (l LayerRef) key() string { return l.Account + "/" + l.Region + "/" + l.Name }

// layerARN splits arn:aws:lambda:REGION:ACCOUNT:layer:NAME[:VERSION].
func layerARN(s string) (ref LayerRef, version string, ok bool) {
	a, ok := lambdaARN(s)
	if !ok {
		return LayerRef{}, "", false
	}
	name, version, ok := layerResource(a.Resource)
	if !ok {
		return LayerRef{}, "", false
	}
	return LayerRef{Account: a.AccountID, Region: a.Region, Name: name}, version, true
}

// ParseLayer accepts a layer name or layer ARN. Accounts are isolated, as
// for functions: another account's layer is refused.
func ParseLayer(id caller.Identity, name string) (LayerRef, error) {
	if ref, _, ok := layerARN(name); ok {
		if ref.Account != id.Account {
			return LayerRef{}, accessDenied(name)
		}
		return ref, nil
	}
	return LayerRef{Account: id.Account, Region: id.Region, Name: name}, nil
}

func layerNotFound() error {
	return fault.NotFoundf("Layer", "The resource you requested does not exist.")
}

func checkLayerVersion(n int64) error {
	if n < 1 {
		return fault.InvalidParameterf("Layer Version Cannot be less than 1")
	}
	return nil
}

// LayerVersion is a layer version as the API shows it, with its code.
type LayerVersion struct {
	Out  spec.GetLayerVersionResponse
	Code Code
}

func (l *layerVersion) view(ref LayerRef) *LayerVersion {
	arn := ref.ARN()
	return &LayerVersion{Code: l.Code, Out: spec.GetLayerVersionResponse{
		Content:                 &spec.LayerVersionContentOutput{CodeSha256: str(codeSha(l.Code)), CodeSize: i64(l.Code.Size)},
		LayerArn:                &arn,
		LayerVersionArn:         str(arn + ":" + strconv.FormatInt(l.Version, 10)),
		Description:             str(l.Description),
		CreatedDate:             str(l.Created),
		Version:                 i64(l.Version),
		CompatibleArchitectures: nonNil(l.Architectures),
		CompatibleRuntimes:      nonNil(l.Runtimes),
		LicenseInfo:             l.License,
	}}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// PublishLayer is PublishLayerVersion; staged, when not nil, is
// in.Content.ZipFile already written to the blob store.
func (s *Service) PublishLayer(ctx context.Context, id caller.Identity, in *spec.PublishLayerVersionRequest, staged StagedZip) (*LayerVersion, error) {
	ref, err := ParseLayer(id, *in.LayerName)
	if err != nil {
		return nil, err
	}
	if ref.Region != id.Region {
		return nil, fault.InvalidParameterf("Layers can only be published in the caller's account and region: %s", *in.LayerName)
	}
	c := in.Content
	if c.S3Bucket != nil && *c.S3Bucket == HotReloadBucket {
		return nil, fault.InvalidParameterf("Layers cannot use hot-reload code.")
	}
	// Shared until the reference commits: see collect.
	s.codeMu.RLock()
	code, err := s.intake(ctx, codeInput{Zip: c.ZipFile, Staged: staged, S3Bucket: c.S3Bucket, S3Key: c.S3Key, S3Version: c.S3ObjectVersion}, false)
	if err != nil {
		s.codeMu.RUnlock()
		s.dropIfUnusedCode(code)
		return nil, err
	}
	lv := &layerVersion{Name: ref.Name, Runtimes: in.CompatibleRuntimes, Architectures: in.CompatibleArchitectures,
		License: in.LicenseInfo, Created: *lastModified(s.cfg.Now()), Code: code}
	if in.Description != nil {
		lv.Description = *in.Description
	}
	err = s.commitCode(ctx, func() error {
		return s.update(ctx, func(tx store.Tx) error {
			last, _ := strconv.ParseInt(string(tx.Get(bLayerNext, ref.key())), 10, 64)
			lv.Version = last + 1
			if err := tx.Put(bLayerNext, ref.key(), []byte(strconv.FormatInt(lv.Version, 10))); err != nil {
				return err
			}
			k := fmt.Sprintf("%s/%010d", ref.key(), lv.Version)
			if err := refCode(tx, code, "layer/"+k); err != nil {
				return err
			}
			raw, err := encodeLayer(lv)
			if err != nil {
				return err
			}
			return tx.Put(bLayers, k, raw)
		})
	})
	s.codeMu.RUnlock()
	if err != nil {
		s.dropIfUnusedCode(code)
		return nil, err
	}
	return lv.view(ref), nil
}

func loadLayer(tx store.Tx, ref LayerRef, n int64) (*layerVersion, error) {
	raw := tx.Get(bLayers, fmt.Sprintf("%s/%010d", ref.key(), n))
	if raw == nil {
		return nil, nil
	}
	lv := new(layerVersion)
	if err := decodeLayer(raw, lv); err != nil {
		return nil, fmt.Errorf("decode layer %s:%d: %w", ref.key(), n, err)
	}
	return lv, nil
}

// GetLayer is GetLayerVersion.
func (s *Service) GetLayer(ctx context.Context, ref LayerRef, n int64) (*LayerVersion, error) {
	if err := checkLayerVersion(n); err != nil {
		return nil, err
	}
	var out *LayerVersion
	err := s.cfg.Store.View(ctx, func(tx store.Tx) error {
		lv, err := loadLayer(tx, ref, n)
		if err != nil {
			return err
		}
		if lv == nil {
			return layerNotFound()
		}
		out = lv.view(ref)
		return nil
	})
	return out, err
}

// GetLayerByARN is GetLayerVersionByArn.
func (s *Service) GetLayerByARN(ctx context.Context, id caller.Identity, arn string) (*LayerVersion, error) {
	_, version, ok := layerARN(arn)
	if !ok || version == "" {
		return nil, layerNotFound()
	}
	n, _ := strconv.ParseInt(version, 10, 64)
	return s.GetLayerFor(ctx, id, ParseLayerRead(id, arn), n)
}

// DeleteLayer is DeleteLayerVersion: idempotent, and functions that use
// the version keep working (its code stays while they reference it).
func (s *Service) DeleteLayer(ctx context.Context, ref LayerRef, n int64) error {
	if err := checkLayerVersion(n); err != nil {
		return err
	}
	var unused []string
	err := s.update(ctx, func(tx store.Tx) error {
		unused = nil // the store may run this again
		lv, err := loadLayer(tx, ref, n)
		if err != nil || lv == nil {
			return err
		}
		k := fmt.Sprintf("%s/%010d", ref.key(), n)
		if err := tx.Delete(bLayers, k); err != nil {
			return err
		}
		if err := tx.Delete(bLayerPolicies, k); err != nil {
			return err
		}
		gone, err := unrefCode(tx, lv.Code, "layer/"+k)
		if gone {
			unused = append(unused, lv.Code.SHA256Hex)
		}
		return err
	})
	s.collect(unused)
	return err
}

func matches(lv *layerVersion, runtime, arch *string) bool {
	if runtime != nil && !contains(lv.Runtimes, *runtime) {
		return false
	}
	if arch != nil && !contains(lv.Architectures, *arch) {
		return false
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func listItem(ref LayerRef, lv *layerVersion) spec.LayerVersionsListItem {
	v := lv.view(ref).Out
	return spec.LayerVersionsListItem{LayerVersionArn: v.LayerVersionArn, Version: v.Version, Description: v.Description,
		CreatedDate: v.CreatedDate, CompatibleArchitectures: v.CompatibleArchitectures, CompatibleRuntimes: v.CompatibleRuntimes, LicenseInfo: v.LicenseInfo}
}

// ListLayerVersions lists a layer's versions, newest first.
func (s *Service) ListLayerVersions(ctx context.Context, ref LayerRef, runtime, arch, marker *string, max *int32) (*spec.ListLayerVersionsResponse, error) {
	items, next, err := listPage(ctx, s, marker, max, func(tx store.Tx, p page) ([]spec.LayerVersionsListItem, *string, error) {
		var afterN int64
		if p.after != "" {
			var err error
			if afterN, err = strconv.ParseInt(p.after, 10, 64); err != nil {
				return nil, nil, invalidMarker(*marker)
			}
		}
		var all []*layerVersion
		tx.Scan(bLayers, ref.key()+"/", "", func(_ string, raw []byte) bool {
			lv := new(layerVersion)
			if decodeLayer(raw, lv) == nil && matches(lv, runtime, arch) {
				all = append(all, lv)
			}
			return true
		})
		var out []spec.LayerVersionsListItem
		for i := len(all) - 1; i >= 0; i-- {
			// Numerically, so that a marker whose version was deleted
			// meanwhile still resumes in the right place.
			if afterN > 0 && all[i].Version >= afterN {
				continue
			}
			if len(out) == p.n {
				return out, encodeMarker(strconv.FormatInt(all[i+1].Version, 10)), nil
			}
			out = append(out, listItem(ref, all[i]))
		}
		return out, nil, nil
	})
	if err != nil {
		return nil, err
	}
	return &spec.ListLayerVersionsResponse{LayerVersions: items, NextMarker: next}, nil
}

// ListLayers lists the account's layers with their latest matching version.
func (s *Service) ListLayers(ctx context.Context, id caller.Identity, runtime, arch, marker *string, max *int32) (*spec.ListLayersResponse, error) {
	prefix := id.Account + "/" + id.Region + "/"
	layers, next, err := listPage(ctx, s, marker, max, func(tx store.Tx, p page) ([]spec.LayersListItem, *string, error) {
		latest := map[string]*layerVersion{}
		var names []string
		tx.Scan(bLayers, prefix, "", func(k string, raw []byte) bool {
			name := strings.SplitN(k[len(prefix):], "/", 2)[0]
			lv := new(layerVersion)
			if decodeLayer(raw, lv) == nil && matches(lv, runtime, arch) {
				if latest[name] == nil {
					names = append(names, name)
				}
				latest[name] = lv
			}
			return true
		})
		var out []spec.LayersListItem
		for _, name := range names {
			if p.after != "" && name <= p.after {
				continue
			}
			if len(out) == p.n {
				return out, encodeMarker(*out[len(out)-1].LayerName), nil
			}
			ref := LayerRef{Account: id.Account, Region: id.Region, Name: name}
			item := listItem(ref, latest[name])
			out = append(out, spec.LayersListItem{LayerName: str(name), LayerArn: str(ref.ARN()), LatestMatchingVersion: &item})
		}
		return out, nil, nil
	})
	if err != nil {
		return nil, err
	}
	return &spec.ListLayersResponse{Layers: layers, NextMarker: next}, nil
}

// resolveLayers checks a function's layer list and returns what the
// configuration shows and the code to mount, in order.
func (s *Service) resolveLayers(tx store.Tx, id caller.Identity, arns []string) ([]spec.Layer, []Code, error) {
	if len(arns) > limits.LayersPerFunction {
		return nil, nil, fault.InvalidParameterf("Cannot reference more than %d layers.", limits.LayersPerFunction)
	}
	var layers []spec.Layer
	var codes []Code
	seen := map[string]string{}
	for _, arn := range arns {
		ref, version, ok := layerARN(arn)
		if !ok || version == "" {
			return nil, nil, fault.InvalidParameterf("Layer version %s does not exist.", arn)
		}
		if prev, dup := seen[ref.Name+"@"+ref.Region+ref.Account]; dup {
			return nil, nil, fault.InvalidParameterf("Two different versions of the same layer are not allowed to be referenced in the same function. %s and %s are versions of the same layer.", prev, arn)
		}
		seen[ref.Name+"@"+ref.Region+ref.Account] = arn
		n, _ := strconv.ParseInt(version, 10, 64)
		var lv *layerVersion
		var err error
		if ref.Region == id.Region {
			// Another account's version needs its grant (layerperm.go).
			granted, gerr := s.layerGranted(tx, id, ref, n)
			if gerr != nil {
				return nil, nil, gerr
			}
			if !granted {
				return nil, nil, layerAccessDenied(id, ref, n)
			}
			lv, err = loadLayer(tx, ref, n)
		}
		if err != nil {
			return nil, nil, err
		}
		if lv == nil {
			return nil, nil, fault.InvalidParameterf("Layer version %s does not exist.", arn)
		}
		layers = append(layers, spec.Layer{Arn: str(arn), CodeSize: i64(lv.Code.Size)})
		codes = append(codes, lv.Code)
	}
	return layers, codes, nil
}
