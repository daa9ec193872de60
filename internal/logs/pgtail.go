package logs

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"
)

// Live tail over PostgreSQL: a node publishes the batches it writes to its
// own subscribers at once and announces them to the others with NOTIFY
// (which PostgreSQL delivers at commit); every node LISTENs from its start
// on a connection of its own (so a live tail sees what other nodes commit
// once it started), and reads announced events back for its subscribers.
// Notices missed while that connection is down are not replayed: a live
// tail, like AWS's, may miss events.

// notice is one NOTIFY payload: the writing node and, per stream, the
// positions [From, To) it added.
type notice struct {
	Node string      `json:"n"`
	Runs []noticeRun `json:"r"`
}

type noticeRun struct {
	GroupID  int64  `json:"i"`
	Group    string `json:"g"`
	Stream   string `json:"s"`
	From, To int64
}

// maxNotice keeps payloads under PostgreSQL's 8000-byte limit.
const maxNotice = 7000

func notices(node string, runs []*run) []string {
	var out []string
	cur := notice{Node: node}
	size := 0
	for _, r := range runs {
		nr := noticeRun{r.gid, r.group, r.stream, r.base, r.base + int64(len(r.evs))}
		n := len(r.group) + len(r.stream) + 80
		if size+n > maxNotice && len(cur.Runs) > 0 {
			b, _ := json.Marshal(cur)
			out = append(out, string(b))
			cur.Runs, size = nil, 0
		}
		cur.Runs = append(cur.Runs, nr)
		size += n
	}
	if len(cur.Runs) > 0 {
		b, _ := json.Marshal(cur)
		out = append(out, string(b))
	}
	return out
}

// Subscribe starts receiving the events written to groups by any node;
// Unsubscribe ends it. A subscriber too slow to keep up misses events.
func (p *PG) Subscribe(groups []string) *Subscription {
	sub := &Subscription{C: make(chan []Event, 64), groups: map[string]bool{}}
	for _, g := range groups {
		sub.groups[g] = true
	}
	p.smu.Lock()
	defer p.smu.Unlock()
	if p.ctx.Err() != nil {
		close(sub.C)
		return sub
	}
	p.subs[sub] = struct{}{}
	return sub
}

// Unsubscribe ends sub.
func (p *PG) Unsubscribe(sub *Subscription) {
	p.smu.Lock()
	defer p.smu.Unlock()
	if _, ok := p.subs[sub]; ok {
		delete(p.subs, sub)
		close(sub.C)
	}
}

// wants reports whether a subscriber reads group.
func (p *PG) wants(group string) bool {
	p.smu.Lock()
	defer p.smu.Unlock()
	for sub := range p.subs {
		if sub.groups[group] {
			return true
		}
	}
	return false
}

func (p *PG) publish(evs []Event) {
	p.smu.Lock()
	defer p.smu.Unlock()
	for sub := range p.subs {
		sub.offer(evs)
	}
}

// publishLocal hands a batch this node wrote to its subscribers.
func (p *PG) publishLocal(runs []*run) {
	var live []Event
	for _, r := range runs {
		if !p.wants(r.group) {
			continue
		}
		for i, e := range r.evs {
			e.Group, e.Stream, e.Ord = r.group, r.stream, r.base+int64(i)
			live = append(live, e)
		}
	}
	if len(live) > 0 {
		p.publish(live)
	}
}

// listen receives other nodes' notices until Close, reconnecting after a
// failure; ready is closed once it first listens.
func (p *PG) listen(ready chan<- error) {
	defer p.wg.Done()
	for {
		err := p.listenOnce(ready)
		ready = nil
		if p.ctx.Err() != nil {
			return
		}
		p.cfg.Logger.Warn("function logs: live tail of other nodes interrupted", "err", err)
		select {
		case <-p.ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func (p *PG) listenOnce(ready chan<- error) (err error) {
	defer func() {
		if ready != nil {
			ready <- err
		}
	}()
	pc, err := p.pool.Acquire(p.ctx)
	if err != nil {
		return err
	}
	// Out of the pool: a LISTENing session must not serve other queries.
	conn := pc.Hijack()
	defer conn.Close(context.Background())
	if _, err := conn.Exec(p.ctx, "LISTEN "+pgChannel); err != nil {
		return err
	}
	if ready != nil {
		close(ready)
		ready = nil
	}
	for {
		n, err := conn.WaitForNotification(p.ctx)
		if err != nil {
			return err
		}
		p.smu.Lock()
		idle := len(p.subs) == 0
		p.smu.Unlock()
		var nt notice
		if idle || json.Unmarshal([]byte(n.Payload), &nt) != nil || nt.Node == p.node {
			continue
		}
		p.remote(nt)
	}
}

// remote reads back and publishes the events of another node's notice
// that a subscriber wants.
func (p *PG) remote(nt notice) {
	ctx, cancel := op(p.ctx)
	defer cancel()
	var live []Event
	for _, r := range nt.Runs {
		if !p.wants(r.Group) {
			continue
		}
		rows, _ := p.pool.Query(ctx, `SELECT ord, ts, ingestion, message FROM lambdad_log_events
			WHERE group_id = $1 AND stream = $2 AND ord >= $3 AND ord < $4 ORDER BY ord`, r.GroupID, r.Stream, r.From, r.To)
		e := Event{Group: r.Group, Stream: r.Stream}
		var msg []byte
		if _, err := pgx.ForEachRow(rows, []any{&e.Ord, &e.Timestamp, &e.Ingestion, &msg}, func() error {
			e.Message = string(msg)
			live = append(live, e)
			return nil
		}); err != nil {
			p.cfg.Logger.Warn("function logs: read another node's events", "err", err)
			return
		}
	}
	if len(live) > 0 {
		p.publish(live)
	}
}
