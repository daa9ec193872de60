package functions

import (
	"fmt"
	"strings"

	"github.com/lambdad/lambdad/internal/fault"
)

// faultText is what a fault says: its message, or for constraint faults
// each violation as "Value 'v' at 'field' failed to satisfy constraint: c"
// (the wire layer adds AWS's "N validation error(s) detected: " before).
func faultText(e *fault.Error) string {
	if e == nil {
		return ""
	}
	if len(e.Violations) == 0 {
		return e.Message
	}
	var out []string
	for _, v := range e.Violations {
		if v.Value == nil {
			out = append(out, fmt.Sprintf("Value null at '%s' failed to satisfy constraint: %s", v.Field, v.Constraint))
			continue
		}
		out = append(out, fmt.Sprintf("Value '%v' at '%s' failed to satisfy constraint: %s", v.Value, v.Field, v.Constraint))
	}
	return strings.Join(out, "; ")
}

// isFault reports whether err is a fault of kind k saying msg ("" for any message).
func isFault(err error, k fault.Kind, msg string) bool {
	e, ok := fault.As(err)
	return ok && e.Kind == k && (msg == "" || faultText(e) == msg)
}
