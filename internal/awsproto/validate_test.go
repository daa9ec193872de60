package awsproto

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/lambdad/lambdad/internal/spec"
)

// modelFront is a Service with the operations the model checks below reach:
// each handler only counts that it was called, for the model's constraints
// are checked before any handler runs (so a refused create creates nothing).
type modelFront struct {
	s     *Service
	calls map[string]int
	// name and qualifier are the last function name and qualifier a
	// handler was given.
	name, qualifier string
}

func (m *modelFront) saw(name, qualifier *string) {
	m.name, m.qualifier = "", ""
	if name != nil {
		m.name = *name
	}
	if qualifier != nil {
		m.qualifier = *qualifier
	}
}

func newModelFront() *modelFront {
	m := &modelFront{s: NewService(slog.New(slog.DiscardHandler)), calls: map[string]int{}}
	// CreateFunction as the API registers it: with its zip streamed.
	OnUpload(m.s, "CreateFunction", func(ctx context.Context) (*memWriter, error) { return &memWriter{}, nil },
		func(ctx context.Context, id Identity, in *spec.CreateFunctionRequest, up Upload[*memWriter]) (*spec.FunctionConfiguration, error) {
			m.calls["CreateFunction"]++
			return &spec.FunctionConfiguration{}, nil
		})
	On(m.s, "ListFunctions", func(ctx context.Context, id Identity, in *spec.ListFunctionsRequest) (*spec.ListFunctionsResponse, error) {
		m.calls["ListFunctions"]++
		return &spec.ListFunctionsResponse{}, nil
	})
	On(m.s, "GetFunction", func(ctx context.Context, id Identity, in *spec.GetFunctionRequest) (*spec.GetFunctionResponse, error) {
		m.calls["GetFunction"]++
		m.saw(in.FunctionName, in.Qualifier)
		return &spec.GetFunctionResponse{}, nil
	})
	On(m.s, "GetFunctionConfiguration", func(ctx context.Context, id Identity, in *spec.GetFunctionConfigurationRequest) (*spec.FunctionConfiguration, error) {
		m.calls["GetFunctionConfiguration"]++
		m.saw(in.FunctionName, in.Qualifier)
		return &spec.FunctionConfiguration{}, nil
	})
	On(m.s, "DeleteFunction", func(ctx context.Context, id Identity, in *spec.DeleteFunctionRequest) (*spec.DeleteFunctionResponse, error) {
		m.calls["DeleteFunction"]++
		m.saw(in.FunctionName, in.Qualifier)
		return &spec.DeleteFunctionResponse{}, nil
	})
	return m
}

// wireError is an error answer as a client reads it.
type wireError struct {
	status        int
	code          string
	message, typ  string
	handlerCalled bool
}

// send makes a request and returns its answer, noting whether op's handler ran.
func (m *modelFront) send(t *testing.T, op, method, target string, body any) wireError {
	t.Helper()
	var r *strings.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = strings.NewReader(string(raw))
	} else {
		r = strings.NewReader("")
	}
	before := m.calls[op]
	w := httptest.NewRecorder()
	m.s.ServeHTTP(w, httptest.NewRequest(method, target, r))
	var out struct{ Message, Type string }
	json.Unmarshal(w.Body.Bytes(), &out)
	if w.Code < 300 {
		out.Message = ""
	}
	return wireError{w.Code, w.Header().Get("X-Amzn-ErrorType"), out.Message, out.Type, m.calls[op] != before}
}

// createBody is testkit.CreateInput on the wire, edited by edit.
func createBody(edit func(map[string]any)) map[string]any {
	zip := "PK\x05\x06" + strings.Repeat("\x00", 18) // an empty zip
	b := map[string]any{
		"FunctionName": "f", "Role": "arn:aws:iam::000000000000:role/lambda-role", "Runtime": "python3.12",
		"Handler": "handler.handler", "Code": map[string]any{"ZipFile": base64.StdEncoding.EncodeToString([]byte(zip))},
	}
	if edit != nil {
		edit(b)
	}
	return b
}

// checkRefused checks a ValidationException: 400, the code, the exact
// message (or its prefix and suffix), Type User, and no handler call.
func checkRefused(t *testing.T, what string, got wireError, prefix, suffix string, exact bool) {
	t.Helper()
	if got.status != 400 || got.code != "ValidationException" || got.typ != "User" {
		t.Errorf("%s: %d %s (Type %q) %q, want 400 ValidationException (Type User)", what, got.status, got.code, got.typ, got.message)
	}
	if exact && got.message != prefix || !strings.HasPrefix(got.message, prefix) || !strings.HasSuffix(got.message, suffix) {
		t.Errorf("%s: message\n  %q\nwant %q...%q", what, got.message, prefix, suffix)
	}
	if got.handlerCalled {
		t.Errorf("%s: the handler ran on a refused request", what)
	}
}

