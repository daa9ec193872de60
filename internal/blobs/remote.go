package blobs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"
)

// Remote is where archives live when the local directory is only a cache
// (S3 for a cluster of lambdad nodes). Its methods are safe for concurrent
// use.
type Remote interface {
	// Put stores body (info.Size bytes whose SHA-256 is info) and returns
	// only once the remote has it, verified.
	Put(ctx context.Context, info Info, body io.ReadSeeker) error
	// Get writes the archive h to w; the error wraps fs.ErrNotExist when
	// the remote does not have it.
	Get(ctx context.Context, h string, w io.Writer) error
	// Delete removes h; removing what is not there succeeds.
	Delete(ctx context.Context, h string) error
	Exists(ctx context.Context, h string) (bool, error)
	List(ctx context.Context) ([]Listed, error)
}

// Config configures OpenConfig.
type Config struct {
	Dir    string
	Logger *slog.Logger
	// Remote, when set, is where archives are kept; Dir then holds a cache
	// of them and of their unpacked trees.
	Remote Remote
	// CacheBytes bounds the cache with a Remote: the least recently used
	// archives and trees that nothing holds are evicted beyond it. 0 leaves
	// it unbounded. Without a Remote, Dir holds the only copy and is never
	// evicted from.
	CacheBytes int64
}

// remoteTimeout bounds the remote calls made by methods that take no
// context (Has, Lease, Delete).
const remoteTimeout = 2 * time.Minute

// hasLocal reports whether the archive h is in the local directory.
func (s *Store) hasLocal(h string) bool {
	if !validHex(h) {
		return false
	}
	fi, err := os.Lstat(s.objectPath(h))
	return err == nil && fi.Mode().IsRegular()
}

// stored reports whether h needs storing no more: it is cached and, with a
// remote, in the remote too (another node may have deleted it there while
// this one kept its copy).
func (s *Store) stored(ctx context.Context, h string) bool {
	if !s.hasLocal(h) {
		return false
	}
	if s.remote == nil {
		return true
	}
	ok, err := s.remote.Exists(ctx, h)
	return err == nil && ok
}

// hasRemote asks the remote, logging a failure as absence.
func (s *Store) hasRemote(h string) bool {
	if s.remote == nil || !validHex(h) {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), remoteTimeout)
	defer cancel()
	ok, err := s.remote.Exists(ctx, h)
	if err != nil {
		s.log.Warn("look up code archive", "sha256", h, "err", err)
	}
	return ok
}

// OpenContext opens the archive h for reading, fetching it from the remote
// into the cache first when it is not there. The error wraps
// fs.ErrNotExist when it is absent.
func (s *Store) OpenContext(ctx context.Context, h string) (*os.File, error) {
	if !validHex(h) {
		return nil, fmt.Errorf("%w: %q", ErrInvalidHex, h)
	}
	for tries := 0; ; tries++ {
		f, err := os.Open(s.objectPath(h))
		if err == nil && !s.verifyCached(h, f) {
			f.Close()
			o := s.acquire(h)
			err = s.dropLocal(h)
			s.release(h, o)
			if err != nil {
				return nil, err
			}
			f, err = nil, fs.ErrNotExist
		}
		if err == nil || s.remote == nil || !errors.Is(err, fs.ErrNotExist) || tries == 3 {
			if err == nil {
				// Open, the file outlives an eviction.
				s.touch(h)
				s.evict()
			}
			return f, err
		}
		// Evicted again between the fetch and the open: rare, so retry.
		o := s.acquire(h)
		err = s.fetch(ctx, h)
		s.release(h, o)
		if err != nil {
			return nil, err
		}
	}
}

