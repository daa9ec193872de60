package esm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"strings"
)

// Pattern is a parsed filter pattern of AWS's event filtering language:
// an object whose keys name fields of the event; a nested object descends,
// an array lists the values (or operator objects) a field may match. A
// field holding an array matches when any of its elements does.
type Pattern struct {
	fields []fieldPattern
	or     [][]fieldPattern // $or: any of these
}

type fieldPattern struct {
	key    string
	nested *Pattern // an object: descend
	rules  []rule   // an array: any rule
	// orGroup: nested holds a $or found inside a $or alternative.
	orGroup bool
}

// rule is one element of a pattern's array.
type rule struct {
	op string // "" exact, prefix, suffix, anything-but, numeric, exists, equals-ignore-case, wildcard
	// exact: lit is the JSON literal (a string, number, true/false/null).
	lit     any
	str     string
	strs    []string // anything-but's values, or its prefix/suffix
	nums    []float64
	butOp   string // anything-but's prefix/suffix/equals-ignore-case form
	numeric []numCmp
	exists  bool
}

type numCmp struct {
	op string
	v  float64
}

var errPattern = errors.New("invalid filter pattern")

// ParsePattern parses a filter pattern.
func ParsePattern(s string) (*Pattern, error) {
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, errPattern
	}
	if d.More() {
		return nil, errPattern
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, errPattern
	}
	return parseObject(obj, 0)
}

func parseObject(obj map[string]any, depth int) (*Pattern, error) {
	if depth > 64 {
		return nil, errPattern
	}
	p := &Pattern{}
	for _, k := range sortedKeys(obj) {
		v := obj[k]
		if k == "$or" {
			arr, ok := v.([]any)
			if !ok || len(arr) < 2 {
				return nil, errPattern
			}
			for _, e := range arr {
				o, ok := e.(map[string]any)
				if !ok {
					return nil, errPattern
				}
				sub, err := parseObject(o, depth+1)
				if err != nil {
					return nil, err
				}
				p.or = append(p.or, sub.fields)
				if len(sub.or) > 0 {
					// Nested $or: flatten into one alternative's fields is
					// not possible; keep it as a nested pattern.
					p.or[len(p.or)-1] = append(p.or[len(p.or)-1], fieldPattern{orGroup: true, nested: &Pattern{or: sub.or}})
				}
			}
			continue
		}
		switch t := v.(type) {
		case map[string]any:
			sub, err := parseObject(t, depth+1)
			if err != nil {
				return nil, err
			}
			p.fields = append(p.fields, fieldPattern{key: k, nested: sub})
		case []any:
			if len(t) == 0 {
				return nil, errPattern
			}
			fp := fieldPattern{key: k}
			for _, e := range t {
				r, err := parseRule(e)
				if err != nil {
					return nil, err
				}
				fp.rules = append(fp.rules, r)
			}
			p.fields = append(p.fields, fp)
		default:
			// A bare value where an array or object belongs.
			return nil, errPattern
		}
	}
	if len(p.fields) == 0 && len(p.or) == 0 {
		return nil, errPattern
	}
	return p, nil
}

func parseRule(e any) (rule, error) {
	switch t := e.(type) {
	case string:
		return rule{lit: t, str: t}, nil
	case json.Number:
		f, err := t.Float64()
		if err != nil {
			return rule{}, errPattern
		}
		return rule{lit: f}, nil
	case bool, nil:
		return rule{lit: t}, nil
	case map[string]any:
		if len(t) != 1 {
			return rule{}, errPattern
		}
		for op, arg := range t {
			return parseOp(op, arg)
		}
	}
	return rule{}, errPattern
}

