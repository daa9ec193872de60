// Package logs keeps function logs in the data directory for reading
// through the CloudWatch Logs API: one folder per log group, and per log
// stream a run of segment files holding its events (timestamp, ingestion
// time, message), with a small in-memory index (first and last timestamp
// and file offset of every block of events) so that a time-bounded read
// touches only the blocks that overlap it.
//
// Appends are batched and written a short while later (FlushInterval), so
// the invoke path never waits on the disk nor wakes a writer per record;
// readers Flush first, so they see everything appended before them.
//
// An appended log is split into events at '\n'; a '\r' inside a line
// separates the lines of one multi-line record (the bootstraps write a
// traceback so) and becomes '\n' in the event, as CloudWatch shows it.
package logs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Config of the log store.
type Config struct {
	Dir string
	// SegmentBytes is the size past which a stream's segment file is
	// closed and a new one started (default 4 MiB).
	SegmentBytes int64
	// MaxStreamBytes bounds what one stream keeps: past it its oldest
	// segments are deleted (default 64 MiB).
	MaxStreamBytes int64
	// MaxGroupBytes bounds what one log group keeps: past it the oldest
	// segments of its streams are deleted (0: no bound but MaxStreamBytes).
	MaxGroupBytes int64
	// Retention applies to groups without a retention policy (0: keep).
	Retention time.Duration
	// FlushInterval is how long an appended record may wait for others
	// before the batch is written (default 25ms).
	FlushInterval time.Duration
	Logger        *slog.Logger
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

// maxPendingBytes bounds what waits for the writer; past it records are
// dropped (and said so) rather than slowing invokes down.
const maxPendingBytes = 64 << 20

// soonBytes is how much waiting output makes the writer start at once.
const soonBytes = 1 << 20

// blockEvents is how many events one index block covers at most.
const blockEvents = 256

// MaxEventBytes is the largest message kept in one event (CloudWatch's
// limit is 256 KiB per event; longer ones are cut).
const MaxEventBytes = 256 << 10

// Store writes and reads function logs.
type Store struct {
	cfg Config

	q appendQueue

	// wmu serialises writers (the timer's, Flush, Close, sweeps).
	wmu sync.Mutex

	// imu guards the index: groups, their streams, segments and blocks.
	imu    sync.RWMutex
	groups map[string]*group
	subs   map[*Subscription]struct{}

	stop chan struct{}
	done chan struct{}
}

type entry struct {
	group, stream string
	data          []byte
	marks         []Mark
	start, at     int64 // ms: when the output began and when it was appended
}

// Event is one log event.
type Event struct {
	Group     string // set for subscribers only
	Stream    string
	Timestamp int64 // ms since the epoch
	Ingestion int64
	Message   string
	// Ord is the event's position in its stream (monotonic, survives
	// deletion of older segments).
	Ord int64
}

type group struct {
	dir  string
	meta groupMeta
	// streams by name
	streams map[string]*stream
}

type groupMeta struct {
	Name          string `json:"name"`
	Created       int64  `json:"created"`
	RetentionDays int32  `json:"retentionDays,omitempty"`
}

type stream struct {
	name       string
	elem       string
	created    int64
	lastIngest int64
	segs       []*segment
	nextSeq    int
	nextOrd    int64
	f          *os.File // the last segment's, open for appending
}

type segment struct {
	path   string
	seq    int
	size   int64
	blocks []block
}

type block struct {
	off, size    int64
	n            int
	minTs, maxTs int64
	ord          int64 // of the first event
}

// Open loads the index of what dir holds and starts the writer.
func Open(cfg Config) (*Store, error) {
	if cfg.SegmentBytes <= 0 {
		cfg.SegmentBytes = 4 << 20
	}
	if cfg.MaxStreamBytes <= 0 {
		cfg.MaxStreamBytes = 64 << 20
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = 25 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, err
	}
	s := &Store{cfg: cfg, groups: map[string]*group{}, subs: map[*Subscription]struct{}{},
		stop: make(chan struct{}), done: make(chan struct{})}
	if err := s.load(); err != nil {
		return nil, err
	}
	s.q.init(s.Flush, cfg.FlushInterval, cfg.Now, cfg.Logger)
	go s.sweeper()
	return s, nil
}

func ms(t time.Time) int64 { return t.UnixMilli() }

// Append queues data (one invocation's output) for group/stream; the caller
// must not change data afterwards. Lines without a timestamp of their own
// are stamped with the time of the append.
func (s *Store) Append(group, streamName string, data []byte) {
	s.AppendSince(group, streamName, data, time.Time{})
}

// AppendSince is Append for output that began at start: lines before the
// first that carries its own timestamp are stamped start, the last lines
// (END, REPORT) the time of the append.
func (s *Store) AppendSince(group, streamName string, data []byte, start time.Time) {
	s.AppendMarked(group, streamName, data, start, nil)
}

// AppendMarked is AppendSince for output whose bytes' arrival times are
// known (marks, in order of Off): a line without a timestamp of its own
// takes the time of the last mark at or before its first byte. The caller
// must not change marks afterwards.
func (s *Store) AppendMarked(group, streamName string, data []byte, start time.Time, marks []Mark) {
	s.q.add(group, streamName, data, start, marks)
}

// Flush writes every record appended before it, in order, and makes it
// readable.
func (s *Store) Flush() {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.writePendingLocked()
}

func (s *Store) writePendingLocked() {
	batch := s.q.take()
	if len(batch) == 0 {
		return
	}
	var live []Event
	for _, e := range batch {
		evs := SplitMarked(e.data, e.marks, e.start, e.at)
		if len(evs) == 0 {
			continue
		}
		s.write(e.group, e.stream, evs, e.at)
		if s.hasSubs() {
			for i := range evs {
				evs[i].Group, evs[i].Stream = e.group, e.stream
				live = append(live, evs[i])
			}
		}
	}
	if len(live) > 0 {
		s.publish(live)
	}
}

// Split cuts one invocation's output into events. Lines carrying a
// timestamp (the runtimes' "[LEVEL]\t<time>\t..." and "<time>\t..." text
// records, JSON records' "timestamp"/"time") keep it; others take the
// last one seen, starting at start; the END and REPORT lines take at.
func Split(data []byte, start, at int64) []Event { return SplitMarked(data, nil, start, at) }

// Mark says when the output from byte Off on arrived (ms since the epoch).
type Mark struct {
	Off int
	At  int64
}

// SplitMarked is Split for output whose arrival times marks give: a line
// without a timestamp of its own takes the time of the last mark at or
// before its first byte (the time the runtime wrote it), one before every
// mark (a platform line) the last time seen; START never precedes start.
func SplitMarked(data []byte, marks []Mark, start, at int64) []Event {
	evs := make([]Event, 0, bytes.Count(data, []byte{'\n'})+1)
	last := start
	off, mi, marked := 0, 0, int64(-1)
	for len(data) > 0 {
		for mi < len(marks) && marks[mi].Off <= off {
			marked = min(marks[mi].At, at)
			mi++
		}
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i+1], data[i+1:]
		} else {
			data = nil
		}
		off += len(line)
		if len(line) == 0 || line[0] == '\n' {
			continue
		}
		// One string per event, its newline included (msg is it without).
		var full string
		switch {
		case bytes.IndexByte(line, '\r') >= 0:
			full = strings.ReplaceAll(strings.TrimRight(strings.TrimSuffix(string(line), "\n"), "\r"), "\r", "\n") + "\n"
		case line[len(line)-1] == '\n':
			full = string(line)
		default:
			full = string(line) + "\n"
		}
		msg := full[:len(full)-1]
		if len(msg) > MaxEventBytes {
			msg = msg[:MaxEventBytes]
			full = msg + "\n"
		}
		ts := last
		if marked >= 0 {
			ts = marked
		}
		if t, ok := recordTime(msg); ok && t <= at && t >= start-recordSlack {
			// Only a time within the invocation is the record's own:
			// printed text that merely begins with a date is not.
			ts = t
		} else if strings.HasPrefix(msg, "END RequestId: ") || strings.HasPrefix(msg, "REPORT RequestId: ") {
			ts = max(at, last)
		} else if strings.HasPrefix(msg, "START RequestId: ") {
			// Output kept from before the invocation (marked when it
			// came) precedes it; START is when the invocation began.
			ts = max(start, last)
		}
		last = ts
		evs = append(evs, Event{Timestamp: ts, Ingestion: at, Message: full})
	}
	return evs
}

