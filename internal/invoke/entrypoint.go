package invoke

import (
	"encoding/json"
	"errors"
	"strings"

	"github.com/lambdad/lambdad/internal/functions"
	"github.com/lambdad/lambdad/internal/runtimes"
	"github.com/lambdad/lambdad/internal/sandbox"
)

// Functions that nothing can start answer as AWS answers a function whose
// entrypoint cannot run: a 200 with X-Amz-Function-Error: Unhandled and a
// Runtime.InvalidEntrypoint error, which SDKs do not retry (a 502
// InvalidRuntimeException they retry for seconds). AWS's words for the
// causes it has: no bootstrap ("Couldn't find valid bootstrap(s): [...]"),
// and a bootstrap the kernel refuses ("fork/exec /var/task/bootstrap: exec
// format error", "...: permission denied", "...: no such file or
// directory" for a missing #! interpreter). A runtime this host has no
// interpreter for has no AWS counterpart: its message is lambdad's
// [?: AWS runs every runtime it lists], and the function's State says it
// too (functions.Config.RuntimeProblem).

// noBootstrap is AWS's message for a provided* function without one.
const noBootstrap = "Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]"

// entrypointResult is the invocation result for a function that cannot
// start, or ok false when err is not that. command is the argv[0] the
// sandbox was given, with its placeholders ("" when none was found).
func entrypointResult(snap *functions.Snapshot, requestID, command string, err error) (sandbox.Result, bool) {
	var ue *runtimes.UnavailableError
	var se *sandbox.StartError
	var msg string
	switch {
	case errors.As(err, &ue) && strings.HasPrefix(ue.Runtime, "provided"):
		msg = noBootstrap
	case errors.As(err, &ue):
		msg = ue.Error()
	case errors.As(err, &se) && strings.HasPrefix(deref(snap.Config.Runtime), "provided"):
		msg = "fork/exec " + envPath(command) + ": " + startReason(se.Err)
	default:
		return sandbox.Result{}, false
	}
	msg = "RequestId: " + requestID + " Error: " + msg
	payload, _ := json.Marshal(struct {
		Type    string `json:"errorType"`
		Message string `json:"errorMessage"`
	}{"Runtime.InvalidEntrypoint", msg})
	return sandbox.Result{
		FunctionError: "Unhandled",
		Payload:       payload,
		Log:           []byte(msg + "\nRuntime.InvalidEntrypoint\n"),
	}, true
}

// envPath is a bootstrap's path as the environment sees it.
func envPath(cmd string) string {
	cmd = strings.Replace(cmd, runtimes.LangPlaceholder, "/var/lang", 1)
	cmd = strings.Replace(cmd, runtimes.TaskRootPlaceholder, "/var/task", 1)
	return strings.Replace(cmd, runtimes.OptPlaceholder, "/opt", 1)
}

// startReason is the errno text that ends an exec failure ("exec format
// error"), whether the sandbox passed the error itself or its text.
func startReason(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 {
		return s[i+2:]
	}
	return s
}

func firstArg(argv []string) string {
	if len(argv) == 0 {
		return ""
	}
	return argv[0]
}
