// Command lambdad serves the AWS Lambda API and runs functions locally.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/lambdad/lambdad/internal/sandbox"
	"github.com/lambdad/lambdad/internal/server"
)

func main() {
	// An execution environment's init step re-executes this binary.
	sandbox.MaybeRunInit()
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "lambdad:", err)
		os.Exit(1)
	}
}

// env returns LAMBDAD_<name> or def: every flag has such a variable.
func env(name, def string) string {
	if v, ok := os.LookupEnv("LAMBDAD_" + name); ok {
		return v
	}
	return def
}

func envDuration(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(env(name, "")); err == nil {
		return d
	}
	return def
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(env(name, "")); err == nil {
		return n
	}
	return def
}

func run(args []string) error {
	fl := flag.NewFlagSet("lambdad", flag.ContinueOnError)
	var cfg server.Config
	fl.StringVar(&cfg.Listen, "listen", env("LISTEN", "127.0.0.1:9001"), "address to serve the Lambda API on (LAMBDAD_LISTEN)")
	fl.StringVar(&cfg.DataDir, "data-dir", env("DATA_DIR", "./lambdad-data"), "directory for metadata, code and logs (LAMBDAD_DATA_DIR)")
	fl.DurationVar(&cfg.Transition, "transition", envDuration("TRANSITION", 100*time.Millisecond), "how long State Pending and LastUpdateStatus InProgress last (LAMBDAD_TRANSITION)")
	fl.StringVar(&cfg.S3Endpoint, "s3-endpoint", env("S3_ENDPOINT", ""), "S3-compatible endpoint for S3Bucket/S3Key code (LAMBDAD_S3_ENDPOINT)")
	fl.IntVar(&cfg.ConcurrencyLimit, "concurrency-limit", envInt("CONCURRENCY_LIMIT", 1000), "concurrent executions per account (LAMBDAD_CONCURRENCY_LIMIT)")
	fl.StringVar(&cfg.Isolation, "isolation", env("ISOLATION", "auto"), "auto: confine functions with namespaces and cgroups where Linux allows; off: never (LAMBDAD_ISOLATION)")
	fl.DurationVar(&cfg.IdleTimeout, "idle-timeout", envDuration("IDLE_TIMEOUT", 10*time.Minute), "stop execution environments idle this long (LAMBDAD_IDLE_TIMEOUT)")
	fl.DurationVar(&cfg.RetryBase, "event-retry-base", envDuration("EVENT_RETRY_BASE", time.Second), "first retry delay of failed Event invokes; doubles per retry (LAMBDAD_EVENT_RETRY_BASE)")
	fl.DurationVar(&cfg.ThrottleBase, "event-throttle-base", envDuration("EVENT_THROTTLE_BASE", time.Second), "first retry delay of throttled Event invokes; doubles per throttle up to 300 times itself (LAMBDAD_EVENT_THROTTLE_BASE)")
	fl.StringVar(&cfg.Python, "python", env("PYTHON", "python3"), "interpreter for pythonX.Y runtimes whose exact version is not installed (LAMBDAD_PYTHON)")
	fl.StringVar(&cfg.Node, "node", env("NODE", "node"), "interpreter for nodejs runtimes (LAMBDAD_NODE)")
	fl.StringVar(&cfg.AWSEndpoint, "aws-endpoint-url", env("AWS_ENDPOINT_URL", ""), "AWS_ENDPOINT_URL given to functions, for other AWS services run locally (LAMBDAD_AWS_ENDPOINT_URL)")
	fl.StringVar(&cfg.PublicURL, "public-url", env("PUBLIC_URL", ""), "URL functions use to call this lambdad (AWS_ENDPOINT_URL_LAMBDA); default http://<listen> (LAMBDAD_PUBLIC_URL)")
	fl.StringVar(&cfg.HotReloadRoots, "hot-reload-roots", env("HOT_RELOAD_ROOTS", ""), "DIR[,DIR...]: directories hot-reload code (S3Bucket hot-reload) may come from; default the working directory; none turns hot reload off (LAMBDAD_HOT_RELOAD_ROOTS)")
	bodyMB := fl.Int("body-memory-mb", envInt("BODY_MEMORY_MB", server.DefaultBodyMemory>>20), "MB of request bodies held at once, over all requests; beyond it requests are throttled (LAMBDAD_BODY_MEMORY_MB)")
	fl.DurationVar(&cfg.ReadTimeout, "read-timeout", envDuration("READ_TIMEOUT", server.DefaultReadTimeout), "cut a client that sends nothing this long while sending a request's headers or body (LAMBDAD_READ_TIMEOUT)")
	creds := fl.String("credentials", env("CREDENTIALS", ""), "ACCESS_KEY:SECRET[,...]: when set, only these keys (and functions' own) are accepted and every request's SigV4 signature is checked (LAMBDAD_CREDENTIALS)")
	level := fl.String("log-level", env("LOG_LEVEL", "info"), "debug, info, warn or error (LAMBDAD_LOG_LEVEL)")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *bodyMB <= 0 {
		return fmt.Errorf("--body-memory-mb: %d is not a positive number of MB", *bodyMB)
	}
	cfg.BodyMemory = int64(*bodyMB) << 20
	if *creds != "" {
		cfg.Credentials = map[string]string{}
		for _, pair := range strings.Split(*creds, ",") {
			key, secret, ok := strings.Cut(strings.TrimSpace(pair), ":")
			if !ok || key == "" || secret == "" {
				return fmt.Errorf("--credentials: %q is not ACCESS_KEY:SECRET", pair)
			}
			cfg.Credentials[key] = secret
		}
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*level)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
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
