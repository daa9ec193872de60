// Package runtimes maps a Lambda runtime id to how an execution environment
// for it is started, and embeds lambdad's own Python and Node.js bootstraps,
// which speak the Lambda Runtime API (2018-06-01) like AWS's runtimes do.
package runtimes

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Placeholders that may appear in Launch.Command and Launch.Env values. The
// sandbox replaces them with the paths as the environment sees them.
const (
	TaskRootPlaceholder   = "{TASK_ROOT}"
	OptPlaceholder        = "{OPT}"
	RuntimeDirPlaceholder = "{RUNTIME_DIR}"
	// LangPlaceholder is Launch.LangDir as the environment sees it.
	LangPlaceholder = "{LANG_DIR}"
)

//go:embed assets/python/bootstrap.py assets/python/lambdad_runtime.py assets/node/index.cjs assets/node/layers.mjs
var assets embed.FS

// Config configures a Catalog.
type Config struct {
	// Dir is where the embedded bootstraps are written, e.g. <data-dir>/runtimes.
	Dir string
	// Python is one more Python interpreter to consider ("python3" if
	// empty): it runs the pythonX.Y its version is (discover.go).
	Python string
	// Node is one more node binary to consider ("node" if empty).
	Node string
	// Nodes are node binaries (paths or names on PATH) for exact runtime
	// versions: nodejsN.x runs with the first whose major version is N.
	Nodes []string
	// Fallback lets a runtime without an interpreter of its exact version
	// run on the nearest version found; without it the runtime cannot run
	// (UnavailableError naming the command that installs it).
	Fallback bool
	// Getenv reads PATH, HOME and the version managers' variables (nil: os.Getenv).
	Getenv func(string) string
	Logger *slog.Logger
}

// Launch says how to start an execution environment.
type Launch struct {
	// Command is the argv. It may contain the placeholders above.
	Command []string
	// RuntimeDir is the host directory to expose as {RUNTIME_DIR}; "" for provided*.
	RuntimeDir string
	// Env holds extra KEY=VALUE pairs; values may contain the placeholders above.
	Env []string
	// HostDirs are the host dirs the interpreter needs, beyond the system's
	// /usr and /lib: its install prefix (Python's sys.prefix and
	// sys.base_prefix, Node's prefix), as real paths. Isolated environments
	// see them read-only at the same paths. Empty for provided*.
	HostDirs []string
	// LangDir is the host dir of a language install of lambdad's (lambdad
	// runtimes install) that the command runs from, as {LANG_DIR}; "" for
	// interpreters installed otherwise, which HostDirs show.
	LangDir string
	// Version is the interpreter that runs, "python 3.12.1" or "node
	// 22.23.5"; empty for provided*.
	Version string
	// Fallback is set when the interpreter is not of the runtime's version
	// (Config.Fallback): "node 20.20.2 (fallback for nodejs22.x)".
	Fallback string
}

// UnavailableError says a runtime cannot run on this host, and what is missing.
// Callers report it as AWS's InvalidRuntimeException.
type UnavailableError struct {
	Runtime string
	Missing string
	// Install is the command that installs the runtime's interpreter, when
	// there is one ("lambdad runtimes install nodejs22.x").
	Install string
}

func (e *UnavailableError) Error() string {
	if strings.HasPrefix(e.Runtime, "provided") {
		return e.Runtime + ": " + e.Missing
	}
	return fmt.Sprintf("Runtime %s is not supported by lambdad: %s", e.Runtime, e.Missing)
}

// Catalog resolves runtime ids to Launch descriptions. It is safe for concurrent use.
type Catalog struct {
	cfg       Config
	log       *slog.Logger
	pythonDir string
	nodeDir   string

	mu     sync.Mutex
	probes map[string]*probe // interpreter name → result of finding and running it once
	warned map[string]bool   // runtime id → fallback warning already logged
	// chosen caches choose per runtime id while Dir's modification time
	// is chosenAt: every read of a function asks (Problem), and an
	// install renamed into Dir changes it.
	chosen   map[string]choice
	chosenAt time.Time

	// ctx bounds probes and compiles; Close cancels it and waits for Prepare.
	ctx      context.Context
	cancel   context.CancelFunc
	prepared sync.WaitGroup
}

