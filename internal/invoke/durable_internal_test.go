package invoke

import (
	"testing"
	"time"

	"github.com/lambdad/lambdad/internal/durable"
	"github.com/lambdad/lambdad/internal/functions"
	"github.com/lambdad/lambdad/internal/spec"
)

func TestPinnedRef(t *testing.T) {
	got, err := pinnedRef("arn:aws:lambda:eu-west-1:123456789012:function:orders:7/durable-execution/n-1/0a0a0a0a-0000-4000-8000-000000000000")
	want := functions.Ref{Account: "123456789012", Region: "eu-west-1", Name: "orders", Qualifier: "7"}
	if err != nil || got != want {
		t.Errorf("pinnedRef = %+v, %v; want %+v", got, err, want)
	}
	for _, bad := range []string{"", "arn:aws:lambda:eu-west-1:123456789012:function:orders/durable-execution/n/i", "arn:aws:lambda:r:a:layer:x:1/durable-execution/n/i"} {
		if _, err := pinnedRef(bad); err == nil {
			t.Errorf("pinnedRef(%q) accepted", bad)
		}
	}
}

func TestBackoff(t *testing.T) {
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 4: 8 * time.Second, 20: 5 * time.Minute} {
		if got := backoff(time.Second, n); got != want {
			t.Errorf("backoff(1s, %d) = %v, want %v", n, got, want)
		}
	}
}

func TestSyncAnswer(t *testing.T) {
	r := `{"ok":true}`
	if p, fe := syncAnswer(&durable.Execution{Status: durable.Succeeded, Result: &r}); string(p) != r || fe != "" {
		t.Errorf("succeeded: %s %q", p, fe)
	}
	typ, msg := "Refused", "no"
	p, fe := syncAnswer(&durable.Execution{Status: durable.Failed, Error: &durable.ErrorObject{Type: &typ, Message: &msg}})
	if string(p) != `{"errorType":"Refused","errorMessage":"no"}` || fe != "Unhandled" {
		t.Errorf("failed: %s %q", p, fe)
	}
	// A timed-out execution has no error (as on AWS): its status speaks.
	p, fe = syncAnswer(&durable.Execution{Status: durable.TimedOut})
	if string(p) != `{"errorType":"TIMED_OUT","errorMessage":"Durable execution timed out."}` || fe != "Unhandled" {
		t.Errorf("timed out: %s %q", p, fe)
	}
}

func TestSyncWait(t *testing.T) {
	i32 := func(n int32) *int32 { return &n }
	snap := func(timeout, exec *int32) *functions.Snapshot {
		s := &functions.Snapshot{}
		s.Config.Timeout = timeout
		s.Config.DurableConfig = &spec.DurableConfig{ExecutionTimeout: exec}
		return s
	}
	for _, tc := range []struct {
		snap *functions.Snapshot
		want time.Duration
	}{
		{snap(i32(900), i32(86400)), 15 * time.Minute},
		{snap(i32(30), i32(600)), 30 * time.Second},
		{snap(i32(900), i32(20)), 20 * time.Second},
		{snap(nil, nil), 3 * time.Second},
	} {
		if got := syncWait(tc.snap); got != tc.want {
			t.Errorf("syncWait = %v, want %v", got, tc.want)
		}
	}
}
