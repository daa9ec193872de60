package esm

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lambdad/lambdad/internal/limits"
)

// kafkaPoller consumes one Kafka mapping's topic as a member of its
// consumer group and invokes the function a batch at a time. Offsets are
// committed only after the function succeeded with the batch, or the
// batch was given up as the mapping's error handling says (at least
// once); a failed batch is otherwise retried, with backoff, until it
// succeeds, AWS's default. A batch under way when the mapping stops is
// not committed: the group's next member (this mapping re-enabled, or
// lambdad restarted) reads it again.
type kafkaPoller struct {
	r        *runner
	m        *mapping
	filters  Filters
	stopped  chan struct{}
	stopOnce sync.Once
	cancel   context.CancelFunc
	mu       sync.Mutex
	// sasl watches the current client's SASL exchanges (kafka_auth.go);
	// set before the client is made, read by its hooks too.
	sasl atomic.Pointer[saslWatch]
	// auth is the current client's authentication options, producer
	// the client that writes to an on-failure topic (kafka_failure.go);
	// both belong to the loop's goroutine.
	auth     []kgo.Opt
	producer *kgo.Client
	// brokers is where the cluster is: the mapping's own for a
	// self-managed cluster, what resolveMSK found for MSK (kafka_msk.go),
	// with mskTLS and mskIAM the transport it chose.
	brokers        []string
	mskTLS, mskIAM bool
}

func newKafkaPoller(r *runner, m *mapping) (*kafkaPoller, error) {
	fs, err := ParseFilters(m.Filters)
	if err != nil {
		return nil, err
	}
	return &kafkaPoller{r: r, m: m, filters: fs, stopped: make(chan struct{}), brokers: m.Kafka.Brokers}, nil
}

// filter keeps the records FilterCriteria passes. Kafka mappings filter
// on the value alone (AWS's guide): the record's value, as a JSON object
// when it is one, else as a string.
func (p *kafkaPoller) filter(recs []*kgo.Record) []*kgo.Record {
	if len(p.filters) == 0 {
		return recs
	}
	var kept []*kgo.Record
	for _, r := range recs {
		var v any = string(r.Value)
		var obj map[string]any
		if json.Unmarshal(r.Value, &obj) == nil && obj != nil {
			v = obj
		}
		if p.filters.Pass(map[string]any{"value": v}) {
			kept = append(kept, r)
		}
	}
	return kept
}

func (p *kafkaPoller) start(ctx context.Context, wg *sync.WaitGroup) {
	ctx, cancel := context.WithCancel(ctx)
	p.mu.Lock()
	p.cancel = cancel
	p.mu.Unlock()
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer cancel()
		p.loop(ctx)
	}()
}

// stop ends consuming: a poll under way is cut (nothing is lost, nothing
// was committed for it), the client leaves the group.
func (p *kafkaPoller) stop() {
	p.stopOnce.Do(func() {
		close(p.stopped)
		p.mu.Lock()
		if p.cancel != nil {
			p.cancel()
		}
		p.mu.Unlock()
	})
}

func (p *kafkaPoller) isStopped() bool {
	select {
	case <-p.stopped:
		return true
	default:
		return false
	}
}

// resetOffset is where the group starts on a partition it has no
// committed offset for; with one, the commit wins (AWS ignores
// StartingPosition for a group that exists).
func (k *kafkaConf) resetOffset() kgo.Offset {
	switch k.Start {
	case "LATEST":
		return kgo.NewOffset().AtEnd()
	case "AT_TIMESTAMP":
		return kgo.NewOffset().AfterMilli(k.StartAt.UnixMilli())
	}
	return kgo.NewOffset().AtStart()
}

// loop reads the mapping's secrets and consumes with them; when the
// cluster refuses them (or they cannot be read) it says so, waits, and
// reads them again: a fixed secret is picked up without touching the
// mapping, and a broken one costs one attempt per backoff, not a loop.
func (p *kafkaPoller) loop(ctx context.Context) {
	back := newBackoff()
	for ctx.Err() == nil {
		err := p.resolveMSK(ctx) // kafka_msk.go
		var opts []kgo.Opt
		if err == nil {
			opts, err = p.kafkaClientOpts(ctx) // kafka_auth.go
		}
		if err == nil {
			err = p.consume(ctx, opts, back)
		}
		if ctx.Err() != nil || err == nil {
			return
		}
		res := p.authResult(err)
		if res == "" {
			res = resultSourceError + err.Error()
		}
		p.problem(res, err)
		back.wait(ctx)
	}
}

