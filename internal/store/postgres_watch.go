package store

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Watch registers fn for other nodes' changes. The first call starts the
// listener: a connection of its own, LISTENing on lambdad_changes.
func (p *Postgres) Watch(fn func(buckets []string)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.watchers = append(p.watchers, fn)
	if p.listen != nil || p.done != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.listen, p.done = cancel, make(chan struct{})
	go p.listenLoop(ctx)
}

func (p *Postgres) notify(buckets []string) {
	p.mu.Lock()
	ws := p.watchers
	p.mu.Unlock()
	for _, w := range ws {
		w(buckets)
	}
}

// listenLoop receives notifications until ctx ends. Whenever it starts
// listening (again, after the connection broke), notifications may have
// been missed: it tells every watcher that anything may have changed.
func (p *Postgres) listenLoop(ctx context.Context) {
	defer close(p.done)
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		conn, err := pgx.ConnectConfig(ctx, p.pool.Config().ConnConfig.Copy())
		if err == nil {
			_, err = conn.Exec(ctx, "LISTEN "+changesChannel)
		}
		if err != nil {
			if conn != nil {
				conn.Close(context.Background())
			}
			if ctx.Err() == nil {
				p.log.Warn("store: listen for other nodes' changes", "err", err, "retry", backoff)
			}
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		// Also on the first connection: changes made between the
		// caches' filling and LISTEN were not heard.
		p.notify(nil)
		for {
			n, err := conn.WaitForNotification(ctx)
			if err != nil {
				if ctx.Err() == nil {
					p.log.Warn("store: the listening connection broke; caches are dropped once it is back", "err", err)
				}
				break
			}
			node, list, ok := strings.Cut(n.Payload, "|")
			if !ok || node == p.node {
				continue // our own write: the caches know already
			}
			p.notify(strings.Split(list, ","))
		}
		conn.Close(context.Background())
	}
}
