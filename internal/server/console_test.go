package server_test

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/lambdad/lambdad/internal/server"
	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// browser is a headless Chromium driven by chromedp, watching what the
// page loads and which exceptions it throws.
type browser struct {
	ctx    context.Context
	base   string
	mu     sync.Mutex
	errs   []string // uncaught exceptions, CSP violations, console errors
	remote []string // requests to anywhere but lambdad
}

// newBrowser starts Debian's chromium for the test. It skips only where
// chromium is missing and we are not root; CI runs as root and installs it
// (.ci/run), so there a missing chromium fails the test.
func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Geteuid() != 0 {
			t.Skip("chromium is not installed (apt-get install chromium)")
		}
		t.Fatal("chromium is not installed: .ci/run installs it (apt-get install -y chromium)")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	b := &browser{ctx: ctx, base: base}
	// Listen starts the browser (with the Runtime and Network domains on).
	err = chromedp.Listen(ctx, func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			b.errs = append(b.errs, ev.ExceptionDetails.Text+" "+exceptionText(ev.ExceptionDetails))
		case *cdplog.EventEntryAdded:
			// Security (CSP) and script errors; a failed fetch's status
			// ("network") is the tests' own doing (403s, 429s).
			if ev.Entry.Level == cdplog.EntryLevelError && ev.Entry.Source != cdplog.EntrySourceNetwork {
				b.errs = append(b.errs, string(ev.Entry.Source)+": "+ev.Entry.Text)
			}
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning {
				b.errs = append(b.errs, "console."+string(ev.Type)+" called")
			}
		case *network.EventRequestWillBeSent:
			if u := ev.Request.URL; !strings.HasPrefix(u, base+"/") && !strings.HasPrefix(u, "data:") {
				b.remote = append(b.remote, u)
			}
		}
	})
	if err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("enable the Log domain: %v", err)
	}
	t.Cleanup(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if len(b.errs) > 0 {
			t.Errorf("the page threw: %q", b.errs)
		}
		if len(b.remote) > 0 {
			t.Errorf("the page loaded from elsewhere: %q", b.remote)
		}
	})
	return b
}

func exceptionText(d *runtime.ExceptionDetails) string {
	if d.Exception != nil {
		return d.Exception.Description
	}
	return ""
}

// run runs actions, each step bounded so a missing element fails the test.
func (b *browser) run(t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// until waits for the JavaScript expression js to be true in the page.
func (b *browser) until(t *testing.T, within time.Duration, what, js string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, err := b.eval(`!!(` + js + `)`)
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			body, _ := evalAs[string](b, `document.body.innerText`)
			t.Fatalf("after %v: %s (err %v); the page shows:\n%s", within, what, err, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (b *browser) eval(js string) (bool, error) { return evalAs[bool](b, js) }

func evalAs[T any](b *browser, js string) (T, error) {
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](js))
}

func (b *browser) text(t *testing.T, sel string) string {
	t.Helper()
	s, err := evalAs[string](b, fmt.Sprintf(`(document.querySelector(%q) || {innerText: ""}).innerText`, sel))
	if err != nil {
		t.Fatalf("read %s: %v", sel, err)
	}
	return s
}

// screenshot saves the viewport as name.png in dir and checks it is a
// real picture of the page: a PNG of the window's size with content. show,
// when given, is a selector to scroll into view first.
func (b *browser) screenshot(t *testing.T, dir, name string, show ...string) {
	t.Helper()
	for _, sel := range show {
		if _, err := b.eval(fmt.Sprintf(`(document.querySelector(%q).scrollIntoView(), true)`, sel)); err != nil {
			t.Fatalf("scroll to %s: %v", sel, err)
		}
	}
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(buf))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if cfg.Width < 1000 || cfg.Height < 700 || len(buf) < 20_000 {
		t.Errorf("screenshot %s is %dx%d, %d bytes: not the page", name, cfg.Width, cfg.Height, len(buf))
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644); err != nil {
		t.Fatal(err)
	}
}

