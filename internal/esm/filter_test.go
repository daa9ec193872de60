package esm

import (
	"encoding/json"
	"testing"
)

func decodeEvent(t testing.TB, s string) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// The operators of AWS's filter pattern language, each with an event it
// matches and one it does not.
func TestPatternOperators(t *testing.T) {
	cases := []struct{ pattern, yes, no string }{
		{`{"body":{"a":["x"]}}`, `{"body":{"a":"x"}}`, `{"body":{"a":"y"}}`},
		{`{"body":{"a":[1]}}`, `{"body":{"a":1.0}}`, `{"body":{"a":"1"}}`},
		{`{"body":{"a":[null]}}`, `{"body":{"a":null}}`, `{"body":{}}`},
		{`{"body":{"a":[true]}}`, `{"body":{"a":true}}`, `{"body":{"a":false}}`},
		{`{"body":{"a":[{"prefix":"ab"}]}}`, `{"body":{"a":"abc"}}`, `{"body":{"a":"xab"}}`},
		{`{"body":{"a":[{"suffix":".png"}]}}`, `{"body":{"a":"x.png"}}`, `{"body":{"a":"x.jpg"}}`},
		{`{"body":{"a":[{"prefix":{"equals-ignore-case":"AB"}}]}}`, `{"body":{"a":"abc"}}`, `{"body":{"a":"xabc"}}`},
		{`{"body":{"a":[{"anything-but":["x","y"]}]}}`, `{"body":{"a":"z"}}`, `{"body":{"a":"y"}}`},
		{`{"body":{"a":[{"anything-but":1}]}}`, `{"body":{"a":2}}`, `{"body":{"a":1}}`},
		{`{"body":{"a":[{"anything-but":{"prefix":"in"}}]}}`, `{"body":{"a":"out"}}`, `{"body":{"a":"inner"}}`},
		{`{"body":{"a":[{"numeric":[">",0,"<=",5]}]}}`, `{"body":{"a":5}}`, `{"body":{"a":0}}`},
		{`{"body":{"a":[{"numeric":["=",3.5]}]}}`, `{"body":{"a":3.5}}`, `{"body":{"a":"3.5"}}`},
		{`{"body":{"a":[{"exists":true}]}}`, `{"body":{"a":"v"}}`, `{"body":{"b":"v"}}`},
		{`{"body":{"a":[{"exists":false}]}}`, `{"body":{"b":"v"}}`, `{"body":{"a":"v"}}`},
		{`{"body":{"a":[{"equals-ignore-case":"HeLLo"}]}}`, `{"body":{"a":"hello"}}`, `{"body":{"a":"hell"}}`},
		{`{"body":{"a":[{"wildcard":"*.png"}]}}`, `{"body":{"a":"dir/x.png"}}`, `{"body":{"a":"x.pngx"}}`},
		{`{"body":{"a":[{"wildcard":"a*b*c"}]}}`, `{"body":{"a":"aXbYc"}}`, `{"body":{"a":"acb"}}`},
		{`{"body":{"a":["x"]},"attributes":{"MessageGroupId":["g"]}}`, `{"body":{"a":"x"},"attributes":{"MessageGroupId":"g"}}`, `{"body":{"a":"x"},"attributes":{"MessageGroupId":"h"}}`},
		{`{"body":{"$or":[{"a":["x"]},{"b":["y"]}]}}`, `{"body":{"b":"y"}}`, `{"body":{"a":"y","b":"x"}}`},
		{`{"$or":[{"body":{"a":["x"]}},{"messageId":["m"]}]}`, `{"messageId":"m","body":{}}`, `{"messageId":"n","body":{"a":"z"}}`},
		{`{"body":{"tags":["red"]}}`, `{"body":{"tags":["blue","red"]}}`, `{"body":{"tags":["blue"]}}`},
		{`{"body":["plain"]}`, `{"body":"plain"}`, `{"body":"other"}`},
	}
	for _, c := range cases {
		p, err := ParsePattern(c.pattern)
		if err != nil {
			t.Errorf("ParsePattern(%s): %v", c.pattern, err)
			continue
		}
		if !p.Match(decodeEvent(t, c.yes)) {
			t.Errorf("%s does not match %s", c.pattern, c.yes)
		}
		if p.Match(decodeEvent(t, c.no)) {
			t.Errorf("%s matches %s", c.pattern, c.no)
		}
	}
}

