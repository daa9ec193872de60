// Command gen turns AWS's Lambda API model (botocore's service-2.json) into
// the Go code of package spec: shapes, enums, constraint rules, HTTP binding
// and the operation table. Run it through `go generate ./internal/spec`.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"go/format"
	"log"
	"os"
	"regexp"
	"regexp/syntax"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

type model struct {
	Metadata   map[string]any        `json:"metadata"`
	Operations map[string]*operation `json:"operations"`
	Shapes     map[string]*shape     `json:"shapes"`
}

type operation struct {
	Name string `json:"name"`
	HTTP struct {
		Method       string `json:"method"`
		RequestURI   string `json:"requestUri"`
		ResponseCode int    `json:"responseCode"`
	} `json:"http"`
	Input  *ref   `json:"input"`
	Output *ref   `json:"output"`
	Errors []ref  `json:"errors"`
	Depr   bool   `json:"deprecated"`
	Doc    string `json:"documentation"`
	Added  bool   `json:"-"` // from -added, not AWS's file
}

type ref struct {
	Shape string `json:"shape"`
}

type member struct {
	Shape        string `json:"shape"`
	Location     string `json:"location"`
	LocationName string `json:"locationName"`
}

type shape struct {
	Type     string             `json:"type"`
	Members  map[string]*member `json:"members"`
	Order    []string           `json:"-"` // member names in the model's order
	Required []string           `json:"required"`
	Payload  string             `json:"payload"`
	Member   *ref               `json:"member"`
	Key      *ref               `json:"key"`
	Value    *ref               `json:"value"`
	Min      *float64           `json:"min"`
	Max      *float64           `json:"max"`
	Pattern  *string            `json:"pattern"`
	Enum     []string           `json:"enum"`
	Error    *struct {
		HTTPStatusCode int  `json:"httpStatusCode"`
		SenderFault    bool `json:"senderFault"`
	} `json:"error"`
	Exception bool `json:"exception"`
	Event     bool `json:"event"`
	Stream    bool `json:"eventstream"`
}

// noValidate lists members whose constraint the control plane checks itself,
// because AWS answers them with another error than ValidationException.
var noValidate = map[string]bool{
	"CreateFunctionRequest.Runtime":              true,
	"UpdateFunctionConfigurationRequest.Runtime": true,
}

// rewrites expresses the model's Java look-around patterns for RE2: a value
// matches when it matches the first expression and not the second.
var rewrites = map[string][2]string{
	`(?!^[0-9]+$)([a-zA-Z0-9-_]+)`:              {`[a-zA-Z0-9-_]+`, `[0-9]+`},
	`((?!^\d+$)^[0-9a-zA-Z-_]+$)`:               {`[0-9a-zA-Z-_]+`, `\d+`},
	`[0-9A-Za-z\.\-_]*(?<!\.)`:                  {`[0-9A-Za-z\.\-_]*`, `.*\.`},
	`(^(?!(system\x2e)))(^[_a-zA-Z0-9])([^$]*)`: {`[_a-zA-Z0-9][^$]*`, `system\x2e.*`},
	`(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_]{1,64})(:((?!\d+$)[0-9a-zA-Z-_]+))?`: {
		`(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_]{1,64})(:([0-9a-zA-Z-_]+))?`,
		`.*:\d+`,
	},
}

func main() {
	in := flag.String("model", "", "service-2.json")
	added := flag.String("added", "", "operations and shapes lambdad added to the model (same format)")
	out := flag.String("out", "zz_generated.go", "output file")
	pkg := flag.String("pkg", "spec", "package of the output; any other than spec is a JSON 1.1 service (see json11)")
	flag.Parse()
	m, err := readModel(*in)
	if err != nil {
		log.Fatal(err)
	}
	if *added != "" {
		more, err := readModel(*added)
		if err != nil {
			log.Fatal(err)
		}
		// A name in both means AWS's copy caught up: drop it from ours.
		for name, op := range more.Operations {
			if m.Operations[name] != nil {
				log.Fatalf("%s: operation %s is in the model already", *added, name)
			}
			op.Added = true
			m.Operations[name] = op
		}
		for name, sh := range more.Shapes {
			if m.Shapes[name] != nil {
				log.Fatalf("%s: shape %s is in the model already", *added, name)
			}
			m.Shapes[name] = sh
		}
		if err := amend(m, *added); err != nil {
			log.Fatal(err)
		}
	}
	g := &gen{m: m, rules: map[string]string{}}
	var src []byte
	if *pkg == "spec" {
		src = g.run()
	} else {
		src = g.json11(*pkg)
	}
	formatted, err := format.Source(src)
	if err != nil {
		os.WriteFile(*out+".broken", src, 0o644)
		log.Fatalf("gofmt: %v", err)
	}
	if err := os.WriteFile(*out, formatted, 0o644); err != nil {
		log.Fatal(err)
	}
}

