// Package blobs stores code archives by the SHA-256 of their content, and
// unpacks each one once into a read-only tree shared by every environment.
//
// Layout under the root directory:
//
//	objects/<hex[:2]>/<hex>  the archives, 0444
//	unpacked/<hex>/          their unpacked trees
//	tmp/<id>/, tmp/<id>.lock work in progress of each process using the
//	                         directory (worktmp.go); a dead one's is
//	                         removed at Open
//
// Nothing appears under objects/ or unpacked/ except by rename of a complete,
// synced file or tree, so a crash leaves either nothing or the whole thing.
//
// With a Remote (S3, remote.go and s3.go) the archives live there and the
// directory is a cache bounded in bytes (cache.go); its archives are not
// synced but checked against their digest on first use after a restart.
package blobs

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lambdad/lambdad/internal/archive"
)

// ErrInvalidHex is returned for a digest that is not 64 lowercase hex digits.
var ErrInvalidHex = errors.New("blobs: invalid sha256 hex digest")

// Info identifies a stored archive.
type Info struct {
	SHA256 [32]byte
	Hex    string
	// Base64 is the standard base64 of the raw digest, Lambda's CodeSha256.
	Base64 string
	Size   int64
}

func newInfo(sum [32]byte, size int64) Info {
	return Info{
		SHA256: sum,
		Hex:    hex.EncodeToString(sum[:]),
		Base64: base64.StdEncoding.EncodeToString(sum[:]),
		Size:   size,
	}
}

// Store is a content-addressed archive store rooted at one directory,
// which several processes may share (worktmp.go).
type Store struct {
	objects, unpacked, tmp string   // tmp: this Store's work directory
	workLock               *os.File // held while tmp is this Store's
	log                    *slog.Logger
	limits                 archive.Limits

	mu sync.Mutex
	// busy holds the unpack or delete in progress per digest, so that
	// concurrent callers share one unpack and a delete never races one.
	busy map[string]*op
	// uploads holds the upload to the remote in progress per digest, so
	// that concurrent Puts of one archive send it once.
	uploads map[string]*op

	leaseMu sync.Mutex
	// leases holds, per digest used since start, who holds it and whether
	// a delete waits for them. An entry is dropped when its digest is
	// deleted, so the map is bounded by the stored archives.
	leases map[string]*lease

	// With a remote (remote.go), the directory is a cache bounded by
	// limit bytes (0: unbounded); cached is its size and clock orders uses.
	// deletes counts finished deletes, so that a lookup made outside
	// leaseMu can tell whether one raced it. All under leaseMu.
	remote  Remote
	limit   int64
	cached  int64
	clock   int64
	deletes uint64
	evictMu sync.Mutex
	// deferred, when set, is told of each delete the last holder finished
	// here, which left the remote's copy (OnDeferredDelete).
	deferred atomic.Pointer[func(h string)]
}

// OnDeferredDelete has fn called (on a goroutine of its own) after a
// delete that waited for holders removed this node's copy of h. With a
// remote, that delete leaves the remote's copy: another node may have
// stored h again meanwhile, which only the caller's records can tell, so
// fn decides and deletes it with Delete.
func (s *Store) OnDeferredDelete(fn func(h string)) { s.deferred.Store(&fn) }

// lease is the in-memory state of one digest's holders.
type lease struct {
	n int // holders now
	// doomed: Delete was asked while held; the last release deletes.
	doomed bool
	// deleting is closed when a delete in progress ends; nil otherwise.
	deleting chan struct{}

	// The cache (with a remote): bytes of h held locally, when it was last
	// used (Store.clock), whether its unpacked tree was evicted (the next
	// Lease restores it before anyone uses a path to it), and the restore
	// in progress.
	local     int64
	used      int64
	evicted   bool
	restoring chan struct{}
	// trusted: the cached archive was written or checked by this run.
	trusted bool
}

type op struct {
	done chan struct{}
	err  error
}

// Open opens (creating if needed) the store rooted at dir and removes
// what crashed processes left in its tmp directory.
func Open(dir string, log *slog.Logger) (*Store, error) {
	return OpenConfig(Config{Dir: dir, Logger: log})
}

