package logs

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

// ErrNoGroup and ErrNoStream: the named group or stream does not exist.
var (
	ErrNoGroup     = errors.New("logs: no such log group")
	ErrNoStream    = errors.New("logs: no such log stream")
	ErrGroupExists = errors.New("logs: log group exists")
)

// GroupInfo describes a log group.
type GroupInfo struct {
	Name          string
	Created       int64
	RetentionDays int32
	StoredBytes   int64
}

// StreamInfo describes a log stream.
type StreamInfo struct {
	Name                  string
	Created               int64
	FirstEvent, LastEvent int64 // 0 when it holds none
	LastIngestion         int64
	StoredBytes           int64
}

// load rebuilds the index from the segment files in Dir.
func (s *Store) load() error {
	dirs, err := os.ReadDir(s.cfg.Dir)
	if err != nil {
		return err
	}
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		dir := filepath.Join(s.cfg.Dir, d.Name())
		raw, err := os.ReadFile(filepath.Join(dir, metaFile))
		if err != nil {
			continue // not a group of this format: left alone
		}
		g := &group{dir: dir, streams: map[string]*stream{}}
		if json.Unmarshal(raw, &g.meta) != nil || g.meta.Name == "" {
			continue
		}
		files, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
		for _, path := range files {
			seg, name, base, created, err := scanSegment(path)
			if err != nil {
				s.cfg.Logger.Warn("function log segment unreadable: skipped", "path", path, "err", err)
				continue
			}
			st := g.streams[name]
			if st == nil {
				st = &stream{name: name, elem: element(name), created: created}
				g.streams[name] = st
			}
			st.segs = append(st.segs, seg)
			n := int64(0)
			for _, b := range seg.blocks {
				n += int64(b.n)
			}
			st.nextOrd = max(st.nextOrd, base+n)
			st.nextSeq = max(st.nextSeq, seg.seq+1)
			if fi, err := os.Stat(path); err == nil {
				st.lastIngest = max(st.lastIngest, fi.ModTime().UnixMilli())
			}
		}
		for _, st := range g.streams {
			sort.Slice(st.segs, func(i, j int) bool { return st.segs[i].seq < st.segs[j].seq })
		}
		s.groups[g.meta.Name] = g
	}
	return nil
}

// scanSegment reads a segment's header and indexes its events; a torn last
// event (a crash mid-write) ends it.
func scanSegment(path string) (seg *segment, name string, base, created int64, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, "", 0, 0, err
	}
	h := len(segMagic)
	if len(data) < h+20 || string(data[:h]) != string(segMagic) {
		return nil, "", 0, 0, errors.New("not a log segment")
	}
	base = int64(binary.LittleEndian.Uint64(data[h:]))
	created = int64(binary.LittleEndian.Uint64(data[h+8:]))
	nl := int(binary.LittleEndian.Uint32(data[h+16:]))
	off := h + 20 + nl
	if off > len(data) {
		return nil, "", 0, 0, errors.New("torn header")
	}
	name = string(data[h+20 : off])
	seq := 0
	if parts := strings.Split(filepath.Base(path), "."); len(parts) >= 3 {
		for _, c := range parts[len(parts)-2] {
			seq = seq*10 + int(c-'0')
		}
	}
	seg = &segment{path: path, seq: seq}
	ord := base
	for off+eventHeader <= len(data) {
		ts := int64(binary.LittleEndian.Uint64(data[off:]))
		n := int64(eventHeader) + int64(binary.LittleEndian.Uint32(data[off+16:]))
		if int64(off)+n > int64(len(data)) {
			break
		}
		bl := seg.lastBlock()
		if bl == nil || bl.n >= blockEvents {
			seg.blocks = append(seg.blocks, block{off: int64(off), minTs: ts, maxTs: ts, ord: ord})
			bl = &seg.blocks[len(seg.blocks)-1]
		}
		bl.n++
		bl.size += n
		bl.minTs, bl.maxTs = min(bl.minTs, ts), max(bl.maxTs, ts)
		off += int(n)
		ord++
	}
	seg.size = int64(off)
	return seg, name, base, created, nil
}

// cutoff is the oldest timestamp g keeps (0: all).
func (s *Store) cutoff(g *group) int64 {
	d := s.cfg.Retention
	if g.meta.RetentionDays > 0 {
		d = time.Duration(g.meta.RetentionDays) * 24 * time.Hour
	}
	if d <= 0 {
		return 0
	}
	return ms(s.cfg.Now().Add(-d))
}

