// Package fault is the vocabulary of what can go wrong in lambdad's domain:
// a small set of kinds, each carrying the facts the caller needs. Domain
// packages (functions, invoke, sandbox, and those that follow) return these;
// the wire layer (awsproto) alone decides how each kind is spelled on the
// wire: error code, HTTP status, validation wording. Nothing here knows HTTP.
package fault

import (
	"errors"
	"fmt"
	"time"
)

// Kind is the class of a fault: what the caller did wrong or why the request
// cannot be served. Each kind maps to exactly one AWS error code.
type Kind uint8

const (
	// Internal is not the caller's fault; it is answered as a service error.
	Internal Kind = iota
	// NotFound: the resource the request names does not exist.
	NotFound
	// Conflict: the resource exists but its state forbids the request now
	// (already exists, update in progress, still referenced...).
	Conflict
	// PreconditionFailed: the caller's RevisionId is not the current one.
	PreconditionFailed
	// InvalidParameter: a parameter is well formed but not acceptable.
	InvalidParameter
	// Invalid: parameters break the API's declared constraints
	// (length, pattern, range, enum); the Violations say which.
	Invalid
	// TooManyRequests: a rate or concurrency limit refuses the request.
	TooManyRequests
	// AccessDenied: the caller may not do this.
	AccessDenied
	// NotImplemented: lambdad does not support this operation or field yet.
	NotImplemented
	// InvalidContent: the request's payload cannot be used as it is.
	InvalidContent
	// PayloadTooLarge: an invocation payload is over its limit.
	PayloadTooLarge
	// CodeTooLarge: a code package or request entity is over its limit.
	CodeTooLarge
	// InvalidRuntime: the function's runtime cannot run it.
	InvalidRuntime
	// Unavailable: the service cannot take the request now; retry later.
	Unavailable
	// AlreadyStarted: a durable execution of that name exists with another
	// input (DurableExecutionAlreadyStartedException).
	AlreadyStarted
	// CallbackTimeout: a durable execution callback is closed or timed out
	// (CallbackTimeoutException).
	CallbackTimeout
	// ProvisionedConfigNotFound: a version or alias has no provisioned
	// concurrency config (ProvisionedConcurrencyConfigNotFoundException).
	ProvisionedConfigNotFound
	// CodeSigningConfigNotFound: a code signing config a function is to
	// use does not exist (CodeSigningConfigNotFoundException).
	CodeSigningConfigNotFound
	// CodeVerificationFailed: code a function's code signing config
	// enforces could not be verified (CodeVerificationFailedException).
	CodeVerificationFailed
	// RecursiveInvocation: an invocation was stopped because its function
	// runs in a recursive loop (RecursiveInvocationException).
	RecursiveInvocation
	kinds // count; keep last
)

var kindNames = [...]string{
	Internal: "Internal", NotFound: "NotFound", Conflict: "Conflict",
	PreconditionFailed: "PreconditionFailed", InvalidParameter: "InvalidParameter",
	Invalid: "Invalid", TooManyRequests: "TooManyRequests", AccessDenied: "AccessDenied",
	NotImplemented: "NotImplemented", InvalidContent: "InvalidContent",
	PayloadTooLarge: "PayloadTooLarge", CodeTooLarge: "CodeTooLarge",
	InvalidRuntime: "InvalidRuntime", Unavailable: "Unavailable",
	AlreadyStarted: "AlreadyStarted", CallbackTimeout: "CallbackTimeout",
	ProvisionedConfigNotFound: "ProvisionedConfigNotFound",
	CodeSigningConfigNotFound: "CodeSigningConfigNotFound", CodeVerificationFailed: "CodeVerificationFailed",
	RecursiveInvocation: "RecursiveInvocation",
}

// Kinds is the number of kinds, for tables indexed by Kind.
const Kinds = int(kinds)

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", k)
}

// Reasons carried by TooManyRequests faults (AWS puts them in the body).
const (
	ReasonReservedConcurrency  = "ReservedFunctionConcurrentInvocationLimitExceeded"
	ReasonAccountConcurrency   = "ConcurrentInvocationLimitExceeded"
	ReasonCallerRateLimit      = "CallerRateLimitExceeded"
	ReasonFunctionRateLimit    = "FunctionInvocationRateLimitExceeded"
	ReasonConcurrentSnapStarts = "ConcurrentSnapshotCreateLimitExceeded"
)

