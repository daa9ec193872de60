package runtimes

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// This file holds a strict, minimal Runtime API (2018-06-01) server and the
// helpers that start a bootstrap against it. It records exactly what the
// runtime posts and fails the test on any protocol violation.

const waitLimit = 20 * time.Second

type invocation struct {
	id            string
	body          string
	clientContext string
	identity      string
	deadline      time.Time
}

type posted struct {
	kind        string // "response", "error" or "init-error"
	id          string
	body        []byte
	contentType string
	errorType   string // Lambda-Runtime-Function-Error-Type
}

type fakeAPI struct {
	t       testing.TB
	srv     *httptest.Server
	queue   chan invocation
	results chan posted
	closed  chan struct{}

	mu         sync.Mutex
	nexts      int
	current    *invocation // handed out by /next and not yet answered
	answered   map[string]bool
	violations []string
}

func newFakeAPI(t testing.TB) *fakeAPI {
	a := &fakeAPI{
		t:        t,
		queue:    make(chan invocation, 16),
		results:  make(chan posted, 16),
		closed:   make(chan struct{}),
		answered: map[string]bool{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", a.next)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", a.answer("response"))
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", a.answer("error"))
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", a.initError)
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern == "" {
			a.violate("unexpected request %s %s", r.Method, r.URL.Path)
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		close(a.closed)
		a.srv.CloseClientConnections()
		a.srv.Close()
		a.mu.Lock()
		defer a.mu.Unlock()
		for _, v := range a.violations {
			t.Errorf("runtime API protocol violation: %s", v)
		}
	})
	return a
}

func (a *fakeAPI) addr() string { return strings.TrimPrefix(a.srv.URL, "http://") }

func (a *fakeAPI) violate(format string, args ...any) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.violations = append(a.violations, fmt.Sprintf(format, args...))
}

func (a *fakeAPI) next(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	if a.current != nil {
		a.violations = append(a.violations, "GET /next before answering "+a.current.id)
	}
	a.nexts++
	a.mu.Unlock()
	var inv invocation
	select {
	case inv = <-a.queue:
	case <-a.closed:
		return
	case <-r.Context().Done():
		return
	}
	a.mu.Lock()
	a.current = &inv
	a.mu.Unlock()
	h := w.Header()
	h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
	h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(inv.deadline.UnixMilli(), 10))
	h.Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:fn")
	h.Set("Lambda-Runtime-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
	if inv.clientContext != "" {
		h.Set("Lambda-Runtime-Client-Context", inv.clientContext)
	}
	if inv.identity != "" {
		h.Set("Lambda-Runtime-Cognito-Identity", inv.identity)
	}
	h.Set("Content-Type", "application/json")
	io.WriteString(w, inv.body)
}

func (a *fakeAPI) answer(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		body, err := io.ReadAll(r.Body)
		if err != nil {
			a.violate("reading %s body: %v", kind, err)
			return
		}
		a.mu.Lock()
		switch {
		case a.answered[id]:
			a.violations = append(a.violations, fmt.Sprintf("second answer (%s) for %s", kind, id))
		case a.current == nil || a.current.id != id:
			a.violations = append(a.violations, fmt.Sprintf("%s for %s, which is not the invocation in progress", kind, id))
		}
		a.answered[id] = true
		a.current = nil
		a.mu.Unlock()
		p := posted{kind: kind, id: id, body: body, contentType: r.Header.Get("Content-Type"),
			errorType: r.Header.Get("Lambda-Runtime-Function-Error-Type")}
		if kind == "error" {
			a.checkErrorPost(p)
		}
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, `{"status":"OK"}`)
		a.results <- p
	}
}

func (a *fakeAPI) initError(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	a.mu.Lock()
	if a.nexts > 0 {
		a.violations = append(a.violations, "init error after GET /next")
	}
	a.mu.Unlock()
	p := posted{kind: "init-error", body: body, contentType: r.Header.Get("Content-Type"),
		errorType: r.Header.Get("Lambda-Runtime-Function-Error-Type")}
	a.checkErrorPost(p)
	w.WriteHeader(http.StatusAccepted)
	io.WriteString(w, `{"status":"OK"}`)
	a.results <- p
}

func (a *fakeAPI) checkErrorPost(p posted) {
	if p.errorType == "" {
		a.violate("%s without Lambda-Runtime-Function-Error-Type", p.kind)
	}
	var m map[string]any
	if err := json.Unmarshal(p.body, &m); err != nil {
		a.violate("%s body is not a JSON object: %q", p.kind, p.body)
		return
	}
	if m["errorType"] != p.errorType {
		a.violate("%s: header type %q differs from body errorType %v", p.kind, p.errorType, m["errorType"])
	}
}

// syncBuffer collects a process's output.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// env is one running bootstrap process.
type env struct {
	t      testing.TB
	api    *fakeAPI
	launch Launch
	out    syncBuffer
	done   chan struct{}
	err    error
	n      int
}

type startOpts struct {
	layers []string
	env    []string
}

