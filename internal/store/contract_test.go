package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/lambdad/lambdad/internal/testkit"
)

// Every Store keeps the same contract: these run against each engine.
func TestContract(t *testing.T) {
	engines := map[string]func(t *testing.T) Store{
		"bolt": func(t *testing.T) Store {
			s, err := OpenBolt(filepath.Join(t.TempDir(), "meta.db"))
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		"memory": func(*testing.T) Store { return NewMemory() },
		"postgres": func(t *testing.T) Store {
			s, err := OpenPostgres(context.Background(), testkit.Postgres(t), nil)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
	}
	for name, open := range engines {
		t.Run(name, func(t *testing.T) {
			for _, c := range contract {
				t.Run(c.name, func(t *testing.T) {
					s := open(t)
					defer s.Close()
					c.run(t, s)
				})
			}
		})
	}
}

var contract = []struct {
	name string
	run  func(t *testing.T, s Store)
}{
	{"round trip, delete, missing bucket", func(t *testing.T, s Store) {
		ctx := context.Background()
		must(t, s.Update(ctx, func(tx Tx) error {
			must(t, tx.Put("b", "k", []byte("v")))
			must(t, tx.Put("b", "empty", nil))
			must(t, tx.Delete("b", "absent"))
			must(t, tx.Delete("nobucket", "k"))
			if string(tx.Get("b", "k")) != "v" {
				t.Error("a write is not visible inside its transaction")
			}
			return nil
		}))
		must(t, s.View(ctx, func(tx Tx) error {
			if string(tx.Get("b", "k")) != "v" {
				t.Errorf("Get = %q", tx.Get("b", "k"))
			}
			if v := tx.Get("b", "empty"); v == nil || len(v) != 0 {
				t.Errorf("an empty value reads as %v, want empty and not nil", v)
			}
			if tx.Get("b", "absent") != nil || tx.Get("nobucket", "k") != nil {
				t.Error("a missing key or bucket returned a value")
			}
			if tx.Put("b", "x", nil) == nil {
				t.Error("a read transaction accepted a write")
			}
			return nil
		}))
		must(t, s.Update(ctx, func(tx Tx) error { return tx.Delete("b", "k") }))
		must(t, s.View(ctx, func(tx Tx) error {
			if tx.Get("b", "k") != nil || tx.Count("b", "") != 1 {
				t.Errorf("after delete: %q, count %d", tx.Get("b", "k"), tx.Count("b", ""))
			}
			return nil
		}))
	}},
	{"failed update rolls back", func(t *testing.T, s Store) {
		ctx := context.Background()
		must(t, s.Update(ctx, func(tx Tx) error { return tx.Put("b", "keep", []byte("1")) }))
		boom := errors.New("boom")
		err := s.Update(ctx, func(tx Tx) error {
			tx.Put("b", "new", []byte("x"))
			tx.Put("b", "keep", []byte("2"))
			tx.Delete("b", "keep")
			tx.Put("other", "k", []byte("x"))
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("Update = %v, want the transaction's error", err)
		}
		must(t, s.View(ctx, func(tx Tx) error {
			if tx.Get("b", "new") != nil || string(tx.Get("b", "keep")) != "1" || tx.Get("other", "k") != nil {
				t.Errorf("rolled-back writes are visible: new=%q keep=%q other=%q", tx.Get("b", "new"), tx.Get("b", "keep"), tx.Get("other", "k"))
			}
			return nil
		}))
	}},
	{"scan order, prefix, after, stop", func(t *testing.T, s Store) {
		ctx := context.Background()
		must(t, s.Update(ctx, func(tx Tx) error {
			// Written out of order: Scan must sort.
			for _, i := range []int{7, 2, 9, 0, 4, 1, 8, 3, 6, 5} {
				must(t, tx.Put("b", fmt.Sprintf("a/%02d", i), []byte{byte(i)}))
			}
			must(t, tx.Put("b", "a", []byte("bare prefix")))
			must(t, tx.Put("b", "b/0", nil))
			return tx.Put("b", "0", nil)
		}))
		scan := func(tx Tx, prefix, after string, max int) string {
			var keys []string
			tx.Scan("b", prefix, after, func(k string, v []byte) bool {
				keys = append(keys, k)
				return len(keys) < max
			})
			return fmt.Sprint(keys)
		}
		must(t, s.View(ctx, func(tx Tx) error {
			for _, c := range []struct {
				prefix, after string
				max           int
				want          string
			}{
				{"a/", "", 100, "[a/00 a/01 a/02 a/03 a/04 a/05 a/06 a/07 a/08 a/09]"},
				{"a/", "a/03", 3, "[a/04 a/05 a/06]"},
				{"a/", "a/035", 2, "[a/04 a/05]"}, // after need not exist
				{"a/", "a/09", 100, "[]"},
				{"a/", "0", 2, "[a/00 a/01]"}, // after before the prefix: from the start
				{"a/", "z", 100, "[]"},
				{"", "", 3, "[0 a a/00]"},
				{"b/", "", 100, "[b/0]"},
				{"c/", "", 100, "[]"},
			} {
				if got := scan(tx, c.prefix, c.after, c.max); got != c.want {
					t.Errorf("Scan(%q, after %q) = %s, want %s", c.prefix, c.after, got, c.want)
				}
			}
			if n := tx.Count("b", "a/"); n != 10 {
				t.Errorf("Count(a/) = %d", n)
			}
			if n := tx.Count("nobucket", ""); n != 0 {
				t.Errorf("Count(missing bucket) = %d", n)
			}
			return nil
		}))
	}},
	{"deleting what a scan found", func(t *testing.T, s Store) {
		ctx := context.Background()
		must(t, s.Update(ctx, func(tx Tx) error {
			for i := 0; i < 5; i++ {
				must(t, tx.Put("b", fmt.Sprintf("k%d", i), nil))
			}
			// Collect, then delete: the way the control plane deletes.
			var keys []string
			tx.Scan("b", "k", "", func(k string, _ []byte) bool { keys = append(keys, k); return true })
			for _, k := range keys[1:] {
				must(t, tx.Delete("b", k))
			}
			return nil
		}))
		must(t, s.View(ctx, func(tx Tx) error {
			if n := tx.Count("b", "k"); n != 1 {
				t.Errorf("Count after deletes = %d", n)
			}
			return nil
		}))
	}},
	{"cancelled context", func(t *testing.T, s Store) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		ran := false
		if err := s.Update(ctx, func(Tx) error { ran = true; return nil }); !errors.Is(err, context.Canceled) || ran {
			t.Errorf("Update on a cancelled context = %v (ran %v)", err, ran)
		}
		if err := s.View(ctx, func(Tx) error { ran = true; return nil }); !errors.Is(err, context.Canceled) || ran {
			t.Errorf("View on a cancelled context = %v (ran %v)", err, ran)
		}
	}},
}

func init() {
	contract = append(contract,
		struct {
			name string
			run  func(t *testing.T, s Store)
		}{"concurrent read-modify-write", func(t *testing.T, s Store) {
			// Two writers each add 1 to a counter 100 times: no increment
			// may be lost, whichever writer loses a race runs again.
			ctx := context.Background()
			var wg sync.WaitGroup
			errs := make(chan error, 2)
			for range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range 100 {
						err := s.Update(ctx, func(tx Tx) error {
							n, _ := strconv.Atoi(string(tx.Get("c", "n")))
							return tx.Put("c", "n", []byte(strconv.Itoa(n+1)))
						})
						if err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			must(t, s.View(ctx, func(tx Tx) error {
				if got := string(tx.Get("c", "n")); got != "200" {
					t.Errorf("counter = %s, want 200", got)
				}
				return nil
			}))
		}},
		struct {
			name string
			run  func(t *testing.T, s Store)
		}{"bytewise order", func(t *testing.T, s Store) {
			// Keys sort as bytes, as in bbolt: not by any locale's rules.
			ctx := context.Background()
			keys := []string{"B", "a", "_", "a\x00", "\xff", "\xff\xff", "\xfe", "é", "Z", "aB", "ab", "a-b", "a b"}
			must(t, s.Update(ctx, func(tx Tx) error {
				for _, k := range keys {
					must(t, tx.Put("o", k, []byte(k)))
				}
				return nil
			}))
			want := slices.Clone(keys)
			slices.Sort(want) // Go compares strings bytewise
			must(t, s.View(ctx, func(tx Tx) error {
				var got []string
				tx.Scan("o", "", "", func(k string, v []byte) bool {
					if string(v) != k {
						t.Errorf("key %q holds %q", k, v)
					}
					got = append(got, k)
					return true
				})
				if !slices.Equal(got, want) {
					t.Errorf("order %q, want %q", got, want)
				}
				got = nil
				tx.Scan("o", "\xff", "", func(k string, _ []byte) bool { got = append(got, k); return true })
				if !slices.Equal(got, []string{"\xff", "\xff\xff"}) {
					t.Errorf("Scan(\\xff) = %q", got)
				}
				got = nil
				tx.Scan("o", "a", "a\x00", func(k string, _ []byte) bool { got = append(got, k); return true })
				if !slices.Equal(got, []string{"a b", "a-b", "aB", "ab"}) {
					t.Errorf("Scan(a, after a\\x00) = %q", got)
				}
				return nil
			}))
		}},
		struct {
			name string
			run  func(t *testing.T, s Store)
		}{"scan visits more keys than one read", func(t *testing.T, s Store) {
			ctx := context.Background()
			must(t, s.Update(ctx, func(tx Tx) error {
				for i := range 1000 {
					must(t, tx.Put("m", fmt.Sprintf("k%04d", i), nil))
				}
				return nil
			}))
			must(t, s.Update(ctx, func(tx Tx) error {
				// fn uses the transaction while scanning.
				n := 0
				tx.Scan("m", "k", "", func(k string, _ []byte) bool {
					if tx.Get("m", k) == nil {
						t.Errorf("Get(%s) inside Scan = nil", k)
					}
					if n%2 == 0 {
						must(t, tx.Delete("m", k))
					}
					n++
					return true
				})
				if n != 1000 {
					t.Errorf("Scan visited %d keys, want 1000", n)
				}
				return nil
			}))
			must(t, s.View(ctx, func(tx Tx) error {
				if n := tx.Count("m", ""); n != 500 {
					t.Errorf("Count = %d, want 500", n)
				}
				return nil
			}))
		}},
	)
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
