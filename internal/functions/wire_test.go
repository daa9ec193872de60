package functions

import (
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lambdad/lambdad/internal/awsproto"
	"github.com/lambdad/lambdad/internal/caller"
	"github.com/lambdad/lambdad/internal/fault"
)

// TestFaultsOnTheWire renders the control plane's faults as the API does,
// for the ones whose wording the wire layer builds or whose status is not
// the model's: each must read exactly as AWS's (and lambdad's before faults).
func TestFaultsOnTheWire(t *testing.T) {
	id := caller.Identity{Account: "123456789012", Region: "us-east-1"}
	long := strings.Repeat("a", 65)
	f := newFixture(t)
	_, longName := f.s.Create(f.ctx, id, createReq(t, long), nil)
	now := time.Now()
	_, badQualifier := ParseRef(id, "f", str("a.b"))
	_, badName := ParseRef(id, "my-function!", nil)
	_, otherAccount := ParseRef(id, "arn:aws:lambda:us-east-1:999999999999:function:f", nil)
	fnID := caller.Identity{Account: id.Account, Region: id.Region, Function: "arn:aws:lambda:us-east-1:123456789012:function:caller"}
	cases := []struct {
		name   string
		err    error
		status int
		code   string
		msg    string
	}{
		{"name over 64", longName, 400, "InvalidParameterValueException",
			"1 validation error detected: Value '" + long + "' at 'functionName' failed to satisfy constraint: Member must have length less than or equal to 64"},
		{"qualifier", badQualifier, 400, "ValidationException",
			`1 validation error detected: Value 'a.b' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: \$(LATEST(\.PUBLISHED)?)|[a-zA-Z0-9-_$]+`},
		{"name", badName, 400, "ValidationException",
			`1 validation error detected: Value 'my-function!' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_\.]+)(:(\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_]+))?`},
		{"other account", otherAccount, 403, "AccessDeniedException",
			"User is not authorized to access arn:aws:lambda:us-east-1:999999999999:function:f: it belongs to another account."},
		{"hot reload from a function", RefuseHotReloadFromFunction(fnID, "CreateFunction", "f", str(HotReloadBucket)), 403, "AccessDeniedException",
			"User: arn:aws:lambda:us-east-1:123456789012:function:caller is not authorized to perform: lambda:CreateFunction on resource: arn:aws:lambda:us-east-1:123456789012:function:f because no identity-based policy allows the lambda:CreateFunction action with hot-reload code: functions' own credentials cannot use hot reload"},
		{"not implemented", fault.Unsupported("PublishTo"), 501, "NotImplementedException",
			"PublishTo is not implemented by lambdad yet."},
		{"code signing config not found", codeSigningConfigNotFound("arn:csc"), 404, "CodeSigningConfigNotFoundException",
			"The code signing configuration cannot be found. Check that the provided configuration is not deleted: arn:csc."},
		{"untrusted code", untrusted(), 400, "CodeVerificationFailedException",
			"Lambda cannot deploy the function. The function or layer might be signed using a signature that the client is not configured to accept."},
		{"revision", revisionMismatch(), 412, "PreconditionFailedException",
			"The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id"},
		{"not found", notFound(Ref{"123456789012", "us-east-1", "f", "1"}), 404, "ResourceNotFoundException",
			"Function not found: arn:aws:lambda:us-east-1:123456789012:function:f:1"},
		{"conflict", checkIdle(Ref{Name: "f"}, &version{Trans: transCreate, Until: now.Add(time.Hour)}, now), 409, "ResourceConflictException",
			"The operation cannot be performed at this time. The function is currently in the following state: Pending"},
	}
	for _, c := range cases {
		w := httptest.NewRecorder()
		awsproto.WriteError(w, slog.New(slog.DiscardHandler), c.err)
		if w.Code != c.status || w.Header().Get("X-Amzn-ErrorType") != c.code {
			t.Errorf("%s: %d %s, want %d %s (%v)", c.name, w.Code, w.Header().Get("X-Amzn-ErrorType"), c.status, c.code, c.err)
		}
		msg, _ := json.Marshal(c.msg)
		if body := w.Body.String(); !strings.Contains(body, `"message":`+string(msg)) {
			t.Errorf("%s: body\n  %s\nwant message\n  %s", c.name, body, c.msg)
		}
	}
}
