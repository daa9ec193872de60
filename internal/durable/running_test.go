package durable

import (
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/lambdad/lambdad/internal/spec"
	"github.com/lambdad/lambdad/internal/store"
)

// TestRunningIndex: the running index holds exactly the executions not
// closed, so a start reads those and not the closed ones kept for their
// retention; Pending and ChainedStarted read it.
func TestRunningIndex(t *testing.T) {
	e := newEnv(t, testStore(t))
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
	if err := keyed(e.st).View(ctx, func(tx store.Tx) error {
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

// TestRunningFlags: the running index's flags let a start skip the records
// of executions that only wait: Pending reads those an invocation is owed,
// ChainedStarted those that started a chained invoke; an index value
// from before the flags makes both read the execution.
func TestRunningFlags(t *testing.T) {
	e := newEnv(t, testStore(t))
	waiting := e.run("waiting")
	waiting.mustCP(waitFor("w", 5))
	waiting.finish(`{"Status":"PENDING"}`)
	crashed := e.run("crashed")
	chained := e.run("chained")
	k := up("k", TypeChainedInvoke, ActionStart)
	k.ChainedInvokeOptions = &spec.ChainedInvokeOptions{FunctionName: aws.String("g")}
	chained.mustCP(k)
	chained.finish(`{"Status":"PENDING"}`)

	flags := func(r *run) []byte {
		var v []byte
		keyed(e.st).View(ctx, func(tx store.Tx) error { v = slices.Clone(tx.Get(bRunning, id(t, r.arn))); return nil })
		return v
	}
	for _, c := range []struct {
		r    *run
		want []byte
	}{{waiting, []byte{runningV, 0}}, {crashed, []byte{runningV, runInvoke}}, {chained, []byte{runningV, runHadChained}}} {
		if got := flags(c.r); !slices.Equal(got, c.want) {
			t.Errorf("%s: running flags %v, want %v", c.r.arn, got, c.want)
		}
	}
	check := func(when string) {
		t.Helper()
		pending, err := e.s.Pending(ctx)
		if err != nil || !slices.Equal(pending, []string{crashed.arn}) {
			t.Errorf("%s: Pending = %v, %v; want %s", when, pending, err, crashed.arn)
		}
		runs, err := e.s.ChainedStarted(ctx)
		if err != nil || len(runs) != 1 || runs[0].ARN != chained.arn || runs[0].Operation.ID != "k" {
			t.Errorf("%s: ChainedStarted = %+v, %v", when, runs, err)
		}
	}
	check("flags")
	// Index values from before the flags.
	if err := keyed(e.st).Update(ctx, func(tx store.Tx) error {
		for _, r := range []*run{waiting, crashed, chained} {
			if err := tx.Put(bRunning, id(t, r.arn), []byte{}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	check("old values")
}