// fetch copies h from the remote into the cache unless it is there. The
// caller holds h's busy op, so concurrent fetches of one digest (and
// unpacks, deletes, evictions) wait for one another and share its result.
// It does not evict (that needs busy ops): its callers do, after.
func (s *Store) fetch(ctx context.Context, h string) error {
	if s.hasLocal(h) {
		return nil
	}
	start := time.Now()
	f, err := os.CreateTemp(s.tmp, "get-")
	if err != nil {
		return fmt.Errorf("blobs: %w", err)
	}
	sum := sha256.New()
	cw := &countWriter{w: io.MultiWriter(f, sum)}
	if err := s.remote.Get(ctx, h, cw); err != nil {
		discard(f)
		return err
	}
	var got [32]byte
	sum.Sum(got[:0])
	info := newInfo(got, cw.n)
	if info.Hex != h {
		discard(f)
		return fmt.Errorf("blobs: the remote's copy of %s has SHA-256 %s", h, info.Hex)
	}
	if err := s.commitLocal(f, h); err != nil {
		return err
	}
	s.account(h, info.Size)
	s.trust(h)
	s.log.Info("fetched code archive", "sha256", h, "bytes", info.Size, "duration", time.Since(start))
	return nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// upload stores the fully written temp file f as info in the remote.
func (s *Store) upload(ctx context.Context, f *os.File, info Info) error {
	return s.remote.Put(ctx, info, io.NewSectionReader(f, 0, info.Size))
}

// commitLocal renames the complete temp file f to the object h. With a
// remote, the cache is not synced (an fsync would cost as much as the
// upload): a lost rename is fetched again, and an archive a crash may
// have torn is checked against its digest on its first use by a later
// run (verifyCached).
func (s *Store) commitLocal(f *os.File, h string) error {
	final := s.objectPath(h)
	err := f.Chmod(0o444)
	if err == nil && s.remote == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("blobs: put: %w", err)
	}
	sub := filepath.Dir(final)
	if err := mkdirSynced(sub); err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("blobs: put: %w", err)
	}
	// A concurrent Put of the same content may rename first; replacing its
	// file with identical bytes is harmless.
	if err := os.Rename(f.Name(), final); err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("blobs: put: %w", err)
	}
	if s.remote != nil {
		return nil
	}
	if err := syncDir(sub); err != nil {
		return fmt.Errorf("blobs: put: %w", err)
	}
	return nil
}

// trust marks h's cached archive as whole: written or checked in this run.
func (s *Store) trust(h string) {
	s.leaseMu.Lock()
	if l := s.leases[h]; l != nil {
		l.trusted = true
	}
	s.leaseMu.Unlock()
}

// verifyCached reports whether the cached archive h, open as f, is whole.
// An archive cached by an earlier run is hashed on its first use in this
// one; fetched or stored in this run, it is trusted.
func (s *Store) verifyCached(h string, f *os.File) bool {
	if s.remote == nil {
		return true
	}
	s.leaseMu.Lock()
	l := s.leases[h]
	ok := l != nil && l.trusted
	s.leaseMu.Unlock()
	if ok {
		return true
	}
	sum := sha256.New()
	if _, err := io.Copy(sum, io.NewSectionReader(f, 0, 1<<62)); err != nil {
		return false
	}
	var got [32]byte
	sum.Sum(got[:0])
	if newInfo(got, 0).Hex != h {
		s.log.Warn("dropping a damaged cached code archive", "sha256", h)
		return false
	}
	s.trust(h)
	return true
}

// dropLocal removes h from the cache (the caller holds h's busy op).
func (s *Store) dropLocal(h string) error {
	s.leaseMu.Lock()
	if l := s.leases[h]; l != nil {
		s.cached -= l.local
		l.local = 0
	}
	s.leaseMu.Unlock()
	return s.removeLocal(h)
}

// Reupload puts the archive h back into the remote from this node's copy
// when the remote lacks it: another node deleted it there, as unused,
// while this one took the same content in again. Without a remote it
// checks that this node has h. The error wraps fs.ErrNotExist when this
// node has no whole copy to restore from.
func (s *Store) Reupload(ctx context.Context, h string) error {
	if !validHex(h) {
		return fmt.Errorf("%w: %q", ErrInvalidHex, h)
	}
	if s.remote != nil {
		ok, err := s.remote.Exists(ctx, h)
		if err != nil {
			return fmt.Errorf("blobs: restore: %w", err)
		}
		if ok {
			return nil
		}
	}
	o := s.acquire(h)
	defer s.release(h, o)
	f, err := os.Open(s.objectPath(h))
	if err != nil {
		return fmt.Errorf("blobs: restore %s: %w", h, err)
	}
	defer f.Close()
	if !s.verifyCached(h, f) {
		return fmt.Errorf("blobs: restore %s: the local copy is damaged: %w", h, fs.ErrNotExist)
	}
	if s.remote == nil {
		return nil
	}
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("blobs: restore: %w", err)
	}
	raw, err := hex.DecodeString(h)
	if err != nil {
		return fmt.Errorf("%w: %q", ErrInvalidHex, h)
	}
	var sum [32]byte
	copy(sum[:], raw)
	if err := s.upload(ctx, f, newInfo(sum, fi.Size())); err != nil {
		return fmt.Errorf("blobs: restore: %w", err)
	}
	return nil
}
