package esm

import (
	"context"
	"sync"
	"time"

	"github.com/lambdad/lambdad/internal/functions"
)

// mappingPoller is one enabled mapping's poller (SQS's, or a stream's).
// streamIdle is how long a shard with nothing new waits before asking
// again (AWS polls each shard once a second; lambdad a little faster).
const streamIdle = 250 * time.Millisecond

// streamPoller reads every shard of one stream mapping: a shard once its
// parents are read to their end, each shard's batches in order.
type streamPoller struct {
	r       *runner
	m       *mapping
	filters Filters
	src     streamSource
	// stopped closes when the mapping is disabled, changed or deleted;
	// a batch under way runs to its end (or to its next retry).
	stopped  chan struct{}
	stopOnce sync.Once
	// prev is the mapping's poller before this one (its settings
	// changed, or it was disabled and enabled): this one starts once it
	// ended, so that a shard is never read by two at once. finished
	// closes when this one ends.
	prev     *streamPoller
	finished chan struct{}
}

// newStreamPoller is called with r.mu held.
func newStreamPoller(r *runner, m *mapping) (*streamPoller, error) {
	fs, err := ParseFilters(m.Filters)
	if err != nil {
		return nil, err
	}
	p := &streamPoller{r: r, m: m, filters: fs, stopped: make(chan struct{}), finished: make(chan struct{})}
	if r.streamLast == nil {
		r.streamLast = map[string]*streamPoller{}
	}
	p.prev = r.streamLast[m.UUID]
	r.streamLast[m.UUID] = p
	return p, nil
}

func (p *streamPoller) start(ctx context.Context, wg *sync.WaitGroup) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer p.end()
		if p.prev != nil {
			select {
			case <-p.prev.finished:
			case <-ctx.Done():
				return
			}
			p.prev = nil
		}
		p.loop(ctx)
	}()
}

func (p *streamPoller) end() {
	close(p.finished)
	p.r.mu.Lock()
	if p.r.streamLast[p.m.UUID] == p {
		delete(p.r.streamLast, p.m.UUID)
	}
	p.r.mu.Unlock()
}

func (p *streamPoller) stop() { p.stopOnce.Do(func() { close(p.stopped) }) }

func (p *streamPoller) isStopped() bool {
	select {
	case <-p.stopped:
		return true
	default:
		return false
	}
}

// pause waits d, or less when the mapping stops or lambdad ends; it
// answers false then.
func (p *streamPoller) pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-p.stopped:
		return false
	case <-t.C:
		return true
	}
}

func (p *streamPoller) loop(ctx context.Context) {
	svc := p.r.svc
	if svc.cfg.AWS == nil {
		return
	}
	p.src = svc.streamSource(p.m.Stream, p.m.EventSourceARN)
	if k, ok := p.src.(*kinesisSource); ok {
		// The records name the function's role (invokeIdentityArn).
		if c, err := svc.cfg.Functions.GetConfiguration(ctx, p.m.Function.ref()); err == nil && c.Role != nil {
			k.role = *c.Role
		}
	}
	cps, err := svc.loadCheckpoints(ctx, p.m.ref())
	if err != nil {
		svc.cfg.Logger.Error("esm: cannot read checkpoints", "uuid", p.m.UUID, "err", err)
		return
	}
	// Shards seen at the mapping's very first listing start at its
	// StartingPosition; those that come later (children of a split)
	// at their beginning.
	first := len(cps) == 0
	var mu sync.Mutex
	done := map[string]bool{}
	for id, c := range cps {
		done[id] = c.Done
	}
	running := map[string]bool{}
	var wg sync.WaitGroup
	defer wg.Wait()
	bo := newBackoff()
	for {
		shards, err := p.src.shards(ctx)
		if ctx.Err() != nil || p.isStopped() {
			return
		}
		if err != nil {
			p.problem(resultSourceError+errText(err), err)
			bo.wait(ctx)
			continue
		}
		bo.reset()
		present := map[string]bool{}
		for _, s := range shards {
			present[s.ID] = true
		}
		mu.Lock()
		for _, s := range shards {
			if running[s.ID] || done[s.ID] {
				continue
			}
			ready := true
			for _, par := range s.Parents {
				// A parent gone from the stream (expired) holds nothing back.
				if present[par] && !done[par] {
					ready = false
				}
			}
			if !ready {
				continue
			}
			cp, ok := cps[s.ID]
			if !ok {
				cp.Start = "TRIM_HORIZON"
				if first {
					cp.Start = p.m.Stream.StartingPosition
				}
			}
			running[s.ID] = true
			wg.Add(1)
			go func(id string, cp checkpoint) {
				defer wg.Done()
				if p.shard(ctx, id, cp) {
					mu.Lock()
					done[id] = true
					mu.Unlock()
				}
				mu.Lock()
				delete(running, id)
				mu.Unlock()
			}(s.ID, cp)
		}
		mu.Unlock()
		first = false
		if !p.pause(ctx, time.Second) {
			return
		}
	}
}

