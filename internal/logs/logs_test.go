package logs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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

// A log group of 512 characters (the model's limit) is stored, in a folder
// whose name is cut and hashed, with its real name kept beside the streams;
// two long groups that differ only at the end do not share a folder.
func TestLongGroupName(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	long := "/aws/" + strings.Repeat("g", 506) + "a"
	other := long[:len(long)-1] + "b"
	stream := "2026/12/04/[$LATEST]" + strings.Repeat("s", 300)
	s.Append(long, stream, []byte("kept\n"))
	s.Append(other, stream, []byte("other\n"))
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	p := s.Path(long, stream)
	if b, err := os.ReadFile(p); err != nil || string(b) != "kept\n" {
		t.Fatalf("stream of a 512-character group: %q, %v", b, err)
	}
	if b, _ := os.ReadFile(s.Path(other, stream)); string(b) != "other\n" {
		t.Errorf("second long group holds %q", b)
	}
	if name, _ := os.ReadFile(filepath.Join(filepath.Dir(p), GroupFile)); string(name) != long {
		t.Errorf("%s holds %q, want the group's name", GroupFile, name)
	}
	if short := s.Path("/aws/lambda/fn", "x"); filepath.Base(filepath.Dir(short)) != "aws_lambda_fn" {
		t.Errorf("a short group's folder is %s", short)
	}
}

// Records are batched, by the timer, by a batch grown large and by
// Flush, and a reader after Flush sees every record appended before it, in
// the order appended.
func TestFlushKeepsOrderAndCompleteness(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Config{Dir: dir, FlushInterval: time.Millisecond, MaxStreamBytes: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	const group, stream = "/aws/lambda/fn", "2026/12/04/[$LATEST]abc"
	big := strings.Repeat("x", soonBytes/3) + "\n"
	var want strings.Builder
	for i := range 3000 {
		line := fmt.Sprintf("line %04d\n", i)
		if i%1000 == 999 {
			line = big // three of these start the writer at once
		}
		s.Append(group, stream, []byte(line))
		want.WriteString(line)
		if i%97 == 0 {
			s.Flush()
			if b, _ := os.ReadFile(s.Path(group, stream)); string(b) != want.String() {
				t.Fatalf("after Flush at record %d the file has %d bytes, want %d (or out of order)", i, len(b), want.Len())
			}
		}
	}
	s.Flush()
	if b, _ := os.ReadFile(s.Path(group, stream)); string(b) != want.String() {
		t.Fatalf("after the last Flush the file has %d bytes, want %d (or out of order)", len(b), want.Len())
	}
}
