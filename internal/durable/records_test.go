package durable

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"strconv"
	"testing"
	"time"
)

// fillAll sets every field of v to a distinct non-zero value.
func fillAll(v reflect.Value, n *int) {
	*n++
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fillAll(v.Elem(), n)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Date(2026, 1, 2, 3, 4, 5, *n, time.UTC)))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fillAll(v.Field(i), n)
			}
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			v.SetBytes([]byte("b" + strconv.Itoa(*n)))
			return
		}
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fillAll(v.Index(0), n)
	case reflect.String:
		v.SetString("s" + strconv.Itoa(*n))
	case reflect.Int, reflect.Int32, reflect.Int64:
		v.SetInt(int64(*n))
	case reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(*n))
	case reflect.Bool:
		v.SetBool(true)
	}
}

// TestStoredRecordsGolden pins the JSON of every stored durable record: a
// change here is a schema change (bump SchemaVersion, convert old records).
// LAMBDAD_UPDATE_GOLDEN=1 rewrites the file.
func TestStoredRecordsGolden(t *testing.T) {
	const file = "testdata/schema-v1.golden.json"
	got := map[string]json.RawMessage{}
	for name, v := range map[string]any{"execution": Execution{}, "operation": Operation{}, "event": Event{}, "clientAnswer": clientAnswer{}} {
		p := reflect.New(reflect.TypeOf(v))
		n := 0
		fillAll(p.Elem(), &n)
		// Derived, not stored; and stored as codes from fixed lists.
		switch r := p.Interface().(type) {
		case *Execution:
			r.V = SchemaVersion
			r.ARN = execARN(r.FunctionARN, r.Version, r.Name, r.ID)
		case *Operation:
			r.Type, r.Status = TypeChainedInvoke, OpStopped
		case *Event:
			r.Type = EvInvocationCompleted
		case *clientAnswer:
			r.Operations[0].Type, r.Operations[0].Status = TypeStep, OpSucceeded
		}
		raw, err := json.Marshal(p.Interface())
		if err != nil {
			t.Fatal(err)
		}
		got[name] = raw
		// And it reads back the same.
		back := reflect.New(reflect.TypeOf(v))
		err = json.Unmarshal(raw, back.Interface())
		if e, ok := p.Interface().(*Execution); ok && err == nil {
			var ex *Execution
			if ex, err = decodeExec(e.ID, raw); err == nil { // the id is the key
				back = reflect.ValueOf(ex)
			}
		}
		if err != nil || !reflect.DeepEqual(back.Elem().Interface(), p.Elem().Interface()) {
			t.Errorf("%s does not round-trip: %v", name, err)
		}
	}
	out, _ := json.MarshalIndent(got, "", "  ")
	out = append(out, '\n')
	if os.Getenv("LAMBDAD_UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(file, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(want, out) {
		t.Errorf("stored records' JSON changed (schema %d):\n%s", SchemaVersion, out)
	}
}

func TestDecodeRefusesOtherSchemas(t *testing.T) {
	if _, err := decodeExec("x", []byte(`{"v":2}`)); err == nil {
		t.Fatal("a record of a newer schema must not be read as this one")
	}
	if _, err := decodeExec("x", []byte(`{`)); err == nil {
		t.Fatal("bad JSON read")
	}
}

// TestExecutionNameDefault: neither the id (the key) nor a name that is the
// id is stored, yet both read back, and so does the ARN, never stored.
func TestExecutionNameDefault(t *testing.T) {
	e := Execution{V: SchemaVersion, ID: "id1", Name: "id1", FunctionARN: fnARN, Version: "1"}
	e.ARN = execARN(e.FunctionARN, e.Version, e.Name, e.ID)
	raw, err := encode(e)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(`"n"`)) || bytes.Contains(raw, []byte(`"i"`)) || bytes.Contains(raw, []byte("durable-execution")) {
		t.Errorf("stored %s", raw)
	}
	back, err := decodeExec(e.ID, raw)
	if err != nil || !reflect.DeepEqual(*back, e) {
		t.Errorf("read back %+v, %v; want %+v", back, err, e)
	}
}

// TestStoredCodes: every operation type and status and every event type
// round-trips through its stored code, and a name not listed is refused.
func TestStoredCodes(t *testing.T) {
	for _, typ := range opTypes {
		for _, st := range opStatuses {
			raw, err := encode(Operation{ID: "x", Type: typ, Status: st})
			if err != nil {
				t.Fatal(err)
			}
			if op, err := decodeOp(raw); err != nil || op.Type != typ || op.Status != st {
				t.Fatalf("%s %s: %+v %v", typ, st, op, err)
			}
		}
	}
	for _, typ := range evTypes {
		raw, err := encode(Event{ID: 1, Type: typ})
		if err != nil {
			t.Fatal(err)
		}
		if ev, err := decodeEvent(raw); err != nil || ev.Type != typ {
			t.Fatalf("%s: %+v %v", typ, ev, err)
		}
	}
	if _, err := encode(Event{Type: "Unknown"}); err == nil {
		t.Error("an unlisted event type stored")
	}
	if _, err := decodeEvent([]byte(`{"i":1,"t":99}`)); err == nil {
		t.Error("an unknown code read")
	}
}
