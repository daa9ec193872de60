package blobs

import (
	"context"
	"crypto/sha256"
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
	List(ctx context.Context) ([]string, error)
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
	if err := s.commitLocal(f, h, false); err != nil {
		return err
	}
	s.account(h, info.Size)
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

// upload stores the fully written temp file f as info in the remote, while
// it is synced locally: the cost is about max(upload, fsync).
func (s *Store) upload(ctx context.Context, f *os.File, info Info) error {
	synced := make(chan error, 1)
	go func() { synced <- f.Sync() }()
	err := s.remote.Put(ctx, info, io.NewSectionReader(f, 0, info.Size))
	if serr := <-synced; err == nil && serr != nil {
		err = fmt.Errorf("blobs: put: %w", serr)
	}
	return err
}

// commitLocal renames the complete temp file f to the object h. synced
// says f was synced already. With a remote the cache's directories are not
// synced: a lost rename is fetched again.
func (s *Store) commitLocal(f *os.File, h string, synced bool) error {
	final := s.objectPath(h)
	err := f.Chmod(0o444)
	if err == nil && !synced {
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
