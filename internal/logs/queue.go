package logs

import (
	"log/slog"
	"sync"
	"time"
)

// appendQueue is what both stores do on the invoke path: an append is an
// enqueue, and a timer (soon when much is pending) has the writer take the
// batch. It holds at most maxPendingBytes; beyond, records are dropped with
// a warning rather than slow the invoke path down.
type appendQueue struct {
	mu      sync.Mutex
	pending []entry
	bytes   int
	armed   bool
	closed  bool
	timer   *time.Timer

	interval time.Duration
	now      func() time.Time
	log      *slog.Logger
}

// init makes the timer run flush, stopped until a record arrives.
func (q *appendQueue) init(flush func(), interval time.Duration, now func() time.Time, log *slog.Logger) {
	q.interval, q.now, q.log = interval, now, log
	q.timer = time.AfterFunc(time.Hour, flush)
	q.timer.Stop()
}

// add queues one invocation's output (see Store.AppendMarked).
func (q *appendQueue) add(group, stream string, data []byte, start time.Time, marks []Mark) {
	now := ms(q.now())
	st := now
	if !start.IsZero() {
		st = ms(start)
	}
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		q.log.Debug("function log after shutdown: record dropped", "group", group)
		return
	}
	if q.bytes+len(data) > maxPendingBytes {
		q.mu.Unlock()
		q.log.Warn("function log queue full: record dropped", "group", group)
		return
	}
	q.pending = append(q.pending, entry{group, stream, data, marks, st, now})
	q.bytes += len(data)
	switch {
	case q.bytes >= soonBytes:
		q.armed = true
		q.timer.Reset(0)
	case !q.armed:
		q.armed = true
		q.timer.Reset(q.interval)
	}
	q.mu.Unlock()
}

// take empties the queue.
func (q *appendQueue) take() []entry {
	q.mu.Lock()
	defer q.mu.Unlock()
	batch := q.pending
	q.pending, q.bytes, q.armed = nil, 0, false
	return batch
}

// close refuses later appends; it reports whether the queue was open.
func (q *appendQueue) close() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	was := q.closed
	q.closed = true
	return !was
}