// recordSlack is how long before its invocation's start a record may be
// stamped: output of the init phase is kept with the first invocation.
const recordSlack = 15 * 60 * 1000

// recordTime finds the timestamp a record carries.
func recordTime(msg string) (int64, bool) {
	if strings.HasPrefix(msg, "{") {
		for _, key := range []string{`"timestamp":"`, `"time":"`} {
			if i := strings.Index(msg, key); i >= 0 && i < 64 {
				if t, ok := parseTime(msg[i+len(key):]); ok {
					return t, true
				}
			}
		}
		return 0, false
	}
	s := msg
	if strings.HasPrefix(s, "[") {
		if i := strings.Index(s, "]\t"); i > 0 && i < 12 {
			s = s[i+2:]
		}
	}
	return parseTime(s)
}

func parseTime(s string) (int64, bool) {
	if len(s) < 20 || s[0] != '2' || s[4] != '-' {
		return 0, false
	}
	end := strings.IndexAny(s, "\t\" ")
	if end < 0 {
		end = len(s)
	}
	t, err := time.Parse(time.RFC3339Nano, s[:end])
	if err != nil {
		return 0, false
	}
	return ms(t), true
}

// Dir names: the real names are in the files; a name is mapped to letters,
// digits, '.', '-' and '_' and, when that changed it, suffixed with a hash
// of the real name, so names are shell-friendly and distinct.
func element(name string) string {
	var b strings.Builder
	changed := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
			b.WriteByte(c)
		case c == '.' && i > 0:
			b.WriteByte(c)
		default:
			if c != '/' || i > 0 {
				b.WriteByte('_')
			}
			changed = true
		}
	}
	out := b.String()
	if len(out) > 150 {
		out, changed = out[:150], true
	}
	if changed {
		sum := sha256.Sum256([]byte(name))
		out += "~" + hex.EncodeToString(sum[:4])
	}
	return out
}

