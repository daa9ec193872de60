//go:build linux

package sandbox

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"sync/atomic"

	"github.com/lambdad/lambdad/internal/sandbox/sockdiag"
)

// peerListener is an environment's Runtime API listener that hands the
// HTTP server only connections made by the environment's own user. The
// environments share the host's network (they keep outbound access and
// reach lambdad's API like on AWS), so any of them can connect to any
// loopback port; what tells them apart is the uid each runs as. The
// owner of the client's socket is asked of the kernel (sock_diag) once per
// connection, before a byte is read; a runtime keeps its connection alive
// across invocations, so this costs one query per runtime, not per call.
type peerListener struct {
	net.Listener
	uid    uint32
	local  netip.AddrPort
	log    *slog.Logger
	env    uint64
	warned atomic.Bool
}

func newPeerListener(ln net.Listener, uid int, log *slog.Logger, env uint64) (*peerListener, error) {
	local, err := netip.ParseAddrPort(ln.Addr().String())
	if err != nil {
		return nil, err
	}
	return &peerListener{Listener: ln, uid: uint32(uid), local: local, log: log, env: env}, nil
}

func (l *peerListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		owner, err := l.owner(c)
		if err == nil && owner == l.uid {
			return c, nil
		}
		c.Close()
		// One warning per environment: a hostile function may retry in a loop.
		lvl := slog.LevelDebug
		if !l.warned.Swap(true) {
			lvl = slog.LevelWarn
		}
		args := []any{"env", l.env, "peer", c.RemoteAddr().String()}
		if err != nil {
			args = append(args, "error", err.Error())
		} else {
			args = append(args, "uid", owner, "want", l.uid)
		}
		l.log.Log(context.Background(), lvl, "sandbox: refused a Runtime API connection from another user", args...)
	}
}

func (l *peerListener) owner(c net.Conn) (uint32, error) {
	peer, err := netip.ParseAddrPort(c.RemoteAddr().String())
	if err != nil {
		return 0, err
	}
	return sockdiag.TCPOwner(peer, l.local)
}

// FromEnvironment reports whether c was opened by a process of an isolated
// environment, of this lambdad or of another on the host: its socket
// belongs to one of the environment uids. lambdad's API uses it to hold
// functions to their own credentials. It is false when environments are not
// isolated or their owners cannot be checked, and for remote peers (the
// kernel knows no local socket for them).
func (m *Manager) FromEnvironment(c net.Conn) bool {
	if m.iso == nil || !m.iso.peerCheck {
		return false
	}
	local, err1 := netip.ParseAddrPort(c.LocalAddr().String())
	peer, err2 := netip.ParseAddrPort(c.RemoteAddr().String())
	if err1 != nil || err2 != nil {
		return false
	}
	uid, err := sockdiag.TCPOwner(peer, local)
	return err == nil && uid >= envUIDBase && uid < envUIDBase+envUIDBlockSize*envUIDBlocks
}
