package invoke

import (
	"testing"
	"time"
)

func TestActivityBucketsAndPercentiles(t *testing.T) {
	s := &Service{}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s.activity.clock = func() time.Time { return now }
	const fn = "arn:aws:lambda:us-east-1:000000000000:function:f"
	f := s.activity.fn(fn)
	// 100 invocations of 1..100 ms in one bucket, the first a cold start,
	// every tenth an error.
	for i := 1; i <= 100; i++ {
		var init time.Duration
		if i == 1 {
			init = time.Millisecond
		}
		s.activity.ran(f, "$LATEST", time.Duration(i)*time.Millisecond, init, i%10 == 0)
	}
	s.activity.throttled(f, "$LATEST")
	s.activity.ran(f, "1", 500*time.Millisecond, 0, false)

	got := s.Activity(fn, "$LATEST")
	if len(got) != 1 {
		t.Fatalf("buckets: %+v", got)
	}
	b := got[0]
	if b.Invocations != 100 || b.Errors != 10 || b.Throttles != 1 || b.ColdStarts != 1 || b.P50Ms != 50 || b.P99Ms != 99 {
		t.Errorf("$LATEST bucket: %+v", b)
	}
	if !b.Start.Equal(now.Truncate(10 * time.Second)) {
		t.Errorf("start %v", b.Start)
	}
	// Every version merged: the slow one is in the p99.
	all := s.Activity(fn, "")
	if len(all) != 1 || all[0].Invocations != 101 || all[0].P99Ms != 100 || all[0].P50Ms != 51 {
		t.Errorf("merged: %+v", all)
	}
	if got := s.Activity("arn:aws:lambda:us-east-1:000000000000:function:other", ""); len(got) != 0 {
		t.Errorf("another function: %+v", got)
	}

	// Ten minutes later the old bucket is gone from the view, and dropped
	// once a new one starts.
	now = now.Add(11 * time.Minute)
	if got := s.Activity(fn, ""); len(got) != 0 {
		t.Errorf("after 11 minutes: %+v", got)
	}
	s.activity.ran(f, "$LATEST", time.Millisecond, 0, false)
	if n := len(s.activity.fns[fn].buckets); n != 1 {
		t.Errorf("%d buckets kept, want 1", n)
	}
}

func TestActivityForgotten(t *testing.T) {
	s := &Service{}
	const fn = "arn:aws:lambda:us-east-1:000000000000:function:f"
	for _, v := range []string{"$LATEST", "1"} {
		s.activity.ran(s.activity.fn(fn), v, time.Millisecond, 0, false)
	}
	s.ForgetActivity(fn, "1")
	if got := s.Activity(fn, ""); len(got) != 1 || got[0].Invocations != 1 {
		t.Errorf("after forgetting version 1: %+v", got)
	}
	s.ForgetActivity(fn, "")
	if got := s.Activity(fn, ""); len(got) != 0 || len(s.activity.fns) != 0 {
		t.Errorf("after forgetting the function: %+v", got)
	}
}
