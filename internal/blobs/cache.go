package blobs

import (
	"context"
	"io/fs"
	"math"
	"os"
	"path/filepath"
)

// With a remote, the directory is a cache: each digest's local bytes
// (archive and unpacked tree) are counted in its lease entry, and beyond
// the limit the least recently used digests that nothing holds lose both.
// A held digest is never evicted. An evicted tree may still be named by a
// path someone kept (an invoke caches its function's code directory), so
// the next Lease of that digest unpacks it again before it returns.

// account adds n bytes to h's local footprint and marks it used.
func (s *Store) account(h string, n int64) {
	if s.remote == nil {
		return
	}
	s.leaseMu.Lock()
	l := s.leases[h]
	if l == nil {
		l = &lease{}
		s.leases[h] = l
	}
	l.local += n
	s.cached += n
	s.clock++
	l.used = s.clock
	s.leaseMu.Unlock()
}

// touch marks h used.
func (s *Store) touch(h string) {
	if s.remote == nil {
		return
	}
	s.leaseMu.Lock()
	if l := s.leases[h]; l != nil {
		s.clock++
		l.used = s.clock
	}
	s.leaseMu.Unlock()
}

// cacheCounts reports the cache's size in bytes and how many digests it
// holds, for tests and logs.
func (s *Store) cacheCounts() (bytes int64, digests int) {
	s.leaseMu.Lock()
	defer s.leaseMu.Unlock()
	for _, l := range s.leases {
		if l.local > 0 {
			digests++
		}
	}
	return s.cached, digests
}

// evict drops least recently used digests that nothing holds until the
// cache fits its limit. One eviction runs at a time; a caller finding one
// running leaves the work to it. Callers must hold no busy op.
func (s *Store) evict() {
	if s.remote == nil || s.limit <= 0 || !s.evictMu.TryLock() {
		return
	}
	defer s.evictMu.Unlock()
	for {
		s.leaseMu.Lock()
		if s.cached <= s.limit {
			s.leaseMu.Unlock()
			return
		}
		victim, oldest := "", int64(math.MaxInt64)
		for h, l := range s.leases {
			if l.n == 0 && l.deleting == nil && l.restoring == nil && l.local > 0 && l.used < oldest {
				victim, oldest = h, l.used
			}
		}
		s.leaseMu.Unlock()
		if victim == "" {
			return // everything left is held
		}
		s.evictOne(victim)
	}
}

func (s *Store) evictOne(h string) {
	o := s.acquire(h)
	defer s.release(h, o)
	s.leaseMu.Lock()
	l := s.leases[h]
	if l == nil || l.n > 0 || l.deleting != nil || l.local == 0 {
		s.leaseMu.Unlock()
		return
	}
	// Marked before the tree goes, under h's busy op: a Lease from now on
	// waits for this eviction and then unpacks again.
	if isDir(filepath.Join(s.unpacked, h)) {
		l.evicted = true
	}
	freed := l.local
	s.cached -= freed
	l.local = 0
	s.leaseMu.Unlock()
	if err := s.removeLocal(h); err != nil {
		s.log.Warn("evict cached code", "sha256", h, "err", err)
		return
	}
	s.log.Debug("evicted cached code", "sha256", h, "bytes", freed)
}

// restore unpacks h again for a Lease (which counts in l.n already) after
// its tree was evicted; concurrent Leases share one restore. It reports
// whether the tree is back.
func (s *Store) restore(h string, l *lease) bool {
	s.leaseMu.Lock()
	ch, first := l.restoring, false
	if ch == nil {
		ch, first = make(chan struct{}), true
		l.restoring = ch
	}
	s.leaseMu.Unlock()
	if !first {
		<-ch
	} else {
		// Wait for the eviction that set evicted, if it still runs.
		s.release(h, s.acquire(h))
		ctx, cancel := context.WithTimeout(context.Background(), remoteTimeout)
		_, err := s.Unpacked(ctx, h)
		cancel()
		if err != nil {
			s.log.Warn("restore evicted code", "sha256", h, "err", err)
		}
		s.leaseMu.Lock()
		if err == nil {
			l.evicted = false
		}
		l.restoring = nil
		s.leaseMu.Unlock()
		close(ch)
	}
	s.leaseMu.Lock()
	defer s.leaseMu.Unlock()
	return !l.evicted
}

// scanCache counts what an earlier run left in the cache (all of it equally
// old).
func (s *Store) scanCache() error {
	subs, err := os.ReadDir(s.objects)
	if err != nil {
		return err
	}
	for _, sub := range subs {
		ents, err := os.ReadDir(filepath.Join(s.objects, sub.Name()))
		if err != nil {
			continue
		}
		for _, e := range ents {
			if fi, err := e.Info(); err == nil && validHex(e.Name()) && fi.Mode().IsRegular() {
				s.account(e.Name(), fi.Size())
			}
		}
	}
	trees, err := os.ReadDir(s.unpacked)
	if err != nil {
		return err
	}
	for _, t := range trees {
		if !validHex(t.Name()) {
			continue
		}
		var n int64
		_ = filepath.WalkDir(filepath.Join(s.unpacked, t.Name()), func(_ string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				if fi, err := d.Info(); err == nil {
					n += fi.Size()
				}
			}
			return nil
		})
		s.account(t.Name(), n)
	}
	return nil
}
