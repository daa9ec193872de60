package invoke

import (
	"errors"
	"fmt"
	"testing"

	"github.com/lambdad/lambdad/internal/fault"
)

// TestRetryable: throttles and lambdad's own failures are retried until
// the event is too old; the caller's faults end the event.
func TestRetryable(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{fault.TooManyRequestsf(fault.ReasonReservedConcurrency, "Rate Exceeded."), true},
		{fmt.Errorf("run: %w", fault.TooManyRequestsf(fault.ReasonAccountConcurrency, "Rate Exceeded.")), true},
		{errors.New("start environment: fork/exec: resource temporarily unavailable"), true},
		{fault.New(fault.Unavailable, "try later"), true},
		{fault.NotFoundf("Function", "Function not found: x"), false},
		{fault.Conflictf("Function", "Pending"), false},
		{fault.New(fault.InvalidRuntime, "cannot start"), false},
		{fault.InvalidParameterf("The hot-reload directory /x does not exist."), false},
	} {
		if got := retryable(tc.err); got != tc.want {
			t.Errorf("retryable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