func parseOp(op string, arg any) (rule, error) {
	r := rule{op: op}
	switch op {
	case "prefix", "suffix", "equals-ignore-case", "wildcard":
		s, ok := arg.(string)
		if !ok {
			// prefix/suffix take {"equals-ignore-case": "..."} too.
			if o, isObj := arg.(map[string]any); isObj && (op == "prefix" || op == "suffix") && len(o) == 1 {
				if v, ok2 := o["equals-ignore-case"].(string); ok2 {
					r.butOp = "equals-ignore-case"
					r.str = v
					return r, nil
				}
			}
			return r, errPattern
		}
		if op == "wildcard" && strings.Contains(s, "**") {
			return r, errPattern
		}
		r.str = s
		return r, nil
	case "exists":
		b, ok := arg.(bool)
		if !ok {
			return r, errPattern
		}
		r.exists = b
		return r, nil
	case "anything-but":
		switch a := arg.(type) {
		case string:
			r.strs = []string{a}
		case json.Number:
			f, err := a.Float64()
			if err != nil {
				return r, errPattern
			}
			r.nums = []float64{f}
		case []any:
			if len(a) == 0 {
				return r, errPattern
			}
			for _, x := range a {
				switch y := x.(type) {
				case string:
					r.strs = append(r.strs, y)
				case json.Number:
					f, err := y.Float64()
					if err != nil {
						return r, errPattern
					}
					r.nums = append(r.nums, f)
				default:
					return r, errPattern
				}
			}
		case map[string]any:
			if len(a) != 1 {
				return r, errPattern
			}
			for k, v := range a {
				if k != "prefix" && k != "suffix" && k != "equals-ignore-case" && k != "wildcard" {
					return r, errPattern
				}
				r.butOp = k
				switch vv := v.(type) {
				case string:
					r.strs = []string{vv}
				case []any:
					for _, x := range vv {
						s, ok := x.(string)
						if !ok {
							return r, errPattern
						}
						r.strs = append(r.strs, s)
					}
				default:
					return r, errPattern
				}
			}
		default:
			return r, errPattern
		}
		return r, nil
	case "numeric":
		a, ok := arg.([]any)
		if !ok || len(a) == 0 || len(a)%2 != 0 || len(a) > 4 {
			return r, errPattern
		}
		for i := 0; i < len(a); i += 2 {
			o, ok := a[i].(string)
			n, ok2 := a[i+1].(json.Number)
			if !ok || !ok2 {
				return r, errPattern
			}
			switch o {
			case "=", "<", "<=", ">", ">=":
			default:
				return r, errPattern
			}
			f, err := n.Float64()
			if err != nil {
				return r, errPattern
			}
			r.numeric = append(r.numeric, numCmp{o, f})
		}
		return r, nil
	}
	return r, errPattern
}

// Match reports whether event (decoded JSON: map[string]any, []any,
// string, float64, bool, nil) matches p.
func (p *Pattern) Match(event any) bool {
	obj, _ := event.(map[string]any)
	return matchFields(p.fields, obj) && matchOr(p.or, obj)
}

func matchOr(alts [][]fieldPattern, obj map[string]any) bool {
	if len(alts) == 0 {
		return true
	}
	for _, a := range alts {
		if matchFields(a, obj) {
			return true
		}
	}
	return false
}

func matchFields(fs []fieldPattern, obj map[string]any) bool {
	for _, f := range fs {
		if f.orGroup {
			if !f.nested.Match(obj) {
				return false
			}
			continue
		}
		v, present := obj[f.key]
		if f.nested != nil {
			sub, ok := v.(map[string]any)
			if !ok {
				// Only "exists": false rules can match a missing object.
				if !f.nested.matchMissing() {
					return false
				}
				continue
			}
			if !f.nested.Match(sub) {
				return false
			}
			continue
		}
		if !matchRules(f.rules, v, present) {
			return false
		}
	}
	return true
}

// matchMissing: does the pattern hold for an absent object (every field
// asks for absence)?
func (p *Pattern) matchMissing() bool {
	for _, f := range p.fields {
		if f.orGroup {
			return false
		}
		if f.nested != nil {
			if !f.nested.matchMissing() {
				return false
			}
			continue
		}
		if !matchRules(f.rules, nil, false) {
			return false
		}
	}
	return len(p.or) == 0
}

func matchRules(rs []rule, v any, present bool) bool {
	vals := []any{v}
	if arr, ok := v.([]any); ok {
		vals = arr
		if len(arr) == 0 {
			present = false
		}
	}
	for _, r := range rs {
		if r.op == "exists" {
			// exists concerns leaf values; an object is not a leaf.
			_, isObj := v.(map[string]any)
			if r.exists == (present && !isObj) {
				return true
			}
			continue
		}
		if !present {
			continue
		}
		for _, x := range vals {
			if r.match(x) {
				return true
			}
		}
	}
	return false
}

