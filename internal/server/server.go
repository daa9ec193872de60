// Package server assembles lambdad: store, blobs, control plane, data plane
// and the HTTP API, from one Config.
package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lambdad/lambdad/internal/api"
	"github.com/lambdad/lambdad/internal/awsconn"
	"github.com/lambdad/lambdad/internal/awsproto"
	"github.com/lambdad/lambdad/internal/blobs"
	"github.com/lambdad/lambdad/internal/capacity"
	"github.com/lambdad/lambdad/internal/console"
	"github.com/lambdad/lambdad/internal/destinations"
	"github.com/lambdad/lambdad/internal/destinations/awsdest"
	"github.com/lambdad/lambdad/internal/durable"
	"github.com/lambdad/lambdad/internal/esm"
	"github.com/lambdad/lambdad/internal/fncreds"
	"github.com/lambdad/lambdad/internal/front"
	"github.com/lambdad/lambdad/internal/functions"
	"github.com/lambdad/lambdad/internal/invoke"
	"github.com/lambdad/lambdad/internal/logs"
	"github.com/lambdad/lambdad/internal/logsapi"
	"github.com/lambdad/lambdad/internal/runtimes"
	"github.com/lambdad/lambdad/internal/s3code"
	"github.com/lambdad/lambdad/internal/sandbox"
	"github.com/lambdad/lambdad/internal/store"
)

// Config is everything lambdad can be told (see cmd/lambdad for the flags).
type Config struct {
	Listen     string
	DataDir    string
	Transition time.Duration
	S3Endpoint string
	// Store is the metadata store: a postgres:// URL (shared by every node
	// given it), or "" for bbolt in DataDir.
	Store string
	// Blobs is s3://bucket/prefix to keep code archives in S3 ("": the data
	// directory); CodeCacheMB bounds their local cache then.
	Blobs       string
	CodeCacheMB int
	// ConcurrencyLimit is each account's concurrent executions limit.
	ConcurrencyLimit int
	// StreamMaxBytes is the most a streamed response may be (0: AWS's 200
	// MB); StreamBandwidth caps its bytes per second past the first 6 MB
	// as AWS does (0: uncapped).
	StreamMaxBytes, StreamBandwidth int64
	// Isolation is "auto" (namespaces and cgroups where Linux allows) or "off".
	Isolation string
	// IdleTimeout stops execution environments unused this long.
	IdleTimeout time.Duration
	// ManagedScaleInterval is how often Lambda Managed Instances scale
	// (default 1 s; tests shorten it); ManagedMemoryMB is the memory their
	// environments share (default: the host's).
	ManagedScaleInterval time.Duration
	ManagedMemoryMB      int
	// OrphanCodeAge is how old an archive no record refers to must be
	// for a node on a shared store to collect it at start (default an
	// hour; tests shorten it): a younger one may belong to another node's
	// commit in progress.
	OrphanCodeAge time.Duration
	// RetryBase is the first retry delay of failed Event invokes.
	RetryBase time.Duration
	// NodeID names this node in the leases it takes on shared work (node.go;
	// default: host name and a random suffix); LeaseTime is how long a
	// lease lasts unrenewed (default 10 s).
	NodeID    string
	LeaseTime time.Duration
	// ThrottleBase is the first retry delay of throttled Event invokes
	// (default 1 s); it doubles up to 300 times itself.
	ThrottleBase time.Duration
	// Python and Node are more interpreters to consider, besides those
	// runtimes.Catalog discovers.
	Python, Node string
	// Nodes are node binaries for exact versions: nodejsN.x runs with the
	// first whose major version is N.
	Nodes []string
	// RuntimeFallback runs a runtime without an interpreter of its exact
	// version on the nearest version found, and says so; off, such a
	// function cannot start.
	RuntimeFallback bool
	// AWSEndpoint becomes AWS_ENDPOINT_URL inside functions.
	AWSEndpoint string
	// PublicURL is how functions reach this lambdad (AWS_ENDPOINT_URL_LAMBDA); by default http://<listen address>.
	PublicURL string
	// Credentials, when set, are the only access keys accepted (besides the
	// keys lambdad issues to functions), and every API request's SigV4
	// signature is checked against them.
	Credentials map[string]string
	// FunctionURLHost is the form of function URLs: "localhost" (default,
	// <id>.lambda-url.<region>.localhost:<port>), "path"
	// (http://<api address>/_lambdad/url/<id>/) or a domain D that resolves
	// to lambdad (<id>.lambda-url.<region>.D:<port>).
	FunctionURLHost string
	// AdminKeys are the access keys of Credentials that may POST
	// /_lambdad/reset (without Credentials, loopback clients may).
	AdminKeys []string
	// Account is the account of requests signed with an access key that is
	// not 12 digits (default caller.DefaultAccount); a 12-digit key is its
	// own account.
	Account string
	// Organizations maps an account to its AWS Organizations id, for layer
	// permissions granted to an organization.
	Organizations map[string]string
	// MSKBootstrapBrokers names Amazon MSK clusters' brokers by cluster
	// ARN, for where the Kafka API has no GetBootstrapBrokers.
	MSKBootstrapBrokers map[string][]string
	// HotReloadRoots are the directories hot-reload code may come from,
	// comma-separated: "" is lambdad's working directory, "none" turns hot
	// reload off.
	HotReloadRoots string
	// BodyMemory bounds the bytes of request bodies held at once (default
	// DefaultBodyMemory).
	BodyMemory int64
	// ReadTimeout cuts a client that sends nothing this long while sending
	// its headers or its body (default DefaultReadTimeout).
	ReadTimeout time.Duration
	// LogRetention, LogStreamBytes and LogGroupBytes bound the function
	// log store (logs.Config's Retention, MaxStreamBytes, MaxGroupBytes).
	LogRetention                  time.Duration
	LogStreamBytes, LogGroupBytes int64
	// Cluster, with a URL, makes lambdad a node of a cluster (cluster.go).
	Cluster ClusterConfig
	Logger  *slog.Logger
}

