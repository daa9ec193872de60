package spec

import (
	"go/ast"
	"go/parser"
	"go/token"
	"math/rand/v2"
	"regexp"
	"strconv"
	"testing"
)

type fastRule struct {
	shape string
	re    *regexp.Regexp
	set   asciiSet
}

// fastRules reads every Rule with a fast class from zz_generated.go's
// source: the test then checks the generator's claims against the
// regular expressions themselves.
func fastRules(t testing.TB) []fastRule {
	f, err := parser.ParseFile(token.NewFileSet(), "zz_generated.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []fastRule
	ast.Inspect(f, func(n ast.Node) bool {
		lit, ok := n.(*ast.CompositeLit)
		if !ok || lit.Type == nil {
			return true
		}
		if id, ok := lit.Type.(*ast.Ident); !ok || id.Name != "Rule" {
			return true
		}
		var fr fastRule
		var fast bool
		for _, e := range lit.Elts {
			kv := e.(*ast.KeyValueExpr)
			switch kv.Key.(*ast.Ident).Name {
			case "Shape":
				fr.shape, _ = strconv.Unquote(kv.Value.(*ast.BasicLit).Value)
			case "re":
				s, _ := strconv.Unquote(kv.Value.(*ast.CallExpr).Args[0].(*ast.BasicLit).Value)
				fr.re = regexp.MustCompile(s)
			case "fast":
				c := kv.Value.(*ast.UnaryExpr).X.(*ast.CompositeLit)
				for i := range 2 {
					v, err := strconv.ParseUint(c.Elts[i].(*ast.BasicLit).Value, 0, 64)
					if err != nil {
						t.Fatal(err)
					}
					fr.set[i] = v
				}
				fast = true
			}
		}
		if fast {
			out = append(out, fr)
		}
		return false
	})
	if len(out) == 0 {
		t.Fatal("no rule has a fast class")
	}
	return out
}

// Every string of a rule's fast class, of any length, matches the rule's
// regular expression: the fast path accepts nothing the pattern refuses.
func TestFastClassStringsMatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, fr := range fastRules(t) {
		var class []byte
		for c := range 128 {
			if fr.set[c/64]&(1<<(c%64)) != 0 {
				class = append(class, byte(c))
			}
		}
		for _, n := range []int{1, 2, 3, 12, 64, 200} {
			for range 200 {
				b := make([]byte, n)
				for i := range b {
					b[i] = class[rng.IntN(len(class))]
				}
				if !fr.re.MatchString(string(b)) {
					t.Fatalf("%s: %q is in the fast class but the pattern refuses it", fr.shape, b)
				}
			}
		}
	}
	if !ruleNamespacedFunctionName.fast.all("my-function_1.x") || ruleNamespacedFunctionName.fast.all("arn:aws:lambda:us-east-1:123456789012:function:f") {
		t.Error("the function name's fast class is not the plain name's characters")
	}
}

func FuzzFastClass(f *testing.F) {
	for _, s := range []string{"f", "my-fn", "arn:aws:lambda:us-east-1:123456789012:function:f", "a=", "é", ""} {
		f.Add(s)
	}
	rules := fastRules(f)
	f.Fuzz(func(t *testing.T, s string) {
		for _, fr := range rules {
			if fr.set.all(s) && !fr.re.MatchString(s) {
				t.Errorf("%s: fast class accepts %q, the pattern refuses it", fr.shape, s)
			}
		}
	})
}

// BenchmarkRuleMatchFunctionName is the function name's check on every
// Invoke, with and without the fast class.
func BenchmarkRuleMatchFunctionName(b *testing.B) {
	slow := &Rule{re: ruleNamespacedFunctionName.re}
	for _, c := range []struct {
		name string
		r    *Rule
	}{{"fast", ruleNamespacedFunctionName}, {"regexp", slow}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if !c.r.Match("my-function") {
					b.Fatal("refused")
				}
			}
		})
	}
}
