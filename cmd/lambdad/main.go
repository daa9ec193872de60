// Command lambdad serves the AWS Lambda API and runs functions locally.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/lambdad/lambdad/internal/caller"
	"github.com/lambdad/lambdad/internal/cluster"
	"github.com/lambdad/lambdad/internal/limits"
	"github.com/lambdad/lambdad/internal/sandbox"
	"github.com/lambdad/lambdad/internal/server"
)

func main() {
	// An execution environment's init step re-executes this binary.
	sandbox.MaybeRunInit()
	if err := run(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return // --help: the usage is printed, and asking is no failure
		}
		fmt.Fprintln(os.Stderr, "lambdad:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if wantsVersion(args) {
		fmt.Println(versionLine())
		return nil
	}
	if len(args) > 0 && args[0] == "migrate" {
		return runMigrate(args[1:])
	}
	if len(args) > 0 && args[0] == "runtimes" {
		return runRuntimes(context.Background(), args[1:], os.LookupEnv, os.Stdout)
	}
	cfg, lv, err := parseSettings(args, os.LookupEnv)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lv}))
	cfg.Logger = log

	srv, err := server.New(cfg)
	if err != nil {
		return err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return srv.Serve(ctx, ln)
}

// parseSettings reads the flags in args over the LAMBDAD_* variables that
// lookup finds, over the defaults.
func parseSettings(args []string, lookup func(string) (string, bool)) (server.Config, slog.Level, error) {
	var st settings
	st.cfg.Account = caller.DefaultAccount
	fl := st.flags()
	if err := applyEnv(fl, lookup); err != nil {
		return st.cfg, st.level, err
	}
	if wantsHelp(args) {
		fl.SetOutput(os.Stdout)
	}
	if err := fl.Parse(args); err != nil {
		return st.cfg, st.level, err
	}
	st.cfg.BodyMemory = int64(st.bodyMB) << 20
	st.cfg.StreamMaxBytes = int64(st.streamMB) << 20
	st.cfg.StreamBandwidth = int64(st.streamKBps) << 10
	st.cfg.LogStreamBytes = int64(st.logStreamMB) << 20
	st.cfg.LogGroupBytes = int64(st.logGroupMB) << 20
	for _, k := range st.cfg.AdminKeys {
		if _, ok := st.cfg.Credentials[k]; !ok {
			return st.cfg, st.level, fmt.Errorf("--admin-keys: %q is not a key of --credentials", k)
		}
	}
	if err := checkCluster(&st.cfg); err != nil {
		return st.cfg, st.level, err
	}
	return st.cfg, st.level, nil
}

// settings is what the flags fill in.
type settings struct {
	cfg    server.Config
	bodyMB int
	// streamMB and streamKBps are the streamed response limits.
	streamMB, streamKBps int
	level                slog.Level
	// Bounds of the function log store, in MB.
	logStreamMB, logGroupMB int
}