// Defaults of Config.
const (
	DefaultBodyMemory  = 128 << 20
	DefaultReadTimeout = 30 * time.Second
	// idleTimeout closes keep-alive connections unused this long.
	idleTimeout = 2 * time.Minute
	// budgetWait is how long a request waits for body memory before it is
	// throttled.
	budgetWait = time.Second
)

// Server is a running lambdad.
type Server struct {
	cfg      Config
	store    store.Store
	blobs    *blobs.Store
	sandbox  *sandbox.Manager
	runtimes *runtimes.Catalog
	invoke   *invoke.Service
	logs     logs.Logs
	logsAPI  *logsapi.Handler
	handler  http.Handler
	log      *slog.Logger
	stop     context.CancelFunc
	// fnCreds holds the credentials issued to execution environments.
	fnCreds *fncreds.Registry
	durable *durable.Service
	// aws reaches the other AWS services lambdad reads events from and
	// delivers results to.
	aws *awsconn.Conn
	// dests delivers event records and dead-letter events to SQS, SNS,
	// EventBridge and S3.
	dests *destinations.Dispatcher
	// esm is event source mappings; their pollers run from Serve until
	// Close (esmStop).
	esm     *esm.Service
	esmStop context.CancelFunc
	// functions and capacity are the control plane, for reset.
	functions *functions.Service
	capacity  *capacity.Service
	// metrics is the Prometheus registry of /_lambdad/metrics.
	metrics *metrics
	cluster clustered
}

// credentials are the configured keys (nil: signatures are not checked).
func (s *Server) credentials() awsproto.Credentials {
	if s.cfg.Credentials == nil {
		return nil
	}
	return func(key string) (string, bool) {
		secret, ok := s.cfg.Credentials[key]
		return secret, ok
	}
}