// Error is one fault. Message is written for people, in AWS's words where
// AWS has words for it; the wire layer keeps it as it is, except for
// Invalid faults, whose message it builds from Violations.
type Error struct {
	Kind    Kind
	Message string
	// Resource names what was missing or in conflict ("Function", "Alias").
	Resource string
	// Reason is the machine-readable cause (TooManyRequests' Reason).
	Reason string
	// Violations are the broken constraints of an Invalid fault (and of an
	// InvalidParameter fault worded like one).
	Violations []Violation
	// RetryAfter, when set, tells the caller when to try again.
	RetryAfter time.Duration
	// Err is the underlying cause, if any, for logs and errors.Is.
	Err error
}

// Violation is one broken constraint: the field (as the API names it, e.g.
// "functionName" or "environment.variables"), the offending value (nil
// when it was missing) and the constraint in AWS's words ("Member must
// have length less than or equal to 64").
type Violation struct {
	Field      string
	Value      any
	Constraint string
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" && len(e.Violations) > 0 {
		v := e.Violations[0]
		msg = fmt.Sprintf("%s: %s", v.Field, v.Constraint)
	}
	if e.Err != nil && msg == "" {
		msg = e.Err.Error()
	}
	return e.Kind.String() + ": " + msg
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, fault.NotFound) style checks possible through
// a sentinel of the same kind (see KindOf for the common case).
func (e *Error) Is(target error) bool {
	t, ok := target.(kindSentinel)
	return ok && Kind(t) == e.Kind
}

type kindSentinel Kind

func (k kindSentinel) Error() string { return Kind(k).String() }

// As returns the *Error in err's chain, if any.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// KindOf is the kind of err: Internal when err is not a fault.
func KindOf(err error) Kind {
	if e, ok := As(err); ok {
		return e.Kind
	}
	return Internal
}

// Is reports whether err is a fault of kind k.
func Is(err error, k Kind) bool { return errors.Is(err, kindSentinel(k)) }

func newf(k Kind, format string, args []any) *Error {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	return &Error{Kind: k, Message: msg}
}

// NotFoundf: resource (e.g. "Function") does not exist; the message is AWS's.
func NotFoundf(resource, format string, args ...any) *Error {
	e := newf(NotFound, format, args)
	e.Resource = resource
	return e
}

// Conflictf: resource is in a state that forbids the request.
func Conflictf(resource, format string, args ...any) *Error {
	e := newf(Conflict, format, args)
	e.Resource = resource
	return e
}

// PreconditionFailedf: a RevisionId did not match.
func PreconditionFailedf(format string, args ...any) *Error {
	return newf(PreconditionFailed, format, args)
}

// InvalidParameterf: a parameter's value is not acceptable.
func InvalidParameterf(format string, args ...any) *Error {
	return newf(InvalidParameter, format, args)
}

// Invalidf: constraints broken; the wire layer words the message.
func Invalidf(vs ...Violation) *Error { return &Error{Kind: Invalid, Violations: vs} }

// InvalidParameterViolation is an InvalidParameter fault that AWS words as
// a constraint failure ("1 validation error detected: Value ... at ...").
func InvalidParameterViolation(vs ...Violation) *Error {
	return &Error{Kind: InvalidParameter, Violations: vs}
}

// TooManyRequestsf: a limit refused the request, for reason.
func TooManyRequestsf(reason, format string, args ...any) *Error {
	e := newf(TooManyRequests, format, args)
	e.Reason = reason
	return e
}

// AccessDeniedf: the caller may not do this.
func AccessDeniedf(format string, args ...any) *Error { return newf(AccessDenied, format, args) }

// Unsupported names an operation or field lambdad does not implement yet.
func Unsupported(what string) *Error {
	return &Error{Kind: NotImplemented, Resource: what, Message: what + " is not implemented by lambdad yet."}
}

// New is a fault of any kind with a message.
func New(k Kind, format string, args ...any) *Error { return newf(k, format, args) }