// flags defines every flag with its default and rules. Each has a LAMBDAD_*
// variable named after it (see envName) that its usage text names.
func (st *settings) flags() *flag.FlagSet {
	fl := flag.NewFlagSet("lambdad", flag.ContinueOnError)
	fl.Usage = func() {
		// --help asks for it: on stdout. A bad flag shows it on stderr.
		out := fl.Output()
		fmt.Fprintf(out, "Usage: lambdad [flags]\n       lambdad runtimes [install RUNTIME...] [flags]\n\nServes the AWS Lambda API and runs functions locally. Every flag can also be set by the LAMBDAD_* variable it names; the flag wins.\n--version prints the version and commit. `lambdad runtimes` lists the runtimes this host runs and with what; `lambdad runtimes install nodejs22.x` installs one.\n\nFlags:\n")
		fl.PrintDefaults()
	}
	cfg := &st.cfg
	fl.StringVar(&cfg.Listen, "listen", "127.0.0.1:9001", "address to serve the Lambda API on (LAMBDAD_LISTEN)")
	fl.StringVar(&cfg.DataDir, "data-dir", "./lambdad-data", "directory for metadata, code and logs (LAMBDAD_DATA_DIR)")
	storeVar(fl, &cfg.Store, "store", "metadata store: postgres://USER:PASS@HOST/DB shares it between lambdad nodes; default bbolt in --data-dir (LAMBDAD_STORE)")
	durationVar(fl, &cfg.Transition, "transition", 100*time.Millisecond, 0, "how long State Pending and LastUpdateStatus InProgress last (LAMBDAD_TRANSITION)")
	fl.StringVar(&cfg.S3Endpoint, "s3-endpoint", "", "S3-compatible endpoint for S3Bucket/S3Key code and --blobs (LAMBDAD_S3_ENDPOINT)")
	fl.Var(blobsValue{&cfg.Blobs}, "blobs", "s3://BUCKET[/PREFIX]: keep code archives in S3 (at --s3-endpoint when set), with a local cache; default the data directory (LAMBDAD_BLOBS)")
	intVar(fl, &cfg.CodeCacheMB, "code-cache-mb", server.DefaultCodeCacheMB, 1, 1<<30, "MB of code archives and unpacked trees cached locally with --blobs (LAMBDAD_CODE_CACHE_MB)")
	intVar(fl, &cfg.ConcurrencyLimit, "concurrency-limit", limits.DefaultConcurrentExecutions, 1, math.MaxInt32, "concurrent executions per account (LAMBDAD_CONCURRENCY_LIMIT)")
	enumVar(fl, &cfg.Isolation, "isolation", "auto", []string{"auto", "off"}, "auto: confine functions with namespaces and cgroups where Linux allows; off: never (LAMBDAD_ISOLATION)")
	durationVar(fl, &cfg.IdleTimeout, "idle-timeout", 10*time.Minute, time.Millisecond, "stop execution environments idle this long (LAMBDAD_IDLE_TIMEOUT)")
	durationVar(fl, &cfg.RetryBase, "event-retry-base", time.Second, time.Millisecond, "first retry delay of failed Event invokes; doubles per retry (LAMBDAD_EVENT_RETRY_BASE)")
	durationVar(fl, &cfg.ThrottleBase, "event-throttle-base", time.Second, time.Millisecond, "first retry delay of throttled Event invokes; doubles per throttle up to 300 times itself (LAMBDAD_EVENT_THROTTLE_BASE)")
	fl.StringVar(&cfg.NodeID, "node-id", "", "this node's name in the leases it takes on shared work (letters, digits, '.', '_', '-'; unique among live nodes); default: host name and a random suffix (LAMBDAD_NODE_ID)")
	durationVar(fl, &cfg.LeaseTime, "lease-time", 10*time.Second, 10*time.Millisecond, "how long a node's lease on an Event invoke or a poller lasts unrenewed: a dead node's work moves to another after it, at most 1h (LAMBDAD_LEASE_TIME)")
	fl.StringVar(&cfg.Python, "python", "python3", "a Python interpreter to consider besides those found on PATH and in pyenv, asdf and uv: it runs the pythonX.Y of its version (LAMBDAD_PYTHON)")
	fl.StringVar(&cfg.Node, "node", "node", "a node binary to consider besides --node-binaries, lambdad's installs, asdf and nvm: it runs the nodejsN.x of its major version (LAMBDAD_NODE)")
	fl.BoolVar(&cfg.RuntimeFallback, "runtime-fallback", false, "run a runtime without an interpreter of its exact version on the nearest version found, saying so in its configuration and REPORT lines; off, such a function cannot start (LAMBDAD_RUNTIME_FALLBACK)")
	fl.Var(listValue{&cfg.Nodes}, "node-binaries", "NODE[,NODE...]: node binaries (paths or names on PATH) for exact versions: nodejsN.x runs with the first whose major version is N (LAMBDAD_NODE_BINARIES)")
	fl.StringVar(&cfg.AWSEndpoint, "aws-endpoint-url", "", "AWS_ENDPOINT_URL given to functions, for other AWS services run locally (LAMBDAD_AWS_ENDPOINT_URL)")
	fl.StringVar(&cfg.PublicURL, "public-url", "", "URL functions use to call this lambdad (AWS_ENDPOINT_URL_LAMBDA); default http://<listen> (LAMBDAD_PUBLIC_URL)")
	fl.StringVar(&cfg.HotReloadRoots, "hot-reload-roots", "", "DIR[,DIR...]: directories hot-reload code (S3Bucket hot-reload) may come from; default the working directory; none turns hot reload off (LAMBDAD_HOT_RELOAD_ROOTS)")
	intVar(fl, &st.bodyMB, "body-memory-mb", server.DefaultBodyMemory>>20, 1, maxBodyMB, "MB of request bodies held at once, over all requests; beyond it requests are throttled (LAMBDAD_BODY_MEMORY_MB)")
	intVar(fl, &st.streamMB, "stream-max-mb", 200, 1, 1<<20, "MB a streamed response (InvokeWithResponseStream, RESPONSE_STREAM URLs) may be (LAMBDAD_STREAM_MAX_MB)")
	intVar(fl, &st.streamKBps, "stream-bandwidth-kbps", 2048, 0, 1<<30, "KB/s a streamed response is capped to past its first 6 MB, as on AWS; 0 uncaps it (LAMBDAD_STREAM_BANDWIDTH_KBPS)")
	durationVar(fl, &cfg.ReadTimeout, "read-timeout", server.DefaultReadTimeout, time.Millisecond, "cut a client that sends nothing this long while sending a request's headers or body (LAMBDAD_READ_TIMEOUT)")
	fl.Var(credentialsValue{&cfg.Credentials}, "credentials", "ACCESS_KEY:SECRET[,...]: when set, only these keys (and functions' own) are accepted and every request's SigV4 signature is checked (LAMBDAD_CREDENTIALS)")
	fl.Var(accountValue{&cfg.Account}, "account", "the account of access keys that are not 12 digits (a 12-digit key is its own account) (LAMBDAD_ACCOUNT)")
	urlHostVar(fl, &cfg.FunctionURLHost, "function-url-host", "form of function URLs: localhost (<id>.lambda-url.<region>.localhost:<port>, resolved by curl and browsers), path (http://<api address>/_lambdad/url/<id>/, resolved by every client) or a domain D that resolves to lambdad (<id>.lambda-url.<region>.D:<port>) (LAMBDAD_FUNCTION_URL_HOST)")
	fl.Var(listValue{&cfg.AdminKeys}, "admin-keys", "KEY[,KEY...]: access keys of --credentials that may POST /_lambdad/reset (without --credentials, loopback clients may) (LAMBDAD_ADMIN_KEYS)")
	fl.Var(organizationsValue{&cfg.Organizations}, "organizations", "ACCOUNT:ORG[,...]: the AWS Organizations id of each account, for layer permissions granted to an organization (LAMBDAD_ORGANIZATIONS)")
	durationVar(fl, &cfg.LogRetention, "log-retention", 0, 0, "delete function log events older than this, in log groups without a retention policy; 0 keeps them (LAMBDAD_LOG_RETENTION)")
	intVar(fl, &st.logStreamMB, "log-stream-mb", 64, 1, math.MaxInt32>>1, "MB of events one log stream keeps; past it its oldest are deleted (LAMBDAD_LOG_STREAM_MB)")
	intVar(fl, &st.logGroupMB, "log-group-mb", 0, 0, math.MaxInt32>>1, "MB of events one log group keeps; past it its oldest are deleted; 0: no bound but --log-stream-mb (LAMBDAD_LOG_GROUP_MB)")
	fl.Var(mskBrokersValue{&cfg.MSKBootstrapBrokers}, "msk-bootstrap-brokers", "CLUSTER_ARN=HOST:PORT[,HOST:PORT...][;...]: brokers of Amazon MSK clusters, for an endpoint without the Kafka API's GetBootstrapBrokers (LAMBDAD_MSK_BOOTSTRAP_BROKERS)")
	fl.StringVar(&cfg.Cluster.URL, "cluster", "", "postgres://…: be a node of the cluster of lambdads coordinated through this PostgreSQL database; default: --store when it is one (LAMBDAD_CLUSTER)")
	fl.StringVar(&cfg.Cluster.Advertise, "advertise", "", "URL other cluster nodes reach this node's API at; default http://<listen>, which must then name a host (LAMBDAD_ADVERTISE)")
	intVar(fl, &cfg.Cluster.SpillAfter, "spill-after", 0, 0, math.MaxInt32, "synchronous invokes of one function version a cluster node runs at once before it passes more to the next node; 0: twice the CPUs (LAMBDAD_SPILL_AFTER)")
	durationVar(fl, &cfg.Cluster.Heartbeat, "heartbeat", cluster.DefaultHeartbeat, 100*time.Millisecond, "how often a cluster node renews its membership; after three missed it is dropped and its shares freed (LAMBDAD_HEARTBEAT)")
	st.level = slog.LevelInfo
	fl.Var(levelValue{&st.level}, "log-level", "debug, info, warn or error (LAMBDAD_LOG_LEVEL)")
	return fl
}
