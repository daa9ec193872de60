package functions

import (
	"context"
	"strconv"
	"strings"

	"github.com/lambdad/lambdad/internal/store"
)

// Cleared counts what Reset removed.
type Cleared struct {
	Functions, Layers, CodeSigningConfigs int
}

// Reset removes every function (of every account and region), layer version
// and code signing config, for test suites that isolate their tests
// (POST /_lambdad/reset). Functions go through Delete, so their
// environments, provisioned and managed fleets retire as on DeleteFunction,
// and an invoke already running finishes on its environment.
func (s *Service) Reset(ctx context.Context) (Cleared, error) {
	var c Cleared
	var fns []Ref
	var layers []struct {
		ref LayerRef
		n   int64
	}
	err := s.cfg.Store.View(ctx, func(tx store.Tx) error {
		tx.Scan(bFunctions, "", "", func(k string, _ []byte) bool {
			if p := strings.SplitN(k, "/", 3); len(p) == 3 {
				fns = append(fns, Ref{Account: p[0], Region: p[1], Name: p[2]})
			}
			return true
		})
		tx.Scan(bLayers, "", "", func(k string, _ []byte) bool {
			p := strings.Split(k, "/")
			if len(p) != 4 {
				return true
			}
			n, err := strconv.ParseInt(p[3], 10, 64)
			if err == nil {
				layers = append(layers, struct {
					ref LayerRef
					n   int64
				}{LayerRef{Account: p[0], Region: p[1], Name: p[2]}, n})
			}
			return true
		})
		return nil
	})
	if err != nil {
		return c, err
	}
	for _, ref := range fns {
		if err := s.Delete(ctx, ref); err != nil {
			return c, err
		}
		c.Functions++
	}
	for _, l := range layers {
		if err := s.DeleteLayer(ctx, l.ref, l.n); err != nil {
			return c, err
		}
		c.Layers++
	}
	// Code signing configs are unused once the functions are gone; layer
	// names number their versions from 1 again.
	err = s.update(ctx, func(tx store.Tx) error {
		n, err := clearBucket(tx, bCodeSigning)
		c.CodeSigningConfigs = n
		if err != nil {
			return err
		}
		_, err = clearBucket(tx, bLayerNext)
		return err
	})
	return c, err
}

// clearBucket deletes every key of bucket and answers how many there were.
func clearBucket(tx store.Tx, bucket string) (int, error) {
	var keys []string
	tx.Scan(bucket, "", "", func(k string, _ []byte) bool {
		keys = append(keys, k)
		return true
	})
	for _, k := range keys {
		if err := tx.Delete(bucket, k); err != nil {
			return 0, err
		}
	}
	return len(keys), nil
}
