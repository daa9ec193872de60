package logs

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
)

// Pattern is a parsed CloudWatch Logs filter pattern:
//   - terms: every term must occur (case-sensitive), "quoted phrases" are
//     one term, -term must not occur, and ?term makes a term optional: of
//     the optional terms at least one must occur;
//   - JSON selectors: { $.a.b = "x" && ($.n > 3 || $.c != * ) }, with =,
//     !=, <, <=, >, >=, strings (with * wildcards), numbers, true, false,
//     null, and "IS NULL"/"NOT EXISTS"/"EXISTS";
//   - space-delimited patterns: [ip, user, ..., status = 4*, size > 100]
//     (spacefilter.go).
//
// An empty pattern matches everything.
type Pattern struct {
	req, not, opt []string
	expr          node
	fields        []fieldSpec // a space-delimited pattern's (spacefilter.go)
}

// ErrPattern is a pattern that does not parse.
var ErrPattern = errors.New("invalid filter pattern")

// ParsePattern parses src.
func ParsePattern(src string) (*Pattern, error) {
	src = strings.TrimSpace(src)
	p := &Pattern{}
	if strings.HasPrefix(src, "[") {
		if !strings.HasSuffix(src, "]") {
			return nil, ErrPattern
		}
		specs, err := parseSpaceDelimited(src)
		if err != nil {
			return nil, err
		}
		p.fields = specs
		return p, nil
	}
	if strings.HasPrefix(src, "{") {
		if !strings.HasSuffix(src, "}") {
			return nil, ErrPattern
		}
		ps := &parser{src: src[1 : len(src)-1]}
		e, err := ps.or()
		if err != nil {
			return nil, err
		}
		ps.space()
		if ps.i != len(ps.src) {
			return nil, ErrPattern
		}
		p.expr = e
		return p, nil
	}
	for i := 0; i < len(src); {
		c := src[i]
		if c == ' ' || c == '\t' {
			i++
			continue
		}
		kind := byte(0)
		if c == '-' || c == '?' {
			kind = c
			i++
			if i >= len(src) {
				return nil, ErrPattern
			}
		}
		var term string
		if src[i] == '"' {
			j := strings.IndexByte(src[i+1:], '"')
			if j < 0 {
				return nil, ErrPattern
			}
			term = src[i+1 : i+1+j]
			i += j + 2
		} else {
			j := strings.IndexAny(src[i:], " \t")
			if j < 0 {
				j = len(src) - i
			}
			term = src[i : i+j]
			i += j
		}
		if term == "" {
			continue
		}
		switch kind {
		case '-':
			p.not = append(p.not, term)
		case '?':
			p.opt = append(p.opt, term)
		default:
			p.req = append(p.req, term)
		}
	}
	return p, nil
}

// Match reports whether msg matches.
func (p *Pattern) Match(msg string) bool {
	if p.fields != nil {
		return matchFields(p.fields, fields(msg))
	}
	if p.expr != nil {
		// The JSON object may follow a text prefix (a runtime's
		// "<time>\t<request id>\tINFO\t" before console.log's JSON). [?]
		// whether CloudWatch reads such embedded JSON or only events that
		// are JSON as a whole.
		i := strings.IndexByte(msg, '{')
		if i < 0 {
			return false
		}
		var v any
		d := json.NewDecoder(strings.NewReader(msg[i:]))
		d.UseNumber()
		if d.Decode(&v) != nil {
			return false
		}
		return p.expr.eval(v)
	}
	for _, t := range p.req {
		if !strings.Contains(msg, t) {
			return false
		}
	}
	for _, t := range p.not {
		if strings.Contains(msg, t) {
			return false
		}
	}
	if len(p.opt) == 0 {
		return true
	}
	for _, t := range p.opt {
		if strings.Contains(msg, t) {
			return true
		}
	}
	return false
}

type node interface{ eval(v any) bool }

type andNode struct{ a, b node }
type orNode struct{ a, b node }

func (n andNode) eval(v any) bool { return n.a.eval(v) && n.b.eval(v) }
func (n orNode) eval(v any) bool  { return n.a.eval(v) || n.b.eval(v) }

// cmp is "$.path op value".
type cmp struct {
	path []string // keys; "[n]" indexes
	op   string   // = != < <= > >= null notexists exists
	str  *string
	num  *float64
	lit  string // true false null
}

type parser struct {
	src string
	i   int
}

func (p *parser) space() {
	for p.i < len(p.src) && (p.src[p.i] == ' ' || p.src[p.i] == '\t') {
		p.i++
	}
}

func (p *parser) eat(s string) bool {
	p.space()
	if strings.HasPrefix(p.src[p.i:], s) {
		p.i += len(s)
		return true
	}
	return false
}

func (p *parser) or() (node, error) {
	a, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.eat("||") {
		b, err := p.and()
		if err != nil {
			return nil, err
		}
		a = orNode{a, b}
	}
	return a, nil
}