// urlCredentials are the keys whose signatures AWS_IAM function URLs accept:
// the configured ones and functions' own, so functions can call URLs.
func (s *Server) urlCredentials() awsproto.Credentials {
	if s.cfg.Credentials == nil {
		return nil
	}
	return func(key string) (string, bool) {
		if secret, ok := s.cfg.Credentials[key]; ok {
			return secret, true
		}
		e, ok := s.fnCreds.Lookup(key)
		return e.Secret, ok
	}
}

// functionKeys finds the live keys of functions' environments.
func (s *Server) functionKeys(ctx context.Context, key string) (awsproto.FunctionKey, bool) {
	e, ok := s.fnCreds.LookupContext(ctx, key)
	return awsproto.FunctionKey(e), ok
}

// New opens the data directory and builds every part.
func New(cfg Config) (*Server, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := nodeDefaults(&cfg); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	st, secret, err := openStore(cfg, log)
	if err != nil {
		return nil, err
	}
	// Records written by an older lambdad are upgraded before anything reads them.
	if err := functions.Migrate(context.Background(), st, log); err != nil {
		st.Close()
		return nil, err
	}
	bl, err := openBlobs(cfg, log)
	if err != nil {
		st.Close()
		return nil, err
	}
	hot, err := hotReload(cfg)
	if err != nil {
		bl.Close()
		st.Close()
		return nil, err
	}
	fcfg := functions.Config{Store: st, Blobs: bl, Transition: cfg.Transition, ConcurrencyLimit: int32(cfg.ConcurrencyLimit), Logger: log, HotReload: hot}
	if cfg.S3Endpoint != "" {
		fcfg.S3 = s3code.New(cfg.S3Endpoint, "us-east-1")
	}
	if cfg.BodyMemory <= 0 {
		cfg.BodyMemory = DefaultBodyMemory
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	// lambdad's own clients of SQS, SNS, ... (event sources, destinations).
	conn, err := awsconn.New(context.Background(), awsconn.Config{Endpoint: cfg.AWSEndpoint, Logger: log})
	if err != nil {
		st.Close()
		return nil, err
	}
	transport := awsdest.New(conn)
	creds, err := functionCredentials(cfg, st, secret, log)
	if err != nil {
		st.Close()
		return nil, err
	}
	srv := &Server{cfg: cfg, store: st, blobs: bl, log: log, fnCreds: creds, aws: conn, metrics: newMetrics(),
		durable: durable.New(durable.Config{Store: st, Logger: log, NodeID: cfg.NodeID, LeaseTime: sharedLease(cfg)}),
		dests:   destinations.NewDispatcher(destinations.Config{Transport: transport, Logger: log})}
	fcfg.CheckDestination = transport.Check
	fcfg.Organizations = cfg.Organizations
	// A function whose runtime this host cannot run shows State Failed.
	fcfg.RuntimeProblem = func(runtime string) string {
		if srv.runtimes == nil {
			return ""
		}
		return srv.runtimes.Problem(runtime)
	}
	fcfg.RuntimeFallback = func(runtime string) string {
		if srv.runtimes == nil {
			return ""
		}
		return srv.runtimes.Status(runtime).Fallback
	}
	// Environments of a deleted function or version stop once idle.
	fcfg.Deleted = func(arn, version string) {
		if srv.sandbox == nil {
			return
		}
		srv.sandbox.Retire(arn, version)        // "": every version
		srv.invoke.ForgetActivity(arn, version) // what the console shows of it
		if ref, ok := functions.RefOfARN(arn); ok {
			srv.invoke.ProvisionedChanged(ref) // its provisioned environments too
			srv.invoke.ManagedChanged(ref)     // and its Managed Instances ones
		}
	}
	// Provisioned concurrency configs are kept by the data plane.
	fcfg.ProvisionedChanged = func(fn functions.Ref) {
		if srv.invoke != nil {
			srv.invoke.ProvisionedChanged(fn)
		}
	}
	fcfg.ProvisionedState = func(ref functions.Ref) (functions.ProvisionedState, bool) {
		if srv.invoke == nil {
			return functions.ProvisionedState{}, false
		}
		return srv.provisionedState(ref) // provplace.go
	}
	// So are the environments of Lambda Managed Instances versions.
	fcfg.ManagedChanged = func(fn functions.Ref) {
		if srv.invoke != nil {
			srv.managedChanged(fn) // here, and on the other nodes
		}
	}
	fcfg.ManagedState = func(arn, version, revision string) (functions.ManagedState, bool) {
		if srv.invoke == nil {
			return functions.ManagedState{}, false
		}
		return srv.managedState(arn, version, revision) // managedplace.go
	}
	// Capacity providers and functions ask each other inside one store
	// transaction: a provider must exist to be used, and in use cannot go.
	caps := capacity.New(capacity.Config{Store: st, Transition: cfg.Transition})
	fcfg.CapacityProviders = caps
	fs := functions.New(fcfg)
	caps.SetUsers(fs)
	watchStore(st, fs)
	// With a store of its own, every archive nothing refers to is left
	// over; on a shared store, Serve collects the old ones.
	if cfg.Store == "" {
		if err := fs.CollectUnreferenced(context.Background(), 0); err != nil {
			log.Warn("collect unreferenced code", "err", err)
		}
	}
	if err := srv.startDataPlane(fs, caps); err != nil {
		creds.Close()
		st.Close()
		return nil, err
	}
	srv.esm = esm.New(esm.Config{NodeID: cfg.NodeID, LeaseTime: cfg.LeaseTime, ExclusiveStore: cfg.Store == "", Store: st, Functions: fs, Invoker: srv.invoke, AWS: conn, Transition: cfg.Transition, Logger: log, Destinations: srv.dests,
		MSKBrokers: cfg.MSKBootstrapBrokers})
	var apiSvc *awsproto.Service
	h := api.New(api.Config{ESM: srv.esm, Functions: fs, Blobs: bl, Invoker: srv.invoke, Secret: secret, Logger: log, Metrics: srv.metrics.handler(), Credentials: srv.urlCredentials(),
		Durable: srv.durable, WakeDurable: srv.invoke.WakeDurable, ChainDurable: srv.invoke.ChainDurable, Capacity: caps,
		URLHost: cfg.FunctionURLHost,
		Console: console.New(console.Config{Source: srv.invoke, SignaturesChecked: cfg.Credentials != nil, Logger: log,
			// Set below: the console authenticates as the API does.
			Authenticate: func(r *http.Request) (awsproto.Identity, error) { return apiSvc.AuthenticateBodiless(r) }})})
	// The API itself knows function keys apart, to hold them to their
	// account and region.
	if creds := srv.credentials(); creds != nil {
		h.Service().VerifyWith(creds)
	}
	h.Service().WithFunctionKeys(srv.functionKeys)
	h.Service().WithDefaultAccount(cfg.Account)
	h.Service().BudgetBodies(cfg.BodyMemory, budgetWait)
	apiSvc = h.Service()
	srv.functions, srv.capacity = fs, caps
	srv.metrics.register(srv)
	if err := srv.cluster.open(cfg.Cluster); err != nil {
		srv.Close()
		return nil, err
	}
	// The CloudWatch Logs API shares the listener: POST / with its
	// X-Amz-Target, which the Lambda API never uses.
	lh := logsapi.New(srv.logs, h.Service(), log)
	srv.logsAPI = lh
	api := srv.withHealth(srv.withReset(h))
	if p := srv.newPlacement(secret, h.Service().ReserveBody); p != nil { // invokes go to their version's node
		srv.cluster.place = p
		api = p.wrap(api)
	}
	srv.handler = progressDeadlines(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if logsapi.Matches(r) {
			lh.ServeHTTP(w, r)
			return
		}
		api.ServeHTTP(w, r)
	}), cfg.ReadTimeout)
	return srv, nil
}

