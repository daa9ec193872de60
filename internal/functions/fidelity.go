package functions

import (
	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/ids"
	"github.com/lambdad/lambdad/internal/spec"
)

// Limits of a function that does not run on a capacity provider. The model
// allows more (up to 32768 MB and 5400 s) because other kinds of function
// do; AWS answers these for an ordinary one.
const (
	maxMemoryMB      = 10240
	maxTimeoutSecond = 900
)

// checkSizes refuses a MemorySize or Timeout past what an ordinary
// (on-demand) function may have. Timeout's wording is AWS's recorded
// ValidationException; MemorySize's is the message AWS's accounts see for
// their memory quota, with Lambda's 10240 MB [?: the error code is not in
// any recorded response; InvalidParameterValueException is assumed].
func checkSizes(c *spec.FunctionConfiguration) error {
	if managedInstances(c) != nil {
		return nil
	}
	if c.Timeout != nil && *c.Timeout > maxTimeoutSecond {
		return fault.Invalidf(fault.Violation{Field: "timeout", Value: *c.Timeout,
			Constraint: "Member must have value less than or equal to 900"})
	}
	if c.MemorySize != nil && *c.MemorySize > maxMemoryMB {
		return fault.InvalidParameterf("'MemorySize' value failed to satisfy constraint: Member must have value less than or equal to %d", maxMemoryMB)
	}
	return nil
}

// newRevision gives the function a new RevisionId, as AWS does on every
// TagResource and UntagResource (LocalStack's AWS-recorded
// test_tag_lifecycle: each one changes GetFunction's RevisionId).
func newRevision(rec *record) {
	rec.Latest.Config.RevisionId = str(ids.UUID())
}

// runtimeState shows an Active function whose runtime this host cannot run
// at all (no interpreter for it: java, ruby, dotnet here) as AWS shows a
// function that cannot start: State Failed, StateReasonCode InvalidRuntime
// (a code of AWS's StateReasonCode enum) and the reason in StateReason, so
// that waiters and consoles say so at once instead of every Invoke. It is
// worked out when read, so installing the interpreter (and restarting
// lambdad) makes the function Active. A provided* function is not checked:
// its bootstrap is the code's, and AWS reports a missing one on Invoke.
func (s *Service) runtimeState(c *spec.FunctionConfiguration) {
	if s.cfg.RuntimeProblem == nil || c.Runtime == nil || c.State == nil || *c.State != "Active" {
		return
	}
	if c.PackageType != nil && *c.PackageType != "Zip" {
		return
	}
	if why := s.cfg.RuntimeProblem(*c.Runtime); why != "" {
		c.State, c.StateReasonCode, c.StateReason = str("Failed"), str("InvalidRuntime"), str(why)
		return
	}
	runtimeFallback(s.cfg.RuntimeFallback, c)
}