// amend applies the added file's "amend" section: enum values and members
// AWS added to shapes the model has, appended in the file's order. A value
// or member the model has already is an error, as for whole shapes.
func amend(m *model, path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var file struct {
		Amend map[string]json.RawMessage `json:"amend"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for name, rawShape := range file.Amend {
		base := m.Shapes[name]
		if base == nil {
			return fmt.Errorf("%s: amend: no shape %s in the model", path, name)
		}
		var more shape
		if err := json.Unmarshal(rawShape, &more); err != nil {
			return fmt.Errorf("%s: amend %s: %w", path, name, err)
		}
		for _, v := range more.Enum {
			if slices.Contains(base.Enum, v) {
				return fmt.Errorf("%s: amend: %s has %s already", path, name, v)
			}
			base.Enum = append(base.Enum, v)
		}
		var order struct {
			Members json.RawMessage `json:"members"`
		}
		if err := json.Unmarshal(rawShape, &order); err != nil {
			return err
		}
		if len(order.Members) == 0 {
			continue
		}
		for _, k := range objectKeys(order.Members) {
			if base.Members[k] != nil {
				return fmt.Errorf("%s: amend: %s has member %s already", path, name, k)
			}
			base.Members[k] = more.Members[k]
			base.Order = append(base.Order, k)
		}
	}
	return nil
}

// readModel reads a service-2.json, keeping each shape's member order.
func readModel(path string) (*model, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m model
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var order struct {
		Shapes map[string]struct {
			Members json.RawMessage `json:"members"`
		} `json:"shapes"`
	}
	if err := json.Unmarshal(raw, &order); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for name, sh := range order.Shapes {
		if len(sh.Members) > 0 {
			m.Shapes[name].Order = objectKeys(sh.Members)
		}
	}
	return &m, nil
}

// objectKeys lists a JSON object's keys in their order: AWS reports
// validation errors in the model's member order.
func objectKeys(raw json.RawMessage) []string {
	d := json.NewDecoder(bytes.NewReader(raw))
	if _, err := d.Token(); err != nil {
		log.Fatal(err)
	}
	var keys []string
	for d.More() {
		t, err := d.Token()
		if err != nil {
			log.Fatal(err)
		}
		keys = append(keys, t.(string))
		var skip json.RawMessage
		if err := d.Decode(&skip); err != nil {
			log.Fatal(err)
		}
	}
	return keys
}

type gen struct {
	m     *model
	b     bytes.Buffer
	rules map[string]string // shape name -> rule variable
}

func (g *gen) p(format string, args ...any) { fmt.Fprintf(&g.b, format, args...) }

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func (g *gen) goType(name string) string {
	s := g.m.Shapes[name]
	switch s.Type {
	case "string":
		return "string"
	case "integer":
		return "int32"
	case "long":
		return "int64"
	case "boolean":
		return "bool"
	case "double":
		return "float64"
	case "timestamp":
		return "Timestamp"
	case "blob":
		return "[]byte"
	case "list":
		return "[]" + g.goType(s.Member.Shape)
	case "map":
		return "map[string]" + g.goType(s.Value.Shape)
	case "structure":
		return name
	}
	log.Fatalf("unknown type %s for %s", s.Type, name)
	return ""
}

// fieldType is the Go type of a struct field: optional scalars and
// structures are pointers so that "absent" differs from "zero".
func (g *gen) fieldType(name string) string {
	t := g.goType(name)
	switch g.m.Shapes[name].Type {
	case "list", "map", "blob":
		return t
	}
	return "*" + t
}

func exported(s string) string {
	r := []rune(s)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}

func lowerFirst(s string) string {
	r := []rune(s)
	// AWS paths lower-case the leading run of capitals: "VpcConfig" -> "vpcConfig", "KMSKeyArn" -> "kMSKeyArn".
	r[0] = unicode.ToLower(r[0])
	return string(r)
}

func (g *gen) run() []byte {
	g.p("// Code generated by internal/spec/gen from AWS's Lambda model (service-2.json, %v). DO NOT EDIT.\n\n", g.m.Metadata["apiVersion"])
	g.p("package spec\n\nimport (\n\"regexp\"\n)\n\n")
	g.p("var _ = regexp.MustCompile\n\n")
	g.enums()
	g.rulesVars()
	for _, name := range sortedKeys(g.m.Shapes) {
		s := g.m.Shapes[name]
		if s.Type == "structure" && !s.Exception {
			g.structure(name, s)
		}
	}
	g.operations()
	g.errorsTable()
	return g.b.Bytes()
}

func constName(shape, v string) string {
	var b strings.Builder
	b.WriteString(shape)
	up := true
	for _, r := range v {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if up {
				r = unicode.ToUpper(r)
			}
			b.WriteRune(r)
			up = false
		} else {
			up = true
		}
	}
	return b.String()
}

func (g *gen) enums() {
	for _, name := range sortedKeys(g.m.Shapes) {
		s := g.m.Shapes[name]
		if len(s.Enum) == 0 {
			continue
		}
		g.p("// %s values.\nconst (\n", name)
		seen := map[string]bool{}
		for _, v := range s.Enum {
			c := constName(name, v)
			if seen[c] {
				continue
			}
			seen[c] = true
			g.p("%s = %q\n", c, v)
		}
		g.p(")\n\n")
		g.p("// %sValues returns the model's values of %s, in its order.\nfunc %sValues() []string { return []string{", name, name, name)
		for i, v := range s.Enum {
			if i > 0 {
				g.p(", ")
			}
			g.p("%q", v)
		}
		g.p("} }\n\n")
	}
}

func num(f *float64) string {
	if f == nil {
		return "0"
	}
	return strconv.FormatFloat(*f, 'f', -1, 64)
}

// fast emits a Rule's fast field when its pattern accepts every non-empty
// string of one ASCII class: the pattern is a sequence whose parts may all
// match nothing but one, [class]+ (the anchors ^ before it and $ after).
// A function name, the pattern checked on every Invoke, is such a string
// of its last group; Match then needs no regular expression for it.
func (g *gen) fast(pattern string) {
	if set, ok := plusClass(pattern); ok {
		g.p(", fast: &asciiSet{%#x, %#x}", set[0], set[1])
	}
}

func plusClass(pattern string) (set [2]uint64, ok bool) {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return set, false
	}
	re = re.Simplify()
	parts := []*syntax.Regexp{re}
	if re.Op == syntax.OpConcat {
		parts = re.Sub
	}
	found := false
	for _, p := range parts {
		for p.Op == syntax.OpCapture {
			p = p.Sub[0]
		}
		switch {
		case p.Op == syntax.OpBeginText && !found, p.Op == syntax.OpEndText && found:
		case p.Op == syntax.OpBeginText, p.Op == syntax.OpEndText:
			return set, false
		case nullable(p):
		case !found && p.Op == syntax.OpPlus && p.Sub[0].Op == syntax.OpCharClass:
			found = true
			r := p.Sub[0].Rune
			for i := 0; i+1 < len(r); i += 2 {
				for c := r[i]; c <= r[i+1] && c < 128; c++ {
					set[c/64] |= 1 << (c % 64)
				}
			}
		default:
			return set, false
		}
	}
	return set, found && set != [2]uint64{}
}

// nullable reports whether re surely matches the empty string anywhere
// (no anchors inside).
func nullable(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpEmptyMatch, syntax.OpQuest, syntax.OpStar:
		return true
	case syntax.OpRepeat:
		return re.Min == 0
	case syntax.OpCapture:
		return nullable(re.Sub[0])
	case syntax.OpConcat:
		for _, s := range re.Sub {
			if !nullable(s) {
				return false
			}
		}
		return true
	case syntax.OpAlternate:
		for _, s := range re.Sub {
			if nullable(s) {
				return true
			}
		}
	}
	return false
}

// rulesVars emits one Rule per constrained shape.
func (g *gen) rulesVars() {
	g.p("var (\n")
	for _, name := range sortedKeys(g.m.Shapes) {
		s := g.m.Shapes[name]
		if s.Min == nil && s.Max == nil && s.Pattern == nil && len(s.Enum) == 0 {
			continue
		}
		v := "rule" + name
		g.rules[name] = v
		g.p("%s = &Rule{Shape: %q", v, name)
		if s.Min != nil {
			g.p(", HasMin: true, Min: %s", num(s.Min))
		}
		if s.Max != nil {
			g.p(", HasMax: true, Max: %s", num(s.Max))
		}
		if s.Pattern != nil {
			if rw, ok := rewrites[*s.Pattern]; ok {
				g.p(", Pattern: %q, re: regexp.MustCompile(%q), not: regexp.MustCompile(%q)", *s.Pattern, "^(?:"+rw[0]+")$", "^(?:"+rw[1]+")$")
				g.fast("^(?:" + rw[0] + ")$")
			} else if _, err := regexp.Compile("^(?:" + *s.Pattern + ")$"); err == nil {
				g.p(", Pattern: %q, re: regexp.MustCompile(%q)", *s.Pattern, "^(?:"+*s.Pattern+")$")
				g.fast("^(?:" + *s.Pattern + ")$")
			} else {
				g.p(", Pattern: %q /* not expressible in RE2: %v */", *s.Pattern, strings.ReplaceAll(err.Error(), "*/", ""))
			}
		}
		if len(s.Enum) > 0 {
			g.p(", Enum: %sValues()", name)
		}
		g.p("}\n")
	}
	g.p(")\n\n")
}

func (g *gen) structure(name string, s *shape) {
	if s.Stream {
		g.p("// %s is an event stream; lambdad does not implement it.\ntype %s struct{}\n\n", name, name)
		g.p("func (s *%s) Validate(v Validator, path string) {}\n\n", name)
		return
	}
	req := map[string]bool{}
	for _, r := range s.Required {
		req[r] = true
	}
	names := s.Order
	g.p("type %s struct {\n", name)
	for _, mn := range names {
		mem := s.Members[mn]
		tag := fmt.Sprintf("`json:\"%s,omitzero\"`", mn)
		if mem.Location != "" || mn == s.Payload {
			tag = "`json:\"-\"`"
		}
		g.p("%s %s %s\n", exported(mn), g.fieldType(mem.Shape), tag)
	}
	g.p("}\n\n")

	// Validation walk.
	g.p("// Validate reports every constraint of the model that s breaks.\nfunc (s *%s) Validate(v Validator, path string) {\n", name)
	if len(names) == 0 {
		g.p("_ = s\n")
	}
	for _, mn := range names {
		mem := s.Members[mn]
		if noValidate[name+"."+mn] {
			continue
		}
		p := fmt.Sprintf("v.Join(path, %q)", lowerFirst(mn))
		if req[mn] {
			g.p("v.Required(%s, s.%s != nil)\n", p, mn)
		}
		g.validateValue(mem.Shape, "s."+mn, p, true)
	}
	g.p("}\n\n")

	g.binding(name, s, names)
}

