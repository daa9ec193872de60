package archive_test

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lambdad/lambdad/internal/archive"
	"github.com/lambdad/lambdad/internal/archive/archivetest"
)

type F = archivetest.File

// node is what one path of an extracted tree should be.
type node struct {
	body string      // file content
	mode fs.FileMode // permission bits; for directories 0755 is implied
	link string      // symlink target
	dir  bool
}

type tcase struct {
	name string
	zip  func(t testing.TB) []byte
	lim  archive.Limits
	err  error           // sentinel wanted from both Inspect and Extract
	tree map[string]node // whole extracted tree when err is nil
	size int64           // wanted UnzippedSize when err is nil
}

func files(fs ...F) func(testing.TB) []byte {
	return func(t testing.TB) []byte { return archivetest.Zip(t, fs...) }
}

func raw(b []byte) func(testing.TB) []byte {
	return func(testing.TB) []byte { return b }
}

// zeros builds a zip with one entry of n zero bytes (a multiple of 1 MiB),
// compressed about 1:1000. Deflating n bytes would take many seconds under
// the race detector, so it deflates 2 MiB and repeats the second
// sync-flushed MiB: after a window of zeros, that chunk decodes to another
// MiB of zeros wherever it is placed.
func zeros(t testing.TB, name string, n int64) []byte {
	t.Helper()
	if n%mb != 0 || n < mb {
		t.Fatalf("zeros: %d is not a positive multiple of 1 MiB", n)
	}
	var stream bytes.Buffer
	fw, err := flate.NewWriter(&stream, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, mb)
	flush := func() []byte {
		if _, err := fw.Write(chunk); err != nil {
			t.Fatal(err)
		}
		if err := fw.Flush(); err != nil {
			t.Fatal(err)
		}
		b := bytes.Clone(stream.Bytes())
		stream.Reset()
		return b
	}
	first, next := flush(), flush()
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	tail := bytes.Clone(stream.Bytes())

	crc := crc32.NewIEEE()
	var body []byte
	body = append(body, first...)
	crc.Write(chunk)
	for i := int64(1); i < n/mb; i++ {
		body = append(body, next...)
		crc.Write(chunk)
	}
	body = append(body, tail...)

	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	raw, err := w.CreateRaw(&zip.FileHeader{
		Name: name, Method: zip.Deflate, CRC32: crc.Sum32(),
		CompressedSize64: uint64(len(body)), UncompressedSize64: uint64(n),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Write(body); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// patchCentral edits the central directory record of entry name in place.
func patchCentral(t testing.TB, z []byte, name string, edit func(rec []byte)) []byte {
	t.Helper()
	z = bytes.Clone(z)
	sig := []byte{'P', 'K', 1, 2}
	for i := 0; i+46 <= len(z); i++ {
		if !bytes.Equal(z[i:i+4], sig) {
			continue
		}
		n := int(binary.LittleEndian.Uint16(z[i+28:]))
		if i+46+n <= len(z) && string(z[i+46:i+46+n]) == name {
			edit(z[i : i+46])
			return z
		}
	}
	t.Fatalf("no central directory record for %q", name)
	return nil
}

// overlapping is a zip of entries a and b built as the overlapping-entries
// bomb builds them: b's central record points at a's local header (shared),
// or a's compressed data is stretched over b's header and data (nested).
func overlapping(t testing.TB, nested bool) []byte {
	t.Helper()
	body := strings.Repeat("overlap ", 4096)
	z := archivetest.Zip(t, F{Name: "a", Body: body}, F{Name: "b", Body: body})
	if !nested {
		return patchCentral(t, z, "b", func(rec []byte) { binary.LittleEndian.PutUint32(rec[42:], 0) })
	}
	var bOff uint32
	patchCentral(t, z, "b", func(rec []byte) { bOff = binary.LittleEndian.Uint32(rec[42:]) })
	return patchCentral(t, z, "a", func(rec []byte) {
		binary.LittleEndian.PutUint32(rec[20:], bOff+40-(30+1)) // a's data starts after its 31-byte header
	})
}

func setDeclared(size uint32) func([]byte) {
	return func(rec []byte) { binary.LittleEndian.PutUint32(rec[24:], size) }
}

const mb = 1 << 20

func cases(t testing.TB) []tcase {
	good := archivetest.Zip(t, F{Name: "index.py", Body: "def handler(e, c): return e\n"}, F{Name: "util/x.py", Body: "X = 1\n"})
	bomb300 := sync.OnceValue(func() []byte { return zeros(t, "zeros", 300*mb) })
	return []tcase{
		{
			name: "flat and nested files",
			zip:  raw(good),
			tree: map[string]node{
				"index.py":  {body: "def handler(e, c): return e\n", mode: 0o444},
				"util":      {dir: true},
				"util/x.py": {body: "X = 1\n", mode: 0o444},
			},
			size: 34,
		},
		{
			name: "explicit and implied directories",
			zip: files(F{Name: "a/"}, F{Name: "a/b/"}, F{Name: "a/b/c.txt", Body: "c"},
				F{Name: "x/y/z.txt", Body: "zz"}, F{Name: "./dot.txt", Body: "d"}, F{Name: "./"}, F{Name: "a//b//d.txt", Body: "d"}),
			tree: map[string]node{
				"a": {dir: true}, "a/b": {dir: true}, "a/b/c.txt": {body: "c", mode: 0o444},
				"x": {dir: true}, "x/y": {dir: true}, "x/y/z.txt": {body: "zz", mode: 0o444},
				"dot.txt": {body: "d", mode: 0o444}, "a/b/d.txt": {body: "d", mode: 0o444},
			},
			size: 5,
		},
		{
			name: "exec bits kept, everything read-only",
			zip: files(F{Name: "bootstrap", Body: "#!/bin/sh\n", Mode: 0o755}, F{Name: "secret", Body: "s", Mode: 0o600},
				F{Name: "owner-x", Body: "o", Mode: 0o700}, F{Name: "bin/", Mode: fs.ModeDir | 0o700}),
			tree: map[string]node{
				"bootstrap": {body: "#!/bin/sh\n", mode: 0o555}, "secret": {body: "s", mode: 0o444},
				"owner-x": {body: "o", mode: 0o555}, "bin": {dir: true},
			},
			size: 12,
		},
		{
			name: "empty zip is valid",
			zip:  files(),
			tree: map[string]node{},
		},
		{
			name: "symlinks inside the archive",
			zip: files(F{Name: "lib/real.so", Body: "ELF"}, F{Name: "lib/link.so", Symlink: "real.so"},
				F{Name: "bin/tool", Symlink: "../lib/real.so"}, F{Name: "current", Symlink: "lib"},
				F{Name: "a/b/up", Symlink: "../../lib/./real.so"}, F{Name: "self", Symlink: "."},
				F{Name: "dangling", Symlink: "nowhere/x"}),
			tree: map[string]node{
				"lib": {dir: true}, "lib/real.so": {body: "ELF", mode: 0o444}, "lib/link.so": {link: "real.so"},
				"bin": {dir: true}, "bin/tool": {link: "../lib/real.so"}, "current": {link: "lib"},
				"a": {dir: true}, "a/b": {dir: true}, "a/b/up": {link: "../../lib/./real.so"}, "self": {link: "."},
				"dangling": {link: "nowhere/x"},
			},
			size: 3 + 7 + 14 + 3 + 19 + 1 + 9,
		},
		{name: "not a zip", zip: raw([]byte("this is not a zip file at all")), err: archive.ErrNotZip},
		{name: "zero bytes", zip: raw(nil), err: archive.ErrNotZip},
		{name: "truncated zip", zip: raw(good[:len(good)/2]), err: archive.ErrNotZip},
		{name: "truncated end record", zip: raw(good[:len(good)-5]), err: archive.ErrNotZip},
		{name: "parent escape", zip: files(F{Name: "../evil", Body: "x"}), err: archive.ErrUnsafePath},
		{name: "absolute path", zip: files(F{Name: "/abs", Body: "x"}), err: archive.ErrUnsafePath},
		{name: "nested escape", zip: files(F{Name: "a/../../b", Body: "x"}), err: archive.ErrUnsafePath},
		{name: "dotdot inside", zip: files(F{Name: "a/../b", Body: "x"}), err: archive.ErrUnsafePath},
		{name: "backslash escape", zip: files(F{Name: `..\evil`, Body: "x"}), err: archive.ErrUnsafePath},
		{name: "drive letter", zip: files(F{Name: "C:/windows/x", Body: "x"}), err: archive.ErrUnsafePath},
		{name: "relative drive", zip: files(F{Name: "c:x", Body: "x"}), err: archive.ErrUnsafePath},
		{name: "NUL in name", zip: files(F{Name: "a\x00b", Body: "x"}), err: archive.ErrUnsafePath},
		{name: "overlong component", zip: files(F{Name: strings.Repeat("n", 256), Body: "x"}), err: archive.ErrUnsafePath},
		{name: "named pipe", zip: files(F{Name: "fifo", Mode: fs.ModeNamedPipe | 0o644}), err: archive.ErrUnsafePath},
		{name: "duplicate file", zip: files(F{Name: "a", Body: "1"}, F{Name: "a", Body: "2"}), err: archive.ErrUnsafePath},
		{name: "duplicate after cleaning", zip: files(F{Name: "a/b", Body: "1"}, F{Name: "a/./b", Body: "2"}), err: archive.ErrUnsafePath},
		{name: "file then child", zip: files(F{Name: "a", Body: "1"}, F{Name: "a/b", Body: "2"}), err: archive.ErrUnsafePath},
		{name: "child then file", zip: files(F{Name: "a/b", Body: "2"}, F{Name: "a", Body: "1"}), err: archive.ErrUnsafePath},
		{name: "symlink to /etc/passwd", zip: files(F{Name: "passwd", Symlink: "/etc/passwd"}), err: archive.ErrUnsafeSymlink},
		{name: "symlink climbing out", zip: files(F{Name: "a/l", Symlink: "../../x"}), err: archive.ErrUnsafeSymlink},
		{name: "symlink to parent of root", zip: files(F{Name: "up", Symlink: ".."}), err: archive.ErrUnsafeSymlink},
		{name: "symlink with backslashes", zip: files(F{Name: "l", Symlink: `..\..\x`}), err: archive.ErrUnsafeSymlink},
		{
			// sub/x -> .. is fine alone, but l -> sub/x/.. would resolve to
			// the parent of the root; lexically it looks like "sub".
			name: "symlink chain escaping through a link",
			zip:  files(F{Name: "sub/x", Symlink: ".."}, F{Name: "l", Symlink: "sub/x/.."}),
			err:  archive.ErrUnsafeSymlink,
		},
		{
			name: "symlink chain escaping in two hops",
			zip:  files(F{Name: "d/l1", Symlink: "../l2"}, F{Name: "l2", Symlink: "../etc"}),
			err:  archive.ErrUnsafeSymlink,
		},
		{
			name: "write through symlink",
			zip:  files(F{Name: "lib", Symlink: "/etc"}, F{Name: "lib/cron.d/evil", Body: "x"}),
			err:  archive.ErrUnsafeSymlink,
		},
		{
			name: "write through inside symlink",
			zip:  files(F{Name: "real/"}, F{Name: "lib", Symlink: "real"}, F{Name: "lib/x", Body: "x"}),
			err:  archive.ErrUnsafeSymlink,
		},
		{
			name: "symlink replacing a directory",
			zip:  files(F{Name: "lib/x", Body: "x"}, F{Name: "lib", Symlink: "/etc"}),
			err:  archive.ErrUnsafePath,
		},
		{
			name: "too many entries",
			zip:  files(F{Name: "a"}, F{Name: "b"}, F{Name: "c"}),
			lim:  archive.Limits{MaxEntries: 2},
			err:  archive.ErrTooManyEntries,
		},
		{
			name: "at the size limit",
			zip:  files(F{Name: "a", Body: "12345"}, F{Name: "b", Body: "67890"}),
			lim:  archive.Limits{MaxUnzipped: 10},
			tree: map[string]node{"a": {body: "12345", mode: 0o444}, "b": {body: "67890", mode: 0o444}},
			size: 10,
		},
		{
			name: "over the size limit",
			zip:  files(F{Name: "a", Body: "12345"}, F{Name: "b", Body: "678901"}),
			lim:  archive.Limits{MaxUnzipped: 10},
			err:  archive.ErrUnzippedTooLarge,
		},
		{
			// What Lambda reports for it, so the API can answer the same.
			name: "300 MB bomb is too large",
			zip:  func(testing.TB) []byte { return bomb300() },
			err:  archive.ErrUnzippedTooLarge,
		},
		{
			// Deflate's best ratio (~1,030:1) is real data, not a bomb.
			name: "4 MB of zeros",
			zip:  func(t testing.TB) []byte { return zeros(t, "z", 4*mb) },
			tree: map[string]node{"z": {body: strings.Repeat("\x00", 4*mb), mode: 0o444}},
			size: 4 * mb,
		},
		{
			name: "two entries sharing one deflate stream",
			zip:  func(t testing.TB) []byte { return overlapping(t, false) },
			err:  archive.ErrBomb,
		},
		{
			name: "an entry's data inside another's",
			zip:  func(t testing.TB) []byte { return overlapping(t, true) },
			err:  archive.ErrBomb,
		},
		{
			name: "300 MB bomb declaring 1000 bytes",
			zip: func(t testing.TB) []byte {
				return patchCentral(t, bomb300(), "zeros", setDeclared(1000))
			},
			err: archive.ErrBomb,
		},
		{
			name: "declares less than it holds",
			zip: func(t testing.TB) []byte {
				return patchCentral(t, archivetest.Zip(t, F{Name: "a", Body: "hello, world"}), "a", setDeclared(5))
			},
			err: archive.ErrBomb,
		},
		{
			name: "declares more than it holds",
			zip: func(t testing.TB) []byte {
				return patchCentral(t, archivetest.Zip(t, F{Name: "a", Body: "hello"}), "a", setDeclared(1000))
			},
			err: archive.ErrNotZip,
		},
		{
			name: "declares more than the limit",
			zip: func(t testing.TB) []byte {
				return patchCentral(t, archivetest.Zip(t, F{Name: "a", Body: "hello"}), "a", setDeclared(300*mb))
			},
			err: archive.ErrUnzippedTooLarge,
		},
		{
			name: "symlink target longer than declared",
			zip: func(t testing.TB) []byte {
				return patchCentral(t, archivetest.Zip(t, F{Name: "l", Symlink: "ok/../../../etc"}), "l", setDeclared(2))
			},
			err: archive.ErrBomb,
		},
		{
			name: "encrypted entry",
			zip: func(t testing.TB) []byte {
				return patchCentral(t, archivetest.Zip(t, F{Name: "a", Body: "x"}), "a", func(rec []byte) { rec[8] |= 1 })
			},
			err: archive.ErrNotZip,
		},
		{
			name: "unsupported compression method",
			zip: func(t testing.TB) []byte {
				return patchCentral(t, archivetest.Zip(t, F{Name: "a", Body: "x"}), "a", func(rec []byte) { rec[10] = 12 })
			},
			err: archive.ErrNotZip,
		},
		{
			name: "corrupt deflate data",
			zip: func(t testing.TB) []byte {
				z := archivetest.Zip(t, F{Name: "a", Body: strings.Repeat("compressible ", 100)})
				z = bytes.Clone(z)
				for i := 40; i < 60; i++ { // inside the entry's deflate stream
					z[i] ^= 0xff
				}
				return z
			},
			err: archive.ErrNotZip,
		},
	}
}

func TestInspectAndExtract(t *testing.T) {
	for _, tc := range cases(t) {
		t.Run(tc.name, func(t *testing.T) {
			z := tc.zip(t)
			info, err := archive.Inspect(bytes.NewReader(z), int64(len(z)), tc.lim)
			checkResult(t, "Inspect", info, err, tc)

			dir := filepath.Join(t.TempDir(), "out")
			info, err = archive.Extract(context.Background(), bytes.NewReader(z), int64(len(z)), dir, tc.lim)
			checkResult(t, "Extract", info, err, tc)
			if err == nil {
				checkTree(t, dir, tc.tree)
			}
		})
	}
}

func checkResult(t *testing.T, op string, info archive.Info, err error, tc tcase) {
	t.Helper()
	if tc.err != nil {
		if !errors.Is(err, tc.err) {
			t.Fatalf("%s: err = %v, want %v", op, err, tc.err)
		}
		t.Logf("%s: %v", op, err)
		return
	}
	if err != nil {
		t.Fatalf("%s: %v", op, err)
	}
	nfiles := 0
	for _, n := range tc.tree {
		if !n.dir {
			nfiles++
		}
	}
	if info.UnzippedSize != tc.size || info.Files != nfiles {
		t.Fatalf("%s: info = %+v, want size %d files %d", op, info, tc.size, nfiles)
	}
}

// checkTree compares the whole tree under dir with want, both ways.
func checkTree(t *testing.T, dir string, want map[string]node) {
	t.Helper()
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("root: %v %v, want 0755 dir", fi.Mode(), err)
	}
	seen := map[string]bool{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel := filepath.ToSlash(p[len(dir)+1:])
		seen[rel] = true
		w, ok := want[rel]
		if !ok {
			t.Errorf("unexpected %s", rel)
			return nil
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case w.dir:
			if !fi.IsDir() || fi.Mode().Perm() != 0o755 {
				t.Errorf("%s: mode %v, want 0755 directory", rel, fi.Mode())
			}
		case w.link != "":
			got, err := os.Readlink(p)
			if err != nil || got != w.link {
				t.Errorf("%s: link %q %v, want %q", rel, got, err, w.link)
			}
		default:
			if !fi.Mode().IsRegular() || fi.Mode().Perm() != w.mode {
				t.Errorf("%s: mode %v, want %v", rel, fi.Mode(), w.mode)
			}
			b, err := os.ReadFile(p)
			if err != nil || string(b) != w.body {
				t.Errorf("%s: body %d bytes %v, want %d bytes", rel, len(b), err, len(w.body))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for p := range want {
		if !seen[p] {
			t.Errorf("missing %s", p)
		}
	}
}

func TestBombLieStopsEarly(t *testing.T) {
	// 1 GB of zeros declared as 1 KB: reading must stop right after the
	// declared size, not inflate the gigabyte.
	z := patchCentral(t, zeros(t, "z", 1<<30), "z", setDeclared(1024))
	start := time.Now()
	_, err := archive.Inspect(bytes.NewReader(z), int64(len(z)), archive.Limits{})
	if !errors.Is(err, archive.ErrBomb) {
		t.Fatalf("err = %v, want ErrBomb", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Inspect took %v; it inflated far past the declared size", d)
	}
}

func TestExtractDestination(t *testing.T) {
	z := archivetest.Zip(t, F{Name: "a", Body: "x"})
	extract := func(dir string) error {
		_, err := archive.Extract(context.Background(), bytes.NewReader(z), int64(len(z)), dir, archive.Limits{})
		return err
	}
	base := t.TempDir()

	empty := filepath.Join(base, "empty")
	if err := os.Mkdir(empty, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := extract(empty); err != nil {
		t.Errorf("empty existing dir: %v", err)
	}

	if err := extract(empty); err == nil {
		t.Error("non-empty dir accepted")
	}

	link := filepath.Join(base, "link")
	target := filepath.Join(base, "target")
	if err := os.Mkdir(target, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := extract(link); err == nil {
		t.Error("symlinked destination accepted")
	}
	if ents, _ := os.ReadDir(target); len(ents) != 0 {
		t.Errorf("wrote through destination symlink: %v", ents)
	}

	nested := filepath.Join(base, "x", "y", "z")
	if err := extract(nested); err != nil {
		t.Errorf("new nested dir: %v", err)
	}

	// A zip that fails validation must not even create the destination.
	bad := archivetest.Zip(t, F{Name: "../evil"})
	none := filepath.Join(base, "none")
	if _, err := archive.Extract(context.Background(), bytes.NewReader(bad), int64(len(bad)), none, archive.Limits{}); !errors.Is(err, archive.ErrUnsafePath) {
		t.Errorf("err = %v", err)
	}
	if _, err := os.Lstat(none); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("destination created for a rejected zip: %v", err)
	}
}

func TestExtractCanceled(t *testing.T) {
	z := archivetest.Zip(t, F{Name: "a", Body: "x"}, F{Name: "b", Body: "y"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := archive.Extract(ctx, bytes.NewReader(z), int64(len(z)), filepath.Join(t.TempDir(), "o"), archive.Limits{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestDefaultLimits(t *testing.T) {
	l := archive.DefaultLimits()
	if l.MaxUnzipped != 262144000 || l.MaxEntries <= 0 {
		t.Fatalf("DefaultLimits() = %+v", l)
	}
	// A zero Limits means the defaults: exactly 262144000 declared bytes
	// pass the declared-size check, one more does not.
	for _, tc := range []struct {
		size uint32
		err  error
	}{{262144000, archive.ErrNotZip}, {262144001, archive.ErrUnzippedTooLarge}} {
		z := patchCentral(t, archivetest.Zip(t, F{Name: "a", Body: "x"}), "a", setDeclared(tc.size))
		// Past the size check, the one byte it holds is not what it declares.
		if _, err := archive.Inspect(bytes.NewReader(z), int64(len(z)), archive.Limits{}); !errors.Is(err, tc.err) {
			t.Errorf("declared %d: err = %v, want %v", tc.size, err, tc.err)
		}
	}
}

// TestZerosUnderTheLimit: 150 MB of zeros zips to about 150 KB, a ratio
// past 1,000:1 that real packages reach; under 250 MB unzipped it is valid.
func TestZerosUnderTheLimit(t *testing.T) {
	z := zeros(t, "zeros", 150*mb)
	info, err := archive.Inspect(bytes.NewReader(z), int64(len(z)), archive.Limits{})
	if err != nil || info.UnzippedSize != 150*mb {
		t.Fatalf("Inspect(%d bytes zipped) = %+v, %v; want 150 MB unzipped", len(z), info, err)
	}
}
