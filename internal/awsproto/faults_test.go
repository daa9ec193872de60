package awsproto

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/lambdad/lambdad/internal/fault"
)

func TestEveryFaultKindHasACode(t *testing.T) {
	for k := fault.Kind(0); int(k) < fault.Kinds; k++ {
		if faultCodes[k] == "" {
			t.Errorf("fault kind %v has no AWS code", k)
		}
	}
}

func TestFaultsOnTheWire(t *testing.T) {
	cases := []struct {
		err         error
		code        string
		status      int
		message     string
		reason, hdr string
	}{
		{fmt.Errorf("get: %w", fault.NotFoundf("Function", "Function not found: %s", "arn:aws:lambda:us-east-1:000000000000:function:f")),
			"ResourceNotFoundException", 404, "Function not found: arn:aws:lambda:us-east-1:000000000000:function:f", "", ""},
		{fault.Conflictf("Function", "Function already exist: f"), "ResourceConflictException", 409, "Function already exist: f", "", ""},
		{fault.PreconditionFailedf("The Revision Id provided does not match the latest Revision Id."), "PreconditionFailedException", 412, "The Revision Id provided does not match the latest Revision Id.", "", ""},
		{fault.Invalidf(fault.Violation{Field: "functionName", Value: "a:b:c:d", Constraint: "Member must have length less than or equal to 64"}),
			"ValidationException", 400, "1 validation error detected: Value 'a:b:c:d' at 'functionName' failed to satisfy constraint: Member must have length less than or equal to 64", "", ""},
		{fault.InvalidParameterViolation(fault.Violation{Field: "x", Constraint: "Member must not be null"}, fault.Violation{Field: "y", Value: 3, Constraint: "Member must have value less than or equal to 2"}),
			"InvalidParameterValueException", 400, "2 validation errors detected: Value null at 'x' failed to satisfy constraint: Member must not be null; Value '3' at 'y' failed to satisfy constraint: Member must have value less than or equal to 2", "", ""},
		{&fault.Error{Kind: fault.TooManyRequests, Message: "Rate Exceeded.", Reason: fault.ReasonReservedConcurrency, RetryAfter: 1500 * time.Millisecond},
			"TooManyRequestsException", 429, "Rate Exceeded.", fault.ReasonReservedConcurrency, "2"},
		{fault.AccessDeniedf("User is not authorized."), "AccessDeniedException", 403, "User is not authorized.", "", ""},
		{fault.Unsupported("PublishTo"), "NotImplementedException", 501, "PublishTo is not implemented by lambdad yet.", "", ""},
		{fault.New(fault.PayloadTooLarge, "too large"), "RequestTooLargeException", 413, "too large", "", ""},
		{fault.New(fault.CodeTooLarge, "too large"), "RequestEntityTooLargeException", 413, "too large", "", ""},
		{fault.New(fault.InvalidRuntime, "bad runtime"), "InvalidRuntimeException", 502, "bad runtime", "", ""},
		{fault.New(fault.AlreadyStarted, "started"), "DurableExecutionAlreadyStartedException", 409, "started", "", ""},
		{fault.New(fault.CallbackTimeout, "closed"), "CallbackTimeoutException", 400, "closed", "", ""},
		{fault.New(fault.ProvisionedConfigNotFound, "none"), "ProvisionedConcurrencyConfigNotFoundException", 404, "none", "", ""},
		{fault.New(fault.CodeSigningConfigNotFound, "gone"), "CodeSigningConfigNotFoundException", 404, "gone", "", ""},
		{fault.New(fault.CodeVerificationFailed, "unsigned"), "CodeVerificationFailedException", 400, "unsigned", "", ""},
		{fault.New(fault.RecursiveInvocation, "loop"), "RecursiveInvocationException", 400, "loop", "", ""},
	}
	for _, c := range cases {
		rec := httptest.NewRecorder()
		WriteError(rec, slog.New(slog.DiscardHandler), c.err)
		var body map[string]string
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		if got := rec.Header().Get("X-Amzn-ErrorType"); got != c.code || rec.Code != c.status || body["message"] != c.message {
			t.Errorf("%v: got %s %d %q, want %s %d %q", c.err, got, rec.Code, body["message"], c.code, c.status, c.message)
		}
		if body["Reason"] != c.reason || rec.Header().Get("Retry-After") != c.hdr {
			t.Errorf("%v: reason %q retry-after %q", c.err, body["Reason"], rec.Header().Get("Retry-After"))
		}
	}
}