func (s *Server) startDataPlane(fs *functions.Service, caps *capacity.Service) error {
	cfg := s.cfg
	rt, err := runtimes.New(runtimes.Config{Dir: filepath.Join(cfg.DataDir, "runtimes"), Python: cfg.Python, Node: cfg.Node, Nodes: cfg.Nodes, Fallback: cfg.RuntimeFallback, Logger: s.log})
	if err != nil {
		return err
	}
	rt.Prepare()
	abs, _ := filepath.Abs(cfg.DataDir)
	sb, err := sandbox.NewManager(sandbox.Config{
		WorkDir:     filepath.Join(cfg.DataDir, "sandbox"),
		IdleTimeout: cfg.IdleTimeout,
		Isolation:   cfg.Isolation,
		HideDirs:    []string{abs},
		Logger:      s.log,
	})
	if err != nil {
		rt.Close()
		return err
	}
	lg, err := s.openLogs()
	if err != nil {
		rt.Close()
		sb.Close(context.Background())
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	inv, err := invoke.New(ctx, invoke.Config{
		Credentials: s.fnCreds,
		Functions:   fs, Blobs: s.blobs, Sandbox: sb, Runtimes: rt, Store: s.store, Logs: lg,
		AccountLimit: int32(cfg.ConcurrencyLimit), LambdaEndpoint: cfg.PublicURL, AWSEndpoint: cfg.AWSEndpoint,
		RetryBase: cfg.RetryBase, ThrottleBase: cfg.ThrottleBase, Logger: s.log, Durable: s.durable,
		// The embedded store is this process's alone (bbolt locks it).
		NodeID: cfg.NodeID, LeaseTime: cfg.LeaseTime, ExclusiveStore: cfg.Store == "",
		StreamLimit: cfg.StreamMaxBytes, StreamBandwidth: cfg.StreamBandwidth,
		ScaleInterval: cfg.ManagedScaleInterval, HostMemoryMB: cfg.ManagedMemoryMB,
		CapacityProvider: func(ctx context.Context, arn string) (*capacity.Provider, error) {
			ref, ok := capacity.ParseARN(arn)
			if !ok {
				return nil, fmt.Errorf("not a capacity provider ARN: %s", arn)
			}
			return caps.Get(ctx, ref)
		},
		Destinations: s.dests,
		Metrics:      s.metrics,
		Admission:    s.admission(),
	})
	if err != nil {
		cancel()
		rt.Close()
		lg.Close(context.Background())
		sb.Close(context.Background())
		return err
	}
	s.sandbox, s.runtimes, s.invoke, s.logs, s.stop = sb, rt, inv, lg, cancel
	s.placeProvisioned()
	s.placeManaged()
	return nil
}

// collectOrphanCode collects, on a shared store, the archives no record
// refers to that were stored before OrphanCodeAge: an upload whose commit
// a crash stopped, or a collection a crash interrupted. A younger one may
// be another node's commit in progress. In the background: listing a
// bucket must not hold up the start.
func (s *Server) collectOrphanCode(ctx context.Context) {
	age := s.cfg.OrphanCodeAge
	if age <= 0 {
		age = time.Hour
	}
	if err := s.functions.CollectUnreferenced(ctx, age); err != nil && ctx.Err() == nil {
		s.log.Warn("collect unreferenced code", "err", err)
	}
}

// Handler is the HTTP API. Durable executions' timers and replays start
// with Serve (StartDurable), once functions can reach lambdad.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve answers on ln until ctx ends, then shuts down gracefully.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if s.cfg.PublicURL == "" {
		s.invoke.SetLambdaEndpoint("http://" + ln.Addr().String())
	}
	if err := s.join(ctx, ln); err != nil {
		return err
	}
	defer s.leave()
	if s.cfg.Store != "" {
		go s.collectOrphanCode(ctx)
	}
	// Durable executions resume once functions can reach this lambdad.
	s.invoke.StartDurable()
	// Provisioned environments come back up, with the endpoint set.
	s.invoke.StartProvisioned(context.WithoutCancel(ctx))
	// So do the minimum environments of Managed Instances versions.
	s.invoke.StartManaged(context.WithoutCancel(ctx))
	// Event source mappings resume polling, until Close.
	ectx, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.esmStop = stop
	s.esm.Start(ectx)
	// A client that stops sending is cut: while sending headers after
	// ReadTimeout, while sending a body after ReadTimeout without a byte
	// (progressDeadlines), and when idle between requests.
	hs := &http.Server{Handler: s.handler, ReadHeaderTimeout: s.cfg.ReadTimeout, IdleTimeout: idleTimeout,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		// Connections from functions are known by their owner, so that
		// functions are held to their own credentials even when
		// signatures are not checked (--credentials unset).
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if s.sandbox.FromEnvironment(c) {
				return awsproto.FromEnvironmentContext(ctx)
			}
			return ctx
		}}
	// Invoke requests are read by lambdad's own front; a connection that
	// carries anything else is handed to hs (internal/front).
	hs.RegisterOnShutdown(s.logsAPI.Stop) // live tails end, as their clients would wait
	fs := &front.Server{HTTP: hs, Fast: invokeTarget}
	errc := make(chan error, 1)
	go func() { errc <- fs.Serve(ln) }()
	// The ready line is logged whatever the level, so tools can wait for it.
	lvl := slog.LevelInfo
	for lvl < slog.LevelError && !s.log.Enabled(ctx, lvl) {
		lvl += 4
	}
	s.log.Log(ctx, lvl, "lambdad ready", "address", "http://"+ln.Addr().String(), "data_dir", s.cfg.DataDir)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := fs.Shutdown(sctx)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// invokeTarget says whether a POST to target is an Invoke, which the front
