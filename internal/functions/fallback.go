package functions

import "github.com/lambdad/lambdad/internal/spec"

// runtimeFallback shows, on a function that runs on another version than
// its runtime's (lambdad's --runtime-fallback), which one: in
// RuntimeVersionConfig.Error, the field where AWS reports a problem with
// the runtime version a function runs on, with ErrorCode RuntimeFallback
// (lambdad's; AWS has no fallback) and the interpreter in Message. The
// configuration is otherwise AWS's: the version ARN stays, and State stays
// Active as the function runs.
func runtimeFallback(fallback func(string) string, c *spec.FunctionConfiguration) {
	if fallback == nil || c.Runtime == nil {
		return
	}
	note := fallback(*c.Runtime)
	if note == "" {
		return
	}
	rv := spec.RuntimeVersionConfig{}
	if c.RuntimeVersionConfig != nil {
		rv = *c.RuntimeVersionConfig // shared with the stored record: copied, not changed
	}
	rv.Error = &spec.RuntimeVersionError{ErrorCode: str("RuntimeFallback"), Message: str("Runs on " + note)}
	c.RuntimeVersionConfig = &rv
}
