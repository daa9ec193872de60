package invoke

import (
	"testing"
	"time"

	"github.com/lambdad/lambdad/internal/sandbox"
)

func TestActivityBucketsAndPercentiles(t *testing.T) {
	s := &Service{}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s.activity.clock = func() time.Time { return now }
	const fn = "arn:aws:lambda:us-east-1:000000000000:function:f"
	latest := sandbox.Key{FunctionARN: fn, Version: "$LATEST"}
	v1 := sandbox.Key{FunctionARN: fn, Version: "1"}
	// 100 invocations of 1..100 ms in one bucket, the first a cold start,
	// every tenth an error.
	for i := 1; i <= 100; i++ {
		res := sandbox.Result{Duration: time.Duration(i) * time.Millisecond, Log: []byte("line\n")}
		if i == 1 {
			res.InitDuration = time.Millisecond
		}
		if i%10 == 0 {
			res.FunctionError = "Unhandled"
		}
		s.activity.ran(latest, &res)
	}
	s.activity.throttled(fn, "$LATEST")
	s.activity.ran(v1, &sandbox.Result{Duration: 500 * time.Millisecond})

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
	s.activity.ran(latest, &sandbox.Result{Duration: time.Millisecond})
	if n := len(s.activity.fns[fn].buckets); n != 1 {
		t.Errorf("%d buckets kept, want 1", n)
	}
}

func TestActivityForgotten(t *testing.T) {
	s := &Service{}
	const fn = "arn:aws:lambda:us-east-1:000000000000:function:f"
	for _, v := range []string{"$LATEST", "1"} {
		s.activity.ran(sandbox.Key{FunctionARN: fn, Version: v}, &sandbox.Result{Log: []byte(v + "\n")})
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