// OpenConfig opens a store as Open does, with a remote behind it when
// cfg.Remote is set.
func OpenConfig(cfg Config) (*Store, error) {
	dir, log := cfg.Dir, cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{
		remote:   cfg.Remote,
		limit:    cfg.CacheBytes,
		objects:  filepath.Join(dir, "objects"),
		unpacked: filepath.Join(dir, "unpacked"),
		log:      log,
		limits:   archive.DefaultLimits(),
		busy:     map[string]*op{},
		uploads:  map[string]*op{},
		leases:   map[string]*lease{},
	}
	root := filepath.Join(dir, "tmp")
	for _, d := range []string{s.objects, s.unpacked, root} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("blobs: %w", err)
		}
	}
	if err := s.claimWork(root); err != nil {
		return nil, err
	}
	if s.remote != nil {
		if err := s.scanCache(); err != nil {
			return nil, err
		}
		s.evict()
	}
	return s, nil
}

func validHex(h string) bool {
	if len(h) != 64 {
		return false
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func (s *Store) objectPath(h string) string { return filepath.Join(s.objects, h[:2], h) }

// Put stores everything read from r and returns its digest.
func (s *Store) Put(ctx context.Context, r io.Reader) (Info, error) {
	f, err := os.CreateTemp(s.tmp, "put-")
	if err != nil {
		return Info{}, fmt.Errorf("blobs: %w", err)
	}
	h := sha256.New()
	n, err := copyCtx(ctx, io.MultiWriter(f, h), r)
	if err != nil {
		discard(f)
		return Info{}, fmt.Errorf("blobs: put: %w", err)
	}
	var sum [32]byte
	h.Sum(sum[:0])
	info := newInfo(sum, n)
	if err := s.commit(ctx, f, info); err != nil {
		return Info{}, err
	}
	return info, nil
}

// concurrentHashMin is the size from which PutBytes hashes on another core
// while it writes; below it a goroutine costs more than it saves.
const concurrentHashMin = 1 << 20

// PutBytes stores b. Large inputs are hashed while they are written, so the
// cost is about max(hash, write) plus one fsync; content already stored is
// never fsynced or renamed.
func (s *Store) PutBytes(ctx context.Context, b []byte) (Info, error) {
	if err := ctx.Err(); err != nil {
		return Info{}, err
	}
	var sum [32]byte
	if len(b) < concurrentHashMin {
		sum = sha256.Sum256(b)
		if h := hex.EncodeToString(sum[:]); s.keep(h) && s.stored(ctx, h) {
			s.refreshed(h)
			return newInfo(sum, int64(len(b))), nil
		}
	}
	f, err := os.CreateTemp(s.tmp, "put-")
	if err != nil {
		return Info{}, fmt.Errorf("blobs: %w", err)
	}
	var hashed chan struct{}
	if len(b) >= concurrentHashMin {
		hashed = make(chan struct{})
		go func() {
			sum = sha256.Sum256(b)
			close(hashed)
		}()
	}
	_, err = f.Write(b)
	if hashed != nil {
		<-hashed
	}
	info := newInfo(sum, int64(len(b)))
	if err != nil {
		discard(f)
		return Info{}, fmt.Errorf("blobs: put: %w", err)
	}
	if err := s.commit(ctx, f, info); err != nil {
		return Info{}, err
	}
	return info, nil
}

// Writer stores an archive that arrives in pieces, such as a zip decoded
// from a request while the request is still being read. Each piece is hashed
// and written to a temporary file on goroutines of their own, so storing
// overlaps producing. Commit makes it an object; Discard drops it.
type Writer struct {
	s *Store
	// ctx is the request's, for the upload to a remote at Commit.
	ctx           context.Context
	f             *os.File
	hash, write   chan []byte
	hashed, wrote chan struct{}
	sum           [32]byte
	n             int64
	werr          error
	closed, ended bool
	info          Info
}

// writerQueue is how many pieces may wait for the hash or the disk before
// Append blocks.
const writerQueue = 64

// NewWriter starts a Writer.
func (s *Store) NewWriter(ctx context.Context) (*Writer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(s.tmp, "put-")
	if err != nil {
		return nil, fmt.Errorf("blobs: %w", err)
	}
	w := &Writer{s: s, ctx: ctx, f: f,
		hash: make(chan []byte, writerQueue), write: make(chan []byte, writerQueue),
		hashed: make(chan struct{}), wrote: make(chan struct{})}
	go func() {
		defer close(w.hashed)
		h := sha256.New()
		for p := range w.hash {
			h.Write(p)
		}
		h.Sum(w.sum[:0])
	}()
	go func() {
		defer close(w.wrote)
		for p := range w.write {
			if w.werr == nil {
				_, w.werr = f.Write(p)
			}
		}
	}()
	return w, nil
}

// Append queues p to be hashed and written. It keeps p: the caller must not
// change it until Close returns.
func (w *Writer) Append(p []byte) error {
	if w.closed {
		return errors.New("blobs: append after close")
	}
	w.n += int64(len(p))
	w.hash <- p
	w.write <- p
	return nil
}

// Close waits for everything appended to be hashed and written.
func (w *Writer) Close() error {
	if !w.closed {
		w.closed = true
		close(w.hash)
		close(w.write)
		<-w.hashed
		<-w.wrote
		w.info = newInfo(w.sum, w.n)
	}
	if w.werr != nil {
		return fmt.Errorf("blobs: put: %w", w.werr)
	}
	return nil
}

// Info is the digest of what was appended; valid after Close.
func (w *Writer) Info() Info { return w.info }

// Commit makes the written archive durable under its digest (after Close).
func (w *Writer) Commit() (Info, error) {
	if err := w.Close(); err != nil {
		w.Discard()
		return Info{}, err
	}
	if w.ended {
		return Info{}, errors.New("blobs: commit after discard")
	}
	w.ended = true
	if err := w.s.commit(w.ctx, w.f, w.info); err != nil {
		return Info{}, err
	}
	return w.info, nil
}

// Discard drops the archive unless it was committed.
func (w *Writer) Discard() {
	_ = w.Close()
	if !w.ended {
		w.ended = true
		discard(w.f)
	}
}

// commit makes the fully written temp file f the object info, durably (in
// the remote, when there is one, before it is acknowledged), or discards it
// if the object already exists.
func (s *Store) commit(ctx context.Context, f *os.File, info Info) error {
	h := info.Hex
	if s.keep(h) && s.stored(ctx, h) {
		discard(f)
		s.touch(h)
		s.refreshed(h)
		return nil
	}
	if s.remote == nil {
		return s.commitLocal(f, h)
	}
	for {
		s.mu.Lock()
		cur := s.uploads[h]
		if cur == nil {
			break // with s.mu held
		}
		s.mu.Unlock()
		<-cur.done
		if cur.err == nil && s.hasLocal(h) {
			discard(f)
			s.touch(h)
			return nil
		}
	}
	o := &op{done: make(chan struct{})}
	s.uploads[h] = o
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.uploads, h)
		s.mu.Unlock()
		close(o.done)
	}()
	if o.err = s.upload(ctx, f, info); o.err != nil {
		discard(f)
		return o.err
	}
	// Cached already (another node deleted it from the remote since): the
	// rename replaces the copy with identical bytes, counted once.
	cached := s.hasLocal(h)
	if o.err = s.commitLocal(f, h); o.err != nil {
		return o.err
	}
	if !cached {
		s.account(h, info.Size)
	}
	s.trust(h)
	s.evict()
	return nil
}

