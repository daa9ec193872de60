package awsproto

import (
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/lambdad/lambdad/internal/spec"
)

// matchAll is Match scanning every route, as it did before the index.
func (r *Router) matchAll(method, escapedPath string, q url.Values) (*spec.Op, Params, bool) {
	saved, savedLabel := r.byLast, r.byLabel
	all := make([]int, len(r.routes))
	for i := range all {
		all[i] = i
	}
	r.byLast, r.byLabel = map[lastKey][]int{}, map[int][]int{len(strings.Split(strings.Trim(escapedPath, "/"), "/")): all}
	defer func() { r.byLast, r.byLabel = saved, savedLabel }()
	return r.Match(method, escapedPath, q)
}

func routerCases() []string {
	var paths []string
	// Labels filled with every literal segment of the model: a function
	// named "versions" must still be found by the routes ending in a label.
	lits := map[string]bool{}
	for _, op := range spec.Operations() {
		for _, seg := range strings.Split(strings.Trim(op.Path, "/"), "/") {
			if !strings.HasPrefix(seg, "{") {
				lits[seg] = true
			}
		}
	}
	for _, op := range spec.Operations() {
		for lit := range lits {
			filled := op.Path
			for strings.Contains(filled, "{") {
				i, j := strings.Index(filled, "{"), strings.Index(filled, "}")
				filled = filled[:i] + lit + filled[j+1:]
			}
			paths = append(paths, filled)
		}
	}
	for _, op := range spec.Operations() {
		p := op.Path
		paths = append(paths, p, strings.NewReplacer("{", "", "}", "").Replace(p), p+"/x", strings.TrimSuffix(p, "/"), p+"/")
		filled := p
		for strings.Contains(filled, "{") {
			i, j := strings.Index(filled, "{"), strings.Index(filled, "}")
			filled = filled[:i] + "f%3Ax" + filled[j+1:]
		}
		paths = append(paths, filled, filled+"/invocations", filled[:strings.LastIndex(filled, "/")+1]+"x")
	}
	return append(paths, "/", "", "//", "/nope", "/2015-03-31/functions/%zz/invocations")
}

// The index finds what a scan of every route finds, for every method, path
// and query the model's bindings suggest.
func TestRouterIndexMatchesScan(t *testing.T) {
	r := NewRouter(spec.Operations())
	queries := []string{"", "find=LayerVersion", "Qualifier=1"}
	for _, p := range routerCases() {
		for _, m := range []string{"GET", "POST", "PUT", "DELETE", "PATCH"} {
			for _, qs := range queries {
				q, _ := url.ParseQuery(qs)
				if !sameMatch(r, m, p, q) {
					t.Errorf("%s %s?%s: index and scan differ", m, p, qs)
				}
			}
		}
	}
}

func FuzzRouterIndex(f *testing.F) {
	for _, p := range routerCases() {
		f.Add("GET", p, "")
		f.Add("POST", p, "find=LayerVersion")
	}
	r := NewRouter(spec.Operations())
	f.Fuzz(func(t *testing.T, method, path, query string) {
		q, _ := url.ParseQuery(query)
		if !sameMatch(r, method, path, q) {
			t.Errorf("%s %s?%s: index and scan differ", method, path, query)
		}
	})
}

func sameMatch(r *Router, m, p string, q url.Values) bool {
	op1, ps1, ok1 := r.Match(m, p, q)
	op2, ps2, ok2 := r.matchAll(m, p, q)
	return op1 == op2 && ok1 == ok2 && reflect.DeepEqual(ps1, ps2)
}

func BenchmarkRouterMatchInvoke(b *testing.B) {
	r := NewRouter(spec.Operations())
	for b.Loop() {
		r.Match("POST", "/2015-03-31/functions/echo/invocations", nil)
	}
}
