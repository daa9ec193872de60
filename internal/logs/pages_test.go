package logs

import (
	"fmt"
	"testing"
	"time"
)

// fixedNow is just after the events the tests append.
func fixedNow() time.Time { return time.Date(2026, 12, 5, 3, 5, 0, 0, time.UTC) }

func fill(t *testing.T, s Logs) {
	t.Helper()
	for i := range 30 {
		// Streams a and b interleave: a at even seconds, b at odd ones.
		st := "a"
		if i%2 == 1 {
			st = "b"
		}
		s.Append("/g", st, fmt.Appendf(nil, "2026-12-05T03:00:%02d.000Z\tr\tevent %02d\n", i, i))
	}
}

func TestFilterPages(t *testing.T) { backends(t, fixedNow, testFilterPages) }

func testFilterPages(t *testing.T, s Logs) {
	fill(t, s)
	var got []string
	in := FilterInput{Limit: 7}
	for pages := 0; ; pages++ {
		out, err := s.Filter(t.Context(), "/g", in)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range out.Events {
			got = append(got, e.Message[len(e.Message)-9:len(e.Message)-1])
		}
		if out.Next == "" {
			if pages != 4 {
				t.Errorf("%d pages", pages+1)
			}
			break
		}
		in.Token = out.Next
	}
	if len(got) != 30 {
		t.Fatalf("%d events: %v", len(got), got)
	}
	for i, g := range got {
		if g != fmt.Sprintf("event %02d", i) {
			t.Fatalf("event %d is %q: not interleaved in time order: %v", i, g, got)
		}
	}
	if _, err := s.Filter(t.Context(), "/g", FilterInput{Token: "garbage!"}); err != ErrToken {
		t.Errorf("bad token: %v", err)
	}
	if _, err := s.Filter(t.Context(), "/nope", FilterInput{}); err != ErrNoGroup {
		t.Errorf("missing group: %v", err)
	}
}

func TestGetTokens(t *testing.T) { backends(t, fixedNow, testGetTokens) }

func testGetTokens(t *testing.T, s Logs) {
	fill(t, s)
	// Without a token and startFromHead false: the latest events.
	out, err := s.Get(t.Context(), "/g", GetInput{Stream: "a", Limit: 4})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Events) != 4 || out.Events[3].Message[len(out.Events[3].Message)-9:] != "event 28\n" {
		t.Fatalf("tail page %+v", out.Events)
	}
	// Backward from there, then forward again at the end: same token.
	back, _ := s.Get(t.Context(), "/g", GetInput{Stream: "a", Limit: 4, Token: out.Backward})
	if len(back.Events) != 4 || back.Events[3].Ord != out.Events[0].Ord-1 {
		t.Errorf("backward page %+v", back.Events)
	}
	end, _ := s.Get(t.Context(), "/g", GetInput{Stream: "a", Token: out.Forward})
	if len(end.Events) != 0 || end.Forward != out.Forward {
		t.Errorf("at the end: %d events, forward %q want %q", len(end.Events), end.Forward, out.Forward)
	}
	head, _ := s.Get(t.Context(), "/g", GetInput{Stream: "a", Limit: 2, StartFromHead: true})
	if len(head.Events) != 2 || head.Events[0].Ord != 0 || head.Forward != "f/"+fmt.Sprintf("%056d", 2)+"/s" {
		t.Errorf("head page %+v, forward %q", head.Events, head.Forward)
	}
	if _, err := s.Get(t.Context(), "/g", GetInput{Stream: "zz"}); err != ErrNoStream {
		t.Errorf("missing stream: %v", err)
	}
}
