package functions

import (
	"context"
	"crypto/rand"
	"strings"
	"time"

	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/spec"
	"github.com/lambdad/lambdad/internal/store"
)

// Function URL buckets: configs by function and qualifier, and the index
// from a URL's id to its function.
const (
	bURLs   = "urls"   // acct/region/name/qualifier -> urlConfig
	bURLIDs = "urlids" // url id -> acct/region/name/qualifier
)

// URLConfig is one function URL.
type URLConfig struct {
	ID         string     `json:"id"`
	AuthType   string     `json:"authType"`
	Cors       *spec.Cors `json:"cors,omitempty"`
	InvokeMode string     `json:"invokeMode"`
	Created    string     `json:"created"`
	Modified   string     `json:"modified"`
}

// URLTarget is what a URL id leads to.
type URLTarget struct {
	Ref    Ref
	Config URLConfig
}

func urlKey(ref Ref) string { return fnKey(ref) + "/" + ref.Qualifier }

// newURLID is a URL id as AWS makes them: 32 lower-case letters and digits.
func newURLID() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	var b [32]byte
	rand.Read(b[:])
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b[:])
}

// functionMissing is how URL operations answer a missing function.
func functionMissing() error { return fault.NotFoundf("Function", "Function does not exist") }

func urlMissing() error {
	return fault.NotFoundf("FunctionUrlConfig", "The resource you requested does not exist.")
}

// checkURLTarget: the function (and alias) must exist, in AWS's words.
func (s *Service) checkURLTarget(tx store.Tx, ref Ref, missing func() error) error {
	if tx.Get(bFunctions, fnKey(ref)) == nil {
		return missing()
	}
	if ref.Qualifier != "" {
		if a, err := loadAlias(tx, ref, ref.Qualifier); err != nil || a == nil {
			if err == nil {
				err = missing()
			}
			return err
		}
	}
	return nil
}

func loadURL(tx store.Tx, ref Ref) (*URLConfig, error) {
	raw := tx.Get(bURLs, urlKey(ref))
	if raw == nil {
		return nil, nil
	}
	c := new(URLConfig)
	return c, decodeURL(raw, c)
}

// URLView is a URL config as the API shows it; base turns an id into the URL.
func (c *URLConfig) view(ref Ref, base func(id, region string) string) *spec.FunctionUrlConfig {
	return &spec.FunctionUrlConfig{
		FunctionUrl: str(base(c.ID, ref.Region)), FunctionArn: str(ref.QualifiedARN()), AuthType: str(c.AuthType),
		Cors: c.Cors, CreationTime: str(c.Created), LastModifiedTime: str(c.Modified), InvokeMode: str(c.InvokeMode),
	}
}

func urlTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

// CreateURL is CreateFunctionUrlConfig.
func (s *Service) CreateURL(ctx context.Context, ref Ref, in *spec.CreateFunctionUrlConfigRequest, base func(id, region string) string) (*spec.FunctionUrlConfig, error) {
	now := urlTime(s.cfg.Now())
	c := &URLConfig{ID: newURLID(), AuthType: *in.AuthType, Cors: in.Cors, InvokeMode: "BUFFERED", Created: now, Modified: now}
	if in.InvokeMode != nil {
		c.InvokeMode = *in.InvokeMode
	}
	err := s.update(ctx, func(tx store.Tx) error {
		if err := s.checkURLTarget(tx, ref, functionMissing); err != nil {
			return err
		}
		if err := s.refuseURLTenancy(tx, ref); err != nil {
			return err
		}
		if tx.Get(bURLs, urlKey(ref)) != nil {
			return fault.Conflictf("FunctionUrlConfig", "Failed to create function url config for [functionArn = %s]. Error message:  FunctionUrlConfig exists for this Lambda function", ref.QualifiedARN())
		}
		raw, _ := encodeURL(c)
		if err := tx.Put(bURLIDs, c.ID, []byte(urlKey(ref))); err != nil {
			return err
		}
		return tx.Put(bURLs, urlKey(ref), raw)
	})
	if err != nil {
		return nil, err
	}
	return c.view(ref, base), nil
}

