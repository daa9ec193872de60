//go:build linux

package sandbox

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/lambdad/lambdad/internal/testkit"
)

// peerChildEnv makes the test binary a client of a Runtime API listener
// running as another user: "<uid> <addr>". It sends "hello\n" and prints
// what comes back.
const peerChildEnv = "SANDBOX_PEER_TEST_CHILD"

func peerChild(spec string) int {
	c, err := testkit.DialAs(spec)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer c.Close()
	if _, err := c.Write([]byte("hello\n")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	line, _ := bufio.NewReader(c).ReadString('\n')
	fmt.Print(line)
	return 0
}

// TestPeerListener: a connection from a process running as the listener's
// user reaches the server; one from this process (root) is closed without
// being handed over.
func TestPeerListener(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a client as another user")
	}
	const uid = envUIDBase + envUIDBlocks*envUIDBlockSize + 7 // no block's
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := newPeerListener(raw, uid, slog.New(slog.NewTextHandler(testWriter{t}, nil)), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 2)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()

	// Root's connection: closed unread, never accepted.
	mine, err := net.Dial("tcp", raw.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer mine.Close()
	_ = mine.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, err := mine.Read(make([]byte, 1)); err != io.EOF && !isReset(err) {
		t.Fatalf("root's connection: read %d, %v; want it closed", n, err)
	}

	// The user's own connection is handed to the server.
	cmd := testkit.AsUser(peerChildEnv, uid, raw.Addr().String())
	cmd.Stderr = os.Stderr
	done := make(chan []byte, 1)
	go func() { out, _ := cmd.Output(); done <- out }()
	select {
	case c := <-accepted:
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || line != "hello\n" {
			t.Fatalf("read %q, %v", line, err)
		}
		c.Write([]byte("welcome\n"))
		c.Close()
	case <-time.After(10 * time.Second):
		t.Fatal("the environment user's connection was not accepted")
	}
	if out := <-done; string(out) != "welcome\n" {
		t.Errorf("child got %q", out)
	}
}

func isReset(err error) bool { return errors.Is(err, syscall.ECONNRESET) }
