package logs

import (
	"strconv"
	"strings"
)

// Space-delimited patterns: [ip, user, ..., status = 4*, bytes > 1000]
// name the fields of a message split at spaces ("quoted" and [bracketed]
// runs are one field, without their quotes or brackets); "..." stands for
// any number of fields; a field may carry conditions, joined with && and
// || (&& binding tighter), each "name op value" with =, !=, <, <=, >, >=,
// numbers compared as numbers and strings with * wildcards.

type fieldSpec struct {
	any  bool        // "..."
	alts [][]fieldOp // || of && of conditions; nil: any value
}

type fieldOp struct {
	op  string
	str string
	num *float64
}

func parseSpaceDelimited(src string) ([]fieldSpec, error) {
	body := strings.TrimSpace(src[1 : len(src)-1])
	if body == "" {
		return nil, ErrPattern
	}
	var specs []fieldSpec
	for _, part := range splitTop(body, ',') {
		part = strings.TrimSpace(part)
		if part == "..." {
			specs = append(specs, fieldSpec{any: true})
			continue
		}
		var spec fieldSpec
		for _, alt := range strings.Split(part, "||") {
			var conds []fieldOp
			for _, c := range strings.Split(alt, "&&") {
				c = strings.TrimSpace(c)
				op, ok := fieldCond(c)
				if !ok {
					return nil, ErrPattern
				}
				if op.op != "" {
					conds = append(conds, op)
				}
			}
			if len(conds) > 0 {
				spec.alts = append(spec.alts, conds)
			}
		}
		specs = append(specs, spec)
	}
	return specs, nil
}

// splitTop splits s at sep outside quotes.
func splitTop(s string, sep byte) []string {
	var out []string
	quoted := false
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case sep:
			if !quoted {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// fieldCond parses "name" (no condition) or "name op value".
func fieldCond(c string) (fieldOp, bool) {
	i := 0
	for i < len(c) && isWord(c[i]) {
		i++
	}
	if i == 0 {
		return fieldOp{}, false
	}
	rest := strings.TrimSpace(c[i:])
	if rest == "" {
		return fieldOp{}, true
	}
	var f fieldOp
	for _, op := range []string{"!=", "<=", ">=", "=", "<", ">"} {
		if strings.HasPrefix(rest, op) {
			f.op = op
			rest = strings.TrimSpace(rest[len(op):])
			break
		}
	}
	if f.op == "" || rest == "" {
		return fieldOp{}, false
	}
	if len(rest) >= 2 && rest[0] == '"' && rest[len(rest)-1] == '"' {
		f.str = rest[1 : len(rest)-1]
	} else if n, err := strconv.ParseFloat(rest, 64); err == nil {
		f.num = &n
		f.str = rest
	} else if strings.ContainsAny(rest, " \"") {
		return fieldOp{}, false
	} else {
		f.str = rest
	}
	if f.num == nil && f.op != "=" && f.op != "!=" {
		return fieldOp{}, false
	}
	return f, true
}

// fields splits a message as space-delimited patterns read it.
func fields(msg string) []string {
	var out []string
	for i := 0; i < len(msg); {
		switch c := msg[i]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '"' || c == '[':
			end := byte('"')
			if c == '[' {
				end = ']'
			}
			j := strings.IndexByte(msg[i+1:], end)
			if j < 0 {
				out = append(out, msg[i+1:])
				return out
			}
			out = append(out, msg[i+1:i+1+j])
			i += j + 2
		default:
			j := strings.IndexAny(msg[i:], " \t\n\r")
			if j < 0 {
				j = len(msg) - i
			}
			out = append(out, msg[i:i+j])
			i += j
		}
	}
	return out
}

// matchFields matches by dynamic programming, so that patterns of many
// "..." stay linear in specs × fields: ok[j] says specs[i:] match fs[j:].
func matchFields(specs []fieldSpec, fs []string) bool {
	ok := make([]bool, len(fs)+1)
	ok[len(fs)] = true
	next := make([]bool, len(fs)+1)
	for i := len(specs) - 1; i >= 0; i-- {
		sp := specs[i]
		next[len(fs)] = sp.any && ok[len(fs)]
		for j := len(fs) - 1; j >= 0; j-- {
			if sp.any {
				next[j] = ok[j] || next[j+1]
			} else {
				next[j] = ok[j+1] && sp.match(fs[j])
			}
		}
		ok, next = next, ok
	}
	return ok[0]
}

func (s fieldSpec) match(v string) bool {
	if len(s.alts) == 0 {
		return true
	}
	for _, conds := range s.alts {
		ok := true
		for _, c := range conds {
			if !c.match(v) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func (c fieldOp) match(v string) bool {
	if c.num != nil {
		n, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return false
		}
		switch c.op {
		case "=":
			return n == *c.num
		case "!=":
			return n != *c.num
		case "<":
			return n < *c.num
		case "<=":
			return n <= *c.num
		case ">":
			return n > *c.num
		case ">=":
			return n >= *c.num
		}
	}
	eq := wildcard(c.str, v)
	if c.op == "!=" {
		return !eq
	}
	return eq
}