// validateValue emits checks of expr (of shape sh) at path expression p.
func (g *gen) validateValue(sh, expr, p string, ptr bool) {
	s := g.m.Shapes[sh]
	rule := g.rules[sh]
	deref := expr
	if ptr {
		deref = "*" + expr
	}
	switch s.Type {
	case "string":
		if rule != "" {
			if ptr {
				g.p("if %s != nil { v.String(%s, %s, %s) }\n", expr, p, deref, rule)
			} else {
				g.p("v.String(%s, %s, %s)\n", p, expr, rule)
			}
		}
	case "integer", "long":
		if rule != "" {
			if ptr {
				g.p("if %s != nil { v.Int(%s, int64(%s), %s) }\n", expr, p, deref, rule)
			} else {
				g.p("v.Int(%s, int64(%s), %s)\n", p, expr, rule)
			}
		}
	case "double":
		if rule != "" {
			if ptr {
				g.p("if %s != nil { v.Float(%s, %s, %s) }\n", expr, p, deref, rule)
			} else {
				g.p("v.Float(%s, %s, %s)\n", p, expr, rule)
			}
		}
	case "blob":
		if rule != "" {
			g.p("if %s != nil { v.Size(%s, len(%s), %s, %s) }\n", expr, p, expr, expr, rule)
		}
	case "structure":
		if ptr {
			g.p("if %s != nil { %s.Validate(v, %s) }\n", expr, expr, p)
		} else {
			g.p("%s.Validate(v, %s)\n", expr, p)
		}
	case "list":
		if rule != "" {
			g.p("if %s != nil { v.Size(%s, len(%s), %s, %s) }\n", expr, p, expr, expr, rule)
		}
		if ms := g.m.Shapes[s.Member.Shape]; ms.Type == "string" && g.rules[s.Member.Shape] != "" {
			// AWS reports a bad list element on the list itself.
			g.p("if %s != nil { v.Members(%s, %s, %s) }\n", expr, p, expr, g.rules[s.Member.Shape])
		} else if g.needsWalk(s.Member.Shape) {
			g.p("for i := range %s {\n", expr)
			g.validateValue(s.Member.Shape, expr+"[i]", "v.Index("+p+", i)", false)
			g.p("}\n")
		}
	case "map":
		if rule != "" {
			g.p("if %s != nil { v.Size(%s, len(%s), %s, %s) }\n", expr, p, expr, expr, rule)
		}
		kw, vw := g.needsWalk(s.Key.Shape), g.needsWalk(s.Value.Shape)
		vt := g.m.Shapes[s.Value.Shape].Type
		if g.m.Shapes[s.Key.Shape].Type == "string" && (vt == "string" || vt == "double") {
			// AWS reports bad keys and values on the map itself.
			if kw {
				g.p("if %s != nil { v.MapKeys(%s, %s, mapKeys(%s), %s) }\n", expr, p, expr, expr, g.rules[s.Key.Shape])
			}
			if vw && vt == "string" {
				g.p("if %s != nil { v.MapValues(%s, %s, mapValues(%s), %s) }\n", expr, p, expr, expr, g.rules[s.Value.Shape])
			}
			if vw && vt == "double" {
				g.p("if %s != nil { v.MapNumbers(%s, %s, mapValues(%s), %s) }\n", expr, p, expr, expr, g.rules[s.Value.Shape])
			}
		} else if kw || vw {
			g.p("for k, e := range %s {\n_, _ = k, e\n", expr)
			if kw {
				g.validateValue(s.Key.Shape, "k", "v.Key("+p+")", false)
			}
			if vw {
				g.validateValue(s.Value.Shape, "e", "v.Value("+p+")", false)
			}
			g.p("}\n")
		}
	}
}

