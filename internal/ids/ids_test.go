package ids

import (
	"regexp"
	"testing"
)

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestUUIDIsVersion4AndFresh(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		u := UUID()
		if !uuidV4.MatchString(u) {
			t.Fatalf("%q is not a version 4 UUID", u)
		}
		if seen[u] {
			t.Fatalf("%q twice", u)
		}
		seen[u] = true
	}
}

// BenchmarkUUID shows its cost; one allocation, the string.
func BenchmarkUUID(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = UUID()
	}
}
