package functions

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/limits"
	"github.com/lambdad/lambdad/internal/spec"
	"github.com/lambdad/lambdad/internal/store"
)

// PutConcurrency is PutFunctionConcurrency.
func (s *Service) PutConcurrency(ctx context.Context, ref Ref, n int32) (*spec.Concurrency, error) {
	if ref.Qualifier != "" {
		return nil, fault.InvalidParameterf("This operation is permitted on Lambda functions only. Aliases and versions do not support this operation. Please specify either a function name or an unqualified function ARN.")
	}
	// AWS names $LATEST when the function is missing.
	latest := Ref{Account: ref.Account, Region: ref.Region, Name: ref.Name, Qualifier: Latest}
	err := s.withFunction(ctx, latest, guard{}, func(tx store.Tx, rec *record, _ time.Time) error {
		var others int32
		prefix := ref.Account + "/" + ref.Region + "/"
		tx.Scan(bFunctions, prefix, "", func(k string, raw []byte) bool {
			var r record
			if k != fnKey(ref) && decodeRecord(raw, &r) == nil && r.Reserved != nil {
				others += *r.Reserved
			}
			return true
		})
		if p := provisionedTotal(tx, ref); n < p {
			return fault.InvalidParameterf(" ReservedConcurrentExecutions  %d should not be lower than function's total provisioned concurrency [%d].", n, p)
		}
		// Functions without a reservation take their provisioned
		// concurrency out of the unreserved pool too.
		others += provisionedOutsideReservations(tx, ref)
		if others+n > s.cfg.ConcurrencyLimit-limits.MinUnreservedConcurrency {
			return fault.InvalidParameterf("Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [%d].", limits.MinUnreservedConcurrency)
		}
		rec.Reserved = &n
		return putReservation(tx, fnKey(ref), n)
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
	return s.withFunction(ctx, ref, guard{}, func(tx store.Tx, rec *record, _ time.Time) error {
		rec.Reserved = nil
		return tx.Delete(bReservations, fnKey(ref))
	})
}

// bReservations indexes reserved concurrency, acct/region/name -> the
// function's reservation (decimal), beside its record: the data plane sums
// an account's without reading every function.
const bReservations = "reservations"

func putReservation(tx store.Tx, key string, n int32) error {
	return tx.Put(bReservations, key, strconv.AppendInt(nil, int64(n), 10))
}

// setAside is the concurrency of an account that its functions without a
// reservation cannot use: what functions reserve, and what functions
// without a reservation provision (allocated out of the unreserved pool).
func setAside(tx store.Tx, account, region string) int32 {
	prefix := account + "/" + region + "/"
	var total int32
	reserved := map[string]bool{}
	tx.Scan(bReservations, prefix, "", func(k string, raw []byte) bool {
		if n, err := strconv.ParseInt(string(raw), 10, 32); err == nil {
			total += int32(n)
		}
		reserved[k] = true
		return true
	})
	tx.Scan(bProvisioned, prefix, "", func(k string, raw []byte) bool {
		var p storedProvisioned
		if !reserved[k[:strings.LastIndexByte(k, '/')]] && json.Unmarshal(raw, &p) == nil {
			total += p.Requested
		}
		return true
	})
	return total
}
