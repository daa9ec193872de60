package functions

import (
	"context"

	"github.com/lambdad/lambdad/internal/caller"
	"github.com/lambdad/lambdad/internal/limits"
	"github.com/lambdad/lambdad/internal/spec"
	"github.com/lambdad/lambdad/internal/store"
)

// AccountSettings is GetAccountSettings, with usage counted from the store.
func (s *Service) AccountSettings(ctx context.Context, id caller.Identity) (*spec.GetAccountSettingsResponse, error) {
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