func discard(f *os.File) {
	_ = f.Close()
	_ = os.Remove(f.Name())
}

// mkdirSynced creates dir if needed, syncing its parent so the new entry
// survives a crash along with whatever is renamed into dir.
func mkdirSynced(dir string) error {
	err := os.Mkdir(dir, 0o755)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return syncDir(filepath.Dir(dir))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

func copyCtx(ctx context.Context, dst io.Writer, src io.Reader) (int64, error) {
	buf := make([]byte, 1<<20)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		m, rerr := src.Read(buf)
		if m > 0 {
			if _, err := dst.Write(buf[:m]); err != nil {
				return n, err
			}
			n += int64(m)
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, rerr
		}
	}
}

// Open opens the archive h for reading. The error wraps fs.ErrNotExist when
// it is absent. With a remote it may fetch h: see OpenContext.
func (s *Store) Open(h string) (*os.File, error) {
	return s.OpenContext(context.Background(), h)
}

// List returns every stored archive (in the remote, when there is one),
// with when it was stored.
func (s *Store) List() ([]Listed, error) {
	if s.remote != nil {
		ctx, cancel := context.WithTimeout(context.Background(), remoteTimeout)
		defer cancel()
		return s.remote.List(ctx)
	}
	subs, err := os.ReadDir(s.objects)
	if err != nil {
		return nil, fmt.Errorf("blobs: list: %w", err)
	}
	var out []Listed
	for _, sub := range subs {
		if !sub.IsDir() {
			continue
		}
		ents, err := os.ReadDir(filepath.Join(s.objects, sub.Name()))
		if err != nil {
			return nil, fmt.Errorf("blobs: list: %w", err)
		}
		for _, e := range ents {
			if !validHex(e.Name()) || !e.Type().IsRegular() {
				continue
			}
			fi, err := e.Info()
			if errors.Is(err, fs.ErrNotExist) {
				continue // deleted meanwhile
			}
			if err != nil {
				return nil, fmt.Errorf("blobs: list: %w", err)
			}
			out = append(out, Listed{Hex: e.Name(), Modified: fi.ModTime()})
		}
	}
	return out, nil
}

