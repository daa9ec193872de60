package fault

import (
	"errors"
	"fmt"
	"testing"
)

func TestKindOfThroughWrapping(t *testing.T) {
	err := fmt.Errorf("loading: %w", NotFoundf("Function", "Function not found: %s", "arn:x"))
	if got := KindOf(err); got != NotFound {
		t.Fatalf("KindOf = %v, want NotFound", got)
	}
	if !Is(err, NotFound) || Is(err, Conflict) {
		t.Fatalf("Is mismatched for %v", err)
	}
	if KindOf(errors.New("disk full")) != Internal {
		t.Fatal("a plain error must be Internal")
	}
	e, _ := As(err)
	if e.Resource != "Function" || e.Message != "Function not found: arn:x" {
		t.Fatalf("fields lost: %+v", e)
	}
}

func TestEveryKindHasAName(t *testing.T) {
	for k := Kind(0); int(k) < Kinds; k++ {
		if kindNames[k] == "" {
			t.Errorf("kind %d has no name", k)
		}
	}
}

func TestUnwrapKeepsCause(t *testing.T) {
	cause := errors.New("zip: not a valid zip file")
	e := &Error{Kind: InvalidParameter, Message: "Could not unzip uploaded file.", Err: cause}
	if !errors.Is(e, cause) {
		t.Fatal("cause not reachable through Unwrap")
	}
}
