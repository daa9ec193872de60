package durable

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/lambdad/lambdad/internal/spec"
)

func TestSpecShapes(t *testing.T) {
	e := newEnv(t, testStore(t))
	r := e.run("a")
	r.mustCP(up("p", TypeContext, ActionStart),
		parent(with(up("k", TypeChainedInvoke, ActionStart), func(u *spec.OperationUpdate) {
			u.ChainedInvokeOptions = &spec.ChainedInvokeOptions{FunctionName: ptr("g:1")}
			u.Name, u.SubType = ptr("call-g"), ptr("ChainedInvoke")
		}), "p"))
	if _, err := e.s.ChainedInvokeDone(ctx, r.arn, "k", OpSucceeded, ptr(`"g"`), nil); err != nil {
		t.Fatal(err)
	}
	res := r.mustCP(payload(up("p", TypeContext, ActionSucceed), `"p"`))
	ops := SpecOperations(r.exec(), res.Operations)
	raw, _ := json.Marshal(ops)
	// The chained invoke, changed from outside, comes with the context.
	want := `[{"Id":"p","Type":"CONTEXT","StartTimestamp":1796385600,"EndTimestamp":1796385600,"Status":"SUCCEEDED","ContextDetails":{"Result":"\"p\""}},` +
		`{"Id":"k","ParentId":"p","Name":"call-g","Type":"CHAINED_INVOKE","SubType":"ChainedInvoke","StartTimestamp":1796385600,"EndTimestamp":1796385600,"Status":"SUCCEEDED","ChainedInvokeDetails":{"Result":"\"g\""}}]`
	if string(raw) != want {
		t.Fatalf("operations\n%s\nwant\n%s", raw, want)
	}
	r.finish(`{"Status":"FAILED","Error":{"ErrorType":"E","ErrorMessage":"m","StackTrace":["a"]}}`)
	ex := r.exec()
	got := SpecExecution(ex, true)
	if *got.Status != Failed || got.Result != nil || *got.Error.ErrorMessage != "m" || *got.InputPayload != `{"x":1}` ||
		*got.FunctionArn != fnARN+":1" || *got.Version != "1" || *got.DurableConfig.ExecutionTimeout != 3600 || got.EndTimestamp == nil {
		t.Fatalf("%+v", got)
	}
	if bare := SpecExecution(ex, false); bare.InputPayload != nil || bare.Error != nil || *bare.ExecutionDataIncluded {
		t.Fatalf("%+v", bare)
	}
	evs, _, _ := e.s.History(ctx, r.arn, true, "", 0, false)
	last := SpecEvent(&evs[len(evs)-1])
	if *last.EventType != EvExecutionFailed || *last.ExecutionFailedDetails.Error.Payload.ErrorType != "E" {
		t.Fatalf("%+v", last)
	}
	for i := range evs {
		sp := SpecEvent(&evs[i])
		raw, _ := json.Marshal(sp)
		// Exactly one <Type>Details member, named after the event type.
		var m map[string]json.RawMessage
		json.Unmarshal(raw, &m)
		if _, ok := m[evs[i].Type+"Details"]; !ok {
			t.Errorf("%s without its details: %s", evs[i].Type, raw)
		}
	}
}

// TestInitialStatePages: an invocation's event carries the first page of
// operations; the rest is read with State from its NextMarker.
func TestInitialStatePages(t *testing.T) {
	e := newEnv(t, testStore(t))
	r := e.run("a")
	var ups []spec.OperationUpdate
	for i := range MaxPageSize + 5 {
		ups = append(ups, payload(up(fmt.Sprintf("s%04d", i), TypeStep, ActionSucceed), "1"))
	}
	r.mustCP(append(ups, waitFor("w", 60))...)
	r.finish(`{"Status":"PENDING"}`)
	e.now = e.now.Add(time.Second)
	in := r.reinvoke()
	first := in.InitialExecutionState
	if len(first.Operations) != MaxPageSize || first.NextMarker == nil {
		t.Fatalf("first page %d %v", len(first.Operations), first.NextMarker)
	}
	rest, next, _, err := e.s.State(ctx, r.arn, r.tok, *first.NextMarker, 1000)
	if err != nil || next != nil || len(rest) != 7 || rest[5].ID != fmt.Sprintf("s%04d", MaxPageSize+4) {
		t.Fatalf("rest %d %v %v", len(rest), next, err)
	}
}
