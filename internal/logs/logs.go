// Package logs keeps function logs in the data directory, one folder per
// log group and one file per stream, bounded in size. Writes go through a
// queue so the invoke path never waits on the disk.
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
)

// Config of the log store.
type Config struct {
	Dir string
	// MaxStreamBytes bounds one stream file; past it the file is rotated
	// once (stream.log.1), so a stream keeps at most twice this much.
	MaxStreamBytes int64
	Logger         *slog.Logger
}

// Store writes log records asynchronously.
type Store struct {
	cfg   Config
	queue chan entry
	done  chan struct{}
	// closed is set by Close; mu orders it with Append's sends, so that a
	// late Append drops its record instead of sending on a closed queue.
	mu     sync.RWMutex
	closed bool
	files  map[string]*stream // the writer goroutine's alone
}

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
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, err
	}
	s := &Store{cfg: cfg, queue: make(chan entry, 4096), done: make(chan struct{}), files: map[string]*stream{}}
	go s.run()
	return s, nil
}

// Append queues data for group/stream. When the queue is full the record is
// dropped and said so in lambdad's log rather than slowing invokes down.
func (s *Store) Append(group, streamName string, data []byte) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		s.cfg.Logger.Debug("function log after shutdown: record dropped", "group", group)
		return
	}
	select {
	case s.queue <- entry{group, streamName, data}:
	default:
		s.cfg.Logger.Warn("function log queue full: record dropped", "group", group)
	}
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

func (s *Store) run() {
	defer close(s.done)
	for e := range s.queue {
		s.write(e)
		if len(s.queue) == 0 {
			// Under load records batch up in the buffers; once the queue
			// is empty they go to the files.
			s.flush()
		}
	}
	s.flush()
	for _, st := range s.files {
		st.f.Close()
	}
}

func (s *Store) flush() {
	for _, st := range s.files {
		if st.w.Buffered() > 0 {
			st.w.Flush()
		}
	}
}

func (s *Store) write(e entry) {
	key := e.group + "\x00" + e.stream
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

// Close flushes queued records and closes the files.
func (s *Store) Close(ctx context.Context) error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.queue)
	}
	s.mu.Unlock()
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
