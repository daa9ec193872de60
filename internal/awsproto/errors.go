// Package awsproto is the rest-json plumbing of the Lambda API: routing by the
// model's HTTP bindings, decoding, validation messages, SigV4 identity and the
// one place where an error becomes AWS's wire format.
package awsproto

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/spec"
)

// Error is an API error as AWS sends it: the type goes in X-Amzn-ErrorType
// and the body carries Type ("User"/"Service") and the message.
type Error struct {
	Code    string // e.g. ResourceNotFoundException
	Message string
	Status  int
	// Extra members of the error body, e.g. Reason for TooManyRequestsException.
	Extra map[string]string
	// Header holds extra response headers, e.g. Retry-After.
	Header map[string]string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf builds an error of a model error shape; its HTTP status comes from
// the model (400 when the shape is not in it, as for ValidationException).
func Errorf(code, format string, args ...any) *Error {
	status, ok := spec.ErrorStatus(code)
	if !ok {
		status = http.StatusBadRequest
	}
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	return &Error{Code: code, Message: msg, Status: status}
}

// WithStatus overrides the HTTP status, for errors AWS sends outside the model.
func (e *Error) WithStatus(s int) *Error { e.Status = s; return e }

// With adds a body member.
func (e *Error) With(k, v string) *Error {
	if e.Extra == nil {
		e.Extra = map[string]string{}
	}
	e.Extra[k] = v
	return e
}

// Common constructors for the errors every operation uses.
func NotFound(format string, args ...any) *Error {
	return Errorf("ResourceNotFoundException", format, args...)
}
func InvalidParameter(format string, args ...any) *Error {
	return Errorf("InvalidParameterValueException", format, args...)
}
func Conflict(format string, args ...any) *Error {
	return Errorf("ResourceConflictException", format, args...)
}

// NotImplemented names an operation or field lambdad does not support yet.
func NotImplemented(what string) *Error {
	return &Error{Code: "NotImplementedException", Status: http.StatusNotImplemented,
		Message: what + " is not implemented by lambdad yet."}
}

// WriteError writes err in AWS's wire format. Errors that are not *Error are
// internal faults: they are logged and answered as ServiceException.
func WriteError(w http.ResponseWriter, log *slog.Logger, err error) {
	var e *Error
	if f, ok := fault.As(err); ok && f.Kind != fault.Internal {
		e = fromFault(f)
	} else if !errors.As(err, &e) {
		log.Error("internal error", "err", err)
		e = &Error{Code: "ServiceException", Status: http.StatusInternalServerError,
			Message: "An internal error occurred: " + err.Error()}
	}
	body := make(map[string]string, 3+len(e.Extra))
	body["Type"] = "User"
	if e.Status >= 500 {
		body["Type"] = "Service"
	}
	body["message"] = e.Message
	if spec.ErrorMessageField(e.Code) == "Message" {
		body["Message"] = e.Message
	}
	for k, v := range e.Extra {
		body[k] = v
	}
	for k, v := range e.Header {
		w.Header().Set(k, v)
	}
	raw, _ := json.Marshal(body)
	h := w.Header()
	h.Set("X-Amzn-ErrorType", e.Code)
	h.Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	w.Write(raw)
}

// validation collects constraint failures in AWS's words.
type validation struct {
	msgs []string
}

func (v *validation) Join(path, member string) string {
	if path == "" {
		return member
	}
	return path + "." + member
}
func (v *validation) Index(path string, i int) string {
	return fmt.Sprintf("%s.%d.member", path, i+1)
}
func (v *validation) Key(path string) string   { return path + ".key" }
func (v *validation) Value(path string) string { return path + ".value" }

func (v *validation) fail(value any, path, constraint string) {
	if value == nil {
		v.msgs = append(v.msgs, fmt.Sprintf("Value null at '%s' failed to satisfy constraint: %s", path, constraint))
		return
	}
	v.msgs = append(v.msgs, fmt.Sprintf("Value '%v' at '%s' failed to satisfy constraint: %s", value, path, constraint))
}

func (v *validation) Required(path string, present bool) {
	if !present {
		v.fail(nil, path, "Member must not be null")
	}
}

func (v *validation) String(path, s string, r *spec.Rule) {
	n := len([]rune(s))
	if r.HasMin && float64(n) < r.Min {
		v.fail(s, path, fmt.Sprintf("Member must have length greater than or equal to %v", r.Min))
	}
	if r.HasMax && float64(n) > r.Max {
		v.fail(s, path, fmt.Sprintf("Member must have length less than or equal to %v", r.Max))
	}
	if r.Pattern != "" && !r.Match(s) {
		v.fail(s, path, "Member must satisfy regular expression pattern: "+shownPattern(r))
	}
	if len(r.Enum) > 0 && !contains(r.Enum, s) {
		v.fail(s, path, "Member must satisfy enum value set: ["+strings.Join(shownEnum(r), ", ")+"]")
	}
}

func (v *validation) Int(path string, n int64, r *spec.Rule) {
	if r.HasMin && float64(n) < r.Min {
		v.fail(n, path, fmt.Sprintf("Member must have value greater than or equal to %v", r.Min))
	}
	if r.HasMax && float64(n) > r.Max {
		v.fail(n, path, fmt.Sprintf("Member must have value less than or equal to %v", r.Max))
	}
}

func (v *validation) Float(path string, f float64, r *spec.Rule) {
	if r.HasMin && f < r.Min {
		v.fail(f, path, fmt.Sprintf("Member must have value greater than or equal to %v", r.Min))
	}
	if r.HasMax && f > r.Max {
		v.fail(f, path, fmt.Sprintf("Member must have value less than or equal to %v", r.Max))
	}
}

func (v *validation) Size(path string, n int, value any, r *spec.Rule) {
	show := value
	if b, ok := value.([]byte); ok {
		show = fmt.Sprintf("java.nio.HeapByteBuffer[pos=0 lim=%d cap=%d]", len(b), len(b))
	} else if l, ok := value.([]string); ok {
		show = "[" + strings.Join(l, ", ") + "]"
	}
	if r.HasMin && float64(n) < r.Min {
		v.fail(show, path, fmt.Sprintf("Member must have length greater than or equal to %v", r.Min))
	}
	if r.HasMax && float64(n) > r.Max {
		v.fail(show, path, fmt.Sprintf("Member must have length less than or equal to %v", r.Max))
	}
}

// ruleText lists every constraint of a rule, as AWS does inside
// "Member must satisfy constraint: [...]".
func ruleText(r *spec.Rule) []string {
	var out []string
	if r.HasMax {
		out = append(out, fmt.Sprintf("Member must have length less than or equal to %v", r.Max))
	}
	if r.HasMin {
		out = append(out, fmt.Sprintf("Member must have length greater than or equal to %v", r.Min))
	}
	if r.Pattern != "" {
		out = append(out, "Member must satisfy regular expression pattern: "+shownPattern(r))
	}
	if len(r.Enum) > 0 {
		out = append(out, "Member must satisfy enum value set: ["+strings.Join(shownEnum(r), ", ")+"]")
	}
	return out
}

// shownPatterns are patterns AWS's messages spell differently from the
// published model (LocalStack's AWS-recorded snapshots, November 2025):
// the layer ARN without the model's outer parentheses.
var shownPatterns = map[string]string{
	"LayerVersionArn": `(arn:(aws[a-zA-Z-]*)?:lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+)|(arn:[a-zA-Z0-9-]+:lambda:::awslayer:[a-zA-Z0-9-_]+)`,
}

func shownPattern(r *spec.Rule) string {
	if p, ok := shownPatterns[r.Shape]; ok {
		return p
	}
	return r.Pattern
}

// shownEnums are enums whose values AWS's messages list in another order
// than the published model: the starting position, as AWS answered
// "invalid" (LocalStack snapshot test_lambda_api:
// TestLambdaEventSourceMappings.test_create_event_source_validation).
var shownEnums = map[string][]string{
	"EventSourcePosition": {"LATEST", "AT_TIMESTAMP", "TRIM_HORIZON"},
}

func shownEnum(r *spec.Rule) []string {
	if e, ok := shownEnums[r.Shape]; ok {
		return e
	}
	return r.Enum
}

// nullableMembers are list members whose constraint list in AWS's
// messages ends without "Member must not be null" (the VPC config's
// subnet and security group ids, in the AWS-recorded snapshots; layers
// and architectures have it).
var nullableMembers = map[string]bool{"SubnetId": true, "SecurityGroupId": true}

func ruleHolds(s string, r *spec.Rule) bool {
	n := float64(len([]rune(s)))
	return !(r.HasMin && n < r.Min) && !(r.HasMax && n > r.Max) && r.Match(s) && (len(r.Enum) == 0 || contains(r.Enum, s))
}

func (v *validation) Members(path string, list []string, r *spec.Rule) {
	for _, s := range list {
		if !ruleHolds(s, r) {
			c := ruleText(r)
			if !nullableMembers[r.Shape] {
				c = append(c, "Member must not be null")
			}
			v.fail("["+strings.Join(list, ", ")+"]", path, "Member must satisfy constraint: ["+strings.Join(c, ", ")+"]")
			return
		}
	}
}

// showMap writes a map as AWS's (Java's) messages do: {k=v, ...}.
func showMap(m any) string {
	var pairs []string
	switch m := m.(type) {
	case map[string]string:
		for k, x := range m {
			pairs = append(pairs, k+"="+x)
		}
	case map[string]float64:
		for k, x := range m {
			pairs = append(pairs, k+"="+javaDouble(x))
		}
	}
	sort.Strings(pairs)
	return "{" + strings.Join(pairs, ", ") + "}"
}

// javaDouble formats like Java's Double.toString for ordinary values: 2.0, 0.25.
func javaDouble(f float64) string {
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsAny(s, ".eEN") {
		s += ".0"
	}
	return s
}

func (v *validation) MapKeys(path string, m any, keys []string, r *spec.Rule) {
	for _, k := range keys {
		if !ruleHolds(k, r) {
			v.fail(showMap(m), path, "Map keys must satisfy constraint: ["+strings.Join(ruleText(r), ", ")+"]")
			return
		}
	}
}

func (v *validation) MapValues(path string, m any, values []string, r *spec.Rule) {
	for _, x := range values {
		if !ruleHolds(x, r) {
			v.fail(showMap(m), path, "Map value must satisfy constraint: ["+strings.Join(ruleText(r), ", ")+"]")
			return
		}
	}
}

func (v *validation) MapNumbers(path string, m any, values []float64, r *spec.Rule) {
	for _, x := range values {
		if (r.HasMin && x < r.Min) || (r.HasMax && x > r.Max) {
			var c []string
			if r.HasMax {
				c = append(c, "Member must have value less than or equal to "+javaDouble(r.Max))
			}
			if r.HasMin {
				c = append(c, "Member must have value greater than or equal to "+javaDouble(r.Min))
			}
			c = append(c, "Member must not be null")
			v.fail(showMap(m), path, "Map value must satisfy constraint: ["+strings.Join(c, ", ")+"]")
			return
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Validate checks every constraint of the model on in and returns AWS's
// ValidationException listing them all, or nil.
func Validate(in spec.Input) error {
	var v validation
	in.Validate(&v, "")
	return ValidationError(v.msgs)
}

// ValidationError joins constraint failures as AWS does, or returns nil.
func ValidationError(msgs []string) error {
	switch len(msgs) {
	case 0:
		return nil
	case 1:
		return Errorf("ValidationException", "1 validation error detected: %s", msgs[0])
	}
	return Errorf("ValidationException", "%d validation errors detected: %s", len(msgs), strings.Join(msgs, "; "))
}

// ConstraintMessage words one failed constraint the way Validate does, for
// rules the control plane checks itself (they answer with another type).
func ConstraintMessage(value any, path, constraint string) string {
	var v validation
	v.fail(value, path, constraint)
	return v.msgs[0]
}