// screenshotDir is where screenshots go: LAMBDAD_TEST_ARTIFACTS when set
// (to look at them), else the test's temporary directory.
func screenshotDir(t *testing.T) string {
	if d := os.Getenv("LAMBDAD_TEST_ARTIFACTS"); d != "" {
		d = filepath.Join(d, t.Name())
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

const consoleHello = `
import json
def handler(event, context):
    print("console says hello to", event.get("key"))
    return {"hello": event.get("key"), "version": context.function_version}
`

const consoleFail = `
def handler(event, context):
    print("about to fail")
    raise ValueError("console boom")
`

const consoleSlow = `
import time
def handler(event, context):
    time.sleep(4)
    return "slept"
`

// TestConsole opens the web console in headless Chromium against a real
// lambdad with real Python functions: the list, a function's page, an
// invoke from the form with its response and log tail, the charts, live
// logs and the Event queue.
func TestConsole(t *testing.T) {
	d, c := servertest.InvokeEnv(t, nil)
	ctx := context.Background()
	shots := screenshotDir(t)

	testkit.CreateActive(t, c, testkit.PyFunction(t, "console-hello", consoleHello))
	v, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("console-hello")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("console-hello"), Name: aws.String("live"), FunctionVersion: v.Version}); err != nil {
		t.Fatal(err)
	}
	testkit.CreateActive(t, c, testkit.PyFunction(t, "console-fail", consoleFail))
	slow := testkit.PyFunction(t, "console-slow", consoleSlow)
	slow.Timeout = aws.Int32(30)
	testkit.CreateActive(t, c, slow)

	b := newBrowser(t, d.URL)

	// The function list: every function with its state, runtime,
	// versions and aliases.
	b.run(t, "open the console", chromedp.Navigate(d.URL+"/"))
	b.until(t, 30*time.Second, "the list shows the three functions, Active",
		`document.querySelectorAll('#functions tr[data-function] .state [data-state="Active"]').length === 3`)
	b.until(t, 10*time.Second, "the list shows versions and aliases",
		`document.querySelector('tr[data-function="console-hello"] .aliases').innerText.includes("live → 1")`)
	b.until(t, 10*time.Second, "the list shows recent activity", `document.querySelector('tr[data-function="console-hello"] .recent').innerText === "—"`)
	row := b.text(t, `tr[data-function="console-hello"]`)
	for _, want := range []string{"console-hello", "python3.12", "Active", "1", "live → 1"} {
		if !strings.Contains(row, want) {
			t.Errorf("console-hello's row %q lacks %q", row, want)
		}
	}
	b.screenshot(t, shots, "functions")

	// A function's page: configuration, versions, aliases.
	b.run(t, "open console-hello", chromedp.Click(chromedp.CSS(`tr[data-function="console-hello"] a`)))
	b.until(t, 20*time.Second, "the configuration shows", `document.querySelector('#config-table tr[data-key="Runtime"]')`)
	if got := b.text(t, `#config-table tr[data-key="Runtime"]`); !strings.Contains(got, "python3.12") {
		t.Errorf("Runtime row: %q", got)
	}
	if got := b.text(t, `#config-table tr[data-key="Handler"]`); !strings.Contains(got, "handler.handler") {
		t.Errorf("Handler row: %q", got)
	}
	b.until(t, 10*time.Second, "versions and aliases show",
		`document.querySelector('#versions-table tr[data-version="1"] [data-state="Active"]') && document.querySelector('#versions-table tr[data-version="$LATEST"] [data-state="Active"]') && document.querySelector('#aliases-table tr[data-alias="live"]')`)

	// Invoke from the form: the response and the log tail appear.
	b.run(t, "invoke from the form",
		chromedp.SetValue(chromedp.CSS("#payload"), `{"key": "from-the-console"}`),
		chromedp.Click(chromedp.CSS("#invoke")))
	b.until(t, 60*time.Second, "the response shows", `document.querySelector('#invoke-status').dataset.status === "200"`)
	if got := b.text(t, "#invoke-response"); !strings.Contains(got, `"hello": "from-the-console"`) || !strings.Contains(got, `"version": "$LATEST"`) {
		t.Errorf("response: %q", got)
	}
	tail := b.text(t, "#invoke-log")
	for _, want := range []string{"START RequestId:", "console says hello to from-the-console", "REPORT RequestId:"} {
		if !strings.Contains(tail, want) {
			t.Errorf("log tail %q lacks %q", tail, want)
		}
	}
	// The alias, from the qualifier field.
	b.run(t, "invoke the alias",
		chromedp.SetValue(chromedp.CSS("#qualifier"), "live"),
		chromedp.Click(chromedp.CSS("#invoke")))
	b.until(t, 60*time.Second, "the alias's response shows", `document.querySelector('#invoke-response').innerText.includes('"version": "1"')`)

	// Ctrl+Enter in the payload editor invokes too.
	if _, err := b.eval(`(document.querySelector('#qualifier').value = '', true)`); err != nil {
		t.Fatal(err)
	}
	b.run(t, "invoke with Ctrl+Enter",
		chromedp.SetValue(chromedp.CSS("#payload"), `{"key": "keyboard"}`),
		chromedp.Focus(chromedp.CSS("#payload")),
		chromedp.KeyEvent("\r", chromedp.KeyModifiers(chromedp.ModifierCtrl)))
	b.until(t, 60*time.Second, "the keyboard invoke answers", `document.querySelector('#invoke-response').innerText.includes('"hello": "keyboard"')`)

	// The charts count the three invocations (one cold start each: two
	// versions); live logs show both outputs.
	b.until(t, 20*time.Second, "the invocations chart counts three",
		`document.querySelector('.chart[data-metric="invocations"]').dataset.total === "3" && document.querySelectorAll('.chart[data-metric="invocations"] rect.bar').length >= 1`)
	b.until(t, 10*time.Second, "the cold start chart counts two", `document.querySelector('.chart[data-metric="coldStarts"]').dataset.total === "2"`)
	b.until(t, 10*time.Second, "the duration chart draws p50 and p99",
		`document.querySelector('.chart[data-metric="duration"] polyline.p50') && document.querySelector('.chart[data-metric="duration"] polyline.p99') && Number(document.querySelector('.chart[data-metric="duration"]').dataset.total) > 0`)
	if got := b.text(t, `.chart[data-metric="errors"] h3`); !strings.HasSuffix(strings.TrimSpace(got), "0") {
		t.Errorf("errors chart: %q", got)
	}
	b.until(t, 10*time.Second, "live logs show both invocations",
		`(document.querySelector('#live-logs').innerText.match(/console says hello to from-the-console/g) || []).length === 2`)
	b.screenshot(t, shots, "function")
	b.screenshot(t, shots, "function-logs", "#live")

	// An invocation the console did not make shows in live logs too.
	testkit.Call(t, c, "console-hello", `{"key": "from-the-sdk"}`)
	b.until(t, 10*time.Second, "live logs show the SDK's invocation", `document.querySelector('#live-logs').innerText.includes("from-the-sdk")`)

	// A failing function: the error is shown, and counted.
	b.run(t, "open console-fail", chromedp.Navigate(d.URL+"/#/fn/console-fail"))
	b.until(t, 20*time.Second, "console-fail's page shows", `document.querySelector('#config-table')`)
	b.run(t, "invoke console-fail", chromedp.Click(chromedp.CSS("#invoke")))
	b.until(t, 60*time.Second, "the function error shows", `document.querySelector('#invoke-status').innerText.includes("function error: Unhandled")`)
	if got := b.text(t, "#invoke-response"); !strings.Contains(got, "console boom") || !strings.Contains(got, "ValueError") {
		t.Errorf("error response: %q", got)
	}
	if got := b.text(t, "#invoke-log"); !strings.Contains(got, "about to fail") {
		t.Errorf("error log tail: %q", got)
	}
	b.until(t, 20*time.Second, "the errors chart counts it", `document.querySelector('.chart[data-metric="errors"]').dataset.total === "1"`)

	// A throttled invoke: AWS's error shows, and the throttles chart counts it.
	if _, err := c.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("console-fail"), ReservedConcurrentExecutions: aws.Int32(0)}); err != nil {
		t.Fatal(err)
	}
	b.run(t, "invoke console-fail throttled", chromedp.Click(chromedp.CSS("#invoke")))
	b.until(t, 30*time.Second, "the throttle shows", `document.querySelector('#invoke-status').dataset.status === "429"`)
	if got := b.text(t, "#invoke-response"); !strings.Contains(got, "TooManyRequestsException") {
		t.Errorf("throttled response: %q", got)
	}
	b.until(t, 20*time.Second, "the throttles chart counts it", `document.querySelector('.chart[data-metric="throttles"]').dataset.total === "1"`)

	// The Event queue shows an Event invoke until it has run.
	if _, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("console-slow"), InvocationType: types.InvocationTypeEvent, Payload: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	b.run(t, "open the queue", chromedp.Navigate(d.URL+"/#/queue"))
	b.until(t, 10*time.Second, "the queue lists the event", `document.querySelector('#queue-table tr[data-id]') && document.querySelector('#queue-table').innerText.includes("console-slow")`)
	b.screenshot(t, shots, "queue")
	b.until(t, 60*time.Second, "the event leaves the queue once run", `document.querySelector('#queue-empty')`)

	// The list sums up each function's last ten minutes.
	b.run(t, "back to the list", chromedp.Navigate(d.URL+"/#/"))
	b.until(t, 20*time.Second, "the list shows recent activity",
		`document.querySelector('tr[data-function="console-fail"] .recent').innerText === "1 invocation, 1 error, 1 throttled" && document.querySelector('tr[data-function="console-hello"] .recent').innerText === "4 invocations"`)

	// Event source mappings: none, said so.
	b.run(t, "open mappings", chromedp.Navigate(d.URL+"/#/mappings"))
	b.until(t, 10*time.Second, "the mappings page answers", `document.querySelector('main').innerText.includes("No event source mappings.")`)
}

