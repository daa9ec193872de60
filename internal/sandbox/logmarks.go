package sandbox

import (
	"time"

	"github.com/lambdad/lambdad/internal/logs"
)

// Each log keeps marks of when its output arrived (Result.LogMarks), so
// that a line without a timestamp of its own (a plain print) is stamped
// when the runtime wrote it, as on AWS. A mark is added only when the
// millisecond changes; a quiet invocation has none.

// markSlab is how many marks one allocation holds: the marks of
// successive invocations share it, so a warm invoke that prints does not
// allocate for its marks.
const markSlab = 64

// stampRead notes the time output is read from the runtime; logMu held.
func (e *env) stampRead() { e.readAt = time.Now().UnixMilli() }

// addMark notes that the output from off on in ms arrived at e.readAt.
func (e *env) addMark(ms *[]logs.Mark, off int) {
	m := *ms
	if n := len(m); n > 0 && m[n-1].At == e.readAt {
		return
	}
	if len(m) == cap(m) {
		grown := make([]logs.Mark, len(m), max(markSlab, 2*len(m)))
		copy(grown, m)
		m = grown
	}
	*ms = append(m, logs.Mark{Off: off, At: e.readAt})
}

// takeMarks hands over the current log's marks: capped, so that the next
// log's, appended behind them in the same slab, never overwrite them.
func (e *env) takeMarks() []logs.Mark {
	m := e.marks
	if len(m) == 0 {
		return nil
	}
	e.marks = m[len(m):]
	return m[:len(m):len(m)]
}

// shiftMarks moves marks by n bytes (output put behind n bytes of START).
func shiftMarks(marks []logs.Mark, n int) {
	for i := range marks {
		marks[i].Off += n
	}
}
