package esm

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lambdad/lambdad/internal/store"
)

// runner keeps one poller per enabled mapping, in step with the store.
type runner struct {
	svc *Service
	mu  sync.Mutex
	ctx context.Context // nil until start
	wg  sync.WaitGroup
	// pollers by UUID; each has its own cancel.
	pollers map[string]mappingPoller
	// results are LastProcessingResult by UUID, kept in memory and
	// written to the store only when they change.
	results map[string]string
	// streamLast is each stream mapping's latest poller, by UUID
	// (stream_poller.go): a new one waits for the one before to end.
	streamLast map[string]*streamPoller
	// held are the leases this node holds, by UUID (lease.go): it polls
	// only those mappings.
	held   map[string]held
	counts Counts
}

// Counts are the pollers' figures for lambdad's metrics.
type Counts struct {
	// Problems counts failed attempts to read a source or to have the
	// function take a batch (each logged when its result is new).
	Problems atomic.Int64
	// StartFailures counts enabled mappings whose poller could not start.
	StartFailures atomic.Int64
	// SQSDeleted counts the SQS messages mappings deleted: handled by the
	// function, or filtered out.
	SQSDeleted atomic.Int64
}

// Counts are the figures kept since the service was made.
func (s *Service) Counts() *Counts { return &s.run.counts }

// Troubled is how many running mappings' last processing result is a
// problem: a source down, a function missing or failing.
func (s *Service) Troubled() int {
	r := s.run
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, res := range r.results {
		if strings.HasPrefix(res, "PROBLEM") {
			n++
		}
	}
	return n
}

// problem reports one of m's processing problems: counted always, logged
// when the result is new (a source that stays down logs once, not once a
// retry), and kept as its LastProcessingResult.
func (r *runner) problem(m *mapping, res string, err error) {
	r.counts.Problems.Add(1)
	if r.result(m.UUID) != res {
		r.svc.cfg.Logger.Warn("esm: "+res, "uuid", m.UUID, "source", m.source(), "function", m.FunctionName, "err", err)
	}
	r.report(m.ref(), res)
}

// start runs the pollers of every enabled mapping, and a sweep that
// removes deleted ones once their Deleting is over.
func (r *runner) start(ctx context.Context) {
	r.mu.Lock()
	r.ctx = ctx
	r.mu.Unlock()
	r.releaseDead(ctx)
	var refs []Ref
	_ = r.svc.cfg.Store.View(ctx, func(tx store.Tx) error {
		return scan(tx, "", "", func(m *mapping) bool {
			refs = append(refs, m.ref())
			return true
		})
	})
	for _, ref := range refs {
		r.changed(ref)
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.leaseLoop(ctx)
	}()
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		every(ctx, time.Second, r.sweep)
	}()
}

// sweep removes mappings whose Deleting is over.
func (r *runner) sweep(ctx context.Context) {
	now := r.svc.cfg.Now()
	_ = r.svc.cfg.Store.Update(ctx, func(tx store.Tx) error {
		var gone []Ref
		_ = scan(tx, "", "", func(m *mapping) bool {
			if m.gone(now) {
				gone = append(gone, m.ref())
			}
			return true
		})
		for _, g := range gone {
			if err := tx.Delete(bucket, g.key()); err != nil {
				return err
			}
			if err := deleteCheckpoints(tx, g); err != nil { // shards.go
				return err
			}
		}
		return nil
	})
}

// changed brings ref's poller in line with its stored mapping: started
// when enabled, stopped when disabled or deleted, restarted with new
// settings.
func (r *runner) changed(ref Ref) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ctx == nil || r.ctx.Err() != nil {
		return
	}
	if old := r.pollers[ref.UUID]; old != nil {
		old.stop()
		delete(r.pollers, ref.UUID)
	}
	// Polled only under this node's lease (lease.go); a mapping no longer
	// polled gives its lease up.
	now := time.Now()
	m, ok, _, err := r.lease(r.ctx, ref, now)
	if err != nil || m == nil || !ok {
		delete(r.held, ref.UUID)
		delete(r.results, ref.UUID)
		return
	}
	r.held[ref.UUID] = held{ref: ref, until: now.Add(r.svc.cfg.LeaseTime), rev: revision(m)}
	var p mappingPoller
	if m.Stream != nil {
		p, err = newStreamPoller(r, m) // stream_poller.go
	} else if m.Kafka != nil {
		p, err = newKafkaPoller(r, m) // kafka_poller.go
	} else {
		p, err = newPoller(r, m)
	}
	if err != nil {
		r.counts.StartFailures.Add(1)
		r.svc.cfg.Logger.Error("esm: cannot start mapping", "uuid", m.UUID, "source", m.source(), "err", err)
		return
	}
	r.pollers[ref.UUID] = p
	p.start(r.ctx, &r.wg)
}

// mappingPoller reads one mapping's source (sqs.go's poller, and the
// other sources' own).
type mappingPoller interface {
	start(ctx context.Context, wg *sync.WaitGroup)
	stop()
}

func (r *runner) wait() {
	r.mu.Lock()
	for _, p := range r.pollers {
		p.stop()
	}
	r.mu.Unlock()
	r.wg.Wait()
	// Stopped cleanly: another node may take the mappings over at once.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r.mu.Lock()
	refs := make([]Ref, 0, len(r.held))
	for _, h := range r.held {
		refs = append(refs, h.ref)
	}
	r.held = map[string]held{}
	r.mu.Unlock()
	for _, ref := range refs {
		r.release(ctx, ref)
	}
}

// result is uuid's last processing result ("" before any).
func (r *runner) result(uuid string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.results[uuid]
}

// report keeps uuid's processing result, and stores it when it changed.
func (r *runner) report(ref Ref, res string) {
	r.mu.Lock()
	same := r.results[ref.UUID] == res
	r.results[ref.UUID] = res
	ctx := r.ctx
	r.mu.Unlock()
	if same || ctx == nil {
		return
	}
	_ = r.svc.cfg.Store.Update(context.WithoutCancel(ctx), func(tx store.Tx) error {
		m, err := get(tx, ref)
		if err != nil {
			return nil
		}
		m.LastResult = res
		return put(tx, m)
	})
}