// TestConsoleCredentials: with --credentials, the console's data endpoints
// refuse unsigned requests, and the page signs its requests with SigV4 in
// the browser once given a key, which lambdad's own verifier accepts.
func TestConsoleCredentials(t *testing.T) {
	d := servertest.StartLambdad(t, t.TempDir(), func(c *server.Config) {
		c.Credentials = map[string]string{"AKIDCONSOLE": "console-secret"}
	})
	c := testkit.Client(d.URL, "AKIDCONSOLE", "console-secret", testkit.Region)
	testkit.CreateActive(t, c, testkit.PyFunction(t, "signed-hello", consoleHello))

	for _, path := range []string{"/_lambdad/console/api/queue", "/_lambdad/console/api/activity?function=signed-hello"} {
		res, err := http.Get(d.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusForbidden {
			t.Errorf("unsigned GET %s: %d, want 403", path, res.StatusCode)
		}
	}

	b := newBrowser(t, d.URL)
	b.run(t, "open the console", chromedp.Navigate(d.URL+"/"))
	b.until(t, 20*time.Second, "the console asks for a key", `!document.querySelector('#login').hidden`)
	b.run(t, "sign in with a wrong secret",
		chromedp.SetValue(chromedp.CSS("#login-key"), "AKIDCONSOLE"),
		chromedp.SetValue(chromedp.CSS("#login-secret"), "not-the-secret"),
		chromedp.Click(chromedp.CSS("#login-submit")))
	b.until(t, 10*time.Second, "the wrong secret is refused", `document.querySelector('#login-error').innerText.includes("signature we calculated does not match")`)
	b.screenshot(t, screenshotDir(t), "login")
	b.run(t, "sign in",
		chromedp.SetValue(chromedp.CSS("#login-secret"), "console-secret"),
		chromedp.Click(chromedp.CSS("#login-submit")))
	b.until(t, 20*time.Second, "the list shows the function, Active, over signed requests",
		`document.querySelector('#login').hidden && document.querySelector('tr[data-function="signed-hello"] [data-state="Active"]')`)

	// A signed invoke with a body, and the signed data endpoints.
	b.run(t, "open signed-hello", chromedp.Navigate(d.URL+"/#/fn/signed-hello"))
	b.until(t, 20*time.Second, "its page shows", `document.querySelector('#config-table')`)
	b.run(t, "invoke", chromedp.SetValue(chromedp.CSS("#payload"), `{"key": "signed ünïcode / ?&="}`), chromedp.Click(chromedp.CSS("#invoke")))
	b.until(t, 60*time.Second, "the signed invoke answers", `document.querySelector('#invoke-status').dataset.status === "200"`)
	if got := b.text(t, "#invoke-response"); !strings.Contains(got, `signed ünïcode / ?&=`) {
		t.Errorf("response: %q", got)
	}
	b.until(t, 20*time.Second, "the signed activity endpoint feeds the chart", `document.querySelector('.chart[data-metric="invocations"]').dataset.total === "1"`)
	b.until(t, 10*time.Second, "signed Logs API calls feed live logs", `document.querySelector('#live-logs').innerText.includes("console says hello to signed")`)
}