const metaFile = "group.json"

var segMagic = []byte("LDLOGS1\n")

// groupLocked returns (creating if asked) the group; imu held for writing.
func (s *Store) groupLocked(name string, create bool) (*group, bool, error) {
	if g := s.groups[name]; g != nil {
		return g, false, nil
	}
	if !create {
		return nil, false, nil
	}
	g := &group{dir: filepath.Join(s.cfg.Dir, element(name)), streams: map[string]*stream{},
		meta: groupMeta{Name: name, Created: ms(s.cfg.Now())}}
	if err := os.MkdirAll(g.dir, 0o755); err != nil {
		return nil, false, err
	}
	if err := g.saveMeta(); err != nil {
		return nil, false, err
	}
	s.groups[name] = g
	return g, true, nil
}

func (g *group) saveMeta() error {
	b, _ := json.Marshal(g.meta)
	tmp := filepath.Join(g.dir, metaFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(g.dir, metaFile))
}

func encodeEvent(b []byte, e Event) []byte {
	b = binary.LittleEndian.AppendUint64(b, uint64(e.Timestamp))
	b = binary.LittleEndian.AppendUint64(b, uint64(e.Ingestion))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(e.Message)))
	return append(b, e.Message...)
}

const eventHeader = 20

// write appends evs to the stream's segment and indexes them; wmu held.
func (s *Store) write(groupName, streamName string, evs []Event, at int64) {
	s.imu.Lock()
	defer s.imu.Unlock()
	g, _, err := s.groupLocked(groupName, true)
	if err != nil {
		s.cfg.Logger.Warn("function log", "err", err)
		return
	}
	st := g.streams[streamName]
	if st == nil {
		st = &stream{name: streamName, elem: element(streamName), created: at}
		g.streams[streamName] = st
	}
	var buf []byte
	for _, e := range evs {
		seg := st.current()
		if seg == nil || seg.size >= s.cfg.SegmentBytes {
			if len(buf) > 0 {
				s.writeOut(st, buf)
				buf = buf[:0]
			}
			if seg, err = s.newSegment(g, st); err != nil {
				s.cfg.Logger.Warn("function log", "err", err)
				return
			}
		}
		n := int64(eventHeader + len(e.Message))
		bl := seg.lastBlock()
		if bl == nil || bl.n >= blockEvents {
			seg.blocks = append(seg.blocks, block{off: seg.size, minTs: e.Timestamp, maxTs: e.Timestamp, ord: st.nextOrd})
			bl = &seg.blocks[len(seg.blocks)-1]
		}
		bl.n++
		bl.size += n
		bl.minTs = min(bl.minTs, e.Timestamp)
		bl.maxTs = max(bl.maxTs, e.Timestamp)
		seg.size += n
		st.nextOrd++
		buf = encodeEvent(buf, e)
	}
	if len(buf) > 0 {
		s.writeOut(st, buf)
	}
	st.lastIngest = at
	s.boundLocked(g, st)
}

