package functions

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lambdad/lambdad/internal/spec"
)

// fill sets every field reachable from v to a distinct non-zero value (one
// element per slice and map), so that a swapped or dropped field shows.
func fill(v reflect.Value, n *int) {
	*n++
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), n)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Date(2020, 1, 2, 3, 4, 5, *n, time.UTC)))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), n)
			}
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 { // json.RawMessage, []byte
			v.SetBytes([]byte(`"raw-` + strconv.Itoa(*n) + `"`))
			return
		}
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0), n)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k, n)
		fill(e, n)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.String:
		v.SetString("s" + strconv.Itoa(*n))
	case reflect.Int, reflect.Int32, reflect.Int64:
		v.SetInt(int64(*n))
	case reflect.Float64:
		v.SetFloat(float64(*n) + 0.5)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Interface:
		v.Set(reflect.ValueOf("i" + strconv.Itoa(*n)))
	}
}

// clear zeroes the field at a dotted path of field names (through pointers
// and slice elements).
func clearPath(v reflect.Value, path []string) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			clearPath(v.Elem(), path)
		}
	case reflect.Slice:
		for i := range v.Len() {
			clearPath(v.Index(i), path)
		}
	case reflect.Struct:
		f := v.FieldByName(path[0])
		if !f.IsValid() {
			panic("no field " + path[0])
		}
		if len(path) == 1 {
			f.SetZero()
			return
		}
		clearPath(f, path[1:])
	}
}

// notStored are the FunctionConfiguration members lambdad does not store
// (see storedConfig). A member the model gains must be added to storedConfig
// (with a schema version bump) or here: this test fails until it is.
var notStored = []string{
	"State", "StateReason", "StateReasonCode",
	"LastUpdateStatus", "LastUpdateStatusReason", "LastUpdateStatusReasonCode",
	"MasterArn", "SigningProfileVersionArn", "SigningJobArn", "ConfigSha256",
	"Environment.Error", "ImageConfigResponse.Error", "RuntimeVersionConfig.Error",
	"Layers.SigningProfileVersionArn", "Layers.SigningJobArn",
}

// TestStoredConfigRoundTrip: every configuration member lambdad keeps comes
// back from the store as it went in.
func TestStoredConfigRoundTrip(t *testing.T) {
	var n int
	var in version
	fill(reflect.ValueOf(&in).Elem(), &n)
	raw, err := encodeVersion(&in)
	if err != nil {
		t.Fatal(err)
	}
	var out version
	if err := decodeVersion(raw, &out); err != nil {
		t.Fatal(err)
	}
	want := in
	for _, p := range notStored {
		clearPath(reflect.ValueOf(&want.Config).Elem(), strings.Split(p, "."))
	}
	if !reflect.DeepEqual(want, out) {
		a, _ := json.Marshal(want)
		b, _ := json.Marshal(out)
		t.Errorf("round trip changed the version:\nin  %s\nout %s", a, b)
	}

	// Empty and absent stay apart where the API shows the difference.
	in = version{Config: spec.FunctionConfiguration{
		VpcConfig:   &spec.VpcConfigResponse{SubnetIds: []string{}, SecurityGroupIds: []string{}, VpcId: str("")},
		Environment: &spec.EnvironmentResponse{Variables: map[string]string{}},
		Description: str(""), Architectures: []string{},
	}}
	raw, _ = encodeVersion(&in)
	out = version{}
	decodeVersion(raw, &out)
	if !reflect.DeepEqual(in, out) {
		a, _ := json.Marshal(in.Config)
		b, _ := json.Marshal(out.Config)
		t.Errorf("empty members:\nin  %s\nout %s", a, b)
	}

	// The other records keep everything.
	roundTrip(t, &n, encodeURL, decodeURL)
	roundTrip(t, &n, encodeAlias, decodeAlias)
	roundTrip(t, &n, encodeLayer, decodeLayer)
	roundTrip(t, &n, encodeEventConfig, decodeEventConfig)
	roundTrip(t, &n, encodePolicy, decodePolicy)
	roundTrip(t, &n, encodeRecord, decodeRecord)
}

// roundTrip fills a T, stores and reads it back, and wants it unchanged.
func roundTrip[T any](t *testing.T, n *int, enc func(*T) ([]byte, error), dec func([]byte, *T) error) {
	t.Helper()
	var in, out T
	fill(reflect.ValueOf(&in).Elem(), n)
	if _, ok := any(&in).(*record); ok {
		// Members lambdad does not store are covered above.
		for _, p := range notStored {
			clearPath(reflect.ValueOf(&any(&in).(*record).Latest.Config).Elem(), strings.Split(p, "."))
		}
	}
	raw, err := enc(&in)
	if err != nil {
		t.Fatal(err)
	}
	if err := dec(raw, &out); err != nil || !reflect.DeepEqual(in, out) {
		t.Errorf("%T round trip: %v\nin  %+v\nout %+v", in, err, in, out)
	}
}

// storedTypes are every record type written to the store (invoke's events
// are pinned in their own package).
func storedTypes() map[string]any {
	return map[string]any{
		"function":       storedFunction{},
		"version":        storedVersion{},
		"url":            storedURL{},
		"alias":          storedAlias{},
		"layerVersion":   storedLayerVersion{},
		"eventConfig":    storedEventConfig{},
		"policy":         storedPolicy{},
		"provisioned":    storedProvisioned{},
		"codeSigning":    storedCodeSigningConfig{},
		"codeCollection": storedCodeCollection{},
		"managedState":   storedManagedState{},
	}
}

// TestStoredTypesAreLambdads: no stored type reaches a generated shape, so
// regenerating internal/spec cannot change the schema, nor an in-memory type.
func TestStoredTypesAreLambdads(t *testing.T) {
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type, string)
	walk = func(ty reflect.Type, path string) {
		if seen[ty] {
			return
		}
		seen[ty] = true
		if strings.HasSuffix(ty.PkgPath(), "/internal/spec") {
			t.Errorf("%s is %s, a generated shape", path, ty)
		}
		// Nor an in-memory type, which may change freely.
		if ty.Kind() == reflect.Struct && ty.PkgPath() == reflect.TypeFor[storedFunction]().PkgPath() &&
			!strings.HasPrefix(ty.Name(), "stored") && ty != reflect.TypeFor[publishMark]() {
			t.Errorf("%s is %s, an in-memory type", path, ty)
		}
		switch ty.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Map:
			walk(ty.Elem(), path)
		case reflect.Struct:
			for i := range ty.NumField() {
				walk(ty.Field(i).Type, path+"."+ty.Field(i).Name)
			}
		}
	}
	for name, v := range storedTypes() {
		walk(reflect.TypeOf(v), name)
	}
}

// TestStoredRecordsGolden pins the JSON of every stored type, filled with
// distinct values. A difference means the schema changed: bump
// SchemaVersion, freeze the old types and migrate (see schema.go), then
// regenerate the file with LAMBDAD_UPDATE_GOLDEN=1.
func TestStoredRecordsGolden(t *testing.T) {
	const file = "testdata/schema-v1.golden.json"
	got := map[string]json.RawMessage{}
	for name, v := range storedTypes() {
		p := reflect.New(reflect.TypeOf(v))
		n := 0
		fill(p.Elem(), &n)
		raw, err := json.Marshal(p.Interface())
		if err != nil {
			t.Fatal(err)
		}
		got[name] = raw
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
