// Package durable keeps lambdad's durable executions (docs/durable.md):
// their records, operations, history, checkpoint tokens, callbacks and
// timers, each change in one store transaction, and the one scheduler over
// the persistent due-time index. It is pure domain: the API layer and the
// invoker call it and learn from its answers which executions to invoke.
package durable

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/lambdad/lambdad/internal/store"
)

// The due-time index keeps every timer of every execution in the store, in
// due order, so that one scheduler can sleep until the earliest and 10,000
// waiting executions cost keys in the file rather than goroutines or memory.
// It is written in the transaction of the change that sets a timer (a wait's
// start, a callback's heartbeat), so a timer is exactly as durable as that
// change.
const (
	// bDue orders timers: "<due unix nanos, 20 digits>/<exec>/<kind>". Zero
	// padding makes byte order time order.
	bDue = "durable-due"
	// bDueBy finds a timer's bDue key from "<exec>/<kind>" (its value is
	// the key's time part), to move or remove it without knowing when it
	// was due.
	bDueBy = "durable-due-by"
)

// dueDigits is the width of the time part of a bDue key: int64 nanoseconds
// need at most 19 digits.
const dueDigits = 20

// Timer is one thing due at a time for an execution.
type Timer struct {
	// Exec is the execution's id; it must not contain "/".
	Exec string
	// Kind says what is due, unique within the execution, e.g.
	// "wait/<operation id>" or "timeout"; it may contain "/".
	Kind string
	// At is when it is due. Times before 1970 are due at once.
	At time.Time
}

var errTimer = errors.New("durable: a timer needs an execution id without '/' and a kind")

func timerID(exec, kind string) (string, error) {
	if exec == "" || kind == "" || strings.Contains(exec, "/") {
		return "", errTimer
	}
	return exec + "/" + kind, nil
}

// latest is the last time UnixNano can represent (in 2262).
var latest = time.Unix(0, math.MaxInt64)

// nanos is at as Unix nanoseconds, clamped to what a key can hold.
func nanos(at time.Time) int64 {
	switch {
	case at.Before(time.Unix(0, 0)):
		return 0
	case at.After(latest):
		return math.MaxInt64
	}
	return at.UnixNano()
}

func dueKey(at time.Time, id string) string {
	return fmt.Sprintf("%0*d/%s", dueDigits, nanos(at), id)
}

// parseDue reads a bDue key back into a Timer.
func parseDue(key string) (Timer, bool) {
	if len(key) < dueDigits+1 || key[dueDigits] != '/' {
		return Timer{}, false
	}
	n, err := strconv.ParseInt(key[:dueDigits], 10, 64)
	if err != nil {
		return Timer{}, false
	}
	exec, kind, ok := strings.Cut(key[dueDigits+1:], "/")
	if !ok || exec == "" || kind == "" {
		return Timer{}, false
	}
	return Timer{Exec: exec, Kind: kind, At: time.Unix(0, n).UTC()}, true
}

// Schedule sets the timer (t.Exec, t.Kind) to t.At, moving it if it was set.
func Schedule(tx store.Tx, t Timer) error {
	id, err := timerID(t.Exec, t.Kind)
	if err != nil {
		return err
	}
	if err := cancel(tx, id); err != nil {
		return err
	}
	key := dueKey(t.At, id)
	if err := tx.Put(bDue, key, []byte{}); err != nil {
		return err
	}
	return tx.Put(bDueBy, id, []byte(key[:dueDigits])) // the time: "<time>/"+id is the bDue key
}

// Cancel removes the timer (exec, kind); one that is not set is no error.
func Cancel(tx store.Tx, exec, kind string) error {
	id, err := timerID(exec, kind)
	if err != nil {
		return err
	}
	return cancel(tx, id)
}

func cancel(tx store.Tx, id string) error {
	old := tx.Get(bDueBy, id)
	if old == nil {
		return nil
	}
	if err := tx.Delete(bDue, string(old)+"/"+id); err != nil {
		return err
	}
	return tx.Delete(bDueBy, id)
}

// CancelAll removes every timer of exec (when it ends or is purged).
func CancelAll(tx store.Tx, exec string) error {
	if exec == "" || strings.Contains(exec, "/") {
		return errTimer
	}
	var keys []string
	if err := tx.Scan(bDueBy, exec+"/", "", func(id string, _ []byte) bool {
		keys = append(keys, id)
		return true
	}); err != nil {
		return err
	}
	for _, id := range keys {
		if err := cancel(tx, id); err != nil {
			return err
		}
	}
	return nil
}

// Next is the earliest timer; ok is false when none is set.
func Next(tx store.Tx) (Timer, bool, error) {
	first, found := "", false
	if err := tx.Scan(bDue, "", "", func(k string, _ []byte) bool {
		first, found = k, true
		return false
	}); err != nil || !found {
		return Timer{}, false, err
	}
	t, ok := parseDue(first)
	if !ok {
		return Timer{}, false, fmt.Errorf("durable: bad due key %q", first)
	}
	return t, true, nil
}

// Due returns up to n timers due at or before now, earliest first (ties in
// execution and kind order). It leaves them set: the scheduler cancels each
// in the transaction that applies it, so a crash before that commit fires it
// again after restart rather than losing it.
func Due(tx store.Tx, now time.Time, n int) ([]Timer, error) {
	limit := nanos(now)
	var out []Timer
	var bad string
	err := tx.Scan(bDue, "", "", func(k string, _ []byte) bool {
		if len(out) >= n {
			return false
		}
		t, ok := parseDue(k)
		if !ok {
			bad = k
			return false
		}
		if t.At.UnixNano() > limit {
			return false
		}
		out = append(out, t)
		return true
	})
	if err == nil && bad != "" {
		err = fmt.Errorf("durable: bad due key %q", bad)
	}
	return out, err
}
