package cluster

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// channel is the PostgreSQL notification channel of the cluster. A
// notification is "kind\nnode\nscope": a node wants share of scope that
// none is free of (kindWant), or gave some back (kindFree; scope "*": all,
// as when a node leaves). Notifications only hasten what polling and the
// heartbeat do anyway: one that is lost costs time, never correctness.
const channel = "lambdad_cluster"

const (
	kindWant = "want"
	kindFree = "free"
)

func (n *Node) notify(ctx context.Context, kind, scope string) {
	if _, err := n.pool.Exec(ctx, `SELECT pg_notify($1, $2)`, channel, kind+"\n"+n.cfg.NodeID+"\n"+scope); err != nil && ctx.Err() == nil {
		n.log.Debug("cluster notify", "err", err)
	}
}

// listen receives other nodes' notifications on a connection of its own
// until the node ends, connecting again after a failure.
func (n *Node) listen() {
	defer n.done.Done()
	for n.ctx.Err() == nil {
		if err := n.listenOnce(n.ctx); err != nil && n.ctx.Err() == nil {
			n.log.Warn("cluster notifications", "err", err)
			// Waiters poll meanwhile; wake them to look now.
			n.lim.wakeAll()
			select {
			case <-n.ctx.Done():
			case <-time.After(n.cfg.Heartbeat):
			}
		}
	}
}

func (n *Node) listenOnce(ctx context.Context) error {
	// A connection of its own, outside the pool: it stays LISTENing, and
	// the pool keeps its connections for grants.
	conn, err := pgx.ConnectConfig(ctx, n.pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+channel); err != nil {
		return err
	}
	for {
		m, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		kind, rest, _ := strings.Cut(m.Payload, "\n")
		node, scope, ok := strings.Cut(rest, "\n")
		if !ok || node == n.cfg.NodeID {
			continue
		}
		switch kind {
		case kindWant:
			n.lim.wanted(scope)
		case kindFree:
			if scope == "*" {
				n.lim.wakeAll()
			} else {
				n.lim.freed(scope)
			}
		}
	}
}