// serves itself: /2015-03-31/functions/{name}/invocations[?query].
func invokeTarget(target []byte) bool {
	if i := bytes.IndexByte(target, '?'); i >= 0 {
		target = target[:i]
	}
	const prefix, suffix = "/2015-03-31/functions/", "/invocations"
	return len(target) > len(prefix)+len(suffix) && bytes.HasPrefix(target, []byte(prefix)) && bytes.HasSuffix(target, []byte(suffix))
}

// Close stops every process lambdad started and releases the data directory.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if s.esmStop != nil {
		s.esmStop() // no new batches; those running end with the invocations
	}
	s.closeCluster()
	s.invoke.Close()
	s.dests.Close() // undelivered records stay stored for the next start
	s.stop()
	s.esm.Wait()
	s.runtimes.Close()
	s.sandbox.Close(ctx)
	s.fnCreds.Close() // after the environments' releases
	s.logs.Close(ctx)
	if err := s.blobs.Close(); err != nil {
		s.log.Warn("close the code store", "err", err)
	}
	return s.store.Close()
}

// hotReload resolves Config.HotReloadRoots.
func hotReload(cfg Config) (functions.HotReload, error) {
	var roots []string
	switch v := strings.TrimSpace(cfg.HotReloadRoots); v {
	case "":
		wd, err := os.Getwd()
		if err != nil {
			return functions.HotReload{}, fmt.Errorf("hot-reload roots: %w", err)
		}
		roots = []string{wd}
	case "none":
	default:
		for _, r := range strings.Split(v, ",") {
			if r = strings.TrimSpace(r); r != "" {
				roots = append(roots, r)
			}
		}
	}
	return functions.NewHotReload(roots, cfg.DataDir)
}

// loadSecret reads the key that signs code links, making it on first start
// so links stay valid across restarts.
func loadSecret(path string) ([]byte, error) {
	if b, err := os.ReadFile(path); err == nil && len(b) == 32 {
		return b, nil
	}
	b := make([]byte, 32)
	rand.Read(b)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, err
	}
	return b, nil
}

// AWS is lambdad's connection to the other AWS services (event sources and
// destinations).
func (s *Server) AWS() *awsconn.Conn { return s.aws }

// Destinations delivers records to SQS, SNS, EventBridge and S3 with
// retries, counted in lambdad's metrics (stream mappings' on-failure
// destinations use it too).
func (s *Server) Destinations() *destinations.Dispatcher { return s.dests }
