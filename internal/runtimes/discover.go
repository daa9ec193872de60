package runtimes

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Discovery of exact interpreters. A runtime id names one version
// (python3.12, nodejs22.x); lambdad looks for an interpreter of exactly that
// version where people install them, in this order:
//
//   - lambdad's own installs: <Dir>/<runtime id>/bin/ (lambdad runtimes install);
//   - PATH: python3.N, then --python; for Node the --node-binaries, then --node;
//   - pyenv: $PYENV_ROOT (default ~/.pyenv) versions/3.N.*/bin/python3.N;
//   - asdf: $ASDF_DATA_DIR (default ~/.asdf) installs/python/3.N.*,
//     installs/nodejs/N.*;
//   - uv: $UV_PYTHON_INSTALL_DIR (default ${XDG_DATA_HOME:-~/.local/share}/uv/python)
//     cpython-3.N.*/bin/python3.N;
//   - nvm: $NVM_DIR (default ~/.nvm) versions/node/vN.*.
//
// Every candidate is run once to learn its version (probe), so a pyenv shim
// that exists but has no such version selected is passed over. Within one
// manager the newest patch release comes first.

// Source names where an interpreter was found, for `lambdad runtimes`.
type candidate struct {
	path   string // a path, or a name looked up on PATH
	source string // lambdad, PATH, --python, --node, --node-binaries, pyenv, asdf, uv, nvm
}

func (c *Catalog) getenv(k string) string {
	if c.cfg.Getenv != nil {
		return c.cfg.Getenv(k)
	}
	return os.Getenv(k)
}

func (c *Catalog) home() string {
	if h := c.getenv("HOME"); h != "" {
		return h
	}
	h, _ := os.UserHomeDir()
	return h
}

// envDir is $name, or home/def when it is unset.
func (c *Catalog) envDir(name string, def ...string) string {
	if d := c.getenv(name); d != "" {
		return d
	}
	return filepath.Join(append([]string{c.home()}, def...)...)
}

// InstallDir is where `lambdad runtimes install` puts runtime (an id such as
// nodejs22.x) under dir, the catalog's Config.Dir.
func InstallDir(dir, runtime string) string {
	return filepath.Join(dir, runtime)
}

func (c *Catalog) pythonCandidates(minor int) []candidate {
	name := fmt.Sprintf("python3.%d", minor)
	ver := fmt.Sprintf("3.%d", minor)
	out := []candidate{
		{filepath.Join(InstallDir(c.cfg.Dir, name), "bin", name), "lambdad"},
		{name, "PATH"},
		{c.cfg.Python, "--python"},
	}
	for _, d := range versionDirs(filepath.Join(c.envDir("PYENV_ROOT", ".pyenv"), "versions"), ver+".") {
		out = append(out, candidate{filepath.Join(d, "bin", name), "pyenv"})
	}
	for _, d := range versionDirs(filepath.Join(c.envDir("ASDF_DATA_DIR", ".asdf"), "installs", "python"), ver+".") {
		out = append(out, candidate{filepath.Join(d, "bin", name), "asdf"})
	}
	uv := c.getenv("UV_PYTHON_INSTALL_DIR")
	if uv == "" {
		uv = filepath.Join(c.envDir("XDG_DATA_HOME", ".local", "share"), "uv", "python")
	}
	for _, d := range versionDirs(uv, "cpython-"+ver+".") {
		out = append(out, candidate{filepath.Join(d, "bin", name), "uv"})
	}
	return out
}

func (c *Catalog) nodeCandidates(major int) []candidate {
	id := fmt.Sprintf("nodejs%d.x", major)
	out := []candidate{{filepath.Join(InstallDir(c.cfg.Dir, id), "bin", "node"), "lambdad"}}
	for _, n := range c.cfg.Nodes {
		out = append(out, candidate{n, "--node-binaries"})
	}
	out = append(out, candidate{c.cfg.Node, "--node"})
	if c.cfg.Node != "node" {
		out = append(out, candidate{"node", "PATH"})
	}
	for _, d := range versionDirs(filepath.Join(c.envDir("ASDF_DATA_DIR", ".asdf"), "installs", "nodejs"), strconv.Itoa(major)+".") {
		out = append(out, candidate{filepath.Join(d, "bin", "node"), "asdf"})
	}
	for _, d := range versionDirs(filepath.Join(c.envDir("NVM_DIR", ".nvm"), "versions", "node"), "v"+strconv.Itoa(major)+".") {
		out = append(out, candidate{filepath.Join(d, "bin", "node"), "nvm"})
	}
	return out
}

