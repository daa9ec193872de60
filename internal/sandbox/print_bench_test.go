package sandbox

import (
	"context"
	"strconv"
	"testing"
)

// BenchmarkWarmInvokeGoPrint is BenchmarkWarmInvokeGoEcho for a function
// that prints two lines (stdout, stderr) per invocation: the cost of
// capturing output, arrival-time marks (logmarks.go) included.
func BenchmarkWarmInvokeGoPrint(b *testing.B) {
	needGo(b)
	m, _ := newTestManager(b, "auto")
	fn := goFunction()
	ctx := context.Background()
	payload := []byte(`{"op":"print","lines":["a line on stdout","a line on stderr"]}`)
	inv := func(i int) Invocation {
		return Invocation{RequestID: "bench-" + strconv.Itoa(i), InvokedFunctionARN: "arn:aws:lambda:us-east-1:000000000000:function:bench", Payload: payload}
	}
	for i := range 100 { // warm up
		if _, err := m.Invoke(ctx, fn, inv(i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		res, err := m.Invoke(ctx, fn, inv(i))
		if err != nil || res.FunctionError != "" {
			b.Fatalf("%v %s", err, res.Payload)
		}
	}
}
