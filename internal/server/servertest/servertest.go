// Package servertest starts lambdad in-process for end-to-end tests, on a
// loopback port, over internal/server. The rest of the harness (clients,
// functions, assertions) is internal/testkit; this part is separate because
// it imports the server, which the domain packages' own tests cannot.
package servertest

import (
	"context"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/lambdad/lambdad/internal/server"
	"github.com/lambdad/lambdad/internal/testkit"
)

// FastTransition keeps Pending/InProgress short so tests stay quick.
const FastTransition = 50 * time.Millisecond

// Daemon is one running lambdad on a loopback port.
type Daemon struct {
	URL  string
	Dir  string
	stop func()
}

// StartDaemon serves a lambdad over dir until the test ends (or Stop).
func StartDaemon(t testing.TB, dir string, transition time.Duration) *Daemon {
	t.Helper()
	// RuntimeFallback: tests of the API do not care which version runs.
	srv, err := server.New(server.Config{DataDir: dir, Transition: transition, RuntimeFallback: true, Store: TestStore(t, dir)})
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		srv.Close()
		t.Fatalf("listen: %v", err)
	}
	return ServeDaemon(t, srv, ln, dir)
}

// ServeDaemon serves srv on ln until the test ends (or Stop), then closes it.
func ServeDaemon(t testing.TB, srv *server.Server, ln net.Listener, dir string) *Daemon {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	d := &Daemon{URL: "http://" + ln.Addr().String(), Dir: dir}
	var once sync.Once
	d.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Serve: %v", err)
			}
			if err := srv.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
	t.Cleanup(d.stop)
	return d
}

// Stop shuts the daemon down and releases its data directory.
func (d *Daemon) Stop() { d.stop() }

// Client is an SDK client for the daemon acting with accessKey in region.
func (d *Daemon) Client(accessKey, region string) *lambda.Client {
	return testkit.Client(d.URL, accessKey, "secret", region)
}

// NewEnv starts a daemon on a fresh data directory with a client of
// testkit.Account.
func NewEnv(t testing.TB, transition time.Duration) (*Daemon, *lambda.Client) {
	t.Helper()
	d := StartDaemon(t, t.TempDir(), transition)
	return d, d.Client(testkit.Account, testkit.Region)
}

// StartLambdad serves a lambdad over dir on a loopback port until the test
// ends (or Stop), configured as the invoke tests want it. The listener exists
// before the server so PublicURL is the real address functions can call
// back on. tune adjusts the config. LAMBDAD_TEST_LOG=1 shows its debug log.
func StartLambdad(t testing.TB, dir string, tune func(*server.Config)) *Daemon {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	url := "http://" + ln.Addr().String()
	log := slog.New(slog.DiscardHandler)
	if os.Getenv("LAMBDAD_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	cfg := server.Config{
		DataDir:     dir,
		Transition:  FastTransition,
		Isolation:   "auto",
		IdleTimeout: time.Minute,
		RetryBase:   50 * time.Millisecond,
		PublicURL:   url,
		Logger:      log,
		// Runtimes this host lacks run on the nearest version: a test that
		// cares about the exact one turns it off (runtimes_test.go).
		RuntimeFallback: true,
	}
	cfg.Store = TestStore(t, dir)
	if tune != nil {
		tune(&cfg)
	}
	srv, err := server.New(cfg)
	if err != nil {
		ln.Close()
		t.Fatalf("server.New: %v", err)
	}
	return ServeDaemon(t, srv, ln, dir)
}

// InvokeEnv starts a lambdad on a fresh data directory and returns it with
// an SDK client of the default account.
func InvokeEnv(t testing.TB, tune func(*server.Config)) (*Daemon, *lambda.Client) {
	t.Helper()
	d := StartLambdad(t, t.TempDir(), tune)
	return d, InvokeClient(d)
}

// InvokeClient is an SDK client of the default account (testkit.InvokeKey).
// Invokes can take seconds (timeouts, cold starts), so the SDK's timeouts
// are left alone.
func InvokeClient(d *Daemon) *lambda.Client {
	return testkit.Client(d.URL, testkit.InvokeKey, "secret", testkit.Region)
}

// IsolationOff runs functions unconfined, for tests that read what they
// write on the host.
func IsolationOff(c *server.Config) { c.Isolation = "off" }