func (st *stream) current() *segment {
	if len(st.segs) == 0 || st.f == nil {
		return nil
	}
	return st.segs[len(st.segs)-1]
}

func (seg *segment) lastBlock() *block {
	if len(seg.blocks) == 0 {
		return nil
	}
	return &seg.blocks[len(seg.blocks)-1]
}

func (s *Store) writeOut(st *stream, buf []byte) {
	if _, err := st.f.Write(buf); err != nil {
		s.cfg.Logger.Warn("function log", "err", err)
	}
}

func (s *Store) newSegment(g *group, st *stream) (*segment, error) {
	if st.f != nil {
		st.f.Close()
		st.f = nil
	}
	path := filepath.Join(g.dir, st.elem+"."+strconv.Itoa(st.nextSeq)+".seg")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	hdr := append([]byte(nil), segMagic...)
	hdr = binary.LittleEndian.AppendUint64(hdr, uint64(st.nextOrd))
	hdr = binary.LittleEndian.AppendUint64(hdr, uint64(st.created))
	hdr = binary.LittleEndian.AppendUint32(hdr, uint32(len(st.name)))
	hdr = append(hdr, st.name...)
	if _, err := f.Write(hdr); err != nil {
		f.Close()
		return nil, err
	}
	seg := &segment{path: path, seq: st.nextSeq, size: int64(len(hdr))}
	st.nextSeq++
	st.segs = append(st.segs, seg)
	st.f = f
	return seg, nil
}

// boundLocked deletes the oldest segments of st past MaxStreamBytes and of
// g past MaxGroupBytes; imu held.
func (s *Store) boundLocked(g *group, st *stream) {
	for st.bytes() > s.cfg.MaxStreamBytes && len(st.segs) > 1 {
		st.dropOldest()
	}
	if s.cfg.MaxGroupBytes <= 0 {
		return
	}
	for g.bytes() > s.cfg.MaxGroupBytes {
		var oldest *stream
		var ts int64
		for _, o := range g.streams {
			if len(o.segs) == 0 || (len(o.segs) == 1 && o.f != nil) {
				continue
			}
			if t := o.segs[0].maxTs(); oldest == nil || t < ts {
				oldest, ts = o, t
			}
		}
		if oldest == nil {
			return
		}
		oldest.dropOldest()
	}
}

func (st *stream) bytes() int64 {
	var n int64
	for _, seg := range st.segs {
		n += seg.size
	}
	return n
}

func (g *group) bytes() int64 {
	var n int64
	for _, st := range g.streams {
		n += st.bytes()
	}
	return n
}

func (seg *segment) maxTs() int64 {
	var t int64
	for _, b := range seg.blocks {
		t = max(t, b.maxTs)
	}
	return t
}

func (seg *segment) minTs() int64 {
	t := int64(-1)
	for _, b := range seg.blocks {
		if t < 0 || b.minTs < t {
			t = b.minTs
		}
	}
	return t
}

func (st *stream) dropOldest() {
	seg := st.segs[0]
	if len(st.segs) == 1 && st.f != nil {
		st.f.Close()
		st.f = nil
	}
	os.Remove(seg.path)
	st.segs = slices.Delete(st.segs, 0, 1)
}

// Close writes what is pending and closes the files; later appends are
// dropped.
func (s *Store) Close(ctx context.Context) error {
	if !s.q.close() {
		return nil
	}
	close(s.stop)
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-s.done
		s.wmu.Lock()
		defer s.wmu.Unlock()
		s.q.timer.Stop()
		s.writePendingLocked()
		s.imu.Lock()
		for _, g := range s.groups {
			for _, st := range g.streams {
				if st.f != nil {
					st.f.Close()
					st.f = nil
				}
			}
		}
		for sub := range s.subs {
			close(sub.C)
			delete(s.subs, sub)
		}
		s.imu.Unlock()
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Key is how the store names a log group of an account in a region: log
// groups are, as on AWS, an account's and a region's own. Readers strip
// KeyPrefix.
func Key(account, region, name string) string { return KeyPrefix(account, region) + name }

// KeyPrefix begins the keys of an account's groups in a region.
func KeyPrefix(account, region string) string { return account + ":" + region + ":" }
