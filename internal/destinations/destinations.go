// Package destinations delivers what lambdad reports to other AWS services:
// the records of asynchronous invocations (to SQS, SNS, EventBridge and S3),
// the events of the dead-letter queue (SQS, SNS) and the on-failure records
// of stream mappings. The Dispatcher here retries a delivery a few times
// with backoff off the caller's goroutine, then logs and counts it; the
// Transport that calls the services is the awsdest package's, so that the
// domain packages that use this one need no AWS SDK.
package destinations

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Attribute is one message attribute of an SQS message or SNS
// notification (DataType "String" or "Number").
type Attribute struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// Message is one thing to deliver. The invoke queue stores it until it is
// delivered: its JSON is part of lambdad's stored schema.
type Message struct {
	// Target is the ARN of an SQS queue, SNS topic, EventBridge event bus
	// or S3 bucket.
	Target string `json:"target"`
	// Body is the record (or, for a dead-letter queue, the event).
	Body []byte `json:"body"`
	// Attributes are the SQS/SNS message attributes (dead-letter queues).
	Attributes map[string]Attribute `json:"attributes,omitempty"`
	// DetailType and Resources are the EventBridge event's; its Source is
	// always "lambda".
	DetailType string   `json:"detailType,omitempty"`
	Resources  []string `json:"resources,omitempty"`
	// Key is the S3 object key.
	Key string `json:"key,omitempty"`
}

// Service is the target's service, as ARNs name it ("sqs", "sns",
// "events", "s3"); "" when Target is no ARN.
func (m Message) Service() string {
	p := strings.SplitN(m.Target, ":", 6)
	if len(p) != 6 || p[0] != "arn" {
		return ""
	}
	return p[2]
}

// Transport makes one attempt at a delivery.
type Transport interface {
	Send(ctx context.Context, m Message) error
}

// Checker is a Transport that can tell whether a target's service is
// reachable at all.
type Checker interface {
	Check(target string) error
}

// Counts are the dispatcher's running totals, for metrics.
type Counts struct {
	Delivered, Failures atomic.Int64
}

// Config tunes a Dispatcher.
type Config struct {
	Transport Transport
	// Attempts is how many times a delivery is tried (default 3).
	Attempts int
	// Backoff is the wait after the first failed attempt; it doubles
	// after each (default 1 s).
	Backoff time.Duration
	// Timeout bounds one attempt (default 10 s).
	Timeout time.Duration
	// Workers bounds the deliveries in flight (default 16).
	Workers int
	Logger  *slog.Logger
}

// Dispatcher delivers messages in the background.
type Dispatcher struct {
	cfg    Config
	sem    chan struct{}
	counts Counts
	wg     sync.WaitGroup
	ctx    context.Context
	cancel context.CancelFunc
}

// NewDispatcher makes a dispatcher; Close stops it.
func NewDispatcher(cfg Config) *Dispatcher {
	if cfg.Attempts <= 0 {
		cfg.Attempts = 3
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 16
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Dispatcher{cfg: cfg, sem: make(chan struct{}, cfg.Workers), ctx: ctx, cancel: cancel}
}

// Check reports whether lambdad can reach target's service (an
// InvalidParameterValue fault naming --aws-endpoint-url when it cannot); it
// does not call the service.
func (d *Dispatcher) Check(target string) error {
	if c, ok := d.cfg.Transport.(Checker); ok {
		return c.Check(target)
	}
	return nil
}

// Counts returns the running totals.
func (d *Dispatcher) Counts() *Counts { return &d.counts }

// Close stops retrying; deliveries in flight end with their attempt.
func (d *Dispatcher) Close() {
	d.cancel()
	d.wg.Wait()
}

// ErrClosed is what Send answers once the dispatcher is closed.
var ErrClosed = errors.New("destinations: dispatcher closed")

// Go delivers m in the background; done, when not nil, learns the outcome:
// nil when delivered, ErrClosed when the dispatcher closed first (the
// caller may keep m to deliver after a restart), else the last error,
// already logged and counted. It never blocks.
func (d *Dispatcher) Go(m Message, done func(err error)) {
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		err := d.send(d.ctx, m)
		if done != nil {
			done(err)
		}
	}()
}

// Send delivers m now, with the retries, and reports the last error
// (already logged and counted). Stream mappings send their on-failure
// records with it: Target an SQS queue, SNS topic or S3 bucket ARN, Body
// the JSON record, Key the S3 object key.
func (d *Dispatcher) Send(ctx context.Context, m Message) error {
	return d.send(ctx, m)
}

func (d *Dispatcher) send(ctx context.Context, m Message) error {
	var err error
	wait := d.cfg.Backoff
	for attempt := 1; ; attempt++ {
		// A worker slot is held for an attempt only, not for the waits
		// between: targets that keep failing do not hold up the others.
		err = nil
		select {
		case d.sem <- struct{}{}:
		case <-ctx.Done():
			if d.ctx.Err() != nil {
				return ErrClosed
			}
			err = ctx.Err()
		}
		if err == nil {
			actx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
			err = d.cfg.Transport.Send(actx, m)
			cancel()
			<-d.sem
		}
		if err == nil {
			d.counts.Delivered.Add(1)
			return nil
		}
		if attempt >= d.cfg.Attempts || ctx.Err() != nil {
			break
		}
		d.cfg.Logger.Debug("destination delivery failed; retrying", "target", m.Target, "attempt", attempt, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		if ctx.Err() != nil {
			break
		}
		wait *= 2
	}
	if ctx.Err() != nil && d.ctx.Err() != nil {
		return ErrClosed // shutting down: not a failure of the target
	}
	d.counts.Failures.Add(1)
	d.cfg.Logger.Warn("destination delivery failed", "target", m.Target, "attempts", d.cfg.Attempts, "err", err)
	return err
}