// sweeper deletes segments whose events are all past their retention.
func (s *Store) sweeper() {
	defer close(s.done)
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.Sweep()
		}
	}
}

// Sweep deletes every segment whose events are all older than their
// group's retention.
func (s *Store) Sweep() {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.imu.Lock()
	defer s.imu.Unlock()
	for _, g := range s.groups {
		cut := s.cutoff(g)
		if cut == 0 {
			continue
		}
		for name, st := range g.streams {
			for len(st.segs) > 0 && st.segs[0].maxTs() < cut && len(st.segs[0].blocks) > 0 {
				st.dropOldest()
			}
			if len(st.segs) == 0 && st.lastIngest < cut {
				delete(g.streams, name)
			}
		}
	}
}

// CreateGroup makes an empty group.
func (s *Store) CreateGroup(name string) error {
	s.Flush()
	s.imu.Lock()
	defer s.imu.Unlock()
	_, created, err := s.groupLocked(name, true)
	if err != nil {
		return err
	}
	if !created {
		return ErrGroupExists
	}
	return nil
}

// DeleteGroup removes a group and its events.
func (s *Store) DeleteGroup(name string) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.writePendingLocked()
	s.imu.Lock()
	defer s.imu.Unlock()
	g := s.groups[name]
	if g == nil {
		return ErrNoGroup
	}
	for _, st := range g.streams {
		if st.f != nil {
			st.f.Close()
		}
	}
	delete(s.groups, name)
	return os.RemoveAll(g.dir)
}

// SetRetention sets (days > 0) or removes (0) a group's retention policy.
func (s *Store) SetRetention(name string, days int32) error {
	s.Flush()
	s.imu.Lock()
	g := s.groups[name]
	if g == nil {
		s.imu.Unlock()
		return ErrNoGroup
	}
	g.meta.RetentionDays = days
	err := g.saveMeta()
	s.imu.Unlock()
	if err == nil {
		s.Sweep()
	}
	return err
}

