package durable

import (
	"context"
	"time"
)

// The one scheduler (docs/durable.md 2.3): a single goroutine over the
// persistent due-time index, so that waiting executions cost keys in the
// store, not goroutines or timers in memory.

// purgeEvery is how often Run removes executions past their retention.
const purgeEvery = time.Hour

// retryAfterError is how long Run waits after the store failed it.
const retryAfterError = time.Second

// notify tells Run that a committed change may have set a timer earlier
// than the one it sleeps for. It never blocks.
func (s *Service) notify() {
	select {
	case s.poke <- struct{}{}:
	default:
	}
}

// Run sleeps until the earliest timer is due (or a change sets an earlier
// one), applies the due timers with Fire, and hands each execution that
// then needs an invocation to wake; it purges expired executions every
// hour. It returns when ctx ends. One Run per store: two would each fire
// every timer, though the second finds nothing left to apply.
//
// wake is called on Run's goroutine and must not block for long: the
// invoker queues the invocation (BeginInvocation, then the run) and
// returns. Executions that needed an invocation when lambdad stopped are
// not Run's: Pending lists them at start.
func (s *Service) Run(ctx context.Context, wake func(arn string)) error {
	nextPurge := time.Time{}
	for {
		now := s.now()
		if !now.Before(nextPurge) {
			s.purgeAll(ctx, now)
			nextPurge = now.Add(purgeEvery)
		}
		sleep := nextPurge.Sub(now)
		at, ok, err := s.NextDue(ctx)
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			s.cfg.Logger.Error("durable: reading the due-time index", "err", err)
			sleep = retryAfterError
		case ok && !at.After(now):
			arns, err := s.Fire(ctx, now)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				s.cfg.Logger.Error("durable: applying due timers", "err", err)
				sleep = retryAfterError
				break
			}
			for _, arn := range arns {
				wake(arn)
			}
			continue
		case ok:
			sleep = min(sleep, at.Sub(now))
		}
		if s.cfg.LeaseTime > 0 {
			// On a shared store other nodes set timers this one is not
			// told of (and may die before they fire them): look again
			// every half lease time.
			sleep = min(sleep, s.cfg.LeaseTime/2)
		}
		t := time.NewTimer(sleep)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-s.poke:
		case <-t.C:
		}
		t.Stop()
	}
}

func (s *Service) purgeAll(ctx context.Context, now time.Time) {
	for {
		n, err := s.Purge(ctx, now)
		if err != nil {
			if ctx.Err() == nil {
				s.cfg.Logger.Error("durable: purging expired executions", "err", err)
			}
			return
		}
		if n < purgeBatch {
			return
		}
	}
}