// Patterns AWS refuses ("Invalid filter pattern definition.").
func TestPatternInvalid(t *testing.T) {
	for _, s := range []string{``, `simple string`, `[]`, `{}`, `{"body":"x"}`, `{"body":{"a":[]}}`, `{"body":{"a":[{"nope":1}]}}`,
		`{"a":[{"numeric":[">"]}]}`, `{"a":[{"numeric":["~",1]}]}`, `{"a":[{"exists":"yes"}]}`, `{"a":[{"prefix":1}]}`, `{"$or":[{"a":["x"]}]}`,
		`{"a":[{"wildcard":"a**b"}]}`, `{"a":["x"]} {}`} {
		if _, err := ParsePattern(s); err == nil {
			t.Errorf("ParsePattern(%q) accepted", s)
		}
	}
}

func TestSQSFilterViewDecodesJSONBodies(t *testing.T) {
	p, _ := ParsePattern(`{"body":{"k":["v"]}}`)
	rec := map[string]any{"messageId": "1"}
	if !p.Match(sqsFilterView(rec, `{"k":"v"}`)) {
		t.Error("JSON body not matched")
	}
	if p.Match(sqsFilterView(rec, `k=v`)) {
		t.Error("plain body matched a body property")
	}
}

func FuzzPattern(f *testing.F) {
	f.Add(`{"body":{"a":[{"wildcard":"a*b"}]}}`, `{"body":{"a":"axxb"}}`)
	f.Add(`{"$or":[{"a":[1]},{"b":[{"numeric":[">",1]}]}]}`, `{"b":2}`)
	f.Add(`{"a":[{"anything-but":{"suffix":["x","y"]}}]}`, `{"a":["q","x"]}`)
	f.Fuzz(func(t *testing.T, pattern, event string) {
		p, err := ParsePattern(pattern)
		if err != nil {
			return
		}
		var v any
		if json.Unmarshal([]byte(event), &v) != nil {
			return
		}
		a := p.Match(v)
		if b := p.Match(v); a != b {
			t.Fatal("Match is not deterministic")
		}
	})
}

func FuzzWildcard(f *testing.F) {
	f.Add("a*b*c", "aXbYc")
	f.Fuzz(func(t *testing.T, p, s string) {
		// A pattern without stars or escapes matches only itself.
		if !containsAny(p, `*\`) && wildcard(p, s) != (p == s) {
			t.Fatalf("wildcard(%q, %q)", p, s)
		}
		// "*" + s + "*" always matches s when s has no special characters.
		if !containsAny(s, `*\`) && !wildcard("*"+s+"*", s) {
			t.Fatalf("*%s* does not match %q", s, s)
		}
	})
}

func containsAny(s, chars string) bool {
	for i := 0; i < len(s); i++ {
		for j := 0; j < len(chars); j++ {
			if s[i] == chars[j] {
				return true
			}
		}
	}
	return false
}

func TestBatchItemFailures(t *testing.T) {
	batch := []sqsRecord{{MessageID: "a"}, {MessageID: "b"}}
	for _, c := range []struct {
		resp   string
		failed int
		ok     bool
	}{
		{``, 0, true}, {`null`, 0, true}, {`{}`, 0, true}, {`{"batchItemFailures":[]}`, 0, true}, {`{"batchItemFailures":null}`, 0, true},
		{`{"batchItemFailures":[{"itemIdentifier":"b"}]}`, 1, true},
		{`{"batchItemFailures":[{"foo":"notvalid"}]}`, 0, false},
		{`{"batchItemFailures":[{"itemIdentifier":""}]}`, 0, false},
		{`{"batchItemFailures":[{"itemIdentifier":"zzz"}]}`, 0, false},
		{`"str"`, 0, false}, {`{"batchItemFailures":"x"}`, 0, false},
	} {
		f, ok := batchItemFailures([]byte(c.resp), batch)
		if ok != c.ok || len(f) != c.failed {
			t.Errorf("%s: failed %v ok %v, want %d %v", c.resp, f, ok, c.failed, c.ok)
		}
	}
}
