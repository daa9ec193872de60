package awsproto

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/lambdad/lambdad/internal/spec"
)

// TestDecodeJSONLiftsBigBlobs checks the fast path gives exactly what
// encoding/json gives, and falls back to it for anything unusual.
func TestDecodeJSONLiftsBigBlobs(t *testing.T) {
	zip := bytes.Repeat([]byte("PK\x03\x04lambdad"), 300000) // 3.3 MB
	b64 := base64.StdEncoding.EncodeToString(zip)
	cases := map[string]string{
		"create":        `{"FunctionName":"f","Code":{"ZipFile":"` + b64 + `","S3Bucket":"b"},"Description":"d"}`,
		"spaces":        "{ \"Code\" : { \"ZipFile\" :\n\"" + b64 + "\" } , \"FunctionName\":\"f\"}",
		"escaped slash": `{"FunctionName":"f","Code":{"ZipFile":"` + strings.Replace(b64, "/", `\/`, 1) + `"}}`,
		"not a blob":    `{"FunctionName":"f","Description":"` + strings.Repeat("x", 2<<20) + `","Code":{}}`,
		"in a list":     `{"FunctionName":"f","Layers":["` + strings.Repeat("x", 2<<20) + `"],"Code":{}}`,
	}
	for name, body := range cases {
		var want, got spec.CreateFunctionRequest
		wantErr := json.Unmarshal([]byte(body), &want)
		gotErr := decodeJSON([]byte(body), &got)
		if (wantErr == nil) != (gotErr == nil) {
			t.Errorf("%s: errors differ: %v vs %v", name, wantErr, gotErr)
			continue
		}
		a, _ := json.Marshal(want)
		b, _ := json.Marshal(got)
		if !bytes.Equal(a, b) {
			t.Errorf("%s: decoded differently", name)
		}
	}
	bad := `{"FunctionName":"f","Code":{"ZipFile":"` + strings.Repeat("!", 2<<20) + `"}}`
	var in spec.CreateFunctionRequest
	if err := decodeJSON([]byte(bad), &in); err == nil {
		t.Error("invalid base64 accepted")
	}
	trunc := `{"FunctionName":"f","Code":{"ZipFile":"` + b64 + `"}`
	if err := decodeJSON([]byte(trunc), &in); err == nil {
		t.Error("truncated JSON accepted")
	}
}

func TestLiftSkipsArrays(t *testing.T) {
	body := []byte(`{"Code":{"ZipFile":["QUFBQUFBQUFBQUFB"]}}`)
	if _, lifted := liftBigStrings(body, 8); lifted != nil {
		t.Errorf("lifted a string inside an array: %v", lifted)
	}
	var in spec.CreateFunctionRequest
	if err := decodeJSONLifting(body, &in, 8); err == nil {
		t.Error("a list of strings decoded into a blob")
	}
}