// shard reads one shard from its checkpoint until it is closed and read
// to its end (true), or the mapping stops (false).
func (p *streamPoller) shard(ctx context.Context, id string, cp checkpoint) bool {
	svc := p.r.svc
	ref := p.m.ref()
	if cp.Seq == "" && cp.Start != "" {
		// Keep where reading starts, for a restart before any record.
		_ = svc.saveCheckpoint(ctx, ref, id, cp)
	}
	bo := newBackoff()
	iter := ""
	// ahead reads the next batch while the function runs the one before
	// (order is kept: batches are still handled one after the other).
	var ahead chan readResult
	defer func() {
		if ahead != nil {
			<-ahead
		}
	}()
	for {
		if ctx.Err() != nil || p.isStopped() {
			return false
		}
		if iter == "" {
			var err error
			if cp.Seq != "" {
				iter, err = p.src.iterator(ctx, id, "AFTER_SEQUENCE_NUMBER", cp.Seq, time.Time{})
			} else {
				var at time.Time
				if cp.Start == "AT_TIMESTAMP" {
					at = p.m.Stream.StartingTimestamp
				}
				iter, err = p.src.iterator(ctx, id, cp.Start, "", at)
			}
			if err != nil {
				p.problem(resultSourceError+errText(err), err)
				bo.wait(ctx)
				continue
			}
		}
		var r readResult
		if ahead != nil {
			r = <-ahead
			ahead = nil
		} else {
			r.batch, r.next, r.err = p.collect(ctx, id, iter)
		}
		batch, next, err := r.batch, r.next, r.err
		if err == nil && len(batch) > 0 && next != "" {
			ahead = make(chan readResult, 1)
			go func(it string) {
				var r readResult
				r.batch, r.next, r.err = p.collect(ctx, id, it)
				ahead <- r
			}(next)
		}
		if err != nil {
			// Iterators expire: start again from the checkpoint.
			p.problem(resultSourceError+errText(err), err)
			iter = ""
			bo.wait(ctx)
			continue
		}
		bo.reset()
		if len(batch) > 0 {
			last, ok := p.handle(ctx, id, batch, &cp)
			if !ok {
				return false
			}
			cp.Seq = last
			if err := svc.saveCheckpoint(context.WithoutCancel(ctx), ref, id, cp); err != nil {
				svc.cfg.Logger.Error("esm: cannot keep checkpoint", "uuid", p.m.UUID, "shard", id, "err", err)
			}
		}
		if next == "" {
			if cp.Window != nil && !p.closeWindow(ctx, id, &cp) {
				return false
			}
			cp.Done = true
			_ = svc.saveCheckpoint(context.WithoutCancel(ctx), ref, id, cp)
			return true
		}
		iter = next
		if len(batch) == 0 && cp.Window != nil && p.m.Stream.Tumbling > 0 &&
			!time.Now().Before(cp.Window.Start.Add(time.Duration(p.m.Stream.Tumbling)*time.Second)) {
			// The window is over and nothing more came: its final invoke.
			if !p.closeWindow(ctx, id, &cp) {
				return false
			}
		}
		if len(batch) == 0 && !p.pause(ctx, streamIdle) {
			return false
		}
	}
}

type readResult struct {
	batch []streamRecord
	next  string
	err   error
}

// collect reads one batch: up to BatchSize records; with a batching
// window, it keeps reading until the batch is full or the window (which
// starts with the first record) is over. next is "" when the shard is
// closed and read to its end.
func (p *streamPoller) collect(ctx context.Context, shard, iter string) (batch []streamRecord, next string, err error) {
	size := int(p.m.BatchSize)
	window := time.Duration(p.m.Window) * time.Second
	var deadline time.Time
	next = iter
	for len(batch) < size && next != "" {
		recs, n, err := p.src.read(ctx, shard, next, size-len(batch))
		if err != nil {
			if len(batch) > 0 {
				return batch, next, nil
			}
			return nil, "", err
		}
		next = n
		if len(recs) > 0 && len(batch) == 0 {
			deadline = time.Now().Add(window)
		}
		batch = append(batch, recs...)
		if len(batch) == 0 || window == 0 || !time.Now().Before(deadline) {
			break
		}
		if len(recs) == 0 && !p.pause(ctx, min(streamIdle, time.Until(deadline))) {
			break
		}
	}
	return batch, next, nil
}

func (p *streamPoller) problem(res string, err error) { p.r.problem(p.m, res, err) }

func (p *streamPoller) fn() functions.Ref { return p.m.Function.ref() }
