package runtimeapi

import (
	"bufio"
	"bytes"
	"fmt"
	"testing"
)

// BenchmarkReadChunked reads a 6 MB response posted in 32 KiB chunks, the
// way aws-lambda-go's net/http client sends it: the bytes read and copied
// per op show how often the payload is copied while it is gathered.
func BenchmarkReadChunked(b *testing.B) {
	const size, chunk = 6 << 20, 32 << 10
	var wire bytes.Buffer
	for left := size; left > 0; left -= chunk {
		n := min(chunk, left)
		fmt.Fprintf(&wire, "%x\r\n", n)
		wire.Write(bytes.Repeat([]byte{'x'}, n))
		wire.WriteString("\r\n")
	}
	wire.WriteString("0\r\n\r\n")
	raw := wire.Bytes()
	rd := bytes.NewReader(raw)
	c := &conn{r: bufio.NewReaderSize(rd, 4096)}
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		rd.Reset(raw)
		c.r.Reset(rd)
		body, tooLarge, ok := c.readChunked(size)
		if !ok || tooLarge || len(body) != size {
			b.Fatalf("read %d bytes, tooLarge %v, ok %v", len(body), tooLarge, ok)
		}
	}
}

// A chunked body comes back whole and in order whatever its chunks' sizes
// (one segment, segments of growing size, a chunk larger than all before).
func TestReadChunkedSegments(t *testing.T) {
	for _, sizes := range [][]int{{5}, {1, 1, 1, 1, 1, 1, 1}, {3, 70000, 2, 2, 9, 40000, 1}, {32 << 10, 32 << 10, 32 << 10, 100}} {
		var wire, want bytes.Buffer
		for i, n := range sizes {
			part := bytes.Repeat([]byte{byte('a' + i%26)}, n)
			fmt.Fprintf(&wire, "%x\r\n%s\r\n", n, part)
			want.Write(part)
		}
		wire.WriteString("0\r\nX-Trailer: 1\r\n\r\n")
		c := &conn{r: bufio.NewReaderSize(bytes.NewReader(wire.Bytes()), 4096)}
		body, tooLarge, ok := c.readChunked(1 << 20)
		if !ok || tooLarge || !bytes.Equal(body, want.Bytes()) {
			t.Errorf("chunks %v: got %d bytes (ok %v, tooLarge %v), want %d equal", sizes, len(body), ok, tooLarge, want.Len())
		}
		c = &conn{r: bufio.NewReaderSize(bytes.NewReader(wire.Bytes()), 4096)}
		if body, tooLarge, ok := c.readChunked(want.Len() - 1); !ok || !tooLarge || body != nil {
			t.Errorf("chunks %v over the limit: %d bytes, ok %v, tooLarge %v", sizes, len(body), ok, tooLarge)
		}
	}
}
