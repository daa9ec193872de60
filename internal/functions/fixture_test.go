package functions

import (
	"archive/zip"
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/lambdad/lambdad/internal/blobs"
	"github.com/lambdad/lambdad/internal/caller"
	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/spec"
	"github.com/lambdad/lambdad/internal/store/storetest"
)

// fixture is a control plane over an in-memory store, with a clock the
// test moves: transitions last transition, and end when the test says.
type fixture struct {
	t   *testing.T
	ctx context.Context
	s   *Service
	now time.Time
	id  caller.Identity
}

const transition = 5 * time.Second

func newFixture(t *testing.T) *fixture {
	t.Helper()
	bl, err := blobs.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, ctx: context.Background(), now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		id: caller.Identity{Account: "123456789012", Region: "us-east-1"}}
	f.s = New(Config{Store: storetest.Open(t, "memory"), Blobs: bl, Transition: transition, Now: func() time.Time { return f.now }})
	return f
}

// settle lets every running transition end.
func (f *fixture) settle() { f.now = f.now.Add(transition) }

func (f *fixture) ref(name, qualifier string) Ref {
	return Ref{Account: f.id.Account, Region: f.id.Region, Name: name, Qualifier: qualifier}
}

// testZip is a small valid deployment package.
func testZip(t *testing.T, body string) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	fw, err := w.Create("index.py")
	if err != nil {
		t.Fatal(err)
	}
	fw.Write([]byte(body))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func createReq(t *testing.T, name string) *spec.CreateFunctionRequest {
	return &spec.CreateFunctionRequest{
		FunctionName: str(name), Runtime: str("python3.12"), Handler: str("index.handler"),
		Role: str("arn:aws:iam::123456789012:role/r"), Code: &spec.FunctionCode{ZipFile: testZip(t, "def handler(e, c): return e")},
	}
}

// create makes a function and lets its creation finish.
func (f *fixture) create(name string, edit ...func(*spec.CreateFunctionRequest)) *spec.FunctionConfiguration {
	f.t.Helper()
	in := createReq(f.t, name)
	for _, e := range edit {
		e(in)
	}
	c, err := f.s.Create(f.ctx, f.id, in, nil)
	if err != nil {
		f.t.Fatalf("create %s: %v", name, err)
	}
	f.settle()
	return c
}

// publish publishes $LATEST of name as it is.
func (f *fixture) publish(name string) string {
	f.t.Helper()
	v, err := f.s.Publish(f.ctx, f.ref(name, ""), nil, nil, nil)
	if err != nil {
		f.t.Fatalf("publish %s: %v", name, err)
	}
	return *v.Version
}

// wantFault checks err's kind, resource (when want.Resource is set) and
// what it says (faultText: the message, or the violations).
func wantFault(t *testing.T, what string, err error, kind fault.Kind, resource, msg string) {
	t.Helper()
	e, ok := fault.As(err)
	switch {
	case !ok:
		t.Errorf("%s: err = %v, want a %s fault", what, err, kind)
	case e.Kind != kind:
		t.Errorf("%s: kind = %s (%v), want %s", what, e.Kind, err, kind)
	case resource != "" && e.Resource != resource:
		t.Errorf("%s: resource = %q, want %q", what, e.Resource, resource)
	case faultText(e) != msg:
		t.Errorf("%s: says\n  %q\nwant\n  %q", what, faultText(e), msg)
	}
}
