package blobs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lambdad/lambdad/internal/archive"
	"github.com/lambdad/lambdad/internal/archive/archivetest"
)

// countHandler counts log records by message.
type countHandler struct {
	mu sync.Mutex
	n  map[string]int
}

func (h *countHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.n[r.Message]++
	return nil
}
func (h *countHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countHandler) WithGroup(string) slog.Handler      { return h }
func (h *countHandler) count(msg string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n[msg]
}

// opener opens an empty store; each test runs with each backend's (see
// backendSuite).
type opener func(t testing.TB) (*Store, *countHandler, string)

// open opens an empty filesystem store.
func open(t testing.TB) (*Store, *countHandler, string) {
	t.Helper()
	dir := t.TempDir()
	h := &countHandler{n: map[string]int{}}
	s, err := Open(dir, slog.New(h))
	if err != nil {
		t.Fatal(err)
	}
	return s, h, dir
}

// listFiles lists the files under dir but the work directories' locks,
// which live as long as their stores.
func listFiles(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !(filepath.Base(filepath.Dir(p)) == "tmp" && strings.HasSuffix(p, lockSuffix)) {
			out = append(out, p[len(dir)+1:])
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func readObject(t testing.TB, s *Store, h string) []byte {
	t.Helper()
	f, err := s.Open(h)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPutRoundTrip(t *testing.T) { testPutRoundTrip(t, open) }

func testPutRoundTrip(t *testing.T, open opener) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		put  func(s *Store, b []byte) (Info, error)
	}{
		{"Put", func(s *Store, b []byte) (Info, error) { return s.Put(ctx, bytes.NewReader(b)) }},
		{"Put via small reads", func(s *Store, b []byte) (Info, error) { return s.Put(ctx, oneByte{bytes.NewReader(b)}) }},
		{"PutBytes", func(s *Store, b []byte) (Info, error) { return s.PutBytes(ctx, b) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, content := range [][]byte{nil, []byte("hello"), bytes.Repeat([]byte("0123456789"), 300_000)} {
				if tc.name == "Put via small reads" && len(content) > 1000 {
					continue
				}
				s, _, dir := open(t)
				info, err := tc.put(s, content)
				if err != nil {
					t.Fatal(err)
				}
				sum := sha256.Sum256(content)
				want := Info{SHA256: sum, Hex: hex.EncodeToString(sum[:]), Base64: base64.StdEncoding.EncodeToString(sum[:]), Size: int64(len(content))}
				if info != want {
					t.Fatalf("info = %+v, want %+v", info, want)
				}
				if got := readObject(t, s, info.Hex); !bytes.Equal(got, content) {
					t.Fatalf("read back %d bytes, want %d", len(got), len(content))
				}
				if !s.Has(info.Hex) {
					t.Fatal("Has = false after Put")
				}
				fi, err := os.Stat(filepath.Join(dir, "objects", info.Hex[:2], info.Hex))
				if err != nil || fi.Mode().Perm() != 0o444 {
					t.Fatalf("object: %v %v, want 0444", fi, err)
				}
				if left := listFiles(t, filepath.Join(dir, "tmp")); len(left) != 0 {
					t.Fatalf("temp files left: %v", left)
				}
			}
		})
	}
}

type oneByte struct{ r io.Reader }

func (o oneByte) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}

func TestLambdaCodeSha256(t *testing.T) { testLambdaCodeSha256(t, open) }

