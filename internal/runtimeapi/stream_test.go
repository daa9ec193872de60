package runtimeapi

import (
	"bufio"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// streamEnv is a fakeEnv that takes the responses of ids starting with
// "s-" as they arrive, recording each Read's bytes.
type streamEnv struct {
	fakeEnv
	reads     chan string
	errType   string
	errBody   string
	ctype     string
	streaming bool
	stopAfter int // reads before it stops (Truncated); 0: never
}

func (s *streamEnv) ResultStream(id string, b *Body) (Verdict, bool) {
	if !strings.HasPrefix(id, "s-") {
		return 0, false
	}
	s.ctype, s.streaming = b.ContentType, b.Streaming
	buf := make([]byte, 64)
	for i := 1; ; i++ {
		n, err := b.Read(buf)
		if n > 0 {
			s.reads <- string(buf[:n])
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			close(s.reads)
			return Accepted, true
		}
		if i == s.stopAfter {
			close(s.reads)
			return Truncated, true
		}
	}
	s.errType, s.errBody = b.ErrorType, string(b.ErrorBody)
	close(s.reads)
	return Accepted, true
}

// TestStreamedResponse sends a chunked /response piece by piece, as a
// runtime streams it, and checks that the Env reads each chunk before the
// next is sent, and the trailers' error after the last.
func TestStreamedResponse(t *testing.T) {
	env := &streamEnv{reads: make(chan string, 16)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	env.results, env.kinds = map[string][]byte{}, map[string]ResultKind{}
	s := Serve(ln, env, 1<<20, nil)
	t.Cleanup(s.Close)
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	send := func(s string) {
		if _, err := io.WriteString(c, s); err != nil {
			t.Fatal(err)
		}
	}
	send("POST /2018-06-01/runtime/invocation/s-1/response HTTP/1.1\r\nLambda-Runtime-Function-Response-Mode: streaming\r\n" +
		"Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\nTrailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n\r\n")
	send("5\r\nhello\r\n")
	if got := <-env.reads; got != "hello" {
		t.Fatalf("first read %q", got)
	}
	send("6;ext=1\r\n world\r\n")
	if got := <-env.reads; got != " world" {
		t.Fatalf("second read %q", got)
	}
	body := base64.StdEncoding.EncodeToString([]byte(`{"errorType":"E","errorMessage":"late"}`))
	send("0\r\nLambda-Runtime-Function-Error-Type: E\r\nLambda-Runtime-Function-Error-Body: " + body + "\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, open := <-env.reads; open || resp.StatusCode != 202 {
		t.Fatalf("status %d, reads still open %v", resp.StatusCode, open)
	}
	if env.errType != "E" || env.errBody != `{"errorType":"E","errorMessage":"late"}` || env.ctype != "text/plain" || !env.streaming {
		t.Errorf("trailers %q %q, content type %q, streaming %v", env.errType, env.errBody, env.ctype, env.streaming)
	}
}

// TestErrorTrailersBuffered: a chunked /response read whole whose
// trailers report an error is the invocation's failure, with the error
// body decoded.
func TestErrorTrailersBuffered(t *testing.T) {
	f, addr := serve(t, 1<<20)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	body := base64.StdEncoding.EncodeToString([]byte(`{"errorType":"errorString","errorMessage":"x"}`))
	io.WriteString(c, "POST /2018-06-01/runtime/invocation/req-1/response HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"+
		"3\r\nabc\r\n0\r\nLambda-Runtime-Function-Error-Type: errorString\r\nLambda-Runtime-Function-Error-Body: "+body+"\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 202 || f.kinds["req-1"] != Failure || string(f.results["req-1"]) != `{"errorType":"errorString","errorMessage":"x"}` {
		t.Errorf("status %d, kind %v, body %q", resp.StatusCode, f.kinds["req-1"], f.results["req-1"])
	}
}

// TestStreamTruncated: an Env that stops reading gets the runtime a 413
// and the connection closed (the rest of the body cannot be framed).
func TestStreamTruncated(t *testing.T) {
	env := &streamEnv{reads: make(chan string, 16), stopAfter: 1}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	env.results, env.kinds = map[string][]byte{}, map[string]ResultKind{}
	s := Serve(ln, env, 1<<20, nil)
	t.Cleanup(s.Close)
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "POST /2018-06-01/runtime/invocation/s-2/response HTTP/1.1\r\nContent-Length: 10\r\n\r\n01234")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 413 || !resp.Close {
		t.Errorf("status %d, close %v", resp.StatusCode, resp.Close)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("connection still open: %v", err)
	}
}
