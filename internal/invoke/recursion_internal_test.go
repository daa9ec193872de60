package invoke

import (
	"testing"

	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/functions"
)

func TestAppendLineage(t *testing.T) {
	snap := &functions.Snapshot{FunctionARN: "arn:aws:lambda:us-east-1:000000000000:function:f"}
	key := string(appendLineageKey(nil, snap.FunctionARN))
	for _, tc := range []struct{ in, want string }{
		{"", key + ":0"},
		{key + ":0", key + ":1"},
		{"0badf00d:3|" + key + ":14", "0badf00d:3|" + key + ":15"},
		{"1:" + key + ":7|1:0badf00d:2", "1:0badf00d:2|" + key + ":8"}, // the versioned form
		{"junk|" + key + ":x", key + ":0"},
	} {
		got, err := appendLineage(nil, snap, tc.in)
		if err != nil || string(got) != tc.want {
			t.Errorf("%q: %q %v, want %q", tc.in, got, err, tc.want)
		}
	}
	// The 17th run in a chain is refused, unless recursion is allowed.
	if _, err := appendLineage(nil, snap, key+":15"); !fault.Is(err, fault.RecursiveInvocation) {
		t.Errorf("17th run: %v", err)
	}
	snap.AllowRecursion = true
	if got, err := appendLineage(nil, snap, key+":99"); err != nil || string(got) != key+":100" {
		t.Errorf("Allow: %q %v", got, err)
	}
}

func BenchmarkTraceHeader(b *testing.B) {
	s := &Service{}
	snap := &functions.Snapshot{FunctionARN: "arn:aws:lambda:us-east-1:000000000000:function:f"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.traceHeader(snap, ""); err != nil {
			b.Fatal(err)
		}
	}
}
