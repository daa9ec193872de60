package awsproto

import (
	"net/url"
	"slices"
	"strings"

	"github.com/lambdad/lambdad/internal/spec"
)

// Router finds the model operation for a request by its HTTP binding.
type Router struct {
	routes []route
	// byLast lists, in model order, the routes that a path of n segments
	// ending in a literal can match: those ending in that literal and
	// those ending in a label. byLabel lists the latter alone, for a last
	// segment no route has literally. Match scans one short list instead
	// of every route.
	byLast  map[lastKey][]int
	byLabel map[int][]int
}

type lastKey struct {
	n    int
	last string
}

type route struct {
	op    *spec.Op
	segs  []string // literal segment, or "" for a label
	names []string // label name per segment ("" for literals)
	query [2]string
}

// NewRouter indexes the model's operations.
func NewRouter(ops []spec.Op) *Router {
	r := &Router{}
	for i := range ops {
		op := &ops[i]
		parts := strings.Split(strings.Trim(op.Path, "/"), "/")
		rt := route{op: op, segs: make([]string, len(parts)), names: make([]string, len(parts))}
		for j, p := range parts {
			if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
				rt.names[j] = strings.TrimSuffix(strings.TrimPrefix(p, "{"), "}")
			} else {
				rt.segs[j] = p
			}
		}
		if op.Query != "" {
			k, v, _ := strings.Cut(op.Query, "=")
			rt.query = [2]string{k, v}
		}
		r.routes = append(r.routes, rt)
	}
	r.byLast, r.byLabel = map[lastKey][]int{}, map[int][]int{}
	for i, rt := range r.routes {
		n := len(rt.segs)
		if rt.names[n-1] != "" {
			r.byLabel[n] = append(r.byLabel[n], i)
		} else {
			k := lastKey{n, rt.segs[n-1]}
			r.byLast[k] = append(r.byLast[k], i)
		}
	}
	for k, lits := range r.byLast {
		merged := append(append([]int(nil), lits...), r.byLabel[k.n]...)
		slices.Sort(merged)
		r.byLast[k] = merged
	}
	return r
}

// Params are the URI labels of a matched request, unescaped.
type Params map[string]string

// Match returns the operation for method and escaped path. A route that needs
// a literal query parameter wins over one that does not. pathMatched tells
// whether some operation has this path under another method.
func (r *Router) Match(method, escapedPath string, q url.Values) (op *spec.Op, params Params, pathMatched bool) {
	var seg [8]string // most paths have fewer segments: no allocation
	parts := splitPath(seg[:0], strings.Trim(escapedPath, "/"))
	var best *route
	var bestParams Params
	cands, ok := r.byLast[lastKey{len(parts), parts[len(parts)-1]}]
	if !ok {
		cands = r.byLabel[len(parts)]
	}
	for _, i := range cands {
		rt := &r.routes[i]
		if len(rt.segs) != len(parts) || !rt.literalsMatch(parts) {
			continue
		}
		// Only a route whose literal segments all match pays for a Params.
		var ps Params
		ok := true
		for j, seg := range parts {
			if rt.names[j] == "" {
				if seg != rt.segs[j] {
					ok = false
					break
				}
				continue
			}
			v, err := url.PathUnescape(seg)
			if err != nil || v == "" {
				ok = false
				break
			}
			if ps == nil {
				ps = Params{}
			}
			ps[rt.names[j]] = v
		}
		if !ok {
			continue
		}
		pathMatched = true
		if rt.op.Method != method {
			continue
		}
		if rt.query[0] != "" {
			if q.Get(rt.query[0]) != rt.query[1] {
				continue
			}
		} else if best != nil {
			continue
		}
		best, bestParams = rt, ps
		if rt.query[0] != "" {
			break
		}
	}
	if best == nil {
		return nil, nil, pathMatched
	}
	return best.op, bestParams, true
}

// literalsMatch reports whether parts has rt's literal segments.
func (rt *route) literalsMatch(parts []string) bool {
	for j, seg := range parts {
		if rt.names[j] == "" && seg != rt.segs[j] {
			return false
		}
	}
	return true
}

// splitPath appends p's "/"-separated segments to parts, as strings.Split
// returns them.
func splitPath(parts []string, p string) []string {
	for {
		i := strings.IndexByte(p, '/')
		if i < 0 {
			return append(parts, p)
		}
		parts = append(parts, p[:i])
		p = p[i+1:]
	}
}
