package functions

import (
	"context"
	"encoding/base64"
	"strings"
	"time"

	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/store"
)

// The control plane has two transaction shapes, and every resource is
// written over them: withFunction for a change to a function's record
// (load → not found → guard → mutate → save) and listPage for a List
// operation (marker and MaxItems → one page in one read). A resource kept
// beside a function (aliases, policies, URLs, invoke configs) checks its
// function with loadFunction in its own transaction. New resources
// (durable executions, capacity providers, event source mappings) follow
// the same pattern: their own file, these helpers, no copy of the sequence.

// update runs a write transaction and then invalidates every cached
// snapshot: writes are rare next to invokes, so a global generation is the
// simplest way to never serve a stale one.
func (s *Service) update(ctx context.Context, fn func(store.Tx) error) error {
	err := s.cfg.Store.Update(ctx, fn)
	s.gen.Add(1)
	return err
}

// guard is what a change requires of the function before it runs.
type guard struct {
	// idle refuses while the function is being created or updated.
	idle bool
	// revision is the RevisionId the caller read, when it sent one: the
	// change is refused unless it is still $LATEST's.
	revision *string
}

// check runs the guard against rec's $LATEST at now.
func (g guard) check(ref Ref, rec *record, now time.Time) error {
	if g.idle {
		if err := checkIdle(ref, &rec.Latest, now); err != nil {
			return err
		}
	}
	return checkRevision(g.revision, &rec.Latest, now)
}

// loadFunction loads ref's function, or answers that it does not exist.
// Only the not-found message shows ref's qualifier: callers pass the
// reference AWS names in it (ref, ref.Unqualified(), or ref with $LATEST).
func (s *Service) loadFunction(tx store.Tx, ref Ref) (*record, error) {
	rec, err := s.load(tx, ref)
	if err == nil && rec == nil {
		err = notFound(ref)
	}
	return rec, err
}

// withFunction runs one change of a function's record in one write
// transaction: load it (not found as loadFunction says), check g, fold a
// finished transition into the record, mutate it, save it. mutate may
// write other records of the function through tx; an error from it (or
// from any step) changes nothing.
//
// Every operation that changes a function goes through here; a new
// resource that hangs off a function (durable executions, capacity
// providers, event source mappings) does too, or checks its function with
// loadFunction in its own transaction, rather than spell the sequence out.
func (s *Service) withFunction(ctx context.Context, ref Ref, g guard, mutate func(tx store.Tx, rec *record, now time.Time) error) error {
	return s.update(ctx, func(tx store.Tx) error {
		rec, err := s.loadFunction(tx, ref)
		if err != nil {
			return err
		}
		now := s.cfg.Now()
		if err := g.check(ref, rec, now); err != nil {
			return err
		}
		rec.Latest.settle(now)
		if err := mutate(tx, rec, now); err != nil {
			return err
		}
		return s.save(tx, ref, rec)
	})
}

// MaxPageSize bounds list pages, and is their size when none is asked for.
const MaxPageSize = 50

// page is where one List call resumes and how much it returns.
type page struct {
	after string // the decoded marker: "" from the start
	n     int    // the most items to return
}

// listPage is the shape of every List operation: it decodes the marker,
// bounds the page by MaxItems, and runs read in one read transaction.
// read returns the page's items and the marker of the next page (nil on
// the last one); the items are never nil, as AWS lists [] rather than null.
// Every List operation, of today's resources and of those to come, is
// written over it (with pageUnder for records kept under a function).
func listPage[T any](ctx context.Context, s *Service, marker *string, max *int32, read func(tx store.Tx, p page) ([]T, *string, error)) ([]T, *string, error) {
	after, err := decodeMarker(marker)
	if err != nil {
		return nil, nil, err
	}
	p := page{after: after, n: pageSize(max)}
	var items []T
	var next *string
	err = s.cfg.Store.View(ctx, func(tx store.Tx) error {
		var err error
		items, next, err = read(tx, p)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	if items == nil {
		items = []T{}
	}
	return items, next, nil
}

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
		return "", invalidMarker(*m)
	}
	return string(raw), nil
}

// pageUnder reads one page of the records a function keeps in bucket under
// "<function key>/<qualifier>", in key order, starting after the qualifier
// a marker named. decode turns a record into an item, or skips it. The
// marker returned names the last item of a full page (nil on the last page),
// as the store's Scan resumes after it. It is "/<qualifier>", so that the
// empty qualifier of an unqualified function URL still makes a marker.
func pageUnder[T any](tx store.Tx, bucket string, fn Ref, p page, decode func(qualifier string, raw []byte) (T, bool)) ([]T, *string) {
	prefix := fnKey(fn) + "/"
	start := ""
	if p.after != "" {
		start = prefix + strings.TrimPrefix(p.after, "/")
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
		if len(items) == p.n {
			next = encodeMarker("/" + last)
			return false
		}
		items = append(items, item)
		last = q
		return true
	})
	return items, next
}

func invalidMarker(m string) error { return fault.InvalidParameterf("Invalid marker: %s", m) }
