package durable

import (
	"slices"
	"testing"

	"github.com/lambdad/lambdad/internal/store"
)

// TestRunningIndex: the running index holds exactly the executions not
// closed, so a start reads those and not the closed ones kept for their
// retention; Pending and ChainedStarted read it.
func TestRunningIndex(t *testing.T) {
	e := newEnv(t, store.NewMemory())
	done := e.run("done")
	done.finish(`{"Status":"SUCCEEDED","Result":"1"}`)
	stopped := e.run("stopped")
	if _, err := e.s.Stop(ctx, stopped.arn, nil); err != nil {
		t.Fatal(err)
	}
	waiting := e.run("waiting")
	waiting.mustCP(waitFor("w", 5))
	waiting.finish(`{"Status":"PENDING"}`)
	crashed := e.run("crashed") // its invocation never finishes

	var ids []string
	if err := e.st.View(ctx, func(tx store.Tx) error {
		return tx.Scan(bRunning, "", "", func(k string, _ []byte) bool {
			ids = append(ids, k)
			return true
		})
	}); err != nil {
		t.Fatal(err)
	}
	want := []string{id(t, waiting.arn), id(t, crashed.arn)}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Errorf("running index %v, want %v", ids, want)
	}
	pending, err := e.s.Pending(ctx)
	if err != nil || !slices.Equal(pending, []string{crashed.arn}) {
		t.Errorf("Pending = %v, %v; want %s", pending, err, crashed.arn)
	}
}

func id(t *testing.T, arn string) string {
	t.Helper()
	id, ok := parseARN(arn)
	if !ok {
		t.Fatalf("bad ARN %s", arn)
	}
	return id
}