// probe caches one interpreter lookup: where it is and which version it reports.
type probe struct {
	once    sync.Once
	path    string
	version [2]int   // major, minor
	full    string   // as the interpreter reports it: 3.12.1, 20.20.2
	dirs    []string // install prefixes, for Launch.HostDirs
	err     error

	compiled sync.Once // Python: the runtime module's bytecode is written
}

// New materialises the embedded bootstraps under cfg.Dir and returns a Catalog.
func New(cfg Config) (*Catalog, error) {
	if cfg.Dir == "" {
		return nil, errors.New("runtimes: Config.Dir is required")
	}
	if cfg.Python == "" {
		cfg.Python = "python3"
	}
	if cfg.Node == "" {
		cfg.Node = "node"
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Catalog{cfg: cfg, log: log, probes: map[string]*probe{}, warned: map[string]bool{}, chosen: map[string]choice{}}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	var err error
	if c.pythonDir, err = materialise(cfg.Dir, "python", "assets/python"); err != nil {
		return nil, err
	}
	if c.nodeDir, err = materialise(cfg.Dir, "nodejs", "assets/node"); err != nil {
		return nil, err
	}
	return c, nil
}

// materialise writes the embedded directory src to <dir>/<name>-<content hash>.
// The hash in the name makes the write idempotent and lets an upgraded binary
// never clobber files that running environments still use; the rename makes it
// atomic.
func materialise(dir, name, src string) (string, error) {
	entries, err := fs.ReadDir(assets, src)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	files := map[string][]byte{}
	for _, e := range entries {
		b, err := fs.ReadFile(assets, src+"/"+e.Name())
		if err != nil {
			return "", err
		}
		files[e.Name()] = b
		fmt.Fprintf(h, "%s\x00%d\x00", e.Name(), len(b))
		h.Write(b)
	}
	target := filepath.Join(dir, name+"-"+hex.EncodeToString(h.Sum(nil))[:16])
	if st, err := os.Stat(target); err == nil && st.IsDir() {
		return target, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("runtimes: %w", err)
	}
	tmp, err := os.MkdirTemp(dir, "."+name+"-tmp-")
	if err != nil {
		return "", fmt.Errorf("runtimes: %w", err)
	}
	defer os.RemoveAll(tmp) // no-op after a successful rename
	for fname, b := range files {
		if err := writeFileSync(filepath.Join(tmp, fname), b); err != nil {
			return "", fmt.Errorf("runtimes: %w", err)
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", fmt.Errorf("runtimes: %w", err)
	}
	if err := os.Rename(tmp, target); err != nil {
		// Another lambdad sharing the directory may have won the race.
		if st, serr := os.Stat(target); serr == nil && st.IsDir() {
			return target, nil
		}
		return "", fmt.Errorf("runtimes: %w", err)
	}
	return target, nil
}

func writeFileSync(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	// Isolated environments read it as a user of their own: 0644 whatever
	// lambdad's umask.
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Python and Node.js versions lambdad runs, inclusive.
const (
	minPythonMinor = 9
	maxPythonMinor = 14
	minNodeMajor   = 18
	maxNodeMajor   = 24
)

// Known reports whether runtime is an id lambdad can run at all (given the
// interpreter or bootstrap it needs). Launch may still fail for a known id.
func (c *Catalog) Known(runtime string) bool {
	switch runtime {
	case "provided", "provided.al2", "provided.al2023":
		return true
	}
	if _, ok := pythonVersion(runtime); ok {
		return true
	}
	_, ok := nodeVersion(runtime)
	return ok
}

// pythonVersion parses "python3.N" for the supported N.
func pythonVersion(runtime string) (int, bool) {
	rest, ok := strings.CutPrefix(runtime, "python3.")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	if err != nil || strconv.Itoa(n) != rest || n < minPythonMinor || n > maxPythonMinor {
		return 0, false
	}
	return n, true
}

// nodeVersion parses "nodejsN.x" for the supported N.
func nodeVersion(runtime string) (int, bool) {
	rest, ok := strings.CutPrefix(runtime, "nodejs")
	if !ok {
		return 0, false
	}
	rest, ok = strings.CutSuffix(rest, ".x")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	if err != nil || strconv.Itoa(n) != rest || n < minNodeMajor || n > maxNodeMajor {
		return 0, false
	}
	return n, true
}

// Launch says how to start an environment for runtime and handler. codeDir
// and layerDirs are host paths; they are only consulted to find a provided*
// runtime's bootstrap (code root first, then the layers, which appear at /opt).
func (c *Catalog) Launch(runtime, handler, codeDir string, layerDirs []string) (Launch, error) {
	switch runtime {
	case "provided", "provided.al2", "provided.al2023":
		return c.launchProvided(runtime, codeDir, layerDirs)
	}
	if minor, ok := pythonVersion(runtime); ok {
		return c.launchPython(runtime, minor)
	}
	if major, ok := nodeVersion(runtime); ok {
		return c.launchNode(runtime, major)
	}
	return Launch{}, &UnavailableError{Runtime: runtime, Missing: missingLauncher(runtime)}
}

func missingLauncher(runtime string) string {
	for _, family := range []string{"java", "ruby", "dotnet", "python", "nodejs"} {
		if strings.HasPrefix(runtime, family) {
			if family == "python" || family == "nodejs" {
				return "no launcher for " + runtime
			}
			return "no " + family + " launcher"
		}
	}
	if strings.HasPrefix(runtime, "go") {
		return "no go1.x launcher (use provided.al2023 with a bootstrap binary)"
	}
	return "unknown runtime"
}

func (c *Catalog) launchProvided(runtime, codeDir string, layerDirs []string) (Launch, error) {
	if isFile(filepath.Join(codeDir, "bootstrap")) {
		return Launch{Command: []string{TaskRootPlaceholder + "/bootstrap"}}, nil
	}
	for _, d := range layerDirs {
		if isFile(filepath.Join(d, "bootstrap")) {
			return Launch{Command: []string{OptPlaceholder + "/bootstrap"}}, nil
		}
	}
	return Launch{}, &UnavailableError{Runtime: runtime, Missing: "no bootstrap file in the code or in any layer"}
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

func (c *Catalog) launchPython(runtime string, minor int) (Launch, error) {
	f, note, err := c.choose(runtime, minor, c.exactPython)
	if err != nil {
		return Launch{}, err
	}
	p := f.p
	c.precompile(p)
	return Launch{
		// -u keeps print() output unbuffered so logs reach the sandbox as they happen.
		Command:    []string{p.path, "-u", "-S", RuntimeDirPlaceholder + "/bootstrap.py", OptPlaceholder},
		RuntimeDir: c.pythonDir,
		HostDirs:   slices.Clone(p.dirs),
		Env: []string{
			"AWS_EXECUTION_ENV=AWS_Lambda_" + runtime,
			"LAMBDA_RUNTIME_DIR=" + RuntimeDirPlaceholder,
			"PYTHONPATH=" + RuntimeDirPlaceholder,
		},
		Version:  "python " + p.full,
		Fallback: note,
	}, nil
}

// pyCompile writes a module's bytecode where imports look for it (not
// under a PYTHONPYCACHEPREFIX of lambdad's), checked by timestamp.
const pyCompile = `import os, py_compile, sys
os.umask(0o022)  # environments read the bytecode as users of their own
sys.pycache_prefix = None
py_compile.compile(sys.argv[1], doraise=True, invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP)`

// precompile writes the runtime module's bytecode for p's interpreter,
// once: environments see the runtime directory read-only, so they could
// not cache it themselves, and compiling it costs every cold start ~4 ms.
func (c *Catalog) precompile(p *probe) {
	p.compiled.Do(func() {
		ctx, cancel := context.WithTimeout(c.ctx, 15*time.Second)
		defer cancel()
		src := filepath.Join(c.pythonDir, "lambdad_runtime.py")
		cmd := exec.CommandContext(ctx, p.path, "-S", "-c", pyCompile, src)
		dieWithLambdad(cmd)
		if out, err := cmd.CombinedOutput(); err != nil {
			c.log.Warn("cannot precompile the Python runtime; every cold start compiles it",
				"python", p.path, "error", err.Error(), "output", strings.TrimSpace(string(out)))
		}
	})
}

func (c *Catalog) launchNode(runtime string, major int) (Launch, error) {
	f, note, err := c.choose(runtime, major, c.exactNode)
	if err != nil {
		return Launch{}, err
	}
	p := f.p
	paths := []string{
		fmt.Sprintf("%s/nodejs/node%d/node_modules", OptPlaceholder, major),
		OptPlaceholder + "/nodejs/node_modules",
		RuntimeDirPlaceholder + "/node_modules",
	}
	node, hostDirs := p.path, slices.Clone(p.dirs)
	lang := c.installOf(p.path)
	if lang != "" {
		// lambdad's own install is seen at /var/lang, as AWS's Node is,
		// wherever the data directory is (even under /tmp, which
		// environments have their own of).
		node, hostDirs = LangPlaceholder+"/bin/node", nil
		// Its AWS SDK comes where AWS has its own (/var/runtime/node_modules):
		// after the layers, and after the function's own node_modules, which
		// Node searches first.
		if isDir(filepath.Join(lang, "node_modules", "@aws-sdk")) {
			paths = append(paths, LangPlaceholder+"/node_modules")
		}
	}
	paths = append(paths, RuntimeDirPlaceholder, TaskRootPlaceholder)
	return Launch{
		Command:    []string{node, RuntimeDirPlaceholder + "/index.cjs", OptPlaceholder},
		RuntimeDir: c.nodeDir,
		HostDirs:   hostDirs,
		LangDir:    lang,
		Env: []string{
			"AWS_EXECUTION_ENV=AWS_Lambda_" + runtime,
			"LAMBDA_RUNTIME_DIR=" + RuntimeDirPlaceholder,
			"NODE_PATH=" + strings.Join(paths, ":"),
		},
		Version:  "node " + p.full,
		Fallback: note,
	}, nil
}

// installOf is the install of lambdad's (<Dir>/<runtime id>) that the
// binary bin (<Dir>/<runtime id>/bin/<name>) belongs to, or "".
func (c *Catalog) installOf(bin string) string {
	prefix := filepath.Dir(filepath.Dir(bin))
	dir, err := filepath.Abs(c.cfg.Dir)
	if err != nil {
		return ""
	}
	if filepath.Dir(prefix) == dir {
		return prefix
	}
	if real, err := filepath.EvalSymlinks(dir); err == nil && filepath.Dir(prefix) == real {
		return prefix
	}
	return ""
}

// sdkDir is the node_modules holding the AWS SDK of lambdad's install that
// node belongs to, or "".
func (c *Catalog) sdkDir(node string) string {
	lang := c.installOf(node)
	if lang == "" || !isDir(filepath.Join(lang, "node_modules", "@aws-sdk")) {
		return ""
	}
	return filepath.Join(lang, "node_modules")
}

// choose finds the interpreter of version want (Python's minor, Node's
// major) for runtime: the exact one, else with Config.Fallback the nearest,
// else an UnavailableError naming the command that installs it.
func (c *Catalog) choose(runtime string, want int, exact func(int) (found, bool)) (found, string, error) {
	var at time.Time
	if st, err := os.Stat(c.cfg.Dir); err == nil {
		at = st.ModTime()
	}
	c.mu.Lock()
	if !at.Equal(c.chosenAt) {
		c.chosen, c.chosenAt = map[string]choice{}, at
	}
	ch, ok := c.chosen[runtime]
	c.mu.Unlock()
	if !ok {
		ch.f, ch.note, ch.err = c.chooseNow(runtime, want, exact)
		c.mu.Lock()
		if at.Equal(c.chosenAt) {
			c.chosen[runtime] = ch
		}
		c.mu.Unlock()
	}
	return ch.f, ch.note, ch.err
}

type choice struct {
	f    found
	note string
	err  error
}

func (c *Catalog) chooseNow(runtime string, want int, exact func(int) (found, bool)) (found, string, error) {
	if f, ok := exact(want); ok {
		return f, "", nil
	}
	near, ok := nearest(want, exact)
	lang, family := "python", "CPython 3."
	if strings.HasPrefix(runtime, "nodejs") {
		lang, family = "node", "Node.js "
	}
	if ok && c.cfg.Fallback {
		c.warnOnce(runtime, "runtime runs on another version (--runtime-fallback)",
			"runtime", runtime, "using", near.p.path, "version", near.p.full)
		return near, fmt.Sprintf("%s %s (fallback for %s)", lang, near.p.full, runtime), nil
	}
	install := InstallCommand(runtime)
	how := "`" + install + "`"
	if lang == "python" {
		how += fmt.Sprintf(" or `pyenv install 3.%d`", want)
	}
	missing := fmt.Sprintf("no %s%d found; install it with %s", family, want, how)
	if ok {
		missing += fmt.Sprintf(", or start lambdad with --runtime-fallback to run it on %s %s", lang, near.p.full)
	}
	return found{}, "", &UnavailableError{Runtime: runtime, Missing: missing, Install: install}
}

// InstallCommand is a command that installs runtime's interpreter: lambdad
// installs Node itself; CPython comes from a version manager (install.go
// says why), uv's being the quickest.
func InstallCommand(runtime string) string {
	if minor, ok := pythonVersion(runtime); ok {
		return fmt.Sprintf("uv python install 3.%d", minor)
	}
	return "lambdad runtimes install " + runtime
}

func (c *Catalog) warnOnce(runtime, msg string, args ...any) {
	c.mu.Lock()
	done := c.warned[runtime]
	c.warned[runtime] = true
	c.mu.Unlock()
	if !done {
		c.log.Warn(msg, args...)
	}
}

// Prepare finds and probes the interpreters in the background, and compiles
// the Python runtime for each, so that the first cold start of a runtime
// after lambdad starts does not pay for it (about 150 ms with pyenv shims).
func (c *Catalog) Prepare() {
	c.prepared.Go(c.prepare)
}

func (c *Catalog) prepare() {
	for minor := minPythonMinor; minor <= maxPythonMinor; minor++ {
		if c.ctx.Err() != nil {
			return
		}
		if f, ok := c.exactPython(minor); ok {
			c.precompile(f.p)
		}
	}
	for major := minNodeMajor; major <= maxNodeMajor; major++ {
		if c.ctx.Err() != nil {
			return
		}
		c.exactNode(major)
	}
	for _, name := range c.cfg.Nodes {
		if p := c.probe(name, nodeProbe); p.err != nil {
			// Configured explicitly, so its absence is worth saying at start.
			c.log.Warn("a node binary of --node-binaries does not run", "node", name, "error", p.err.Error())
		}
	}
}

// Close stops Prepare's work and waits for it.
func (c *Catalog) Close() {
	c.cancel()
	c.prepared.Wait()
}

// probeFunc runs an interpreter to learn its major and minor version, and
// its full version as it reports it.
type probeFunc func(ctx context.Context, path string) ([2]int, string, error)

// probe finds name on PATH and runs it once to learn its version. Running it
// matters: version managers such as pyenv put shims on PATH that exist but fail.
func (c *Catalog) probe(name string, run probeFunc) *probe {
	return c.probeAs(name, name, run)
}

// probeAs is probe cached under key.
func (c *Catalog) probeAs(key, name string, run probeFunc) *probe {
	c.mu.Lock()
	p := c.probes[key]
	if p == nil {
		p = &probe{}
		c.probes[key] = p
	}
	c.mu.Unlock()
	p.once.Do(func() {
		path, err := c.lookPath(name)
		if err != nil {
			p.err = err
			return
		}
		ctx, cancel := context.WithTimeout(c.ctx, 15*time.Second)
		defer cancel()
		p.path = path
		p.version, p.full, p.err = run(ctx, path)
		if p.err == nil {
			// Launch the interpreter itself, not a wrapper such as a pyenv
			// shim: a shim costs every cold start tens of milliseconds.
			real, dirs := locate(ctx, path)
			if real != "" {
				p.path = real
			}
			p.dirs = dirs
		}
	})
	return p
}

// pyLocate prints Python's own binary and install prefixes.
const pyLocate = `import os, sys
print(sys.executable)
print(os.path.realpath(sys.prefix))
print(os.path.realpath(sys.base_prefix))`

// locate asks an interpreter for its own binary ("" if it can't say) and
// the dirs it is installed in: Python's sys.prefix and sys.base_prefix (a
// venv and the installation it was made from), Node's prefix (the parent
// of its bin dir); plus the binary's dir and that of its real path when
// outside them.
func locate(ctx context.Context, path string) (string, []string) {
	var dirs []string
	out, err := exec.CommandContext(ctx, path, "-c", pyLocate).Output()
	if err == nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		out = []byte(lines[0])
		for _, d := range lines[1:] {
			if d = strings.TrimSpace(d); filepath.IsAbs(d) && !slices.Contains(dirs, d) {
				dirs = append(dirs, d)
			}
		}
	} else {
		out, err = exec.CommandContext(ctx, path, "-p", "process.execPath").Output()
	}
	if err != nil {
		return "", nil
	}
	real := strings.TrimSpace(string(out))
	if fi, err := os.Stat(real); err != nil || fi.IsDir() || !filepath.IsAbs(real) {
		return "", nil
	}
	bins := []string{real}
	if r, err := filepath.EvalSymlinks(real); err == nil && r != real {
		bins = append(bins, r)
	}
	if len(dirs) == 0 { // node: <prefix>/bin/node
		d := filepath.Dir(bins[len(bins)-1])
		if filepath.Base(d) == "bin" {
			d = filepath.Dir(d)
		}
		dirs = append(dirs, d)
	}
	for _, b := range bins {
		if !slices.ContainsFunc(dirs, func(d string) bool { return b == d || strings.HasPrefix(b, d+"/") }) {
			dirs = append(dirs, filepath.Dir(b))
		}
	}
	return real, dirs
}

func pythonProbe(ctx context.Context, path string) ([2]int, string, error) {
	out, err := exec.CommandContext(ctx, path, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])").Output()
	if err != nil {
		return [2]int{}, "", fmt.Errorf("%s: %w", path, err)
	}
	full := strings.TrimSpace(string(out))
	v, err := parseVersion(full)
	return v, full, err
}

func nodeProbe(ctx context.Context, path string) ([2]int, string, error) {
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if err != nil {
		return [2]int{}, "", fmt.Errorf("%s: %w", path, err)
	}
	full := strings.TrimPrefix(strings.TrimSpace(string(out)), "v")
	v, err := parseVersion(full)
	return v, full, err
}

// parseVersion reads "X.Y" or "X.Y.Z".
func parseVersion(s string) ([2]int, error) {
	parts := strings.SplitN(s, ".", 3)
	if len(parts) < 2 {
		return [2]int{}, fmt.Errorf("unexpected version %q", s)
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return [2]int{}, fmt.Errorf("unexpected version %q", s)
	}
	return [2]int{major, minor}, nil
}

// Problem says why this host cannot run runtime at all, or "" when it can
// (or when it depends on the function's code: provided* runs the code's
// bootstrap, checked at launch).
func (c *Catalog) Problem(runtime string) string {
	if strings.HasPrefix(runtime, "provided") {
		return ""
	}
	if _, err := c.Launch(runtime, "", "", nil); err != nil {
		return err.Error()
	}
	return ""
}
