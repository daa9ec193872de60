//go:build linux

package sockdiag

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"testing"

	"github.com/lambdad/lambdad/internal/testkit"
)

// childEnv makes the test binary a client that connects as another user:
// "<uid> <addr>". It prints "ok" once connected and holds the connection
// until its stdin closes.
const childEnv = "SOCKDIAG_TEST_CHILD"

func TestMain(m *testing.M) {
	if v := os.Getenv(childEnv); v != "" {
		os.Exit(child(v))
	}
	os.Exit(m.Run())
}

func child(spec string) int {
	c, err := testkit.DialAs(spec)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer c.Close()
	fmt.Println("ok")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	return 0
}

func addrPort(t *testing.T, a net.Addr) netip.AddrPort {
	t.Helper()
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		t.Fatal(err)
	}
	return ap
}

// owner is what sock_diag says of the client end of c, a connection
// accepted on ln.
func owner(t *testing.T, ln net.Listener, c net.Conn) (uint32, error) {
	t.Helper()
	return TCPOwner(addrPort(t, c.RemoteAddr()), addrPort(t, ln.Addr()))
}

func listen(t *testing.T, network, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Skipf("no %s loopback here: %v", network, err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func TestOwnConnection(t *testing.T) {
	for _, tc := range []struct{ network, addr string }{{"tcp4", "127.0.0.1:0"}, {"tcp6", "[::1]:0"}} {
		t.Run(tc.network, func(t *testing.T) {
			ln := listen(t, tc.network, tc.addr)
			cl, err := net.Dial(tc.network, ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			srv, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			uid, err := owner(t, ln, srv)
			if err != nil || uid != uint32(os.Geteuid()) {
				t.Fatalf("owner = %d, %v; want %d", uid, err, os.Geteuid())
			}
			// The reversed pair is the server's own accepted socket, not the
			// client's: the query is exact.
			if uid, err := TCPOwner(addrPort(t, ln.Addr()), addrPort(t, srv.RemoteAddr())); err != nil || uid != uint32(os.Geteuid()) {
				t.Fatalf("accepted socket: %d, %v", uid, err)
			}
		})
	}
}

func TestOtherUserConnection(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a client as another user")
	}
	const uid = 43210
	ln := listen(t, "tcp4", "127.0.0.1:0")
	cmd := testkit.AsUser(childEnv, uid, ln.Addr().String())
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); _ = cmd.Wait() }()
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "ok\n" {
		t.Fatalf("child: %q %v", line, err)
	}
	srv, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	got, err := owner(t, ln, srv)
	if err != nil || got != uid {
		t.Fatalf("owner = %d, %v; want %d", got, err, uid)
	}
}

func TestNoSuchSocket(t *testing.T) {
	ln := listen(t, "tcp4", "127.0.0.1:0")
	// Nothing is connected from this port of 127.0.0.2 to the listener.
	_, err := TCPOwner(netip.MustParseAddrPort("127.0.0.2:9"), addrPort(t, ln.Addr()))
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
}

func TestParseReplyRejectsGarbage(t *testing.T) {
	want := make([]byte, sockIDLen)
	for _, b := range [][]byte{nil, {1, 2, 3}, make([]byte, nlmsgHdrLen)} {
		if _, err := parseReply(b, want); err == nil {
			t.Errorf("parseReply(%v) accepted it", b)
		}
	}
}
