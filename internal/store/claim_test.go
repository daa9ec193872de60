package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/lambdad/lambdad/internal/testkit"
)

// claimEngines are the stores whose Claim is tested: each engine's own,
// and the Update fallback of a Store that is not a Claimer.
func claimEngines() map[string]func(t *testing.T) Store {
	return map[string]func(t *testing.T) Store{
		"bolt": func(t *testing.T) Store {
			s, err := OpenBolt(filepath.Join(t.TempDir(), "meta.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
		"postgres": func(t *testing.T) Store {
			s, err := OpenPostgres(context.Background(), testkit.Postgres(t), nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
		"memory":   func(*testing.T) Store { return NewMemory() },
		"fallback": func(*testing.T) Store { return plainStore{NewMemory()} },
	}
}

// plainStore hides Memory's Claim.
type plainStore struct{ Store }

// TestClaim: Claim visits the keys of the prefix below upTo, in order, at
// most limit; fn's moves are not revisited; an error undoes everything.
func TestClaim(t *testing.T) {
	for name, open := range claimEngines() {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			ctx := context.Background()
			must(t, s.Update(ctx, func(tx Tx) error {
				for _, k := range []string{"a/1", "q/1", "q/2", "q/3", "q/5", "q/7", "r/1"} {
					must(t, tx.Put("b", k, []byte("v"+k)))
				}
				return nil
			}))
			var seen []string
			must(t, Claim(ctx, s, "b", "q/", "q/5", 10, func(tx Tx, k string, v []byte) (bool, error) {
				if string(v) != "v"+k {
					t.Errorf("%s = %q", k, v)
				}
				seen = append(seen, k)
				// Moving it past the range, as a lease does.
				if err := tx.Delete("b", k); err != nil {
					return false, err
				}
				return true, tx.Put("b", "q/9"+k, v)
			}))
			if !slices.Equal(seen, []string{"q/1", "q/2", "q/3"}) {
				t.Errorf("claimed %v", seen)
			}
			seen = nil
			must(t, Claim(ctx, s, "b", "q/", "", 2, func(tx Tx, k string, _ []byte) (bool, error) {
				seen = append(seen, k)
				return true, nil
			}))
			if !slices.Equal(seen, []string{"q/5", "q/7"}) {
				t.Errorf("limit 2: %v", seen)
			}
			seen = nil
			must(t, Claim(ctx, s, "b", "q/", "", 10, func(tx Tx, k string, _ []byte) (bool, error) {
				seen = append(seen, k)
				return len(seen) < 4, nil
			}))
			if !slices.Equal(seen, []string{"q/5", "q/7", "q/9q/1", "q/9q/2"}) {
				t.Errorf("stopped by fn: %v", seen)
			}
			// Keys fn writes into the range are not visited in this claim.
			seen = nil
			must(t, Claim(ctx, s, "b", "r/", "", 10, func(tx Tx, k string, v []byte) (bool, error) {
				seen = append(seen, k)
				if err := tx.Delete("b", k); err != nil {
					return false, err
				}
				return true, tx.Put("b", k+"+", v)
			}))
			if !slices.Equal(seen, []string{"r/1"}) {
				t.Errorf("moved within the range: %v", seen)
			}
			boom := errors.New("boom")
			err := Claim(ctx, s, "b", "", "", 10, func(tx Tx, k string, _ []byte) (bool, error) {
				if err := tx.Delete("b", k); err != nil {
					return false, err
				}
				if k == "q/7" {
					return false, boom
				}
				return true, nil
			})
			if !errors.Is(err, boom) {
				t.Fatalf("err = %v", err)
			}
			must(t, s.View(ctx, func(tx Tx) error {
				if n := tx.Count("b", ""); n != 7 {
					t.Errorf("a failed claim left %d keys, want 7", n)
				}
				return nil
			}))
		})
	}
}

// TestClaimConcurrent: claimers racing over one queue each take a key at
// most once, and together take all of them.
func TestClaimConcurrent(t *testing.T) {
	for name, open := range claimEngines() {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			ctx := context.Background()
			const n = 200
			must(t, s.Update(ctx, func(tx Tx) error {
				for i := range n {
					must(t, tx.Put("q", fmt.Sprintf("%04d", i), []byte("x")))
				}
				return nil
			}))
			var mu sync.Mutex
			taken := map[string]int{}
			var wg sync.WaitGroup
			for w := range 4 {
				wg.Go(func() {
					for {
						got := 0
						err := Claim(ctx, s, "q", "", "", 3, func(tx Tx, k string, _ []byte) (bool, error) {
							got++
							mu.Lock()
							taken[k]++
							mu.Unlock()
							return true, tx.Delete("q", k)
						})
						if err != nil {
							t.Errorf("worker %d: %v", w, err)
							return
						}
						if got == 0 {
							return
						}
					}
				})
			}
			wg.Wait()
			if len(taken) != n {
				t.Errorf("%d keys taken, want %d", len(taken), n)
			}
			for k, c := range taken {
				if c != 1 {
					t.Errorf("%s taken %d times", k, c)
				}
			}
		})
	}
}

func TestClaimEnd(t *testing.T) {
	for _, tc := range []struct{ prefix, upTo, want string }{
		{"", "", ""},
		{"q/", "", "q0"},
		{"q/", "q/5", "q/5"},
		{"q/", "z", "q0"},
		{"a\xff", "", "b"},
		{"\xff\xff", "", ""},
		{"", "m", "m"},
	} {
		if got := claimEnd(tc.prefix, tc.upTo); got != tc.want {
			t.Errorf("claimEnd(%q, %q) = %q, want %q", tc.prefix, tc.upTo, got, tc.want)
		}
	}
}
