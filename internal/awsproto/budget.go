package awsproto

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// bodyBudget bounds the bytes of request bodies held at once, across all
// requests: a request reserves its body's size before reading it, and gives
// it back once answered. Slow or stalled clients therefore cannot make
// lambdad hold more than the budget, however many connections they open.
type bodyBudget struct {
	mu      sync.Mutex
	total   int64
	free    int64
	waiters int
	freed   chan struct{} // closed and replaced when bytes come back and someone waits
	wait    time.Duration
}

func newBodyBudget(total int64, wait time.Duration) *bodyBudget {
	return &bodyBudget{total: total, free: total, freed: make(chan struct{}), wait: wait}
}

// acquire reserves n bytes (at most the whole budget), waiting up to b.wait
// for them, and returns what it reserved, to release. It answers AWS's
// throttling error when they do not come.
func (b *bodyBudget) acquire(ctx context.Context, n int64) (int64, error) {
	n = min(n, b.total) // one request may always use all of it
	var timer *time.Timer
	for {
		b.mu.Lock()
		if b.free >= n {
			b.free -= n
			b.mu.Unlock()
			if timer != nil {
				timer.Stop()
			}
			return n, nil
		}
		b.waiters++
		freed := b.freed
		b.mu.Unlock()
		if timer == nil {
			timer = time.NewTimer(b.wait)
		}
		var err error
		select {
		case <-freed:
		case <-timer.C:
			err = throttled()
		case <-ctx.Done():
			err = ctx.Err()
		}
		b.mu.Lock()
		b.waiters--
		b.mu.Unlock()
		if err != nil {
			timer.Stop()
			return 0, err
		}
	}
}

func (b *bodyBudget) release(n int64) {
	b.mu.Lock()
	b.free += n
	if b.waiters > 0 {
		close(b.freed)
		b.freed = make(chan struct{})
	}
	b.mu.Unlock()
}

// throttled is the answer when request bodies in flight use the whole
// budget. It is Lambda's own throttling error (429 TooManyRequestsException),
// which every AWS SDK retries with backoff, rather than a 503 that would
// blame lambdad's health; the reason is the one AWS gives for request rates.
func throttled() error {
	e := Errorf("TooManyRequestsException", "Rate Exceeded.").With("Reason", "CallerRateLimitExceeded")
	e.Header = map[string]string{"Retry-After": strconv.Itoa(1)}
	e.Status = http.StatusTooManyRequests
	return e
}