// consume reads the topic with one client until the mapping stops (nil)
// or the cluster refuses the client's credentials (the error).
func (p *kafkaPoller) consume(ctx context.Context, auth []kgo.Opt, back *backoff) error {
	k := p.m.Kafka
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(p.brokers...),
		kgo.ConsumerGroup(k.Group),
		kgo.ConsumeTopics(k.Topic),
		kgo.ConsumeResetOffset(k.resetOffset()),
		kgo.DisableAutoCommit(),
		// Partitions are not taken away while a batch is with the
		// function: its commit lands on partitions still ours.
		kgo.BlockRebalanceOnPoll(),
		// No KIP-714 metrics pushed to the cluster: nobody reads them
		// here, and compressing them is most of an idle mapping's CPU.
		kgo.DisableClientMetrics(),
		kgo.ClientID("lambdad"),
		kgo.WithHooks(groupErrors{p}),
	}, auth...)...)
	if err != nil {
		return err
	}
	// Close leaves the group, so that a disabled or deleted mapping's
	// partitions go at once to whoever else reads the group.
	defer cl.CloseAllowingRebalance()
	p.auth = auth
	defer func() {
		if p.producer != nil {
			p.producer.Close()
			p.producer = nil
		}
	}()
	for ctx.Err() == nil {
		recs, err := p.collect(ctx, cl)
		if err == nil && len(recs) == 0 {
			// An idle poll: a cluster that is down looks the same
			// (franz-go keeps dialing), so ask it.
			err = ping(ctx, cl)
		}
		if ctx.Err() != nil {
			// Stopped: whatever was polled is not committed.
			return nil
		}
		if err != nil && p.authResult(err) != "" {
			cl.AllowRebalance()
			return err
		}
		if err != nil {
			p.problem(resultSourceError+err.Error(), err)
			cl.AllowRebalance()
			back.wait(ctx)
			continue
		}
		back.reset()
		p.sasl.Load().reset()
		if len(recs) == 0 {
			cl.AllowRebalance()
			continue
		}
		// Records the filters drop are committed with the batch, never
		// delivered (AWS's filtering).
		if kept := p.filter(recs); len(kept) > 0 && !p.deliver(ctx, kept) {
			return nil
		}
		// Committed with lambdad's own context, not the mapping's: a
		// mapping stopped right after its function succeeded still
		// records that.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		err = cl.CommitRecords(cctx, recs...)
		cancel()
		if err != nil {
			// Not committed: the records come again (at least once).
			p.r.svc.cfg.Logger.Warn("esm: kafka commit failed", "uuid", p.m.UUID, "err", err)
		}
		cl.AllowRebalance()
	}
	return nil
}

// collect gathers one batch: up to BatchSize records, waiting up to the
// batching window after the first one.
func (p *kafkaPoller) collect(ctx context.Context, cl *kgo.Client) ([]*kgo.Record, error) {
	size := int(p.m.BatchSize)
	window := p.m.Kafka.window(p.m)
	pctx, cancel := context.WithTimeout(ctx, idlePoll)
	fs := cl.PollRecords(pctx, size)
	cancel()
	if err := fetchErr(fs); err != nil {
		return nil, err
	}
	recs := fs.Records()
	deadline := time.Now().Add(window)
	for len(recs) > 0 && len(recs) < size && window > 0 {
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		wctx, cancel := context.WithTimeout(ctx, left)
		fs := cl.PollRecords(wctx, size-len(recs))
		cancel()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err := fetchErr(fs); err != nil {
			// What we have is still a batch; the error comes back on
			// the next poll if it lasts.
			break
		}
		recs = append(recs, fs.Records()...)
	}
	return recs, nil
}

// idlePoll is how long a poll waits for records before the cluster is
// asked whether it is there.
const idlePoll = 5 * time.Second

func ping(ctx context.Context, cl *kgo.Client) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := cl.Ping(ctx); err != nil && ctx.Err() != context.Canceled {
		return err
	}
	return nil
}

// groupErrors reports what goes wrong joining or keeping the group
// (franz-go retries it on its own).
type groupErrors struct{ p *kafkaPoller }

func (g groupErrors) OnGroupManageError(err error) {
	if errors.Is(err, context.Canceled) || g.p.isStopped() {
		return
	}
	res := g.p.authResult(err) // kafka_auth.go
	if res == "" {
		res = resultSourceError + err.Error()
	}
	g.p.problem(res, err)
}

// fetchErr is the first real error of a poll (a poll cut by its context
// is no error).
func fetchErr(fs kgo.Fetches) error {
	if fs.IsClientClosed() {
		return kgo.ErrClientClosed
	}
	for _, e := range fs.Errors() {
		if errors.Is(e.Err, context.Canceled) || errors.Is(e.Err, context.DeadlineExceeded) {
			continue
		}
		return e.Err
	}
	return nil
}

// deliver hands recs to the function, in order, in as few invocations as
// fit the invoke payload limit (a batch of large records is split, as AWS
// keeps a batch under 6 MB); false when the mapping stopped first (the
// batch is left uncommitted, and comes again).
func (p *kafkaPoller) deliver(ctx context.Context, recs []*kgo.Record) bool {
	payload, err := p.payload(recs)
	if err != nil {
		p.problem("PROBLEM: "+err.Error(), err)
		return false
	}
	if len(payload) > limits.InvokeRequestBytes && len(recs) > 1 {
		h := len(recs) / 2
		return p.deliver(ctx, recs[:h]) && p.deliver(ctx, recs[h:])
	}
	return p.process(ctx, recs, payload) // kafka_failure.go
}

// payload is the event for recs, as the mapping's kind of cluster has it.
func (p *kafkaPoller) payload(recs []*kgo.Record) ([]byte, error) {
	return kafkaPayload(p.brokers, p.m.EventSourceARN, recs)
}

func (p *kafkaPoller) problem(res string, err error) { p.r.problem(p.m, res, err) }