func (g *gen) needsWalk(sh string) bool {
	s := g.m.Shapes[sh]
	switch s.Type {
	case "structure":
		return true
	case "list":
		return g.rules[sh] != "" || g.needsWalk(s.Member.Shape)
	case "map":
		return g.rules[sh] != "" || g.needsWalk(s.Key.Shape) || g.needsWalk(s.Value.Shape)
	}
	return g.rules[sh] != ""
}

// binding emits BindHTTP (request side) and EncodeHTTP (response side) for
// structures that carry HTTP locations or a payload, and JSONBody for all.
func (g *gen) binding(name string, s *shape, names []string) {
	hasBody := false
	for _, mn := range names {
		if s.Members[mn].Location == "" && mn != s.Payload {
			hasBody = true
		}
	}
	g.p("// BindHTTP sets the members that travel in the URI, query string and headers.\nfunc (s *%s) BindHTTP(b Binder) error {\n", name)
	for _, mn := range names {
		mem := s.Members[mn]
		ln := mem.LocationName
		if ln == "" {
			ln = mn
		}
		t := g.m.Shapes[mem.Shape].Type
		var get string
		switch mem.Location {
		case "uri":
			get = fmt.Sprintf("b.Path(%q)", ln)
		case "querystring":
			get = fmt.Sprintf("b.Query(%q)", ln)
			if t == "list" {
				g.p("s.%s = b.QueryList(%q)\n", mn, ln)
				continue
			}
		case "header":
			get = fmt.Sprintf("b.Header(%q)", ln)
		default:
			if mn == s.Payload && t == "blob" {
				g.p("s.%s = b.Body()\n", mn)
			}
			continue
		}
		switch t {
		case "string":
			g.p("s.%s = %s\n", mn, get)
		case "integer":
			g.p("if x := %s; x != nil { n, err := parseInt32(%q, *x); if err != nil { return err }; s.%s = &n }\n", get, mn, mn)
		case "long":
			g.p("if x := %s; x != nil { n, err := parseInt64(%q, *x); if err != nil { return err }; s.%s = &n }\n", get, mn, mn)
		case "boolean":
			g.p("if x := %s; x != nil { n, err := parseBool(%q, *x); if err != nil { return err }; s.%s = &n }\n", get, mn, mn)
		case "timestamp":
			g.p("if x := %s; x != nil { n, err := parseTimestamp(%q, *x); if err != nil { return err }; s.%s = &n }\n", get, mn, mn)
		default:
			log.Fatalf("binding %s.%s: type %s", name, mn, t)
		}
	}
	g.p("return nil\n}\n\n")

	// JSONBody: where the request/response JSON body goes.
	g.p("// JSONBody returns what the JSON body decodes into or encodes from, or nil when the body is not JSON.\nfunc (s *%s) JSONBody() any {\n", name)
	switch {
	case s.Payload != "" && g.m.Shapes[s.Members[s.Payload].Shape].Type == "structure":
		g.p("if s.%s == nil { s.%s = new(%s) }\nreturn s.%s\n", s.Payload, s.Payload, s.Members[s.Payload].Shape, s.Payload)
	case s.Payload != "":
		g.p("return nil\n")
	case hasBody:
		g.p("return s\n")
	default:
		g.p("return nil\n")
	}
	g.p("}\n\n")

	g.p("// EncodeHTTP sets the status code, headers and raw payload members of a response.\nfunc (s *%s) EncodeHTTP(e Encoder) {\n", name)
	for _, mn := range names {
		mem := s.Members[mn]
		ln := mem.LocationName
		if ln == "" {
			ln = mn
		}
		t := g.m.Shapes[mem.Shape].Type
		switch mem.Location {
		case "statusCode":
			g.p("if s.%s != nil { e.Status(int(*s.%s)) }\n", mn, mn)
		case "header":
			switch t {
			case "string":
				g.p("if s.%s != nil { e.Header(%q, *s.%s) }\n", mn, ln, mn)
			default:
				g.p("if s.%s != nil { e.Header(%q, fmt.Sprint(*s.%s)) }\n", mn, ln, mn)
			}
		case "":
			if mn == s.Payload && t == "blob" {
				g.p("e.Raw(s.%s)\n", mn)
			}
		}
	}
	g.p("}\n\n")
}