func testLambdaCodeSha256(t *testing.T, open opener) {
	// Lambda's CodeSha256 is base64 of the raw digest, not of the hex.
	s, _, _ := open(t)
	info, err := s.PutBytes(context.Background(), []byte("abc"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Base64 != "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=" {
		t.Fatalf("Base64 = %s", info.Base64)
	}
}

func TestDeduplicates(t *testing.T) { testDeduplicates(t, open) }

func testDeduplicates(t *testing.T, open opener) {
	s, _, dir := open(t)
	ctx := context.Background()
	a, err := s.PutBytes(ctx, []byte("same"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Put(ctx, strings.NewReader("same"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.PutBytes(ctx, []byte("same"))
	if err != nil {
		t.Fatal(err)
	}
	if a != b || b != c {
		t.Fatalf("infos differ: %+v %+v %+v", a, b, c)
	}
	if _, err := s.PutBytes(ctx, []byte("other")); err != nil {
		t.Fatal(err)
	}
	if got := listFiles(t, dir); len(got) != 2 {
		t.Fatalf("files = %v, want two objects", got)
	}
}

func TestConcurrentPutSameBytes(t *testing.T) { testConcurrentPutSameBytes(t, open) }

func testConcurrentPutSameBytes(t *testing.T, open opener) {
	s, _, dir := open(t)
	content := bytes.Repeat([]byte("lambda"), 500_000)
	want := sha256.Sum256(content)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Go(func() {
			var info Info
			var err error
			if i%2 == 0 {
				info, err = s.PutBytes(context.Background(), content)
			} else {
				info, err = s.Put(context.Background(), bytes.NewReader(content))
			}
			if err == nil && info.SHA256 != want {
				err = errors.New("wrong digest " + info.Hex)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := listFiles(t, dir); len(got) != 1 {
		t.Fatalf("files = %v, want one object", got)
	}
	if !bytes.Equal(readObject(t, s, hex.EncodeToString(want[:])), content) {
		t.Fatal("object content differs")
	}
}

func TestPutFailureLeavesNothing(t *testing.T) { testPutFailureLeavesNothing(t, open) }

func testPutFailureLeavesNothing(t *testing.T, open opener) {
	s, _, dir := open(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Put(ctx, strings.NewReader("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled Put: %v", err)
	}
	if _, err := s.PutBytes(ctx, []byte("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled PutBytes: %v", err)
	}
	boom := errors.New("boom")
	if _, err := s.Put(context.Background(), io.MultiReader(strings.NewReader("partial"), errReader{boom})); !errors.Is(err, boom) {
		t.Errorf("failing reader: %v", err)
	}
	if got := listFiles(t, dir); len(got) != 0 {
		t.Fatalf("files left: %v", got)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestUnpackedConcurrent(t *testing.T) { testUnpackedConcurrent(t, open) }

func testUnpackedConcurrent(t *testing.T, open opener) {
	s, logs, dir := open(t)
	z := archivetest.Zip(t,
		archivetest.File{Name: "bootstrap", Body: "#!/bin/sh\necho hi\n", Mode: 0o755},
		archivetest.File{Name: "lib/data.txt", Body: "data"},
		archivetest.File{Name: "lib/link", Symlink: "data.txt"})
	info, err := s.PutBytes(context.Background(), z)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	paths := make([]string, 8)
	errs := make([]error, 8)
	var start sync.WaitGroup
	start.Add(1)
	for i := range paths {
		wg.Go(func() {
			start.Wait()
			paths[i], errs[i] = s.Unpacked(context.Background(), info.Hex)
		})
	}
	start.Done()
	wg.Wait()
	want := filepath.Join(dir, "unpacked", info.Hex)
	for i := range paths {
		if errs[i] != nil || paths[i] != want {
			t.Fatalf("caller %d: %q, %v; want %q", i, paths[i], errs[i], want)
		}
	}
	if n := logs.count("unpacked code archive"); n != 1 {
		t.Fatalf("unpacked %d times, want once", n)
	}
	if p, err := s.Unpacked(context.Background(), info.Hex); err != nil || p != want {
		t.Fatalf("again: %q %v", p, err)
	}
	if n := logs.count("unpacked code archive"); n != 1 {
		t.Fatalf("unpacked %d times after a warm call, want once", n)
	}
	fi, err := os.Stat(filepath.Join(want, "bootstrap"))
	if err != nil || fi.Mode().Perm() != 0o555 {
		t.Fatalf("bootstrap: %v %v", fi, err)
	}
	if b, err := os.ReadFile(filepath.Join(want, "lib", "link")); err != nil || string(b) != "data" {
		t.Fatalf("lib/link: %q %v", b, err)
	}
	if fi, err := os.Stat(want); err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("tree root: %v %v", fi, err)
	}
	if left := listFiles(t, filepath.Join(dir, "tmp")); len(left) != 0 {
		t.Fatalf("tmp not empty: %v", left)
	}
}

func TestUnpackedErrors(t *testing.T) { testUnpackedErrors(t, open) }

func testUnpackedErrors(t *testing.T, open opener) {
	s, _, dir := open(t)
	ctx := context.Background()

	bad, err := s.PutBytes(ctx, archivetest.Zip(t, archivetest.File{Name: "../evil", Body: "x"}))
	if err != nil {
		t.Fatal(err)
	}
	notZip, err := s.PutBytes(ctx, []byte("not a zip"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		hex  string
		want error
	}{
		{bad.Hex, archive.ErrUnsafePath},
		{notZip.Hex, archive.ErrNotZip},
		{strings.Repeat("ab", 32), fs.ErrNotExist},
	} {
		// Two callers at once: both must see the failure, none must hang.
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				if _, err := s.Unpacked(ctx, tc.hex); !errors.Is(err, tc.want) {
					t.Errorf("Unpacked(%s) = %v, want %v", tc.hex[:8], err, tc.want)
				}
			})
		}
		wg.Wait()
		if _, err := os.Lstat(filepath.Join(dir, "unpacked", tc.hex)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("unpacked/%s exists after a failed unpack", tc.hex[:8])
		}
	}
	if left := listFiles(t, filepath.Join(dir, "tmp")); len(left) != 0 {
		t.Fatalf("tmp not empty: %v", left)
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	good, err := s.PutBytes(ctx, archivetest.Zip(t, archivetest.File{Name: "a", Body: "a"}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Unpacked(cctx, good.Hex); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled: %v", err)
	}
	// A canceled attempt leaves nothing that would stop a later one.
	if _, err := s.Unpacked(ctx, good.Hex); err != nil {
		t.Fatalf("after cancel: %v", err)
	}
}

func TestDelete(t *testing.T) { testDelete(t, open) }

func testDelete(t *testing.T, open opener) {
	s, _, dir := open(t)
	ctx := context.Background()
	info, err := s.PutBytes(ctx, archivetest.Zip(t, archivetest.File{Name: "d/f", Body: "f"}))
	if err != nil {
		t.Fatal(err)
	}
	keep, err := s.PutBytes(ctx, archivetest.Zip(t, archivetest.File{Name: "k", Body: "k"}))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{info.Hex, keep.Hex} {
		if _, err := s.Unpacked(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Delete(info.Hex); err != nil {
		t.Fatal(err)
	}
	if s.Has(info.Hex) {
		t.Error("Has after Delete")
	}
	if _, err := s.Open(info.Hex); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open after Delete: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "unpacked", info.Hex)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("unpacked tree survives Delete: %v", err)
	}
	if err := s.Delete(info.Hex); err != nil {
		t.Errorf("second Delete: %v", err)
	}
	if !s.Has(keep.Hex) || !isDir(filepath.Join(dir, "unpacked", keep.Hex)) {
		t.Error("Delete removed another archive")
	}
	if left := listFiles(t, filepath.Join(dir, "tmp")); len(left) != 0 {
		t.Fatalf("tmp not empty: %v", left)
	}
	if _, err := s.Unpacked(ctx, info.Hex); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Unpacked after Delete: %v", err)
	}
}

func TestDeleteWhileUnpacking(t *testing.T) { testDeleteWhileUnpacking(t, open) }

func testDeleteWhileUnpacking(t *testing.T, open opener) {
	s, _, dir := open(t)
	ctx := context.Background()
	info, err := s.PutBytes(ctx, archivetest.Zip(t, archivetest.File{Name: "f", Body: strings.Repeat("x", 1<<20)}))
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		var wg sync.WaitGroup
		wg.Go(func() { _, _ = s.Unpacked(ctx, info.Hex) })
		wg.Go(func() {
			if err := s.Delete(info.Hex); err != nil {
				t.Error(err)
			}
		})
		wg.Wait()
		// Whatever the order, no tree may outlive its archive.
		if isDir(filepath.Join(dir, "unpacked", info.Hex)) && !s.Has(info.Hex) {
			t.Fatal("unpacked tree without its archive")
		}
		if _, err := s.PutBytes(ctx, readZipAgain(t, info)); err != nil {
			t.Fatal(err)
		}
	}
}

// readZipAgain rebuilds the archive TestDeleteWhileUnpacking deletes.
func readZipAgain(t *testing.T, info Info) []byte {
	z := archivetest.Zip(t, archivetest.File{Name: "f", Body: strings.Repeat("x", 1<<20)})
	if sha256.Sum256(z) != info.SHA256 {
		t.Fatal("archivetest.Zip is not deterministic")
	}
	return z
}

func TestOpenSweepsLeftovers(t *testing.T) {
	s, _, dir := open(t)
	info, err := s.PutBytes(context.Background(), archivetest.Zip(t, archivetest.File{Name: "a", Body: "a"}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Unpacked(context.Background(), info.Hex); err != nil {
		t.Fatal(err)
	}
	// What a crash in Put, in an unpack or in a Delete leaves behind.
	tmp := filepath.Join(dir, "tmp")
	must(t, os.WriteFile(filepath.Join(tmp, "put-123"), []byte("partial"), 0o600))
	must(t, os.MkdirAll(filepath.Join(tmp, "unpack-1", "t", "sub"), 0o755))
	must(t, os.WriteFile(filepath.Join(tmp, "unpack-1", "t", "sub", "ro"), []byte("x"), 0o444))
	must(t, os.MkdirAll(filepath.Join(tmp, "del-9", "t"), 0o755))

	// And a dead process's work directory, whose lock nobody holds.
	must(t, os.MkdirAll(filepath.Join(tmp, "0123456789abcdef", "unpack-2", "t"), 0o755))
	must(t, os.WriteFile(filepath.Join(tmp, "0123456789abcdef"+lockSuffix), nil, 0o600))
	// The live store's work in progress stays.
	mine := filepath.Join(s.tmp, "put-live")
	must(t, os.WriteFile(mine, []byte("partial"), 0o600))

	s2, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	sort.Strings(got)
	want := []string{filepath.Base(s.tmp), filepath.Base(s.tmp) + lockSuffix, filepath.Base(s2.tmp), filepath.Base(s2.tmp) + lockSuffix}
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Fatalf("tmp after Open: %v, want the two live stores' work directories and locks %v", got, want)
	}
	if _, err := os.Stat(mine); err != nil {
		t.Fatalf("Open swept a live store's work: %v", err)
	}
	if !s2.Has(info.Hex) || !isDir(filepath.Join(dir, "unpacked", info.Hex)) {
		t.Fatal("sweep removed committed data")
	}
}

// TestSharedDirectory: stores of two processes on one directory (the
// nodes of a cluster without S3) see each other's archives, and the one
// that unpacks an archive second does not fail on the other's tree.
func TestSharedDirectory(t *testing.T) {
	ctx := context.Background()
	a, _, dir := open(t)
	b, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	info, err := a.PutBytes(ctx, archivetest.Zip(t, archivetest.File{Name: "f", Body: "shared"}))
	if err != nil {
		t.Fatal(err)
	}
	if !b.Has(info.Hex) {
		t.Fatal("b does not see a's archive")
	}
	// Both unpack at once: the second rename finds the first's tree.
	final, err := a.Unpacked(ctx, info.Hex)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.unpack(ctx, info.Hex, final); err != nil {
		t.Fatalf("unpacking what another process unpacked first: %v", err)
	}
	if got, err := os.ReadFile(filepath.Join(final, "f")); err != nil || string(got) != "shared" {
		t.Fatalf("tree: %q %v", got, err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestInvalidHexRejected(t *testing.T) { testInvalidHexRejected(t, open) }

func testInvalidHexRejected(t *testing.T, open opener) {
	s, _, dir := open(t)
	must(t, os.WriteFile(filepath.Join(dir, "secret"), []byte("s"), 0o644))
	valid := strings.Repeat("0a", 32)
	for _, h := range []string{
		"",
		"abc",
		strings.ToUpper(valid),
		valid[:63],
		valid + "0",
		"../secret",
		"../../../../../../etc/passwd",
		"0a/" + valid[3:],
		valid[:62] + "/.",
		valid[:63] + "g",
		valid[:63] + "\x00",
	} {
		if _, err := s.Open(h); !errors.Is(err, ErrInvalidHex) {
			t.Errorf("Open(%q) = %v", h, err)
		}
		if s.Has(h) {
			t.Errorf("Has(%q) = true", h)
		}
		if err := s.Delete(h); !errors.Is(err, ErrInvalidHex) {
			t.Errorf("Delete(%q) = %v", h, err)
		}
		if _, err := s.Unpacked(context.Background(), h); !errors.Is(err, ErrInvalidHex) {
			t.Errorf("Unpacked(%q) = %v", h, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "secret")); err != nil {
		t.Fatal(err)
	}
	if !validHex(valid) {
		t.Fatal("valid digest rejected")
	}
}

const benchSize = 50 << 20

func benchData(b *testing.B) []byte {
	data := make([]byte, benchSize)
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i+8 <= len(data); i += 8 {
		binary.LittleEndian.PutUint64(data[i:], r.Uint64())
	}
	return data
}

// BenchmarkPutBytes50MB stores fresh 50 MB archives; compare it with
// BenchmarkBaselineSHA256AndFsync50MB, the least any durable content-addressed
// write can cost.
func BenchmarkPutBytes50MB(b *testing.B) {
	s, _, _ := open(b)
	data := benchData(b)
	ctx := context.Background()
	b.SetBytes(benchSize)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		binary.LittleEndian.PutUint64(data, uint64(i)) // new content, or dedup skips the work
		info, err := s.PutBytes(ctx, data)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := s.Delete(info.Hex); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

func BenchmarkBaselineSHA256AndFsync50MB(b *testing.B) {
	dir := b.TempDir()
	data := benchData(b)
	b.SetBytes(benchSize)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		binary.LittleEndian.PutUint64(data, uint64(i))
		sum := sha256.Sum256(data)
		f, err := os.CreateTemp(dir, "base-")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := f.Write(data); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if sum == [32]byte{} {
			b.Fatal("zero digest")
		}
		if err := os.Remove(f.Name()); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

func TestWriter(t *testing.T) { testWriter(t, open) }

func testWriter(t *testing.T, open opener) {
	s, _, dir := open(t)
	ctx := context.Background()
	content := bytes.Repeat([]byte("piece by piece "), 100_000)
	want := sha256.Sum256(content)

	w, err := s.NewWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for p := content; len(p) > 0; p = p[min(len(p), 7777):] {
		if err := w.Append(p[:min(len(p), 7777)]); err != nil {
			t.Fatal(err)
		}
	}
	info, err := w.Commit()
	if err != nil {
		t.Fatal(err)
	}
	if info.SHA256 != want || info.Size != int64(len(content)) {
		t.Fatalf("info %+v", info)
	}
	w.Discard() // after Commit: keeps the object
	if !bytes.Equal(readObject(t, s, info.Hex), content) {
		t.Fatal("object content differs")
	}

	// The same content again: deduplicated, the temp file removed.
	w2, _ := s.NewWriter(ctx)
	w2.Append(content)
	if info2, err := w2.Commit(); err != nil || info2 != info {
		t.Fatalf("second commit: %+v %v", info2, err)
	}
	// Discarded before commit, and never closed: nothing stays.
	w3, _ := s.NewWriter(ctx)
	w3.Append([]byte("dropped"))
	w3.Discard()
	if _, err := w3.Commit(); err == nil {
		t.Error("commit after discard succeeded")
	}
	if err := w3.Append([]byte("x")); err == nil {
		t.Error("append after discard succeeded")
	}
	if got := listFiles(t, dir); len(got) != 1 {
		t.Fatalf("files = %v, want one object", got)
	}
}

// TestHoldDefersDelete: a held tree survives Delete until its last holder
// releases it, and is removed then; a digest stored again meanwhile is kept.
// With a remote, the deferred delete removes this node's copy only: the
// remote's is left to a later collection, since another node may have
// stored it again by then.
func TestHoldDefersDelete(t *testing.T) { testHoldDefersDelete(t, open) }

func testHoldDefersDelete(t *testing.T, open opener) {
	s, _, _ := open(t)
	ctx := context.Background()
	z := archivetest.Zip(t, archivetest.File{Name: "f", Body: "held"})
	info, err := s.PutBytes(ctx, z)
	must(t, err)
	dir, err := s.Unpacked(ctx, info.Hex)
	must(t, err)
	r1, ok := s.Hold(info.Hex)
	r2, ok2 := s.Hold(info.Hex)
	if !ok || !ok2 {
		t.Fatal("Hold of a stored digest failed")
	}
	must(t, s.Delete(info.Hex))
	if !isDir(dir) || !s.Has(info.Hex) {
		t.Fatal("Delete removed a held digest")
	}
	if held, deferred := s.leaseCounts(); held != 1 || deferred != 1 {
		t.Errorf("leaseCounts = %d held, %d deferred; want 1, 1", held, deferred)
	}
	r1()
	r1() // a second release is ignored
	if !isDir(dir) {
		t.Fatal("the tree went with a holder left")
	}
	r2()
	waitGone := func() {
		t.Helper()
		for i := 0; isDir(dir) || s.hasLocal(info.Hex); i++ {
			if i > 500 {
				t.Fatal("the deferred delete never happened")
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitGone()
	if s.remote != nil {
		if !s.hasRemote(info.Hex) {
			t.Fatal("the deferred delete removed the remote's copy")
		}
		must(t, s.Delete(info.Hex)) // unheld: the remote's too
	}
	if s.Has(info.Hex) {
		t.Fatal("a deleted digest is still stored")
	}
	if _, ok := s.Hold(info.Hex); ok {
		t.Error("Hold of a deleted digest succeeded")
	}
	if held, deferred := s.leaseCounts(); held != 0 || deferred != 0 {
		t.Errorf("after the delete, leaseCounts = %d held, %d deferred", held, deferred)
	}

	// Stored again while a delete waits: the new store wins.
	info, err = s.PutBytes(ctx, z)
	must(t, err)
	r, ok := s.Hold(info.Hex)
	if !ok {
		t.Fatal("Hold after a new Put failed")
	}
	must(t, s.Delete(info.Hex))
	if _, err := s.PutBytes(ctx, z); err != nil {
		t.Fatal(err)
	}
	r()
	time.Sleep(50 * time.Millisecond)
	if !s.Has(info.Hex) {
		t.Error("a digest stored again after Delete was removed by the deferred delete")
	}
	// Unheld, Delete is immediate.
	must(t, s.Delete(info.Hex))
	if s.Has(info.Hex) {
		t.Error("Delete of an unheld digest left it")
	}
}

// TestHoldRacesDelete: concurrent holders and deletes never see a held
// digest's tree disappear, and nothing is left once all let go.
func TestHoldRacesDelete(t *testing.T) { testHoldRacesDelete(t, open) }

func testHoldRacesDelete(t *testing.T, open opener) {
	s, _, _ := open(t)
	ctx := context.Background()
	z := archivetest.Zip(t, archivetest.File{Name: "f", Body: "race"})
	info, err := s.PutBytes(ctx, z)
	must(t, err)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 200 {
				r, ok := s.Hold(info.Hex)
				if !ok {
					continue
				}
				if dir, err := s.Unpacked(ctx, info.Hex); err != nil || !isDir(dir) {
					t.Errorf("held digest unusable: %v", err)
				}
				r()
			}
		})
	}
	wg.Go(func() {
		for range 50 {
			if err := s.Delete(info.Hex); err != nil {
				t.Error(err)
			}
			if _, err := s.PutBytes(ctx, z); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()
	must(t, s.Delete(info.Hex))
	for i := 0; s.Has(info.Hex) || isDir(filepath.Join(s.unpacked, info.Hex)); i++ {
		if i > 500 {
			t.Fatal("a digest deleted last was left behind")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
