package durable

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/lambdad/lambdad/internal/spec"
	"github.com/lambdad/lambdad/internal/store"
)

// FuzzCheckpointUpdates feeds decoded OperationUpdate lists to Checkpoint:
// it must never panic, and a refused checkpoint must change nothing (the
// execution record, and so its token, stay as they were).
func FuzzCheckpointUpdates(f *testing.F) {
	for _, seed := range []string{
		`[{"Id":"s","Type":"STEP","Action":"START"},{"Id":"s","Type":"STEP","Action":"SUCCEED","Payload":"1"}]`,
		`[{"Id":"w","Type":"WAIT","Action":"START","WaitOptions":{"WaitSeconds":5}}]`,
		`[{"Id":"r","Type":"STEP","Action":"RETRY","Error":{"ErrorMessage":"x"},"StepOptions":{"NextAttemptDelaySeconds":1}}]`,
		`[{"Id":"c","Type":"CALLBACK","Action":"START","CallbackOptions":{"TimeoutSeconds":1,"HeartbeatTimeoutSeconds":-1}}]`,
		`[{"Id":"p","Type":"CONTEXT","Action":"START"},{"Id":"k","ParentId":"p","Type":"CHAINED_INVOKE","Action":"START","ChainedInvokeOptions":{"FunctionName":"g"}}]`,
		`[{"Id":"e","Type":"EXECUTION","Action":"FAIL","Error":{"StackTrace":["a"]}}]`,
		`[{"Id":"","Type":"","Action":""}]`,
		`[{"Id":"w","Type":"WAIT","Action":"START","WaitOptions":{"WaitSeconds":2147483647}}]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var ups []spec.OperationUpdate
		if json.Unmarshal(raw, &ups) != nil || len(ups) > 50 {
			return
		}
		e := newEnv(t, store.NewMemory())
		r := e.run("f")
		r.mustCP(up("p0", TypeContext, ActionStart), up("s0", TypeStep, ActionStart), waitFor("w0", 3))
		before := r.exec()
		tok := r.tok
		if _, err := r.cp(ups...); err != nil {
			if r.tok != tok || !reflect.DeepEqual(r.exec(), before) {
				t.Fatalf("refused checkpoint changed the execution: %v", err)
			}
			return
		}
		// Whatever was accepted reads back, in the model's shapes.
		ops, _, _, err := e.s.State(ctx, r.arn, r.tok, "", 0)
		if err != nil && !r.exec().Closed() {
			t.Fatal(err)
		}
		if _, err := json.Marshal(SpecOperations(r.exec(), ops)); err != nil {
			t.Fatal(err)
		}
		evs, _, err := e.s.History(ctx, r.arn, true, "", 0, false)
		if err != nil {
			t.Fatal(err)
		}
		for i := range evs {
			if _, err := json.Marshal(SpecEvent(&evs[i])); err != nil {
				t.Fatal(err)
			}
		}
	})
}