func (g *gen) operations() {
	g.p("// Operations is the model's operation table, sorted by name.\nfunc Operations() []Op {\nreturn []Op{\n")
	for _, name := range sortedKeys(g.m.Operations) {
		op := g.m.Operations[name]
		code := op.HTTP.ResponseCode
		if code == 0 {
			code = 200
		}
		uri := op.HTTP.RequestURI
		path, query, _ := strings.Cut(uri, "?")
		g.p("{Name: %q, Method: %q, Path: %q, Query: %q, SuccessCode: %d, Deprecated: %v,\n", name, op.HTTP.Method, path, query, code, op.Depr)
		if op.Added {
			g.p("Added: true,\n")
		}
		g.opTail(op, "Input", "Output", "Empty")
	}
	g.p("}\n}\n\n")
}

func (g *gen) errorsTable() {
	g.p("// ErrorStatus maps each error shape of the model to its HTTP status.\nfunc ErrorStatus(name string) (int, bool) {\nswitch name {\n")
	for _, name := range sortedKeys(g.m.Shapes) {
		s := g.m.Shapes[name]
		if s.Exception && s.Error != nil {
			g.p("case %q: return %d, true\n", name, s.Error.HTTPStatusCode)
		}
	}
	g.p("}\nreturn 0, false\n}\n\n")
	g.p("// ErrorMessageField is the body member an error shape carries its message in.\nfunc ErrorMessageField(name string) string {\nswitch name {\n")
	for _, name := range sortedKeys(g.m.Shapes) {
		s := g.m.Shapes[name]
		if s.Exception && s.Members["Message"] != nil {
			g.p("case %q:\n", name)
			g.p("return \"Message\"\n")
		}
	}
	g.p("}\nreturn \"message\"\n}\n")
}