// versionDirs are the dirs in parent whose names start with prefix (such
// as "3.12." or "cpython-3.12."), newest release first: the number right
// after the prefix decides, and names where none follows (pre-releases such
// as 3.13.0rc1 sort by their leading digits) come after.
func versionDirs(parent, prefix string) []string {
	entries, err := os.ReadDir(parent)
	if err != nil {
		return nil
	}
	type dir struct {
		path  string
		patch int
		exact bool // the patch is all digits
	}
	var ds []dir
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok {
			continue
		}
		digits := rest
		if i := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
			digits = rest[:i]
		}
		n, err := strconv.Atoi(digits)
		if err != nil {
			continue
		}
		// uv's names go on with -<os>-<arch>-<libc>; any other suffix is a pre-release.
		exact := digits == rest || strings.HasPrefix(rest[len(digits):], "-")
		ds = append(ds, dir{filepath.Join(parent, e.Name()), n, exact})
	}
	slices.SortStableFunc(ds, func(a, b dir) int {
		if a.exact != b.exact {
			if a.exact {
				return -1
			}
			return 1
		}
		return cmp.Compare(b.patch, a.patch)
	})
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.path
	}
	return out
}

// lookPath finds name the way a shell would, on the PATH the catalog sees;
// a name with a slash is taken as a path.
func (c *Catalog) lookPath(name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("no interpreter named")
	}
	if strings.Contains(name, "/") {
		if isExecutable(name) {
			return filepath.Abs(name)
		}
		return "", fmt.Errorf("%s: not an executable file", name)
	}
	for _, dir := range filepath.SplitList(c.getenv("PATH")) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		if isExecutable(p) {
			return filepath.Abs(p)
		}
	}
	return "", fmt.Errorf("%s: not found on PATH", name)
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0
}

// found is an interpreter chosen for a runtime.
type found struct {
	p      *probe
	source string
}

// exact is the first candidate that runs and reports want (its major and
// minor for Python, its major for Node), or ok false.
func (c *Catalog) exact(cands []candidate, run probeFunc, match func([2]int) bool) (found, bool) {
	for _, cand := range cands {
		if cand.path == "" {
			continue
		}
		key := cand.path
		if cand.source == "lambdad" {
			// Installed while lambdad runs, perhaps: looked at afresh
			// each time, and probed again when it changed.
			st, err := os.Stat(cand.path)
			if err != nil {
				continue
			}
			key = fmt.Sprintf("%s\x00%d", cand.path, st.ModTime().UnixNano())
		}
		if p := c.probeAs(key, cand.path, run); p.err == nil && match(p.version) {
			return found{p, cand.source}, true
		}
	}
	return found{}, false
}

func (c *Catalog) exactPython(minor int) (found, bool) {
	return c.exact(c.pythonCandidates(minor), pythonProbe, func(v [2]int) bool { return v == [2]int{3, minor} })
}

func (c *Catalog) exactNode(major int) (found, bool) {
	return c.exact(c.nodeCandidates(major), nodeProbe, func(v [2]int) bool { return v[0] == major })
}

// Fallback looks this far either side of a runtime's version.
const fallbackReach = 6

// nearest is the interpreter of the version closest to want among those
// discovered, the newer on a tie (code written for 3.9 more likely runs on
// 3.10 than on 3.8), or ok false when there is none.
func nearest(want int, exact func(int) (found, bool)) (found, bool) {
	for d := 1; d <= fallbackReach; d++ {
		if f, ok := exact(want + d); ok {
			return f, true
		}
		if want-d > 0 {
			if f, ok := exact(want - d); ok {
				return f, true
			}
		}
	}
	return found{}, false
}
