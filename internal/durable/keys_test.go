package durable

import (
	"slices"
	"strings"
	"testing"
)

// TestPackKey: keys read back as written, UUIDs take 17 bytes, byte order
// and prefixes are kept, and segments that could pass for a packed id are
// escaped.
func TestPackKey(t *testing.T) {
	a, b := "0f3a9b1c-2d4e-4f60-8a7b-9c0d1e2f3a4b", "f0ffffff-0000-4000-8000-00000000002f"
	keys := []string{
		a, a + "/00000001", a + "/" + b, "01796424256961063383/" + a + "/wait/w",
		fnARN + "/01796424256961063383/" + b, "\x00odd/\x01op", a + "/\x00" + strings.Repeat("x", 20),
		"not-a-uuid", strings.ToUpper(a), "",
	}
	for _, k := range keys {
		if got := unpackKey(packKey(k)); got != k {
			t.Errorf("%q read back as %q", k, got)
		}
	}
	if n := len(packKey(a + "/00000001")); n != 17+9 {
		t.Errorf("packed length %d", n)
	}
	// Order: sorted text keys stay sorted packed.
	sorted := []string{a, a + "/1", b, b + "/0", "z"}
	slices.Sort(sorted)
	var packed []string
	for _, k := range sorted {
		packed = append(packed, packKey(k))
	}
	if !slices.IsSorted(packed) {
		t.Errorf("packing changed the order of %q", sorted)
	}
	if !strings.HasPrefix(packKey(a+"/00000001"), packKey(a+"/")) {
		t.Error("a prefix is no longer one")
	}
}
