package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

func TestBoltRoundTripScanAndRollback(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "meta.db")
	s, err := OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Update(ctx, func(tx Tx) error {
		for i := 0; i < 10; i++ {
			if err := tx.Put("b", fmt.Sprintf("a/%02d", i), []byte{byte(i)}); err != nil {
				return err
			}
		}
		return tx.Put("b", "z/0", []byte("z"))
	})
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	if err := s.Update(ctx, func(tx Tx) error {
		tx.Put("b", "a/99", []byte("x"))
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("rollback err = %v", err)
	}
	s.Close()

	s, err = OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.View(ctx, func(tx Tx) error {
		if tx.Get("b", "a/99") != nil {
			t.Error("rolled-back write is visible")
		}
		if n := tx.Count("b", "a/"); n != 10 {
			t.Errorf("count = %d", n)
		}
		var keys []string
		tx.Scan("b", "a/", "a/03", func(k string, v []byte) bool {
			keys = append(keys, k)
			return len(keys) < 3
		})
		if fmt.Sprint(keys) != "[a/04 a/05 a/06]" {
			t.Errorf("scan after a/03 = %v", keys)
		}
		keys = nil
		tx.Scan("b", "a/", "", func(k string, v []byte) bool { keys = append(keys, k); return true })
		if len(keys) != 10 || keys[0] != "a/00" {
			t.Errorf("full scan = %v", keys)
		}
		if tx.Get("missing", "x") != nil {
			t.Error("missing bucket returned a value")
		}
		return nil
	})
}

func TestSecondOpenSaysLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	s, err := OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := OpenBolt(path); err == nil || !strings.Contains(err.Error(), "another lambdad is using this data directory") {
		t.Fatalf("second open: %v", err)
	}
}

// TestBoltBatch: concurrent Batch calls each commit all or nothing: the
// failing ones leave no write (even when they shared a transaction with
// others) and answer their own error, the others' writes are all there,
// and each counter increment, read and written in its call, is applied
// exactly once.
func TestBoltBatch(t *testing.T) {
	ctx := context.Background()
	s, err := OpenBolt(filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	boom := errors.New("boom")
	const n = 64
	errs := make(chan error, n)
	for i := range n {
		go func() {
			errs <- s.Batch(ctx, func(tx Tx) error {
				c := 0
				if v := tx.Get("b", "counter"); v != nil {
					fmt.Sscan(string(v), &c)
				}
				if err := tx.Put("b", fmt.Sprintf("k/%02d", i), []byte("v")); err != nil {
					return err
				}
				if i%5 == 0 {
					return boom
				}
				return tx.Put("b", "counter", []byte(fmt.Sprint(c+1)))
			})
		}()
	}
	failed := 0
	for range n {
		switch err := <-errs; {
		case errors.Is(err, boom):
			failed++
		case err != nil:
			t.Fatal(err)
		}
	}
	if failed != (n+4)/5 {
		t.Errorf("%d calls failed, want %d", failed, (n+4)/5)
	}
	s.View(ctx, func(tx Tx) error {
		if got, want := string(tx.Get("b", "counter")), fmt.Sprint(n-failed); got != want {
			t.Errorf("counter = %s, want %s", got, want)
		}
		for i := range n {
			if got := tx.Get("b", fmt.Sprintf("k/%02d", i)) != nil; got != (i%5 != 0) {
				t.Errorf("key %d written = %v", i, got)
			}
		}
		return nil
	})
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Batch(cancelled, func(Tx) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("Batch with a cancelled context = %v", err)
	}
}
