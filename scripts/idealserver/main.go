// Command idealserver is a measuring stick, not a server: the least a
// Lambda-compatible server has to do for one warm invoke, done by one
// goroutine with no hand-off between goroutines, no logs, no cgroup, no
// validation and no routing. It starts the bootstrap given, takes its
// first /next, and then for each request of each client connection (one
// at a time) writes the invocation as the answer to the pending /next,
// reads the /response, answers it 202, answers the client, and reads the
// runtime's next /next. Its latency and CPU per invoke are a floor for
// lambdad's on the same machine (scripts/rie-compare.sh with IDEAL=1).
//
// With "handoff" the runtime's connection is read by a goroutine of its
// own, which hands each result to the client's goroutine before it
// answers 202 and reads the next /next, as lambdad's Runtime API does:
// the difference is what that one hand-off per invoke costs.
//
//	idealserver LISTEN_ADDR BOOTSTRAP [handoff]
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

func main() {
	if len(os.Args) < 3 || len(os.Args) > 4 || len(os.Args) == 4 && os.Args[3] != "handoff" {
		log.Fatal("usage: idealserver LISTEN_ADDR BOOTSTRAP [handoff]")
	}
	handoff := len(os.Args) == 4
	cl, err := net.Listen("tcp", os.Args[1])
	if err != nil {
		log.Fatal(err)
	}
	rl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	cmd := exec.Command(os.Args[2])
	cmd.Env = append(os.Environ(), "AWS_LAMBDA_RUNTIME_API="+rl.Addr().String())
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	rc, err := rl.Accept()
	if err != nil {
		log.Fatal(err)
	}
	rr := bufio.NewReader(rc)
	if _, err := readHead(rr); err != nil { // the first /next
		log.Fatal(err)
	}
	seq := 0
	var out bytes.Buffer
	// With handoff, as in lambdad: an invocation is written by whichever
	// side comes second, the client's goroutine (the /next is waiting) or
	// the runtime's (the invocation is queued).
	var results chan []byte
	var mu sync.Mutex
	waiting := true
	var queued []byte
	deliver := func(inv []byte) {
		if _, err := rc.Write(inv); err != nil {
			log.Fatal(err)
		}
	}
	if handoff {
		results = make(chan []byte)
		go func() {
			for {
				res, err := result(rr)
				if err != nil {
					log.Fatal(err)
				}
				results <- res
				if err := next(rc, rr); err != nil {
					log.Fatal(err)
				}
				mu.Lock()
				inv := queued
				queued, waiting = nil, inv == nil
				mu.Unlock()
				if inv != nil {
					deliver(inv)
				}
			}
		}()
	}
	for {
		c, err := cl.Accept()
		if err != nil {
			log.Fatal(err)
		}
		cr := bufio.NewReader(c)
		for {
			h, err := readHead(cr)
			if err != nil {
				break
			}
			payload, err := readBody(cr, h)
			if err != nil {
				break
			}
			seq++
			out.Reset()
			fmt.Fprintf(&out, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"+
				"Lambda-Runtime-Aws-Request-Id: 00000000-0000-4000-8000-%012d\r\n"+
				"Lambda-Runtime-Deadline-Ms: %d\r\n"+
				"Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:echo\r\n"+
				"Lambda-Runtime-Trace-Id: Root=1-00000000-000000000000000000000000;Sampled=0\r\n"+
				"Content-Length: %d\r\n\r\n", seq, time.Now().Add(3*time.Second).UnixMilli(), len(payload))
			out.Write(payload)
			if !handoff {
				deliver(out.Bytes())
			} else {
				mu.Lock()
				w := waiting
				waiting = false
				if !w {
					queued = bytes.Clone(out.Bytes())
				}
				mu.Unlock()
				if w {
					deliver(out.Bytes())
				}
			}
			var res []byte
			if handoff {
				res = <-results
			} else if res, err = result(rr); err != nil {
				log.Fatal(err)
			}
			out.Reset()
			fmt.Fprintf(&out, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(res))
			out.Write(res)
			if _, err := c.Write(out.Bytes()); err != nil {
				break
			}
			if !handoff {
				if err := next(rc, rr); err != nil {
					log.Fatal(err)
				}
			}
		}
		_ = c.Close()
	}
}

// result reads the runtime's /response.
func result(rr *bufio.Reader) ([]byte, error) {
	h, err := readHead(rr)
	if err != nil {
		return nil, err
	}
	return readBody(rr, h)
}

// next answers the /response 202 and reads the runtime's next /next.
func next(rc net.Conn, rr *bufio.Reader) error {
	if _, err := io.WriteString(rc, "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{\"status\":\"OK\"}\n"); err != nil {
		return err
	}
	_, err := readHead(rr)
	return err
}

// readHead reads a request head and returns its fields by lower-case name.
func readHead(r *bufio.Reader) (map[string]string, error) {
	h := map[string]string{}
	started := false
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		l = strings.TrimRight(l, "\r\n")
		switch {
		case l == "" && !started: // blank lines before a request
		case l == "":
			return h, nil
		case !started:
			started = true // the request line
		default:
			k, v, _ := strings.Cut(l, ":")
			h[strings.ToLower(k)] = strings.TrimSpace(v)
		}
	}
}

// readBody reads a Content-Length or chunked body (aws-lambda-go posts
// its response chunked).
func readBody(r *bufio.Reader, h map[string]string) ([]byte, error) {
	if !strings.EqualFold(h["transfer-encoding"], "chunked") {
		n, _ := strconv.Atoi(h["content-length"])
		b := make([]byte, n)
		_, err := io.ReadFull(r, b)
		return b, err
	}
	var b []byte
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		size, _, _ := strings.Cut(strings.TrimSpace(l), ";")
		n, err := strconv.ParseInt(size, 16, 64)
		if err != nil {
			return nil, err
		}
		if n == 0 { // trailers, up to the blank line
			for {
				l, err := r.ReadString('\n')
				if err != nil || strings.TrimRight(l, "\r\n") == "" {
					return b, err
				}
			}
		}
		c := make([]byte, n+2) // the chunk and its CRLF
		if _, err := io.ReadFull(r, c); err != nil {
			return nil, err
		}
		b = append(b, c[:n]...)
	}
}