// Listed is one stored archive: its digest, and when it was last stored
// (a Put of bytes already there counts, in a directory; in a remote, the
// upload).
type Listed struct {
	Hex      string
	Modified time.Time
}

// refreshed marks h, already in the directory, as stored now, so that a
// collection of archives older than some age (a shared directory's, at
// start) leaves it to the commit about to refer to it.
func (s *Store) refreshed(h string) {
	if s.remote != nil {
		return // a remote's collection restores from this node's copy
	}
	now := time.Now()
	if err := os.Chtimes(s.objectPath(h), now, now); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.log.Warn("mark code archive stored again", "sha256", h, "err", err)
	}
}

// Has reports whether the archive h is stored: in the local directory, or
// else in the remote.
func (s *Store) Has(h string) bool {
	return s.hasLocal(h) || s.hasRemote(h)
}

// Delete removes the archive h and its unpacked tree. Deleting what is not
// there is not an error. It waits for an unpack of h in progress. While h is
// held (Hold), the delete is deferred until the last holder releases it,
// unless h is stored again meanwhile; with a remote, only this node's copy
// is deleted then, and OnDeferredDelete's function decides about the
// remote's: by then another node may have stored h again.
func (s *Store) Delete(h string) error {
	if !validHex(h) {
		return fmt.Errorf("%w: %q", ErrInvalidHex, h)
	}
	s.leaseMu.Lock()
	l := s.leases[h]
	switch {
	case l != nil && l.deleting != nil:
		done := l.deleting
		s.leaseMu.Unlock()
		<-done
		return nil
	case l != nil && l.n > 0:
		l.doomed = true
		s.leaseMu.Unlock()
		return nil
	case l == nil:
		l = &lease{}
		s.leases[h] = l
	}
	l.deleting = make(chan struct{})
	s.leaseMu.Unlock()
	return s.finishDelete(h, l, true)
}

// finishDelete removes h (from the remote too if remote), then forgets its
// lease (l, marked deleting).
func (s *Store) finishDelete(h string, l *lease, remote bool) error {
	err := s.remove(h, remote)
	s.leaseMu.Lock()
	close(l.deleting)
	if s.leases[h] == l {
		delete(s.leases, h)
		s.cached -= l.local
		s.deletes++
	}
	s.leaseMu.Unlock()
	return err
}

// Hold keeps the archive h and its unpacked tree from being deleted until
// release is called (once). ok is false, and release nil, when h is not
// stored or is being deleted. Holding a digest already used costs a map
// lookup under a mutex, no disk access.
func (s *Store) Hold(h string) (release func(), ok bool) {
	l, ok := s.Lease(h)
	if !ok {
		return nil, false
	}
	var once atomic.Bool
	return func() {
		if once.Swap(true) {
			return
		}
		l.Release()
	}, true
}

// Lease is a hold on one archive (see Hold) as a value, for callers that
// release it exactly once themselves and should not allocate a closure per
// hold. The zero Lease holds nothing.
type Lease struct {
	s *Store
	h string
	l *lease
}

