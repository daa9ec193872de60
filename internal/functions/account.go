package functions

import (
	"context"

	"github.com/lambdad/lambdad/internal/awsproto"
	"github.com/lambdad/lambdad/internal/limits"
	"github.com/lambdad/lambdad/internal/spec"
	"github.com/lambdad/lambdad/internal/store"
)

// AccountSettings is GetAccountSettings, with usage counted from the store.
func (s *Service) AccountSettings(ctx context.Context, id awsproto.Identity) (*spec.GetAccountSettingsResponse, error) {
	var count, size int64
	var reserved int32
	prefix := id.Account + "/" + id.Region + "/"
	err := s.cfg.Store.View(ctx, func(tx store.Tx) error {
		tx.Scan(bFunctions, prefix, "", func(_ string, raw []byte) bool {
			var rec record
			if decodeRecord(raw, &rec) == nil {
				count++
				size += rec.Latest.Code.Size
				if rec.Reserved != nil {
					reserved += *rec.Reserved
				}
			}
			return true
		})
		tx.Scan(bVersions, prefix, "", func(_ string, raw []byte) bool {
			var v version
			if decodeVersion(raw, &v) == nil {
				size += v.Code.Size
			}
			return true
		})
		// Layer versions count against the account's code storage too.
		tx.Scan(bLayers, prefix, "", func(_ string, raw []byte) bool {
			var l layerVersion
			if decodeLayer(raw, &l) == nil {
				size += l.Code.Size
			}
			return true
		})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &spec.GetAccountSettingsResponse{
		AccountLimit: &spec.AccountLimit{
			TotalCodeSize:                  i64(limits.TotalCodeBytes),
			CodeSizeUnzipped:               i64(limits.UnzippedCodeBytes),
			CodeSizeZipped:                 i64(limits.ZippedCodeBytes),
			ConcurrentExecutions:           i32(s.cfg.ConcurrencyLimit),
			UnreservedConcurrentExecutions: i32(s.cfg.ConcurrencyLimit - reserved),
		},
		AccountUsage: &spec.AccountUsage{TotalCodeSize: i64(size), FunctionCount: i64(count)},
	}, nil
}

// PutConcurrency is PutFunctionConcurrency.
func (s *Service) PutConcurrency(ctx context.Context, ref Ref, n int32) (*spec.Concurrency, error) {
	if ref.Qualifier != "" {
		return nil, awsproto.InvalidParameter("This operation is permitted on Lambda functions only. Aliases and versions do not support this operation. Please specify either a function name or an unqualified function ARN.")
	}
	err := s.update(ctx, func(tx store.Tx) error {
		rec, err := s.load(tx, ref)
		if err != nil {
			return err
		}
		if rec == nil {
			return notFound(Ref{Account: ref.Account, Region: ref.Region, Name: ref.Name, Qualifier: Latest})
		}
		var others int32
		prefix := ref.Account + "/" + ref.Region + "/"
		tx.Scan(bFunctions, prefix, "", func(k string, raw []byte) bool {
			var r record
			if k != fnKey(ref) && decodeRecord(raw, &r) == nil && r.Reserved != nil {
				others += *r.Reserved
			}
			return true
		})
		if others+n > s.cfg.ConcurrencyLimit-limits.MinUnreservedConcurrency {
			return awsproto.InvalidParameter("Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [%d].", limits.MinUnreservedConcurrency)
		}
		rec.Reserved = &n
		return s.save(tx, ref, rec)
	})
	if err != nil {
		return nil, err
	}
	return &spec.Concurrency{ReservedConcurrentExecutions: &n}, nil
}

// GetConcurrency is GetFunctionConcurrency (nil when none is reserved).
func (s *Service) GetConcurrency(ctx context.Context, ref Ref) (*int32, error) {
	f, err := s.Get(ctx, Ref{Account: ref.Account, Region: ref.Region, Name: ref.Name})
	if err != nil {
		return nil, err
	}
	return f.Reserved, nil
}

// DeleteConcurrency is DeleteFunctionConcurrency.
func (s *Service) DeleteConcurrency(ctx context.Context, ref Ref) error {
	return s.update(ctx, func(tx store.Tx) error {
		rec, err := s.load(tx, ref)
		if err != nil {
			return err
		}
		if rec == nil {
			return notFound(ref)
		}
		rec.Reserved = nil
		return s.save(tx, ref, rec)
	})
}