// TestCreateFunctionValidation holds the CreateFunction constraints of the
// model: each is AWS's ValidationException, and the control plane never
// sees the request. (The control plane's own rules are in
// functions.TestCreateFunctionValidation.)
func TestCreateFunctionValidation(t *testing.T) {
	m := newModelFront()
	cases := []struct {
		name   string
		edit   func(map[string]any)
		msg    string
		prefix bool
	}{
		{"memory below minimum", func(b map[string]any) { b["MemorySize"] = 100 },
			"1 validation error detected: Value '100' at 'memorySize' failed to satisfy constraint: Member must have value greater than or equal to 128", false},
		{"bad role", func(b map[string]any) { b["Role"] = "r1" },
			`1 validation error detected: Value 'r1' at 'role' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+`, false},
		{"two architectures", func(b map[string]any) { b["Architectures"] = []string{"x86_64", "arm64"} },
			"1 validation error detected: Value '[x86_64, arm64]' at 'architectures' failed to satisfy constraint: Member must have length less than or equal to 1", false},
		{"name with a bad character", func(b map[string]any) { b["FunctionName"] = "my-function!" },
			"1 validation error detected: Value 'my-function!' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: ", true},
	}
	for _, c := range cases {
		got := m.send(t, "CreateFunction", "POST", "/2015-03-31/functions", createBody(c.edit))
		checkRefused(t, c.name, got, c.msg, "", !c.prefix)
	}
	// What the control plane refuses itself passes the model.
	const layer = "arn:aws:lambda:us-east-1:000000000000:layer:dup"
	for name, edit := range map[string]func(map[string]any){
		"unknown runtime":           func(b map[string]any) { b["Runtime"] = "non-existent-runtime" },
		"runtime is case-sensitive": func(b map[string]any) { b["Runtime"] = "PYTHON3.9" },
		"deprecated runtime":        func(b map[string]any) { b["Runtime"] = "python3.7" },
		"name longer than 64":       func(b map[string]any) { b["FunctionName"] = strings.Repeat("a", 65) },
		"reserved variable": func(b map[string]any) {
			b["Environment"] = map[string]any{"Variables": map[string]string{"AWS_REGION": "x"}}
		},
		"environment over 4KB": func(b map[string]any) {
			b["Environment"] = map[string]any{"Variables": map[string]string{"LARGE_VAR": strings.Repeat("x", 4081)}}
		},
		"log level with Text": func(b map[string]any) {
			b["LoggingConfig"] = map[string]any{"LogFormat": "Text", "ApplicationLogLevel": "DEBUG"}
		},
		"not a zip": func(b map[string]any) {
			b["Code"] = map[string]any{"ZipFile": base64.StdEncoding.EncodeToString([]byte("this is not a zip file"))}
		},
		"51 tags": func(b map[string]any) {
			tags := map[string]string{}
			for i := range 51 {
				tags[fmt.Sprintf("key%02d", i)] = "v"
			}
			b["Tags"] = tags
		},
		"six layers":              func(b map[string]any) { b["Layers"] = slices.Repeat([]string{layer + ":1"}, 6) },
		"two versions of a layer": func(b map[string]any) { b["Layers"] = []string{layer + ":1", layer + ":2"} },
	} {
		if got := m.send(t, "CreateFunction", "POST", "/2015-03-31/functions", createBody(edit)); got.status != 200 && got.status != 201 || !got.handlerCalled {
			t.Errorf("%s: %d %s %q, want it to reach the control plane", name, got.status, got.code, got.message)
		}
	}
}

// TestValidationJoinsSeveralErrors: every failed constraint is listed, in
// one message joined with "; ".
func TestValidationJoinsSeveralErrors(t *testing.T) {
	m := newModelFront()
	got := m.send(t, "CreateFunction", "POST", "/2015-03-31/functions", createBody(func(b map[string]any) {
		b["MemorySize"] = 100
		b["Timeout"] = 0
	}))
	mem := "Value '100' at 'memorySize' failed to satisfy constraint: Member must have value greater than or equal to 128"
	tmo := "Value '0' at 'timeout' failed to satisfy constraint: Member must have value greater than or equal to 1"
	checkRefused(t, "two errors", got, "2 validation errors detected: ", "", false)
	if got.message != "2 validation errors detected: "+mem+"; "+tmo && got.message != "2 validation errors detected: "+tmo+"; "+mem {
		t.Errorf("message = %q, want both constraints joined with \"; \"", got.message)
	}
}

func TestBadArchitectureValue(t *testing.T) {
	m := newModelFront()
	got := m.send(t, "CreateFunction", "POST", "/2015-03-31/functions", createBody(func(b map[string]any) { b["Architectures"] = []string{"X86_64"} }))
	checkRefused(t, "X86_64", got,
		"1 validation error detected: Value '[X86_64]' at 'architectures' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64], Member must not be null]", "", true)
}

func TestListFunctionsInvalidFunctionVersion(t *testing.T) {
	m := newModelFront()
	got := m.send(t, "ListFunctions", "GET", "/2015-03-31/functions/?FunctionVersion=invalid", nil)
	checkRefused(t, "FunctionVersion=invalid", got,
		"1 validation error detected: Value 'invalid' at 'functionVersion' failed to satisfy constraint: Member must satisfy enum value set: [ALL]", "", true)
	if got := m.send(t, "ListFunctions", "GET", "/2015-03-31/functions/?FunctionVersion=ALL", nil); got.status != 200 || !got.handlerCalled {
		t.Errorf("FunctionVersion=ALL: %d %q", got.status, got.message)
	}
}