// Lease holds h as Hold does; the caller calls Release exactly once.
func (s *Store) Lease(h string) (Lease, bool) {
	for {
		s.leaseMu.Lock()
		l := s.leases[h]
		if l == nil {
			// First use since start or since it was deleted: look once.
			if !s.hasLocal(h) {
				if s.remote == nil {
					s.leaseMu.Unlock()
					return Lease{}, false
				}
				// Not under leaseMu: the remote is far.
				gen := s.deletes
				s.leaseMu.Unlock()
				if !s.hasRemote(h) {
					return Lease{}, false
				}
				s.leaseMu.Lock()
				if s.deletes != gen {
					s.leaseMu.Unlock()
					continue
				}
				l = s.leases[h]
			}
			if l == nil {
				l = &lease{}
				s.leases[h] = l
			}
		}
		if l.deleting != nil {
			s.leaseMu.Unlock()
			return Lease{}, false
		}
		l.n++
		if !l.evicted {
			s.leaseMu.Unlock()
			return Lease{s, h, l}, true
		}
		s.leaseMu.Unlock()
		if !s.restore(h, l) {
			s.unhold(h, l)
			return Lease{}, false
		}
		return Lease{s, h, l}, true
	}
}

// Release ends the lease; a zero Lease does nothing.
func (l Lease) Release() {
	if l.s != nil {
		l.s.unhold(l.h, l.l)
	}
}

func (s *Store) unhold(h string, l *lease) {
	s.leaseMu.Lock()
	l.n--
	if l.n == 0 {
		s.clock++
		l.used = s.clock
	}
	if l.n > 0 || !l.doomed {
		over := l.n == 0 && s.limit > 0 && s.cached > s.limit
		s.leaseMu.Unlock()
		if over {
			go s.evict()
		}
		return
	}
	l.doomed = false
	l.deleting = make(chan struct{})
	s.leaseMu.Unlock()
	// The last holder may be an invoke on its way out: delete elsewhere.
	go func() {
		if err := s.finishDelete(h, l, false); err != nil {
			s.log.Warn("delete unused code", "sha256", h, "err", err)
			return
		}
		if fn := s.deferred.Load(); fn != nil && s.remote != nil {
			(*fn)(h)
		}
	}()
}

// keep cancels a deferred delete of h, because h is being stored again,
// after waiting for a delete in progress. It always reports true, so that
// it reads as a step of a condition.
func (s *Store) keep(h string) bool {
	for {
		s.leaseMu.Lock()
		l := s.leases[h]
		if l == nil {
			s.leaseMu.Unlock()
			return true
		}
		if l.deleting != nil {
			done := l.deleting
			s.leaseMu.Unlock()
			<-done
			continue
		}
		l.doomed = false
		s.leaseMu.Unlock()
		return true
	}
}

// leaseCounts reports how many digests are held and how many deletes wait
// for their holders.
func (s *Store) leaseCounts() (held, deferred int) {
	s.leaseMu.Lock()
	defer s.leaseMu.Unlock()
	for _, l := range s.leases {
		if l.n > 0 {
			held++
		}
		if l.doomed {
			deferred++
		}
	}
	return held, deferred
}

// remove deletes h's tree and archive, and the remote's copy if remote.
func (s *Store) remove(h string, remote bool) error {
	o := s.acquire(h)
	defer s.release(h, o)
	if err := s.removeLocal(h); err != nil {
		return err
	}
	if s.remote == nil || !remote {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), remoteTimeout)
	defer cancel()
	return s.remote.Delete(ctx, h)
}

// removeLocal deletes h's tree and archive from the directory; the caller
// holds h's busy op.
func (s *Store) removeLocal(h string) error {
	// Move the tree out of unpacked/ first: removing it in place could leave
	// a partial tree under its final name if we crashed half-way.
	if isDir(filepath.Join(s.unpacked, h)) {
		trash, err := os.MkdirTemp(s.tmp, "del-")
		if err != nil {
			return fmt.Errorf("blobs: delete: %w", err)
		}
		if err := os.Rename(filepath.Join(s.unpacked, h), filepath.Join(trash, "t")); err != nil && !errors.Is(err, fs.ErrNotExist) {
			// (Gone: another process sharing the directory deleted it.)
			return fmt.Errorf("blobs: delete: %w", err)
		}
		if err := syncDir(s.unpacked); err != nil {
			return fmt.Errorf("blobs: delete: %w", err)
		}
		if err := os.RemoveAll(trash); err != nil {
			return fmt.Errorf("blobs: delete: %w", err)
		}
	}
	final := s.objectPath(h)
	if err := os.Remove(final); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("blobs: delete: %w", err)
	} else if err == nil {
		if err := syncDir(filepath.Dir(final)); err != nil {
			return fmt.Errorf("blobs: delete: %w", err)
		}
	}
	return nil
}

