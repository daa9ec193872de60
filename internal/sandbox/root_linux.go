//go:build linux

package sandbox

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/lambdad/lambdad/internal/sandbox/nsinit"
)

// An isolated environment's root is built from an allow-list, like the
// root of an AWS execution environment: the host's read-only system dirs,
// the files of /etc that programs need, the interpreter's own install
// prefix, then /var/task, /var/runtime, /opt, /tmp, /dev and /proc.
// Nothing else of the host appears (no /root, /home, /srv, checkouts,
// lambdad's data directory, /etc/shadow).

// planSystem lays out the host part every environment shares. It looks at
// the host once per Manager; /etc files are copied at each start (nsinit),
// so their content is current.
func planSystem() []nsinit.Entry {
	var out []nsinit.Entry
	var bound []string
	// /usr first: on merged-/usr systems (Debian, Fedora) the others are
	// symlinks into it and are recreated as such.
	for _, d := range [...]string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"} {
		en, ok := hostEntry(d, bound)
		if !ok {
			continue
		}
		if en.Kind == nsinit.EntryBind {
			bound = append(bound, en.Source)
		}
		out = append(out, en)
	}
	// Resolver, certificates, dynamic loader, time zone, identification,
	// MIME types and service names: what glibc, OpenSSL and the runtimes'
	// standard libraries read. passwd and group are made per environment.
	out = append(out, nsinit.Entry{Path: "/etc", Kind: nsinit.EntryDir, Mode: 0o755})
	for _, name := range [...]string{
		"resolv.conf", "hosts", "nsswitch.conf", "host.conf", "gai.conf",
		"protocols", "services", "networks", "rpc",
		"ld.so.cache", "ld.so.conf", "ld.so.conf.d",
		"localtime", "timezone",
		"ssl/certs", "ssl/openssl.cnf", "ca-certificates", "ca-certificates.conf", "pki", "crypto-policies",
		"alternatives", "mime.types",
		"os-release", "debian_version", "system-release", "lsb-release", "mtab",
	} {
		if en, ok := hostEntry("/etc/"+name, bound); ok {
			if dir := filepath.Dir(en.Path); dir != "/etc" && !slices.ContainsFunc(out, func(e nsinit.Entry) bool { return e.Path == dir }) {
				out = append(out, nsinit.Entry{Path: dir, Kind: nsinit.EntryDir, Mode: 0o755}) // /etc/ssl
			}
			out = append(out, en)
		}
	}
	return out
}

// hostEntry says how host path p appears in environments: bound when a
// dir, copied when a file, a symlink when it is one whose target the
// environment sees anyway (under a bound dir or /proc), else as what it
// points to.
func hostEntry(p string, bound []string) (nsinit.Entry, bool) {
	fi, err := os.Lstat(p)
	if err != nil {
		return nsinit.Entry{}, false
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			return nsinit.Entry{}, false // dangling
		}
		if under(real, "/proc") || slices.ContainsFunc(bound, func(b string) bool { return under(real, b) }) {
			target, err := os.Readlink(p)
			if err != nil {
				return nsinit.Entry{}, false
			}
			return nsinit.Entry{Path: p, Kind: nsinit.EntryLink, Source: target}, true
		}
		if fi, err = os.Stat(real); err != nil {
			return nsinit.Entry{}, false
		}
		if fi.IsDir() { // shown at the link's path
			return nsinit.Entry{Path: p, Kind: nsinit.EntryBind, Source: real}, true
		}
	}
	switch {
	case fi.IsDir():
		return nsinit.Entry{Path: p, Kind: nsinit.EntryBind, Source: p}, true
	case fi.Mode().IsRegular():
		return nsinit.Entry{Path: p, Kind: nsinit.EntryCopy, Source: p}, true
	}
	return nsinit.Entry{}, false
}

// under reports whether p is dir or inside it.
func under(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/")
}

// hostDirEntries binds the interpreter's install prefixes at their host
// paths. Their parents are made search-only (0711): the environment can
// reach the prefix but not list, say, /root.
func hostDirEntries(dirs []string, system []nsinit.Entry, warn func(string, ...any)) []nsinit.Entry {
	var out []nsinit.Entry
	var done []string
	for _, d := range dirs {
		d = filepath.Clean(d)
		if !filepath.IsAbs(d) || d == "/" {
			continue
		}
		if slices.ContainsFunc(system, func(en nsinit.Entry) bool { return en.Kind == nsinit.EntryBind && under(d, en.Path) }) ||
			slices.ContainsFunc(done, func(p string) bool { return under(d, p) }) {
			continue // already visible
		}
		// The environment's own mount points would cover a host dir there.
		reserved := [...]string{"/var/task", "/var/runtime", "/opt", "/tmp", "/dev", "/proc", "/etc"}
		if slices.ContainsFunc(reserved[:], func(r string) bool { return under(d, r) || under(r, d) }) {
			warn("sandbox: an interpreter installed here cannot be shown to isolated environments, whose own mounts take this path", "dir", d)
			continue
		}
		var parents []string
		for p := filepath.Dir(d); p != "/"; p = filepath.Dir(p) {
			parents = append(parents, p)
		}
		slices.Reverse(parents)
		for _, p := range parents {
			out = append(out, nsinit.Entry{Path: p, Kind: nsinit.EntryDir, Mode: 0o711})
		}
		out = append(out, nsinit.Entry{Path: d, Kind: nsinit.EntryBind, Source: d})
		done = append(done, d)
	}
	return out
}

// userEntries are /etc/passwd and /etc/group naming the environment's user
// as AWS does (sbx_user1051). AWS's uid is 993; here each environment has
// a host uid of its own (users_linux.go).
func userEntries(uid, gid int) []nsinit.Entry {
	u, g := strconv.Itoa(uid), strconv.Itoa(gid)
	return []nsinit.Entry{
		{Path: "/etc/passwd", Kind: nsinit.EntryFile, Mode: 0o644,
			Data: "root:x:0:0:root:/root:/sbin/nologin\nsbx_user1051:x:" + u + ":" + g + "::/home/sbx_user1051:/sbin/nologin\n"},
		{Path: "/etc/group", Kind: nsinit.EntryFile, Mode: 0o644,
			Data: "root:x:0:\nsbx_user1051:x:" + g + ":\n"},
	}
}

// bindPair is a host dir and where an environment sees it.
type bindPair struct{ src, dst string }

// hideTargets lists, as the environment sees them, the hidden host dirs
// that a bind would otherwise show (lambdad's data directory inside an
// interpreter prefix, say, or inside a hot-reload code dir).
func hideTargets(hidden []string, binds []bindPair) []string {
	var out []string
	for _, h := range hidden {
		for _, b := range binds {
			if under(h, b.src) {
				rel, _ := filepath.Rel(b.src, h)
				out = append(out, filepath.Join(b.dst, rel))
			}
		}
	}
	return out
}