func (p *parser) and() (node, error) {
	a, err := p.term()
	if err != nil {
		return nil, err
	}
	for p.eat("&&") {
		b, err := p.term()
		if err != nil {
			return nil, err
		}
		a = andNode{a, b}
	}
	return a, nil
}

func (p *parser) term() (node, error) {
	if p.eat("(") {
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		if !p.eat(")") {
			return nil, ErrPattern
		}
		return e, nil
	}
	if !p.eat("$") {
		return nil, ErrPattern
	}
	c := &cmp{}
	for p.i < len(p.src) {
		switch p.src[p.i] {
		case '.':
			p.i++
			j := p.i
			for j < len(p.src) && (isWord(p.src[j])) {
				j++
			}
			if j == p.i {
				return nil, ErrPattern
			}
			c.path = append(c.path, p.src[p.i:j])
			p.i = j
			continue
		case '[':
			j := strings.IndexByte(p.src[p.i:], ']')
			if j < 0 {
				return nil, ErrPattern
			}
			idx := p.src[p.i+1 : p.i+j]
			if _, err := strconv.Atoi(idx); err != nil {
				return nil, ErrPattern
			}
			c.path = append(c.path, "["+idx+"]")
			p.i += j + 1
			continue
		}
		break
	}
	if len(c.path) == 0 {
		return nil, ErrPattern
	}
	switch {
	case p.eat("IS NULL"):
		c.op = "null"
		return c, nil
	case p.eat("NOT EXISTS"):
		c.op = "notexists"
		return c, nil
	case p.eat("EXISTS"):
		c.op = "exists"
		return c, nil
	}
	for _, op := range []string{"!=", "<=", ">=", "=", "<", ">"} {
		if p.eat(op) {
			c.op = op
			break
		}
	}
	if c.op == "" {
		return nil, ErrPattern
	}
	p.space()
	if p.i >= len(p.src) {
		return nil, ErrPattern
	}
	switch ch := p.src[p.i]; {
	case ch == '"':
		j := strings.IndexByte(p.src[p.i+1:], '"')
		if j < 0 {
			return nil, ErrPattern
		}
		s := p.src[p.i+1 : p.i+1+j]
		c.str = &s
		p.i += j + 2
	default:
		j := p.i
		for j < len(p.src) && !strings.ContainsRune(" \t)&|", rune(p.src[j])) {
			j++
		}
		w := p.src[p.i:j]
		p.i = j
		if w == "" {
			return nil, ErrPattern
		}
		if f, err := strconv.ParseFloat(w, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			c.num = &f
		} else if w == "true" || w == "false" || w == "null" {
			c.lit = w
		} else {
			c.str = &w
		}
	}
	if c.num == nil && c.op != "=" && c.op != "!=" {
		return nil, ErrPattern // only numbers compare by order
	}
	return c, nil
}

func isWord(c byte) bool {
	return c == '_' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func (c *cmp) eval(root any) bool {
	v, found := root, true
	for _, k := range c.path {
		if strings.HasPrefix(k, "[") {
			a, ok := v.([]any)
			n, _ := strconv.Atoi(k[1 : len(k)-1])
			if !ok || n < 0 || n >= len(a) {
				found = false
				break
			}
			v = a[n]
			continue
		}
		m, ok := v.(map[string]any)
		if !ok {
			found = false
			break
		}
		if v, ok = m[k]; !ok {
			found = false
			break
		}
	}
	switch c.op {
	case "exists":
		return found
	case "notexists":
		return !found
	case "null":
		return found && v == nil
	}
	if !found {
		return false
	}
	eq := false
	switch {
	case c.num != nil:
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		f, err := n.Float64()
		if err != nil {
			return false
		}
		switch c.op {
		case "<":
			return f < *c.num
		case "<=":
			return f <= *c.num
		case ">":
			return f > *c.num
		case ">=":
			return f >= *c.num
		}
		eq = f == *c.num
	case c.lit != "":
		switch c.lit {
		case "null":
			eq = v == nil
		default:
			b, ok := v.(bool)
			eq = ok && b == (c.lit == "true")
		}
	default:
		var s string
		switch x := v.(type) {
		case string:
			s = x
		case json.Number:
			s = x.String()
		default:
			return c.op == "!=" && *c.str != "*"
		}
		eq = wildcard(*c.str, s)
	}
	if c.op == "!=" {
		return !eq
	}
	return eq
}

// wildcard matches s against pat, where * stands for any run of characters.
func wildcard(pat, s string) bool {
	parts := strings.Split(pat, "*")
	if len(parts) == 1 {
		return pat == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(s, mid)
		if i < 0 {
			return false
		}
		s = s[i+len(mid):]
	}
	return strings.HasSuffix(s, last)
}