// TestEnvironmentVariableNames: AWS's key pattern needs two characters at
// least, a letter first, then letters, digits or '_'. Reserved names pass
// the model; the control plane refuses them
// (functions.TestEnvironmentVariableNames).
func TestEnvironmentVariableNames(t *testing.T) {
	m := newModelFront()
	const want = "at 'environment.variables' failed to satisfy constraint: Map keys must satisfy constraint: [Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]"
	for _, key := range []string{"X", "1ABC", "HAS-DASH"} {
		got := m.send(t, "CreateFunction", "POST", "/2015-03-31/functions", createBody(func(b map[string]any) {
			b["Environment"] = map[string]any{"Variables": map[string]string{key: "v"}}
		}))
		checkRefused(t, "key "+key, got, "1 validation error detected: Value ", want, false)
	}
	for _, key := range []string{"AWS_REGION", "XY", "a_1"} {
		got := m.send(t, "CreateFunction", "POST", "/2015-03-31/functions", createBody(func(b map[string]any) {
			b["Environment"] = map[string]any{"Variables": map[string]string{key: "v"}}
		}))
		if !got.handlerCalled {
			t.Errorf("key %s: %d %s %q, want it to reach the control plane", key, got.status, got.code, got.message)
		}
	}
}

// TestNameForms: malformed function names are refused by the model with
// the pattern named, on every function operation; the forms the control
// plane resolves (functions.TestNameForms and TestNameFormsAWSQuirks),
// even those it then answers 404, pass it.
func TestNameForms(t *testing.T) {
	m := newModelFront()
	const arn = "arn:aws:lambda:us-east-1:000000000000:function:fn-names"
	type call struct{ op, method, suffix string }
	calls := []call{{"GetFunction", "GET", ""}, {"GetFunctionConfiguration", "GET", "/configuration"}, {"DeleteFunction", "DELETE", ""}}
	target := func(c call, name, qualifier string) string {
		t := "/2015-03-31/functions/" + sdkEscape(name) + c.suffix
		if qualifier != "" {
			t += "?Qualifier=" + sdkEscape(qualifier)
		}
		return t
	}
	for _, bad := range []string{"my-function!", "*", "fn-names:1:2", "arn:aws:lambda::123456789012:function:x"} {
		for _, c := range calls {
			got := m.send(t, c.op, c.method, target(c, bad, ""), nil)
			checkRefused(t, c.op+" "+bad, got,
				"1 validation error detected: Value '"+bad+"' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: ", "", false)
		}
	}
	long := "a123456789b123456789c123456789d123456789e123456789f123456789g1234"
	ok := []struct{ name, qualifier string }{
		{"fn-names", ""}, {arn, ""}, {"000000000000:function:fn-names", ""}, {"fn-names:1", ""}, {"fn-names:$LATEST", ""},
		{arn + ":1", ""}, {"000000000000:function:fn-names:1", ""}, {"fn-names", "1"}, {"fn-names", "$LATEST"}, {arn + ":1", "1"},
		{"fn-names:1", "2"}, {arn + ":1", "$LATEST"}, {"fn-names", "1221"},
		{"arn:aws:lambda:us-west-2:123456789012:function:fn-names", ""}, {long, ""},
		// AWS's quirks: a lower-case $latest, an ARN ending in ":function".
		{"fn-quirks", "$latest"}, {"arn:aws:lambda:us-east-1:123456789012:function", ""},
	}
	for _, n := range ok {
		for _, c := range calls {
			if got := m.send(t, c.op, c.method, target(c, n.name, n.qualifier), nil); !got.handlerCalled {
				t.Errorf("%s %q qualifier %q: %d %s %q, want it to reach the control plane", c.op, n.name, n.qualifier, got.status, got.code, got.message)
			} else if m.name != n.name || m.qualifier != n.qualifier {
				t.Errorf("%s %q qualifier %q: the handler got %q qualifier %q", c.op, n.name, n.qualifier, m.name, m.qualifier)
			}
		}
	}
}

// sdkEscape escapes s as the SDK does a path label or query value: all but
// RFC 3986's unreserved characters, so ':' and '$' arrive as %3A and %24.
func sdkEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// TestShownEnumsHoldTheModelsValues: an enum AWS lists in its own order
// must still hold exactly the model's values.
func TestShownEnumsHoldTheModelsValues(t *testing.T) {
	model := map[string][]string{"EventSourcePosition": spec.EventSourcePositionValues()}
	for shape, shown := range shownEnums {
		want, ok := model[shape]
		if !ok {
			t.Errorf("%s: add the model's values to this test", shape)
			continue
		}
		got, w := slices.Clone(shown), slices.Clone(want)
		slices.Sort(got)
		slices.Sort(w)
		if !slices.Equal(got, w) {
			t.Errorf("%s: shown %v, the model has %v", shape, shown, want)
		}
	}
}