// json11 writes the package of a JSON 1.1 service (X-Amz-Target dispatch,
// every member in the body): its shapes as plain JSON types, its enums, the
// operation table and its error shapes. Constraints are checked by the
// handlers, because such services answer them with their own
// InvalidParameterException rather than a generic validation error.
func (g *gen) json11(pkg string) []byte {
	g.p("// Code generated by internal/spec/gen from AWS's %v model (service-2.json, %v). DO NOT EDIT.\n\n", g.m.Metadata["serviceId"], g.m.Metadata["apiVersion"])
	g.p("package %s\n\n", pkg)
	g.p("// TargetPrefix is what X-Amz-Target names an operation with: prefix.Operation.\nconst TargetPrefix = %q\n\n", g.m.Metadata["targetPrefix"])
	g.enums()
	for _, name := range sortedKeys(g.m.Shapes) {
		s := g.m.Shapes[name]
		if s.Type != "structure" {
			continue
		}
		if s.Stream {
			g.p("// %s is an event stream: each member is one kind of event.\n", name)
		}
		g.p("type %s struct {\n", name)
		for _, mn := range s.Order {
			g.p("%s %s `json:\"%s,omitzero\"`\n", exported(mn), g.fieldType(s.Members[mn].Shape), mn)
		}
		g.p("}\n\n")
	}
	g.p("// Operations is the model's operation table, sorted by name.\nfunc Operations() []Op {\nreturn []Op{\n")
	for _, name := range sortedKeys(g.m.Operations) {
		op := g.m.Operations[name]
		g.p("{Name: %q, Deprecated: %v,\n", name, op.Depr)
		g.opTail(op, "any", "any", "struct{}")
	}
	g.p("}\n}\n\n")
	g.p("// ErrorStatus maps each error shape of the model to its HTTP status (400 when the model says none).\nfunc ErrorStatus(name string) (int, bool) {\nswitch name {\n")
	for _, name := range sortedKeys(g.m.Shapes) {
		s := g.m.Shapes[name]
		if !s.Exception {
			continue
		}
		code := 400
		if s.Error != nil && s.Error.HTTPStatusCode != 0 {
			code = s.Error.HTTPStatusCode
		} else if s.Error != nil && !s.Error.SenderFault {
			code = 500
		}
		g.p("case %q: return %d, true\n", name, code)
	}
	g.p("}\nreturn 0, false\n}\n")
	return g.b.Bytes()
}

// opTail writes the end of an operation's entry: its input and output
// constructors (in and out are their result types, empty the input of an
// operation without one) and its errors.
func (g *gen) opTail(op *operation, in, out, empty string) {
	input := empty
	if op.Input != nil {
		input = op.Input.Shape
	}
	g.p("NewInput: func() %s { return new(%s) },\n", in, input)
	if op.Output != nil {
		g.p("NewOutput: func() %s { return new(%s) },\n", out, op.Output.Shape)
	}
	g.p("Errors: []string{")
	for i, e := range op.Errors {
		if i > 0 {
			g.p(", ")
		}
		g.p("%q", e.Shape)
	}
	g.p("}},\n")
}