// acquire waits until no unpack or delete of h is in progress and registers
// a new one.
func (s *Store) acquire(h string) *op {
	for {
		s.mu.Lock()
		cur, ok := s.busy[h]
		if !ok {
			o := &op{done: make(chan struct{})}
			s.busy[h] = o
			s.mu.Unlock()
			return o
		}
		s.mu.Unlock()
		<-cur.done
	}
}

func (s *Store) release(h string, o *op) {
	s.mu.Lock()
	delete(s.busy, h)
	s.mu.Unlock()
	close(o.done)
}

func isDir(p string) bool {
	fi, err := os.Lstat(p)
	return err == nil && fi.IsDir()
}

// Unpacked returns the directory holding archive h's files, unpacking it on
// first use. The tree is shared and must be treated as read-only. Concurrent
// callers for the same h wait for a single unpack.
func (s *Store) Unpacked(ctx context.Context, h string) (string, error) {
	if !validHex(h) {
		return "", fmt.Errorf("%w: %q", ErrInvalidHex, h)
	}
	final := filepath.Join(s.unpacked, h)
	for {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		if isDir(final) {
			return final, nil
		}
		s.mu.Lock()
		cur, ok := s.busy[h]
		if ok {
			s.mu.Unlock()
			select {
			case <-cur.done:
			case <-ctx.Done():
				return "", ctx.Err()
			}
			// The unpacker's failure is ours too, unless it was only its
			// own context giving up; then look again (and maybe take over).
			if cur.err != nil && !errors.Is(cur.err, context.Canceled) && !errors.Is(cur.err, context.DeadlineExceeded) {
				return "", cur.err
			}
			continue
		}
		o := &op{done: make(chan struct{})}
		s.busy[h] = o
		s.mu.Unlock()
		if isDir(final) {
			// Another caller's unpack ended between our look and our claim.
			s.release(h, o)
			return final, nil
		}
		o.err = s.unpack(ctx, h, final)
		s.release(h, o)
		if o.err != nil {
			return "", o.err
		}
		s.evict()
		return final, nil
	}
}

func (s *Store) unpack(ctx context.Context, h, final string) error {
	start := time.Now()
	if s.remote != nil {
		if err := s.fetch(ctx, h); err != nil {
			return fmt.Errorf("blobs: unpack %s: %w", h, err)
		}
	}
	f, err := os.Open(s.objectPath(h))
	if err == nil && !s.verifyCached(h, f) {
		f.Close()
		if err = s.dropLocal(h); err == nil {
			if err = s.fetch(ctx, h); err == nil {
				f, err = os.Open(s.objectPath(h))
			}
		}
	}
	if err != nil {
		return fmt.Errorf("blobs: unpack %s: %w", h, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("blobs: unpack %s: %w", h, err)
	}
	work, err := os.MkdirTemp(s.tmp, "unpack-")
	if err != nil {
		return fmt.Errorf("blobs: unpack %s: %w", h, err)
	}
	defer os.RemoveAll(work)
	tree := filepath.Join(work, "t")
	info, err := archive.Extract(ctx, f, fi.Size(), tree, s.limits)
	if err != nil {
		return fmt.Errorf("blobs: unpack %s: %w", h, err)
	}
	// The tree's contents must be on disk before its name is, or a crash
	// could leave a complete-looking tree of empty files.
	if err := syncTree(tree); err != nil {
		return fmt.Errorf("blobs: unpack %s: %w", h, err)
	}
	if err := os.Rename(tree, final); err != nil {
		if !isDir(final) {
			return fmt.Errorf("blobs: unpack %s: %w", h, err)
		}
		// Another process sharing the directory unpacked it first.
	}
	if err := syncDir(s.unpacked); err != nil {
		return fmt.Errorf("blobs: unpack %s: %w", h, err)
	}
	s.account(h, info.UnzippedSize)
	s.log.Info("unpacked code archive", "sha256", h, "files", info.Files,
		"bytes", info.UnzippedSize, "duration", time.Since(start))
	return nil
}
