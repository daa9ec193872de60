package spec

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestGeneratedIsCurrent regenerates the code from the model and compares:
// the committed file must be what the generator makes of the model kept in
// the repository, so it never skips.
func TestGeneratedIsCurrent(t *testing.T) {
	const model = "model/lambda-2015-03-31/service-2.json"
	const added = "model/lambda-2015-03-31/added-2.json"
	out := filepath.Join(t.TempDir(), "gen.go")
	cmd := exec.Command("go", "run", "./gen", "-model", model, "-added", added, "-out", out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("generator: %v\n%s", err, msg)
	}
	got, _ := os.ReadFile(out)
	want, _ := os.ReadFile("zz_generated.go")
	if !bytes.Equal(got, want) {
		t.Fatal("zz_generated.go is stale: run go generate ./internal/spec")
	}
}

func TestModelTables(t *testing.T) {
	ops := Operations()
	added := 0
	for _, op := range ops {
		if op.Added {
			added++
		}
	}
	if len(ops) != 91 || added != 6 {
		t.Errorf("%d operations (%d added), the model has 85 and lambdad added 6", len(ops), added)
	}
	if s, ok := ErrorStatus("ResourceNotFoundException"); !ok || s != 404 {
		t.Errorf("ResourceNotFoundException status %d", s)
	}
	if ErrorMessageField("ResourceNotFoundException") != "Message" || ErrorMessageField("InvalidParameterValueException") != "message" {
		t.Error("message fields")
	}
	// Look-arounds of the Java patterns are kept through rewrites.
	if !ruleAlias.Match("live") || ruleAlias.Match("123") {
		t.Error("Alias pattern: digits-only must fail, names must pass")
	}
}
