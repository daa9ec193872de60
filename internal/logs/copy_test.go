package logs

import (
	"errors"
	"reflect"
	"testing"
)

// TestCopyToPG: a data directory's logs copied into PostgreSQL read back
// the same through the PostgreSQL store: groups with their creation and
// retention, streams, every event with its timestamp, ingestion time and
// position (so a token from before still reads on). A second copy is
// refused, and with replace it gives the same result, nothing twice.
func TestCopyToPG(t *testing.T) {
	ctx := t.Context()
	src := open(t, Config{Now: fixedNow})
	mixed(Files(src))
	src.Append("/other", "s", []byte("2026-12-05T03:01:00.000Z\tother\n"))
	if err := src.SetRetention("/other", 30); err != nil {
		t.Fatal(err)
	}
	if err := src.CreateGroup("/empty"); err != nil {
		t.Fatal(err)
	}
	src.Flush()
	pool := pgPool(t)
	check := func() {
		t.Helper()
		dst := openPG(t, pool, PGConfig{Now: fixedNow})
		wantG := src.Groups()
		gotG, err := dst.Groups(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(gotG) != len(wantG) {
			t.Fatalf("groups: %+v, want %+v", gotG, wantG)
		}
		for i := range wantG {
			w, g := wantG[i], gotG[i]
			if g.Name != w.Name || g.Created != w.Created || g.RetentionDays != w.RetentionDays {
				t.Errorf("group %+v, want %+v", g, w)
			}
			ws, err := src.Streams(w.Name)
			if err != nil {
				t.Fatal(err)
			}
			gs, err := dst.Streams(ctx, w.Name)
			if err != nil {
				t.Fatal(err)
			}
			if len(gs) != len(ws) {
				t.Fatalf("%s streams: %+v, want %+v", w.Name, gs, ws)
			}
			for j := range ws {
				a, b := ws[j], gs[j]
				if a.Name != b.Name || a.Created != b.Created || a.FirstEvent != b.FirstEvent || a.LastEvent != b.LastEvent || a.LastIngestion != b.LastIngestion {
					t.Errorf("%s stream %+v, want %+v", w.Name, b, a)
				}
				want, err := src.Get(w.Name, GetInput{Stream: a.Name, StartFromHead: true})
				if err != nil {
					t.Fatal(err)
				}
				got, err := dst.Get(ctx, w.Name, GetInput{Stream: a.Name, StartFromHead: true})
				if err != nil {
					t.Fatal(err)
				}
				if len(want.Events) == 0 || !reflect.DeepEqual(got, want) {
					t.Errorf("%s/%s:\n got %+v\nwant %+v", w.Name, a.Name, got, want)
				}
			}
		}
	}
	groups, events, err := CopyToPG(ctx, src, pool, false)
	if err != nil || groups != 3 || events != 42 {
		t.Fatalf("copy: %d groups, %d events, %v; want 3 and 42", groups, events, err)
	}
	check()
	if _, _, err := CopyToPG(ctx, src, pool, false); !errors.Is(err, ErrPGNotEmpty) {
		t.Fatalf("second copy: %v, want %v", err, ErrPGNotEmpty)
	}
	if _, _, err := CopyToPG(ctx, src, pool, true); err != nil {
		t.Fatal(err)
	}
	check()
}
