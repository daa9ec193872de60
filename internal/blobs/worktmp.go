package blobs

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Several processes may share one directory (the nodes of a cluster
// without S3 mount one blobs/). Each works in a directory of its own under
// tmp/, tmp/<id>/, which it holds with an exclusive lock on tmp/<id>.lock
// for as long as it runs; the lock goes with the process, however it
// ends. Open removes the work of processes that no longer hold their lock,
// and anything else in tmp/ that no lock guards (what a crash of a version
// without work directories left), never a live process's work.

const lockSuffix = ".lock"

// claimWork sweeps root (tmp/) and makes a locked work directory in it.
func (s *Store) claimWork(root string) error {
	if err := s.sweep(root); err != nil {
		return err
	}
	for {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return fmt.Errorf("blobs: %w", err)
		}
		id := hex.EncodeToString(b[:])
		lockPath := filepath.Join(root, id+lockSuffix)
		f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("blobs: %w", err)
		}
		if ok, err := tryLock(f); err != nil || !ok {
			f.Close()
			return fmt.Errorf("blobs: lock %s: %v", lockPath, err)
		}
		// Another process's sweep may have taken the file for a dead one's
		// between its creation and the lock, and removed it: then the lock
		// guards nothing, and this takes another name.
		if !samePath(f, lockPath) {
			f.Close()
			continue
		}
		work := filepath.Join(root, id)
		if err := os.Mkdir(work, 0o755); err != nil {
			f.Close()
			return fmt.Errorf("blobs: %w", err)
		}
		s.tmp, s.workLock = work, f
		return nil
	}
}

// samePath says whether the file at path is still f.
func samePath(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Stat(path)
	return err == nil && os.SameFile(a, b)
}

// sweep removes from root everything no live process holds: the work
// directories of processes whose lock is free, and entries with no lock.
func (s *Store) sweep(root string) error {
	ents, err := os.ReadDir(root)
	if err != nil {
		return fmt.Errorf("blobs: sweep: %w", err)
	}
	names := make(map[string]bool, len(ents))
	for _, e := range ents {
		names[e.Name()] = true
	}
	removed := 0
	for _, e := range ents {
		name := e.Name()
		id, isLock := strings.CutSuffix(name, lockSuffix)
		switch {
		case isLock:
			gone, err := s.sweepDead(root, id)
			if err != nil {
				return err
			}
			if gone {
				removed++
			}
		case names[name+lockSuffix]:
			// Guarded: its lock entry decides.
		default:
			if err := os.RemoveAll(filepath.Join(root, name)); err != nil {
				return fmt.Errorf("blobs: sweep: %w", err)
			}
			removed++
		}
	}
	if removed > 0 {
		s.log.Info("removed leftovers of an interrupted run", "dir", root, "count", removed)
	}
	return nil
}

// sweepDead removes root/id and its lock when no process holds the lock.
func (s *Store) sweepDead(root, id string) (bool, error) {
	lockPath := filepath.Join(root, id+lockSuffix)
	f, err := os.OpenFile(lockPath, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil // swept by another process meanwhile
	}
	if err != nil {
		return false, fmt.Errorf("blobs: sweep: %w", err)
	}
	defer f.Close()
	ok, err := tryLock(f)
	if err != nil {
		return false, fmt.Errorf("blobs: sweep: %w", err)
	}
	if !ok {
		return false, nil // a live process's
	}
	// Its work first: a lock without a directory is swept the same way.
	if err := os.RemoveAll(filepath.Join(root, id)); err != nil {
		return false, fmt.Errorf("blobs: sweep: %w", err)
	}
	if err := os.Remove(lockPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("blobs: sweep: %w", err)
	}
	return true, nil
}

// Close removes this Store's work directory and gives up its lock. Work
// still in progress fails; call it once nothing uses the Store.
func (s *Store) Close() error {
	if s.workLock == nil {
		return nil
	}
	err := os.RemoveAll(s.tmp)
	if err == nil {
		err = os.Remove(s.workLock.Name())
	}
	if cerr := s.workLock.Close(); err == nil {
		err = cerr
	}
	s.workLock = nil
	return err
}
