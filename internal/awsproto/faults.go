package awsproto

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/spec"
)

// faultCodes is the one table from the domain's fault kinds to AWS's error
// codes. Statuses come from the model where the code is in it.
var faultCodes = [fault.Kinds]string{
	fault.Internal:                  "ServiceException",
	fault.NotFound:                  "ResourceNotFoundException",
	fault.Conflict:                  "ResourceConflictException",
	fault.PreconditionFailed:        "PreconditionFailedException",
	fault.InvalidParameter:          "InvalidParameterValueException",
	fault.Invalid:                   "ValidationException",
	fault.TooManyRequests:           "TooManyRequestsException",
	fault.AccessDenied:              "AccessDeniedException",
	fault.NotImplemented:            "NotImplementedException",
	fault.InvalidContent:            "InvalidRequestContentException",
	fault.PayloadTooLarge:           "RequestTooLargeException",
	fault.CodeTooLarge:              "RequestEntityTooLargeException",
	fault.InvalidRuntime:            "InvalidRuntimeException",
	fault.Unavailable:               "ServiceException",
	fault.AlreadyStarted:            "DurableExecutionAlreadyStartedException",
	fault.CallbackTimeout:           "CallbackTimeoutException",
	fault.ProvisionedConfigNotFound: "ProvisionedConcurrencyConfigNotFoundException",
	fault.CodeSigningConfigNotFound: "CodeSigningConfigNotFoundException",
	fault.CodeVerificationFailed:    "CodeVerificationFailedException",
	fault.RecursiveInvocation:       "RecursiveInvocationException",
}

// faultStatus holds the statuses AWS sends outside the model (or where the
// model has none) for a kind.
var faultStatus = [fault.Kinds]int{
	fault.Internal:       http.StatusInternalServerError,
	fault.AccessDenied:   http.StatusForbidden,
	fault.NotImplemented: http.StatusNotImplemented,
	fault.Invalid:        http.StatusBadRequest,
	fault.Unavailable:    http.StatusServiceUnavailable,
	fault.CodeTooLarge:   http.StatusRequestEntityTooLarge,
}

// FaultCode is the AWS error code of a fault kind.
func FaultCode(k fault.Kind) string { return faultCodes[k] }

// fromFault turns a domain fault into AWS's wire error.
func fromFault(f *fault.Error) *Error {
	code := faultCodes[f.Kind]
	status := faultStatus[f.Kind]
	if status == 0 {
		var ok bool
		if status, ok = spec.ErrorStatus(code); !ok {
			status = http.StatusBadRequest
		}
	}
	e := &Error{Code: code, Status: status, Message: f.Message}
	if len(f.Violations) > 0 {
		e.Message = violationMessage(f.Violations)
	}
	if f.Kind == fault.Internal && e.Message == "" && f.Err != nil {
		e.Message = "An internal error occurred: " + f.Err.Error()
	}
	if f.Reason != "" && f.Kind == fault.TooManyRequests {
		e.With("Reason", f.Reason)
	}
	if f.RetryAfter > 0 {
		secs := int((f.RetryAfter + 999_999_999) / 1_000_000_000)
		e.Header = map[string]string{"Retry-After": strconv.Itoa(secs)}
	}
	return e
}

// violationMessage words constraint failures as AWS's validation does.
func violationMessage(vs []fault.Violation) string {
	var v validation
	for _, x := range vs {
		v.fail(x.Value, x.Field, x.Constraint)
	}
	if len(v.msgs) == 1 {
		return "1 validation error detected: " + v.msgs[0]
	}
	return strconv.Itoa(len(v.msgs)) + " validation errors detected: " + strings.Join(v.msgs, "; ")
}
