// Package apitest serves the Lambda API over a real control and data plane
// in a test's temporary directory: a bbolt store, the blob store, functions,
// a sandbox without isolation and the invoke core, with api.New in front on
// an httptest server. The unit tests of api and invoke share it.
package apitest

import (
	"cmp"
	"context"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/api"
	"github.com/lambdad/lambdad/internal/archive/archivetest"
	"github.com/lambdad/lambdad/internal/blobs"
	"github.com/lambdad/lambdad/internal/durable"
	"github.com/lambdad/lambdad/internal/functions"
	"github.com/lambdad/lambdad/internal/invoke"
	"github.com/lambdad/lambdad/internal/runtimes"
	"github.com/lambdad/lambdad/internal/sandbox"
	"github.com/lambdad/lambdad/internal/store"
	"github.com/lambdad/lambdad/internal/store/storetest"
)

// Account and Region are those of Client: an access key that is not 12
// digits acts as the default account.
const (
	Account = "000000000000"
	Region  = "us-east-1"
	Role    = "arn:aws:iam::000000000000:role/lambda-role"
)

// Env is one running API.
type Env struct {
	Functions *functions.Service
	Invoke    *invoke.Service
	// URL is the API's address; Client an SDK client of Account for it.
	URL    string
	Client *lambda.Client
	// Store, Blobs and Runtimes are what the planes run on, for tests that
	// start more nodes over them.
	Store    store.Store
	Blobs    *blobs.Store
	Runtimes *runtimes.Catalog

	transition time.Duration
}

// Options tune an Env.
type Options struct {
	// Transition is how long functions stay Pending (default 10 ms).
	Transition time.Duration
	// Ctx, when set, is the data plane's: ending it stops Invoke as a
	// crash would, leaving its leases to run out. NodeID and LeaseTime are
	// Invoke's (default: invoke's).
	Ctx       context.Context
	NodeID    string
	LeaseTime time.Duration
	// Shared says other nodes share the store, whose events Invoke then
	// leases (by default, it is Invoke's alone, as lambdad's embedded
	// store is).
	Shared bool
}

// New starts an Env that stops when the test ends.
func New(t testing.TB, opts Options) *Env {
	t.Helper()
	if opts.Transition == 0 {
		opts.Transition = 10 * time.Millisecond
	}
	dir := t.TempDir()
	st := storetest.Open(t, "bolt")
	bl, err := blobs.Open(filepath.Join(dir, "blobs"), nil)
	if err != nil {
		t.Fatal(err)
	}
	fs := functions.New(functions.Config{Store: st, Blobs: bl, Transition: opts.Transition})
	rt, err := runtimes.New(runtimes.Config{Dir: filepath.Join(dir, "runtimes"), Fallback: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rt.Close)
	sb, err := sandbox.NewManager(sandbox.Config{WorkDir: filepath.Join(dir, "sandbox"), IdleTimeout: time.Minute, Isolation: "off"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close(context.Background()) })
	// The durable service leases invocations as Invoke leases events: to
	// one node id, only on a shared store.
	node, lease := opts.NodeID, time.Duration(0)
	if node == "" {
		node = invoke.RandomNodeID()
	}
	if opts.Shared {
		lease = cmp.Or(opts.LeaseTime, invoke.DefaultLeaseTime)
	}
	dur := durable.New(durable.Config{Store: st, NodeID: node, LeaseTime: lease})
	parent := opts.Ctx
	if parent == nil {
		parent = context.Background()
	}
	ctx, cancel := context.WithCancel(parent)
	t.Cleanup(cancel)
	inv, err := invoke.New(ctx, invoke.Config{
		Functions: fs, Blobs: bl, Sandbox: sb, Runtimes: rt, Store: st, Durable: dur,
		RetryBase: 50 * time.Millisecond, ThrottleBase: 50 * time.Millisecond,
		NodeID: node, LeaseTime: opts.LeaseTime, ExclusiveStore: !opts.Shared,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(inv.Close)
	srv := httptest.NewServer(api.New(api.Config{Functions: fs, Blobs: bl, Invoker: inv, Secret: []byte("test"), Logger: slog.New(slog.DiscardHandler),
		Durable: dur, WakeDurable: inv.WakeDurable, ChainDurable: inv.ChainDurable}))
	t.Cleanup(srv.Close)
	inv.SetLambdaEndpoint(srv.URL)
	inv.StartDurable()
	cfg := aws.Config{
		Region:      Region,
		Credentials: credentials.NewStaticCredentialsProvider("test", "secret", ""),
		Retryer:     func() aws.Retryer { return aws.NopRetryer{} },
	}
	c := lambda.NewFromConfig(cfg, func(o *lambda.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	return &Env{Functions: fs, Invoke: inv, URL: srv.URL, Client: c, Store: st, Blobs: bl, Runtimes: rt, transition: opts.Transition}
}

// Python creates a python3.12 function whose handler.py is src
// (handler.handler), and returns once it is Active.
func (e *Env) Python(t testing.TB, name, src string) {
	t.Helper()
	e.Create(t, PythonFunction(t, name, src))
}

// PythonFunction is the CreateFunction request of a python3.12 function
// whose handler.py is src.
func PythonFunction(t testing.TB, name, src string) *lambda.CreateFunctionInput {
	return &lambda.CreateFunctionInput{
		FunctionName: aws.String(name),
		Role:         aws.String(Role),
		Runtime:      types.RuntimePython312,
		Handler:      aws.String("handler.handler"),
		Code:         &types.FunctionCode{ZipFile: archivetest.Zip(t, archivetest.File{Name: "handler.py", Body: src})},
	}
}

// Create creates a function and waits until it is Active.
func (e *Env) Create(t testing.TB, in *lambda.CreateFunctionInput) {
	t.Helper()
	ctx := context.Background()
	if _, err := e.Client.CreateFunction(ctx, in); err != nil {
		t.Fatalf("CreateFunction %s: %v", aws.ToString(in.FunctionName), err)
	}
	w := lambda.NewFunctionActiveV2Waiter(e.Client, func(o *lambda.FunctionActiveV2WaiterOptions) {
		o.MinDelay, o.MaxDelay = 10*time.Millisecond, 50*time.Millisecond
	})
	if err := w.Wait(ctx, &lambda.GetFunctionInput{FunctionName: in.FunctionName}, 30*time.Second); err != nil {
		t.Fatalf("%s did not become Active: %v", aws.ToString(in.FunctionName), err)
	}
}

// Ref is the reference to name (and qualifier, if any) in Account.
func Ref(name, qualifier string) functions.Ref {
	return functions.Ref{Account: Account, Region: Region, Name: name, Qualifier: qualifier}
}

// ARN is name's unqualified ARN in Account.
func ARN(name string) string {
	return "arn:aws:lambda:" + Region + ":" + Account + ":function:" + name
}

// OwnFunctions is a control plane of its own over e's store, for a test's
// second node: nodes share records, not a process's snapshots (whose
// Attached data-plane state belongs to one node's Invoke).
func (e *Env) OwnFunctions() *functions.Service {
	return functions.New(functions.Config{Store: e.Store, Blobs: e.Blobs, Transition: e.transition})
}
