package durable

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/lambdad/lambdad/internal/store"
	"github.com/lambdad/lambdad/internal/testkit"
)

// stores runs f against the in-memory store, bbolt and PostgreSQL, whose
// byte order the index relies on.
func stores(t *testing.T, f func(t *testing.T, s store.Store)) {
	t.Run("memory", func(t *testing.T) { f(t, store.NewMemory()) })
	t.Run("bolt", func(t *testing.T) {
		s, err := store.OpenBolt(filepath.Join(t.TempDir(), "db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		f(t, s)
	})
	t.Run("postgres", func(t *testing.T) {
		s, err := store.OpenPostgres(context.Background(), testkit.Postgres(t), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		f(t, s)
	})
}

func update(t *testing.T, s store.Store, fn func(store.Tx) error) {
	t.Helper()
	if err := s.Update(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

func due(t *testing.T, s store.Store, now time.Time, n int) []Timer {
	t.Helper()
	var out []Timer
	if err := s.View(context.Background(), func(tx store.Tx) error {
		var err error
		out, err = Due(tx, now, n)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func next(t *testing.T, s store.Store) (Timer, bool) {
	t.Helper()
	var tm Timer
	var ok bool
	if err := s.View(context.Background(), func(tx store.Tx) error {
		var err error
		tm, ok, err = Next(tx)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return tm, ok
}

var t0 = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func TestDueOrdersTimersByTimeWhateverTheOrderTheyWereSet(t *testing.T) {
	stores(t, func(t *testing.T, s store.Store) {
		if _, ok := next(t, s); ok {
			t.Fatal("Next on an empty index found a timer")
		}
		set := []Timer{
			{Exec: "e2", Kind: "wait/op1", At: at(3 * time.Second)},
			{Exec: "e1", Kind: "timeout", At: at(time.Hour)},
			// 10 s sorts after 9 s only with zero padding.
			{Exec: "e3", Kind: "callback/x", At: at(10 * time.Second)},
			{Exec: "e1", Kind: "wait/op7", At: at(time.Second + 5*time.Nanosecond)},
			{Exec: "e4", Kind: "retry/op2", At: at(9 * time.Second)},
		}
		update(t, s, func(tx store.Tx) error {
			for _, tm := range set {
				if err := Schedule(tx, tm); err != nil {
					return err
				}
			}
			return nil
		})
		if got, _ := next(t, s); !reflect.DeepEqual(got, set[3]) {
			t.Fatalf("Next = %+v, want %+v", got, set[3])
		}
		want := []Timer{set[3], set[0], set[4], set[2]}
		if got := due(t, s, at(10*time.Second), 100); !reflect.DeepEqual(got, want) {
			t.Fatalf("Due(10s) =\n%+v\nwant\n%+v", got, want)
		}
		// A timer due exactly now is due; one a nanosecond later is not.
		if got := due(t, s, at(time.Second+5*time.Nanosecond), 100); !reflect.DeepEqual(got, want[:1]) {
			t.Fatalf("Due(at its time) = %+v, want %+v", got, want[:1])
		}
		if got := due(t, s, at(time.Second+4*time.Nanosecond), 100); len(got) != 0 {
			t.Fatalf("Due(1ns before) = %+v, want none", got)
		}
		if got := due(t, s, at(time.Hour), 2); !reflect.DeepEqual(got, want[:2]) {
			t.Fatalf("Due(limit 2) = %+v, want %+v", got, want[:2])
		}
		if got := due(t, s, at(time.Hour), 0); len(got) != 0 {
			t.Fatalf("Due(limit 0) = %+v, want none", got)
		}
	})
}

func TestDueTiesAreOrderedByExecutionAndKind(t *testing.T) {
	stores(t, func(t *testing.T, s store.Store) {
		update(t, s, func(tx store.Tx) error {
			for _, tm := range []Timer{
				{Exec: "b", Kind: "wait/1", At: t0},
				{Exec: "a", Kind: "wait/2", At: t0},
				{Exec: "a", Kind: "wait/1", At: t0},
			} {
				if err := Schedule(tx, tm); err != nil {
					return err
				}
			}
			return nil
		})
		want := []Timer{{Exec: "a", Kind: "wait/1", At: t0}, {Exec: "a", Kind: "wait/2", At: t0}, {Exec: "b", Kind: "wait/1", At: t0}}
		if got := due(t, s, t0, 10); !reflect.DeepEqual(got, want) {
			t.Fatalf("Due = %+v, want %+v", got, want)
		}
	})
}

func TestScheduleMovesATimerRatherThanAddingOne(t *testing.T) {
	stores(t, func(t *testing.T, s store.Store) {
		hb := Timer{Exec: "e1", Kind: "heartbeat/cb", At: at(5 * time.Second)}
		update(t, s, func(tx store.Tx) error { return Schedule(tx, hb) })
		// A heartbeat pushes the deadline later: only the new time remains.
		hb.At = at(20 * time.Second)
		update(t, s, func(tx store.Tx) error { return Schedule(tx, hb) })
		if got := due(t, s, at(10*time.Second), 10); len(got) != 0 {
			t.Fatalf("the old deadline is still due: %+v", got)
		}
		if got := due(t, s, at(time.Minute), 10); !reflect.DeepEqual(got, []Timer{hb}) {
			t.Fatalf("Due = %+v, want only %+v", got, hb)
		}
		// And earlier again.
		hb.At = at(time.Second)
		update(t, s, func(tx store.Tx) error { return Schedule(tx, hb) })
		if got := due(t, s, at(time.Minute), 10); !reflect.DeepEqual(got, []Timer{hb}) {
			t.Fatalf("Due = %+v, want only %+v", got, hb)
		}
	})
}

func TestCancelRemovesOneTimerAndCancelAllOneExecutions(t *testing.T) {
	stores(t, func(t *testing.T, s store.Store) {
		// "e1" is a prefix of "e10": CancelAll("e1") must leave e10 alone.
		keep := []Timer{
			{Exec: "e10", Kind: "wait/a", At: at(time.Second)},
			{Exec: "e2", Kind: "timeout", At: at(2 * time.Second)},
		}
		update(t, s, func(tx store.Tx) error {
			for _, tm := range append([]Timer{
				{Exec: "e1", Kind: "wait/a", At: at(time.Second)},
				{Exec: "e1", Kind: "timeout", At: at(time.Hour)},
				{Exec: "e1", Kind: "callback/b", At: at(time.Minute)},
			}, keep...) {
				if err := Schedule(tx, tm); err != nil {
					return err
				}
			}
			return nil
		})
		update(t, s, func(tx store.Tx) error {
			if err := Cancel(tx, "e1", "callback/b"); err != nil {
				return err
			}
			// Cancelling what is not set (any more) is no error.
			if err := Cancel(tx, "e1", "callback/b"); err != nil {
				return err
			}
			return Cancel(tx, "e9", "wait/z")
		})
		if got := due(t, s, at(2*time.Hour), 10); len(got) != 4 {
			t.Fatalf("after Cancel, Due = %+v, want 4 timers", got)
		}
		update(t, s, func(tx store.Tx) error { return CancelAll(tx, "e1") })
		if got := due(t, s, at(2*time.Hour), 10); !reflect.DeepEqual(got, keep) {
			t.Fatalf("after CancelAll, Due = %+v, want %+v", got, keep)
		}
		// Nothing of e1 is left behind in the reverse index either: setting
		// its timer again yields exactly one.
		tm := Timer{Exec: "e1", Kind: "wait/a", At: at(3 * time.Second)}
		update(t, s, func(tx store.Tx) error { return Schedule(tx, tm) })
		if got := due(t, s, at(2*time.Hour), 10); len(got) != 3 || got[2] != tm {
			t.Fatalf("Due = %+v, want %+v last of 3", got, tm)
		}
	})
}

func TestTimesOutsideUnixNanosecondsAreClamped(t *testing.T) {
	stores(t, func(t *testing.T, s store.Store) {
		update(t, s, func(tx store.Tx) error {
			if err := Schedule(tx, Timer{Exec: "old", Kind: "k", At: time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC)}); err != nil {
				return err
			}
			return Schedule(tx, Timer{Exec: "far", Kind: "k", At: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)})
		})
		got := due(t, s, time.Unix(0, 0), 10)
		if len(got) != 1 || got[0].Exec != "old" || !got[0].At.Equal(time.Unix(0, 0)) {
			t.Fatalf("a timer before 1970 should be due at once, at 1970: %+v", got)
		}
		got = due(t, s, time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), 10)
		if len(got) != 2 || got[1].Exec != "far" || !got[1].At.Equal(latest) {
			t.Fatalf("a timer after 2262 should sort last, at 2262: %+v", got)
		}
	})
}

func TestBadTimersAreRefusedAndWriteNothing(t *testing.T) {
	stores(t, func(t *testing.T, s store.Store) {
		for _, tm := range []Timer{
			{Exec: "", Kind: "k", At: t0},
			{Exec: "a/b", Kind: "k", At: t0},
			{Exec: "e", Kind: "", At: t0},
		} {
			err := s.Update(context.Background(), func(tx store.Tx) error { return Schedule(tx, tm) })
			if !errors.Is(err, errTimer) {
				t.Errorf("Schedule(%+v) = %v, want errTimer", tm, err)
			}
		}
		if err := s.Update(context.Background(), func(tx store.Tx) error { return CancelAll(tx, "a/b") }); !errors.Is(err, errTimer) {
			t.Errorf("CancelAll(a/b) = %v, want errTimer", err)
		}
		if err := s.Update(context.Background(), func(tx store.Tx) error { return Cancel(tx, "", "k") }); !errors.Is(err, errTimer) {
			t.Errorf("Cancel('', k) = %v, want errTimer", err)
		}
		if _, ok := next(t, s); ok {
			t.Fatal("a refused timer was stored")
		}
	})
}

func TestATimerSetInAFailedTransactionIsNotSet(t *testing.T) {
	stores(t, func(t *testing.T, s store.Store) {
		boom := errors.New("the checkpoint failed")
		err := s.Update(context.Background(), func(tx store.Tx) error {
			if err := Schedule(tx, Timer{Exec: "e", Kind: "wait/1", At: t0}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		if tm, ok := next(t, s); ok {
			t.Fatalf("the timer of a rolled-back change is set: %+v", tm)
		}
	})
}

func TestTimersSurviveReopeningTheStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	s, err := store.OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	want := Timer{Exec: "e", Kind: "wait/1", At: at(time.Minute)}
	update(t, s, func(tx store.Tx) error {
		if err := Schedule(tx, Timer{Exec: "e", Kind: "timeout", At: at(time.Hour)}); err != nil {
			return err
		}
		return Schedule(tx, want)
	})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = store.OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, ok := next(t, s); !ok || got != want {
		t.Fatalf("after reopening, Next = %+v, %v; want %+v", got, ok, want)
	}
}

func TestABadKeyInTheIndexIsReportedNotSkipped(t *testing.T) {
	s := store.NewMemory()
	update(t, s, func(tx store.Tx) error { return tx.Put(bDue, "garbage", []byte{}) })
	err := s.View(context.Background(), func(tx store.Tx) error {
		if _, _, err := Next(tx); err == nil {
			t.Error("Next did not report the bad key")
		}
		if _, err := Due(tx, t0, 10); err == nil {
			t.Error("Due did not report the bad key")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