// Groups lists the groups, sorted by name.
func (s *Store) Groups() []GroupInfo {
	s.Flush()
	s.imu.RLock()
	defer s.imu.RUnlock()
	out := make([]GroupInfo, 0, len(s.groups))
	for _, g := range s.groups {
		out = append(out, GroupInfo{Name: g.meta.Name, Created: g.meta.Created, RetentionDays: g.meta.RetentionDays, StoredBytes: g.bytes()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Streams lists a group's streams, sorted by name.
func (s *Store) Streams(groupName string) ([]StreamInfo, error) {
	s.Flush()
	s.imu.RLock()
	defer s.imu.RUnlock()
	g := s.groups[groupName]
	if g == nil {
		return nil, ErrNoGroup
	}
	cut := s.cutoff(g)
	out := make([]StreamInfo, 0, len(g.streams))
	for _, st := range g.streams {
		si := StreamInfo{Name: st.name, Created: st.created, LastIngestion: st.lastIngest, StoredBytes: st.bytes()}
		for _, seg := range st.segs {
			if len(seg.blocks) == 0 {
				continue
			}
			if t := seg.minTs(); si.FirstEvent == 0 || t < si.FirstEvent {
				si.FirstEvent = max(t, cut)
			}
			si.LastEvent = max(si.LastEvent, seg.maxTs())
		}
		if si.LastEvent < cut {
			si.FirstEvent, si.LastEvent = 0, 0
		}
		out = append(out, si)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Query selects events of one group.
type Query struct {
	// Streams, when not empty, are the only streams read; Prefix, when
	// set, selects streams by name prefix.
	Streams []string
	Prefix  string
	// Start and End bound timestamps: Start <= t < End (End 0: none).
	Start, End int64
	// Match, when set, keeps only the events it accepts.
	Match func(msg string) bool

	// byTime reads blocks in the order of their first timestamps (across
	// streams), asking next before each whether to go on.
	byTime bool
	next   func(minTs int64) bool
}

// span is one block to read.
type span struct {
	path   string
	stream string
	bl     block
}

// Scan calls fn with every event q selects, stream by stream and in each
// in order, reading only the blocks whose time range overlaps q's; fn
// returns false to stop. Unknown streams in q.Streams are ErrNoStream.
func (s *Store) Scan(groupName string, q Query, fn func(Event) bool) error {
	s.Flush()
	s.imu.RLock()
	g := s.groups[groupName]
	if g == nil {
		s.imu.RUnlock()
		return ErrNoGroup
	}
	start := max(q.Start, s.cutoff(g))
	var spans []span
	add := func(st *stream) {
		for _, seg := range st.segs {
			for _, b := range seg.blocks {
				if b.maxTs < start || (q.End > 0 && b.minTs >= q.End) {
					continue
				}
				spans = append(spans, span{seg.path, st.name, b})
			}
		}
	}
	if len(q.Streams) > 0 {
		for _, name := range q.Streams {
			st := g.streams[name]
			if st == nil {
				s.imu.RUnlock()
				return ErrNoStream
			}
			add(st)
		}
	} else {
		names := make([]string, 0, len(g.streams))
		for name := range g.streams {
			if strings.HasPrefix(name, q.Prefix) {
				names = append(names, name)
			}
		}
		slices.Sort(names)
		for _, name := range names {
			add(g.streams[name])
		}
	}
	s.imu.RUnlock()
	if q.byTime {
		slices.SortStableFunc(spans, func(a, b span) int { return cmpInt(a.bl.minTs, b.bl.minTs) })
	}

	files := map[string]*os.File{}
	defer func() {
		for _, f := range files {
			if f != nil {
				f.Close()
			}
		}
	}()
	var buf []byte
	for _, sp := range spans {
		if q.next != nil && !q.next(sp.bl.minTs) {
			return nil
		}
		f, seen := files[sp.path]
		if !seen {
			f, _ = os.Open(sp.path) // nil when deleted meanwhile (retention, bounds)
			files[sp.path] = f
		}
		if f == nil {
			continue
		}
		if int64(cap(buf)) < sp.bl.size {
			buf = make([]byte, sp.bl.size)
		}
		buf = buf[:sp.bl.size]
		if _, err := f.ReadAt(buf, sp.bl.off); err != nil && err != io.EOF {
			continue
		}
		off := 0
		for i := 0; i < sp.bl.n && off+eventHeader <= len(buf); i++ {
			ts := int64(binary.LittleEndian.Uint64(buf[off:]))
			ing := int64(binary.LittleEndian.Uint64(buf[off+8:]))
			n := int(binary.LittleEndian.Uint32(buf[off+16:]))
			if off+eventHeader+n > len(buf) {
				break
			}
			msg := buf[off+eventHeader : off+eventHeader+n]
			off += eventHeader + n
			if ts < start || (q.End > 0 && ts >= q.End) {
				continue
			}
			m := string(msg)
			if q.Match != nil && !q.Match(m) {
				continue
			}
			if !fn(Event{Stream: sp.stream, Timestamp: ts, Ingestion: ing, Message: m, Ord: sp.bl.ord + int64(i)}) {
				return nil
			}
		}
	}
	return nil
}

// Subscription receives events as they are written (live tail).
type Subscription struct {
	C      chan []Event
	groups map[string]bool
}

// Subscribe starts receiving the events written to groups; Unsubscribe
// ends it. A subscriber too slow to keep up misses events.
func (s *Store) Subscribe(groups []string) *Subscription {
	sub := &Subscription{C: make(chan []Event, 64), groups: map[string]bool{}}
	for _, g := range groups {
		sub.groups[g] = true
	}
	s.imu.Lock()
	s.subs[sub] = struct{}{}
	s.imu.Unlock()
	return sub
}

// Unsubscribe ends sub.
func (s *Store) Unsubscribe(sub *Subscription) {
	s.imu.Lock()
	if _, ok := s.subs[sub]; ok {
		delete(s.subs, sub)
		close(sub.C)
	}
	s.imu.Unlock()
}

func (s *Store) hasSubs() bool {
	s.imu.RLock()
	defer s.imu.RUnlock()
	return len(s.subs) > 0
}

// publish sends each subscriber the events of its groups.
func (s *Store) publish(evs []Event) {
	s.imu.RLock()
	defer s.imu.RUnlock()
	for sub := range s.subs {
		sub.offer(evs)
	}
}

// offer sends sub the events of its groups, unless it is still busy with
// the last ones (a live tail skips rather than slows the writer).
func (sub *Subscription) offer(evs []Event) {
	var mine []Event
	for _, e := range evs {
		if sub.groups[e.Group] {
			mine = append(mine, e)
		}
	}
	if len(mine) == 0 {
		return
	}
	select {
	case sub.C <- mine:
	default:
	}
}

// GroupExists reports whether name is a group.
func (s *Store) GroupExists(name string) bool {
	s.imu.RLock()
	defer s.imu.RUnlock()
	return s.groups[name] != nil
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
