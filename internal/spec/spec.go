// Package spec is the Lambda API as AWS's model describes it: every shape,
// enum, constraint, HTTP binding and error status. zz_generated.go is made
// from model/lambda-2015-03-31/service-2.json (botocore's, kept in the
// repository: see model/README.md) by ./gen; this file
// holds the small hand-written types the generated code is written against.
package spec

//go:generate go run ./gen -model model/lambda-2015-03-31/service-2.json -added model/lambda-2015-03-31/added-2.json -out zz_generated.go

import (
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// Rule is one shape's constraints from the model.
type Rule struct {
	Shape          string
	HasMin, HasMax bool
	Min, Max       float64
	Pattern        string
	Enum           []string
	re, not        *regexp.Regexp
	// fast, when set, is an ASCII class whose every non-empty string re
	// matches (the generator proves it from re's structure): such a value
	// needs no regular expression.
	fast *asciiSet
}

// asciiSet is a set of ASCII bytes, bit c of word c/64 for byte c.
type asciiSet [2]uint64

// all reports whether s is non-empty and made of bytes in a only.
func (a *asciiSet) all(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 128 || a[c/64]&(1<<(c%64)) == 0 {
			return false
		}
	}
	return true
}

// Match reports whether s satisfies the rule's pattern (true when it has none
// or the pattern is not expressible in Go's regexp syntax).
func (r *Rule) Match(s string) bool {
	if r.re == nil {
		return true
	}
	if (r.fast == nil || !r.fast.all(s)) && !r.re.MatchString(s) {
		return false
	}
	return r.not == nil || !r.not.MatchString(s)
}

// Validator receives every constrained value of a request; the API layer
// implements it and owns the wording of the messages.
type Validator interface {
	Join(path, member string) string
	Index(path string, i int) string
	Key(path string) string
	Value(path string) string
	Required(path string, present bool)
	String(path, v string, r *Rule)
	Int(path string, v int64, r *Rule)
	Float(path string, v float64, r *Rule)
	Size(path string, n int, value any, r *Rule)
	// Members checks each string of a list against r.
	Members(path string, list []string, r *Rule)
	// MapKeys, MapValues and MapNumbers check a map's keys or values
	// against r; m is the whole map, for the message.
	MapKeys(path string, m any, keys []string, r *Rule)
	MapValues(path string, m any, values []string, r *Rule)
	MapNumbers(path string, m any, values []float64, r *Rule)
}

// Binder gives access to the parts of an HTTP request outside the JSON body.
// Path, Query and Header return nil when the part is absent.
type Binder interface {
	Path(name string) *string
	Query(name string) *string
	QueryList(name string) []string
	Header(name string) *string
	Body() []byte
}

// Encoder receives the parts of a response outside the JSON body.
type Encoder interface {
	Status(code int)
	Header(name, value string)
	Raw(body []byte)
}

// Input is a request shape.
type Input interface {
	BindHTTP(Binder) error
	JSONBody() any
	Validate(v Validator, path string)
}

// Output is a response shape.
type Output interface {
	EncodeHTTP(Encoder)
	JSONBody() any
}

// Op is one row of the model's operation table.
type Op struct {
	Name        string
	Method      string
	Path        string // URI template without its literal query, e.g. /2015-03-31/functions/{FunctionName}
	Query       string // literal query the URI requires, e.g. "find=LayerVersion"
	SuccessCode int
	Deprecated  bool
	// Added marks operations AWS added after the botocore copy of the
	// model: lambdad wrote them into model/.../added-2.json.
	Added     bool
	NewInput  func() Input
	NewOutput func() Output // nil when the operation has no output body
	Errors    []string
}

// Empty is the input of operations the model gives none.
type Empty struct{}

func (*Empty) BindHTTP(Binder) error      { return nil }
func (*Empty) JSONBody() any              { return nil }
func (*Empty) Validate(Validator, string) {}

// Timestamp is the model's timestamp type; rest-json sends it as epoch seconds.
type Timestamp struct{ time.Time }

// MarshalJSON writes epoch seconds with millisecond precision.
func (t Timestamp) MarshalJSON() ([]byte, error) {
	return strconv.AppendFloat(nil, float64(t.UnixMilli())/1000, 'f', -1, 64), nil
}

// UnmarshalJSON reads epoch seconds.
func (t *Timestamp) UnmarshalJSON(b []byte) error {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("timestamp: %w", err)
	}
	t.Time = time.UnixMilli(int64(f * 1000)).UTC()
	return nil
}

// BindError is a URI, query or header value that does not parse as its type.
type BindError struct {
	Member, Value, Type string
}

func (e *BindError) Error() string {
	return fmt.Sprintf("Value '%s' at '%s' is not a valid %s", e.Value, e.Member, e.Type)
}

func parseInt32(member, s string) (int32, error) {
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return 0, &BindError{Member: member, Value: s, Type: "integer"}
	}
	return int32(n), nil
}

func parseInt64(member, s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, &BindError{Member: member, Value: s, Type: "long"}
	}
	return n, nil
}

func parseBool(member, s string) (bool, error) {
	switch s {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, &BindError{Member: member, Value: s, Type: "boolean"}
}

func parseTimestamp(member, s string) (Timestamp, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return Timestamp{t}, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return Timestamp{}, &BindError{Member: member, Value: s, Type: "timestamp"}
	}
	return Timestamp{time.UnixMilli(int64(f * 1000)).UTC()}, nil
}

func mapKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func mapValues[V any](m map[string]V) []V {
	out := make([]V, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
