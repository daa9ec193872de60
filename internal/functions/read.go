package functions

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/lambdad/lambdad/internal/awsproto"
	"github.com/lambdad/lambdad/internal/spec"
	"github.com/lambdad/lambdad/internal/store"
)

// MaxPageSize bounds list pages, and is their size when none is asked for.
const MaxPageSize = 50

func pageSize(max *int32) int {
	if max == nil || *max <= 0 || *max > MaxPageSize {
		return MaxPageSize
	}
	return int(*max)
}

func encodeMarker(s string) *string {
	m := base64.RawURLEncoding.EncodeToString([]byte(s))
	return &m
}

func decodeMarker(m *string) (string, error) {
	if m == nil || *m == "" {
		return "", nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(*m)
	if err != nil {
		return "", awsproto.InvalidParameter("Invalid marker: %s", *m)
	}
	return string(raw), nil
}

// pageUnder reads one page of the records a function keeps in bucket under
// "<function key>/<qualifier>", in key order, starting after the qualifier
// a marker named. decode turns a record into an item, or skips it. The
// marker returned names the last item of a full page (nil on the last page),
// as the store's Scan resumes after it. It is "/<qualifier>", so that the
// empty qualifier of an unqualified function URL still makes a marker.
func pageUnder[T any](tx store.Tx, bucket string, fn Ref, after string, n int, decode func(qualifier string, raw []byte) (T, bool)) ([]T, *string) {
	prefix := fnKey(fn) + "/"
	start := ""
	if after != "" {
		start = prefix + strings.TrimPrefix(after, "/")
	}
	var items []T
	var last string
	var next *string
	tx.Scan(bucket, prefix, start, func(k string, raw []byte) bool {
		q := k[len(prefix):]
		item, ok := decode(q, raw)
		if !ok {
			return true
		}
		if len(items) == n {
			next = encodeMarker("/" + last)
			return false
		}
		items = append(items, item)
		last = q
		return true
	})
	return items, next
}

// List is ListFunctions: $LATEST of each function by name, or with all=true
// every version too. The cost of a page does not grow with the number of
// functions: it seeks to the marker's key.
func (s *Service) List(ctx context.Context, id awsproto.Identity, marker *string, max *int32, all bool) (*spec.ListFunctionsResponse, error) {
	after, err := decodeMarker(marker)
	if err != nil {
		return nil, err
	}
	n := pageSize(max)
	prefix := id.Account + "/" + id.Region + "/"
	out := &spec.ListFunctionsResponse{Functions: []spec.FunctionConfiguration{}}
	now := s.cfg.Now()
	var last string
	full := false
	err = s.cfg.Store.View(ctx, func(tx store.Tx) error {
		// The marker is "<name>" or, with all, "<name>/<version>".
		afterName, afterVer, _ := strings.Cut(after, "/")
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
				if len(out.Functions) == n {
					full = true
					return false
				}
				out.Functions = append(out.Functions, rec.Latest.listView(now, false))
				last = name
				return true
			}
			ref := Ref{Account: id.Account, Region: id.Region, Name: name}
			skipTo := ""
			if name == afterName {
				skipTo = afterVer
			}
			if skipTo == "" {
				if len(out.Functions) == n {
					full = true
					return false
				}
				out.Functions = append(out.Functions, rec.Latest.listView(now, true))
				last = name + "/" + Latest
			}
			vafter := ""
			if skipTo != "" && skipTo != Latest {
				vafter = fnKey(ref) + "/" + skipTo
			}
			tx.Scan(bVersions, fnKey(ref)+"/", vafter, func(k string, vraw []byte) bool {
				if len(out.Functions) == n {
					full = true
					return false
				}
				var v version
				if decodeVersion(vraw, &v) != nil {
					return true
				}
				out.Functions = append(out.Functions, v.listView(now, false))
				last = name + "/" + k[strings.LastIndexByte(k, '/')+1:]
				return true
			})
			return !full
		}
		if all && afterName != "" && afterVer != "" {
			if raw := tx.Get(bFunctions, prefix+afterName); raw != nil {
				if !visit(prefix+afterName, raw) {
					return nil
				}
			}
			start = prefix + afterName
		}
		return tx.Scan(bFunctions, prefix, start, visit)
	})
	if err != nil {
		return nil, err
	}
	if full {
		out.NextMarker = encodeMarker(last)
	}
	return out, nil
}

// ListVersions is ListVersionsByFunction: $LATEST, then 1, 2, 3…
func (s *Service) ListVersions(ctx context.Context, ref Ref, marker *string, max *int32) (*spec.ListVersionsByFunctionResponse, error) {
	after, err := decodeMarker(marker)
	if err != nil {
		return nil, err
	}
	n := pageSize(max)
	now := s.cfg.Now()
	out := &spec.ListVersionsByFunctionResponse{Versions: []spec.FunctionConfiguration{}}
	err = s.cfg.Store.View(ctx, func(tx store.Tx) error {
		rec, err := s.load(tx, ref)
		if err != nil {
			return err
		}
		if rec == nil {
			return notFound(Ref{Account: ref.Account, Region: ref.Region, Name: ref.Name})
		}
		vafter := ""
		if after == "" {
			out.Versions = append(out.Versions, rec.Latest.listView(now, true))
		} else if after != Latest {
			vafter = fnKey(ref) + "/" + after
		}
		last := Latest
		tx.Scan(bVersions, fnKey(ref)+"/", vafter, func(k string, raw []byte) bool {
			if len(out.Versions) == n {
				out.NextMarker = encodeMarker(last)
				return false
			}
			var v version
			if decodeVersion(raw, &v) != nil {
				return true
			}
			out.Versions = append(out.Versions, v.listView(now, false))
			last = k[strings.LastIndexByte(k, '/')+1:]
			return true
		})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// versionNumber parses a published version qualifier.
func versionNumber(q string) int {
	n, _ := strconv.Atoi(q)
	return n
}
