package logsapi

import (
	"errors"
	"testing"

	"github.com/lambdad/lambdad/internal/spec/logsspec"
)

func op(name string) logsspec.Op {
	for _, o := range logsspec.Operations() {
		if o.Name == name {
			return o
		}
	}
	panic(name)
}

func TestDecode(t *testing.T) {
	in, err := Decode(op("FilterLogEvents"), []byte(`{"logGroupName":"/g","limit":5,"logStreamNames":["a"],"interleaved":true}`))
	if err != nil {
		t.Fatal(err)
	}
	f := in.(*logsspec.FilterLogEventsRequest)
	if *f.LogGroupName != "/g" || *f.Limit != 5 || f.LogStreamNames[0] != "a" || !*f.Interleaved {
		t.Errorf("decoded %+v", f)
	}
	if _, err := Decode(op("DescribeLogGroups"), nil); err != nil {
		t.Errorf("empty body: %v", err)
	}
	for _, bad := range []string{`{"limit":"x"}`, `[1]`, `{"logGroupName":"/g"} {}`, `{`} {
		_, err := Decode(op("FilterLogEvents"), []byte(bad))
		var e *Error
		if !errors.As(err, &e) || e.Type != "SerializationException" || e.Status != 400 {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

// FuzzDecode: any body decodes or is a SerializationException, for every
// operation's input shape.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{}`, `{"logGroupName":"/g","limit":5}`, `{"logStreamNames":["a",null]}`, `{"startTime":1e30}`, `{"logGroupIdentifiers":[""]}`, `nul`, "\x00"} {
		f.Add(uint8(0), []byte(s))
	}
	ops := logsspec.Operations()
	f.Fuzz(func(t *testing.T, i uint8, body []byte) {
		o := ops[int(i)%len(ops)]
		in, err := Decode(o, body)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Type != "SerializationException" {
				t.Fatalf("%s %q: %v", o.Name, body, err)
			}
			return
		}
		if in == nil {
			t.Fatalf("%s %q: nil input", o.Name, body)
		}
	})
}