// GetURL is GetFunctionUrlConfig.
func (s *Service) GetURL(ctx context.Context, ref Ref, base func(id, region string) string) (*spec.FunctionUrlConfig, error) {
	var out *spec.FunctionUrlConfig
	err := s.cfg.Store.View(ctx, func(tx store.Tx) error {
		c, err := loadURL(tx, ref)
		if err == nil && c == nil {
			err = urlMissing()
		}
		if err == nil {
			out = c.view(ref, base)
		}
		return err
	})
	return out, err
}

// UpdateURL is UpdateFunctionUrlConfig.
func (s *Service) UpdateURL(ctx context.Context, ref Ref, in *spec.UpdateFunctionUrlConfigRequest, base func(id, region string) string) (*spec.FunctionUrlConfig, error) {
	var out *spec.FunctionUrlConfig
	err := s.update(ctx, func(tx store.Tx) error {
		if err := s.checkURLTarget(tx, ref, functionMissing); err != nil {
			return err
		}
		c, err := loadURL(tx, ref)
		if err == nil && c == nil {
			err = urlMissing()
		}
		if err != nil {
			return err
		}
		if in.AuthType != nil {
			c.AuthType = *in.AuthType
		}
		if in.Cors != nil {
			c.Cors = in.Cors
		}
		if in.InvokeMode != nil {
			c.InvokeMode = *in.InvokeMode
		}
		c.Modified = urlTime(s.cfg.Now())
		raw, _ := encodeURL(c)
		out = c.view(ref, base)
		return tx.Put(bURLs, urlKey(ref), raw)
	})
	return out, err
}

// DeleteURL is DeleteFunctionUrlConfig.
func (s *Service) DeleteURL(ctx context.Context, ref Ref) error {
	return s.update(ctx, func(tx store.Tx) error {
		c, err := loadURL(tx, ref)
		if err == nil && c == nil {
			err = urlMissing()
		}
		if err != nil {
			return err
		}
		if err := tx.Delete(bURLIDs, c.ID); err != nil {
			return err
		}
		return tx.Delete(bURLs, urlKey(ref))
	})
}

// ListURLs is ListFunctionUrlConfigs.
func (s *Service) ListURLs(ctx context.Context, fn Ref, marker *string, max *int32, base func(id, region string) string) (*spec.ListFunctionUrlConfigsResponse, error) {
	urls, next, err := listPage(ctx, s, marker, max, func(tx store.Tx, p page) ([]spec.FunctionUrlConfig, *string, error) {
		if tx.Get(bFunctions, fnKey(fn)) == nil {
			return nil, nil, functionMissing()
		}
		urls, next := pageUnder(tx, bURLs, fn, p, func(q string, raw []byte) (spec.FunctionUrlConfig, bool) {
			c := new(URLConfig)
			if decodeURL(raw, c) != nil {
				return spec.FunctionUrlConfig{}, false
			}
			r := fn
			r.Qualifier = q
			return *c.view(r, base), true
		})
		return urls, next, nil
	})
	if err != nil {
		return nil, err
	}
	return &spec.ListFunctionUrlConfigsResponse{FunctionUrlConfigs: urls, NextMarker: next}, nil
}

// URL finds what a URL id leads to.
func (s *Service) URL(ctx context.Context, id string) (*URLTarget, error) {
	var out *URLTarget
	err := s.cfg.Store.View(ctx, func(tx store.Tx) error {
		key := tx.Get(bURLIDs, id)
		if key == nil {
			return nil
		}
		parts := strings.SplitN(string(key), "/", 4)
		if len(parts) != 4 {
			return nil
		}
		ref := Ref{Account: parts[0], Region: parts[1], Name: parts[2], Qualifier: parts[3]}
		c, err := loadURL(tx, ref)
		if err == nil && c != nil {
			out = &URLTarget{Ref: ref, Config: *c}
		}
		return err
	})
	return out, err
}

func deleteURLs(tx store.Tx, fn Ref) error {
	var ids []string
	tx.Scan(bURLs, fnKey(fn)+"/", "", func(_ string, raw []byte) bool {
		var c URLConfig
		if decodeURL(raw, &c) == nil {
			ids = append(ids, c.ID)
		}
		return true
	})
	for _, id := range ids {
		if err := tx.Delete(bURLIDs, id); err != nil {
			return err
		}
	}
	return deletePrefix(tx, bURLs, fnKey(fn)+"/")
}