// newCatalog runs runtimes without their exact interpreter on the nearest
// one: the bootstrap tests are about what a runtime id means to the
// bootstrap (AWS_EXECUTION_ENV), which is the same on any version.
func newCatalog(t testing.TB) *Catalog {
	t.Helper()
	c, err := New(Config{Dir: t.TempDir(), Fallback: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// writeFiles creates files (path → content) under a new temporary directory.
func writeFiles(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if filepath.Base(name) == "bootstrap" {
			mode = 0o755
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// start launches runtime's bootstrap for handler in codeDir, as an unisolated
// sandbox would: placeholders replaced with host paths.
func start(t testing.TB, c *Catalog, runtime, handler, codeDir string, o startOpts) *env {
	t.Helper()
	l, err := c.Launch(runtime, handler, codeDir, o.layers)
	if err != nil {
		t.Fatalf("Launch(%s): %v", runtime, err)
	}
	opt := t.TempDir()
	if len(o.layers) > 0 {
		opt = o.layers[len(o.layers)-1]
	}
	repl := strings.NewReplacer(TaskRootPlaceholder, codeDir, OptPlaceholder, opt, RuntimeDirPlaceholder, l.RuntimeDir)
	argv := make([]string, len(l.Command))
	for i, a := range l.Command {
		argv[i] = repl.Replace(a)
	}
	e := &env{t: t, api: newFakeAPI(t), launch: l, done: make(chan struct{})}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = codeDir
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"LANG=C.UTF-8",
		"AWS_LAMBDA_RUNTIME_API=" + e.api.addr(),
		"_HANDLER=" + handler,
		"LAMBDA_TASK_ROOT=" + codeDir,
		"AWS_LAMBDA_FUNCTION_NAME=fn",
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256",
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/fn",
		"AWS_LAMBDA_LOG_STREAM_NAME=2026/11/21/[$LATEST]0123456789abcdef",
	}
	for _, kv := range l.Env {
		cmd.Env = append(cmd.Env, repl.Replace(kv))
	}
	cmd.Env = append(cmd.Env, o.env...)
	cmd.Stdout = &e.out
	cmd.Stderr = &e.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %v: %v", argv, err)
	}
	go func() {
		e.err = cmd.Wait()
		close(e.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-e.done
		if t.Failed() {
			t.Logf("runtime output:\n%s", e.out.String())
		}
	})
	return e
}

type invokeOpts struct {
	clientContext string
	identity      string
}

// invoke hands the runtime one event and returns what it posted for it.
func (e *env) invoke(payload string, o ...invokeOpts) (string, posted) {
	e.t.Helper()
	e.n++
	inv := invocation{
		id:       fmt.Sprintf("8f4e2c1a-0000-4000-8000-%012d", e.n),
		body:     payload,
		deadline: time.Now().Add(30 * time.Second),
	}
	if len(o) > 0 {
		inv.clientContext, inv.identity = o[0].clientContext, o[0].identity
	}
	e.api.queue <- inv
	p := e.wait()
	if p.kind == "init-error" {
		e.t.Fatalf("init error instead of an answer: %s", p.body)
	}
	if p.id != inv.id {
		e.t.Fatalf("answer for %s, want %s", p.id, inv.id)
	}
	return inv.id, p
}

func (e *env) wait() posted {
	e.t.Helper()
	select {
	case p := <-e.api.results:
		return p
	case <-e.done:
		// The process may have posted just before exiting.
		select {
		case p := <-e.api.results:
			return p
		default:
		}
		e.t.Fatalf("runtime exited (%v) without posting; output:\n%s", e.err, e.out.String())
	case <-time.After(waitLimit):
		e.t.Fatalf("runtime posted nothing in %v; output:\n%s", waitLimit, e.out.String())
	}
	return posted{}
}

// initError waits for the runtime to report an init error, then to exit.
func (e *env) initError() posted {
	e.t.Helper()
	p := e.wait()
	if p.kind != "init-error" {
		e.t.Fatalf("got %s, want init-error", p.kind)
	}
	select {
	case <-e.done:
		if e.err == nil {
			e.t.Errorf("runtime exited with status 0 after an init error")
		}
	case <-time.After(waitLimit):
		e.t.Errorf("runtime did not exit after an init error")
	}
	return p
}

// output waits until the process output satisfies ok and returns it.
func (e *env) output(ok func(string) bool) string {
	e.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s := e.out.String()
		if ok(s) || time.Now().After(deadline) {
			return s
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (e *env) outputContaining(sub string) string {
	e.t.Helper()
	s := e.output(func(s string) bool { return strings.Contains(s, sub) })
	if !strings.Contains(s, sub) {
		e.t.Fatalf("output lacks %q:\n%s", sub, s)
	}
	return s
}

func jsonEqual(t testing.TB, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("response is not JSON: %q", got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want JSON %q", want)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if !bytes.Equal(gb, wb) {
		t.Errorf("response\n got %s\nwant %s", gb, wb)
	}
}
