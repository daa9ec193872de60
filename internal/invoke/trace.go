package invoke

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	mrand "math/rand/v2"
	"strings"
	"sync/atomic"
	"time"

	"github.com/lambdad/lambdad/internal/functions"
)

// traceFields are the parts of an X-Ray tracing header
// (Root=1-<8 hex>-<24 hex>;Parent=<16 hex>;Sampled=0|1|?;Lineage=...) that
// Lambda reads from the header an invoke came with.
type traceFields struct {
	root, sampled, lineage string
}

// parseTrace reads a tracing header, keeping only well-formed fields.
func parseTrace(h string) traceFields {
	var f traceFields
	for h != "" {
		var part string
		part, h, _ = strings.Cut(h, ";")
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Root":
			if validRoot(v) {
				f.root = v
			}
		case "Sampled":
			f.sampled = v
		case "Lineage":
			f.lineage = v
		}
	}
	return f
}

// validRoot reports whether v is an X-Ray trace id: 1-<8 hex>-<24 hex>.
func validRoot(v string) bool {
	if len(v) != 35 || v[:2] != "1-" || v[10] != '-' {
		return false
	}
	for i := 2; i < len(v); i++ {
		c := v[i]
		if i == 10 {
			continue
		}
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// sampled decides whether an invocation of snap is traced, as Lambda does
// for the function's TracingConfig: PassThrough (the default) traces only
// what the caller's header sampled; Active respects the caller's decision
// and, without one, samples as X-Ray's default rule does: the first
// request each second (per function, here), then 5% of the rest.
func (s *Service) sampled(snap *functions.Snapshot, incoming string) bool {
	active := false
	if t := snap.Config.TracingConfig; t != nil && t.Mode != nil && *t.Mode == "Active" {
		active = true
	}
	switch incoming {
	case "1":
		return true
	case "0":
		return false
	}
	if !active {
		return false
	}
	now := time.Now().Unix()
	r := s.reservoir(snap.FunctionARN)
	if last := r.Load(); last != now && r.CompareAndSwap(last, now) {
		return true
	}
	return mrand.IntN(100) < 5
}

// reservoir is the second in which a function last took its one sampled
// request of the second.
func (s *Service) reservoir(functionARN string) *atomic.Int64 {
	if r, ok := s.sampling.Load(functionARN); ok {
		return r.(*atomic.Int64)
	}
	r, _ := s.sampling.LoadOrStore(functionARN, new(atomic.Int64))
	return r.(*atomic.Int64)
}

// traceHeader is the tracing header a run of snap gets (its
// _X_AMZN_TRACE_ID): the caller's trace continued (its Root) or a new
// one, a new Parent (the function's segment), the sampling decision and
// the chain's lineage with this invocation counted. It refuses the run
// when the function is in a recursive loop (recursion.go).
func (s *Service) traceHeader(snap *functions.Snapshot, incoming string) (string, error) {
	in := parseTrace(incoming)
	var r [20]byte
	rand.Read(r[:])
	b := make([]byte, 0, 112+len(in.lineage))
	b = append(b, "Root="...)
	if in.root != "" {
		b = append(b, in.root...)
	} else {
		var t [4]byte
		binary.BigEndian.PutUint32(t[:], uint32(time.Now().Unix()))
		b = append(b, "1-"...)
		b = hex.AppendEncode(b, t[:])
		b = append(b, '-')
		b = hex.AppendEncode(b, r[:12])
	}
	b = append(b, ";Parent="...)
	b = hex.AppendEncode(b, r[12:])
	if s.sampled(snap, in.sampled) {
		b = append(b, ";Sampled=1"...)
	} else {
		b = append(b, ";Sampled=0"...)
	}
	b = append(b, ";Lineage="...)
	b, err := appendLineage(b, snap, in.lineage)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

type traceKey struct{}

// withTrace carries the tracing header of a run to the code that builds its
// sandbox.Invocation (on demand, provisioned or on managed instances).
func withTrace(ctx context.Context, h string) context.Context {
	return context.WithValue(ctx, traceKey{}, h)
}

// traceOf is the tracing header execute chose for this run, or a new one
// (runs not started by execute, such as durable replays).
func traceOf(ctx context.Context) string {
	if h, ok := ctx.Value(traceKey{}).(string); ok {
		return h
	}
	return traceID()
}
