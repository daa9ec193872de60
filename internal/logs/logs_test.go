package logs

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
)

func TestAppendWritesAndRotates(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Config{Dir: dir, MaxStreamBytes: 100})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 12 {
		s.Append("/aws/lambda/fn", "2026/11/21/[$LATEST]abc", []byte(fmt.Sprintf("line %02d\n", i)))
	}
	s.Append("/aws/lambda/../../etc", "x/../y", []byte("hostile names stay inside\n"))
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	path := s.Path("/aws/lambda/fn", "2026/11/21/[$LATEST]abc")
	if !strings.HasPrefix(path, dir+"/") {
		t.Fatalf("path %s outside %s", path, dir)
	}
	cur, _ := os.ReadFile(path)
	old, _ := os.ReadFile(path + ".1")
	all := string(old) + string(cur)
	if len(cur) > 100 || len(old) > 100 || !strings.HasSuffix(all, "line 11\n") || !strings.Contains(all, "line 04\n") {
		t.Errorf("rotated files:\nold %q\ncur %q", old, cur)
	}
	if p := s.Path("/aws/lambda/../../etc", "x/../y"); !strings.HasPrefix(p, dir+"/") {
		t.Errorf("hostile path %s escapes", p)
	} else if b, _ := os.ReadFile(p); string(b) != "hostile names stay inside\n" {
		t.Errorf("hostile-named stream = %q", b)
	}
}

// An invoke that ends after shutdown (its environment killed by it) still
// appends its log: the record is dropped, lambdad does not panic.
func TestAppendAfterClose(t *testing.T) {
	s, err := Open(Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.Append("/aws/lambda/fn", "late", []byte("after close\n"))
	if err := s.Close(context.Background()); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
