// Package logs keeps function logs in the data directory, one folder per
// log group and one file per stream, bounded in size. Appends are batched
// and written a short while later (FlushInterval), so the invoke path never
// waits on the disk nor wakes a writer per record; Flush makes everything
// appended so far readable, in order.
//
// A name too long for one path element (log groups may have 512
// characters, file names 255 bytes) is cut and suffixed with a hash of the
// whole name; the folder of such a group holds its real name in a file
// named .group.
package logs

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Config of the log store.
type Config struct {
	Dir string
	// MaxStreamBytes bounds one stream file; past it the file is rotated
	// once (stream.log.1), so a stream keeps at most twice this much.
	MaxStreamBytes int64
	// FlushInterval is how long an appended record may wait for others
	// before the batch is written (default 25ms). Logs are not an
	// acknowledged write: a reader that needs everything calls Flush.
	FlushInterval time.Duration
	Logger        *slog.Logger
}

// maxPendingBytes bounds what waits for the writer; past it records are
// dropped (and said so) rather than slowing invokes down.
const maxPendingBytes = 64 << 20

// soonBytes is how much waiting output makes the writer start at once.
const soonBytes = 1 << 20

// Store writes log records asynchronously.
type Store struct {
	cfg Config

	mu      sync.Mutex
	pending []entry // appended, not yet taken by a writer
	bytes   int     // of pending
	armed   bool    // timer will take pending
	closed  bool    // by Close: later appends are dropped
	timer   *time.Timer

	// wmu serialises writers (the timer's, Flush, Close): a writer takes
	// pending under wmu, so batches reach the files in the order appended.
	wmu   sync.Mutex
	spare []entry               // the last batch's slice, reused
	files map[streamKey]*stream // wmu's
}

type streamKey struct{ group, stream string }

type entry struct {
	group, stream string
	data          []byte
}

type stream struct {
	f    *os.File
	w    *bufio.Writer
	size int64
}

// Open starts the writer.
func Open(cfg Config) (*Store, error) {
	if cfg.MaxStreamBytes == 0 {
		cfg.MaxStreamBytes = 8 << 20
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = 25 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, err
	}
	s := &Store{cfg: cfg, files: map[streamKey]*stream{}}
	s.timer = time.AfterFunc(time.Hour, s.Flush)
	s.timer.Stop()
	return s, nil
}

// Append queues data for group/stream; the caller must not change data
// afterwards. When too much is waiting the record is dropped and said so in
// lambdad's log rather than slowing invokes down.
func (s *Store) Append(group, streamName string, data []byte) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.cfg.Logger.Debug("function log after shutdown: record dropped", "group", group)
		return
	}
	if s.bytes+len(data) > maxPendingBytes {
		s.mu.Unlock()
		s.cfg.Logger.Warn("function log queue full: record dropped", "group", group)
		return
	}
	s.pending = append(s.pending, entry{group, streamName, data})
	s.bytes += len(data)
	// One timer per batch, not a wake-up per record.
	switch {
	case s.bytes >= soonBytes:
		s.armed = true
		s.timer.Reset(0)
	case !s.armed:
		s.armed = true
		s.timer.Reset(s.cfg.FlushInterval)
	}
	s.mu.Unlock()
}

// Flush writes every record appended before it to the files, in order.
func (s *Store) Flush() {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.writePendingLocked()
}

// writePendingLocked takes what is pending and writes it; wmu held.
func (s *Store) writePendingLocked() {
	s.mu.Lock()
	batch := s.pending
	s.pending = s.spare[:0]
	s.bytes = 0
	s.armed = false
	s.mu.Unlock()
	if len(batch) == 0 {
		s.spare = batch
		return
	}
	for _, e := range batch {
		s.write(e)
	}
	for _, st := range s.files {
		if st.w.Buffered() > 0 {
			st.w.Flush()
		}
	}
	clear(batch) // the records' data may be collected
	s.spare = batch
}

// Path is the file of a stream.
func (s *Store) Path(group, streamName string) string {
	g, _ := element(strings.TrimPrefix(group, "/"))
	st, _ := element(streamName)
	return filepath.Join(s.cfg.Dir, g, st+".log")
}

// GroupFile names the file, in a group's folder, that holds the group's
// real name when the folder's name is cut.
const GroupFile = ".group"

// maxElement is the longest path element used: 255 bytes is the usual
// limit, and a stream's file may get ".log.1" appended.
const maxElement = 200

// element maps a name to one path element; cut reports that the name was
// too long and the element ends with a hash of it instead.
func element(name string) (elem string, cut bool) {
	elem = safe(name)
	if len(elem) <= maxElement {
		return elem, false
	}
	sum := sha256.Sum256([]byte(name))
	return elem[:maxElement-33] + "~" + hex.EncodeToString(sum[:16]), true
}

// unsafeChars are what may not reach a path element.
var unsafeChars = strings.NewReplacer("/", "_", "\\", "_", "..", "__", "\x00", "_")

// safe maps a group or stream name to one path element.
func safe(name string) string {
	out := unsafeChars.Replace(name)
	if out == "" || out == "." {
		out = "_"
	}
	return out
}

func (s *Store) write(e entry) {
	key := streamKey{e.group, e.stream}
	st := s.files[key]
	path := ""
	if st == nil {
		path = s.Path(e.group, e.stream)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			s.cfg.Logger.Warn("function log", "err", err)
			return
		}
		if _, cut := element(strings.TrimPrefix(e.group, "/")); cut {
			// Keep the real name next to the streams.
			name := filepath.Join(filepath.Dir(path), GroupFile)
			if _, err := os.Stat(name); err != nil {
				if err := os.WriteFile(name, []byte(e.group), 0o644); err != nil {
					s.cfg.Logger.Warn("function log", "err", err)
				}
			}
		}
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			s.cfg.Logger.Warn("function log", "err", err)
			return
		}
		fi, _ := f.Stat()
		st = &stream{f: f, w: bufio.NewWriterSize(f, 64<<10), size: fi.Size()}
		s.files[key] = st
	}
	if st.size+int64(len(e.data)) > s.cfg.MaxStreamBytes {
		path = s.Path(e.group, e.stream)
		st.w.Flush()
		st.f.Close()
		os.Rename(path, path+".1")
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
		if err != nil {
			delete(s.files, key)
			return
		}
		st.f, st.size = f, 0
		st.w.Reset(f)
	}
	n, _ := st.w.Write(e.data)
	st.size += int64(n)
}

// Close writes what is pending and closes the files; later appends are
// dropped.
func (s *Store) Close(ctx context.Context) error {
	s.mu.Lock()
	was := s.closed
	s.closed = true
	s.mu.Unlock()
	if was {
		return nil
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.wmu.Lock()
		defer s.wmu.Unlock()
		s.timer.Stop()
		s.writePendingLocked()
		for k, st := range s.files {
			st.f.Close()
			delete(s.files, k)
		}
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