func (r rule) match(v any) bool {
	s, isStr := v.(string)
	switch r.op {
	case "":
		switch l := r.lit.(type) {
		case string:
			return isStr && s == l
		case float64:
			f, ok := v.(float64)
			return ok && f == l
		case bool:
			b, ok := v.(bool)
			return ok && b == l
		case nil:
			return v == nil
		}
	case "prefix":
		if r.butOp == "equals-ignore-case" {
			return isStr && len(s) >= len(r.str) && strings.EqualFold(s[:len(r.str)], r.str)
		}
		return isStr && strings.HasPrefix(s, r.str)
	case "suffix":
		if r.butOp == "equals-ignore-case" {
			return isStr && len(s) >= len(r.str) && strings.EqualFold(s[len(s)-len(r.str):], r.str)
		}
		return isStr && strings.HasSuffix(s, r.str)
	case "equals-ignore-case":
		return isStr && strings.EqualFold(s, r.str)
	case "wildcard":
		return isStr && wildcard(r.str, s)
	case "numeric":
		f, ok := v.(float64)
		if !ok {
			return false
		}
		for _, c := range r.numeric {
			if !c.holds(f) {
				return false
			}
		}
		return true
	case "anything-but":
		switch r.butOp {
		case "prefix":
			return isStr && !anyOf(r.strs, func(p string) bool { return strings.HasPrefix(s, p) })
		case "suffix":
			return isStr && !anyOf(r.strs, func(p string) bool { return strings.HasSuffix(s, p) })
		case "equals-ignore-case":
			return isStr && !anyOf(r.strs, func(p string) bool { return strings.EqualFold(s, p) })
		case "wildcard":
			return isStr && !anyOf(r.strs, func(p string) bool { return wildcard(p, s) })
		}
		if isStr {
			return !anyOf(r.strs, func(p string) bool { return p == s })
		}
		if f, ok := v.(float64); ok {
			for _, n := range r.nums {
				if n == f {
					return false
				}
			}
			return true
		}
		return false
	}
	return false
}

func (c numCmp) holds(f float64) bool {
	switch c.op {
	case "=":
		return f == c.v
	case "<":
		return f < c.v
	case "<=":
		return f <= c.v
	case ">":
		return f > c.v
	case ">=":
		return f >= c.v
	}
	return false
}

func anyOf(ss []string, f func(string) bool) bool {
	for _, s := range ss {
		if f(s) {
			return true
		}
	}
	return false
}

// wildcard matches s against p, where * stands for any run of characters
// (\* and \\ escape). Iterative, so no input costs more than len(p)*len(s).
func wildcard(p, s string) bool {
	var toks []byte  // pattern characters
	var stars []bool // whether each is a star
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '\\' && i+1 < len(p) {
			i++
			toks, stars = append(toks, p[i]), append(stars, false)
			continue
		}
		toks, stars = append(toks, c), append(stars, c == '*')
	}
	pi, si, starP, starS := 0, 0, -1, 0
	for si < len(s) {
		switch {
		case pi < len(toks) && stars[pi]:
			starP, starS = pi, si
			pi++
		case pi < len(toks) && toks[pi] == s[si]:
			pi++
			si++
		case starP >= 0:
			pi = starP + 1
			starS++
			si = starS
		default:
			return false
		}
	}
	for pi < len(toks) && stars[pi] {
		pi++
	}
	return pi == len(toks)
}

// Filters is a mapping's FilterCriteria: a record passes when any pattern
// matches it (no patterns: everything passes).
type Filters []*Pattern

// ParseFilters parses stored patterns.
func ParseFilters(ps []string) (Filters, error) {
	var out Filters
	for _, s := range ps {
		p, err := ParsePattern(s)
		if err != nil {
			return nil, fmt.Errorf("esm: filter %q: %w", s, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// Pass reports whether rec (the record as the function would get it,
// decoded) passes.
func (fs Filters) Pass(rec map[string]any) bool {
	if len(fs) == 0 {
		return true
	}
	for _, p := range fs {
		if p.Match(rec) {
			return true
		}
	}
	return false
}

// sqsFilterView is what filters see of an SQS record: the record, with
// its body decoded when it is a JSON object (AWS: patterns on body
// properties match only JSON bodies; a plain string body matches only
// patterns on the body as a string).
func sqsFilterView(rec map[string]any, body string) map[string]any {
	out := make(map[string]any, len(rec))
	for k, v := range rec {
		out[k] = v
	}
	var v any
	d := json.NewDecoder(bytes.NewReader([]byte(body)))
	if d.Decode(&v) == nil && !d.More() {
		if obj, ok := v.(map[string]any); ok {
			out["body"] = obj
		}
	}
	return out
}
