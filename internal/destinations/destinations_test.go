package destinations

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// flaky fails its first n sends.
type flaky struct {
	mu    sync.Mutex
	n     int
	calls int
}

func (f *flaky) Send(ctx context.Context, m Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.calls <= f.n {
		return errors.New("down")
	}
	return nil
}

func TestRetriedThenDelivered(t *testing.T) {
	f := &flaky{n: 2}
	d := NewDispatcher(Config{Transport: f, Backoff: time.Millisecond})
	defer d.Close()
	if err := d.Send(context.Background(), Message{Target: "arn:aws:sqs:us-east-1:123456789012:q"}); err != nil {
		t.Fatal(err)
	}
	if f.calls != 3 || d.Counts().Delivered.Load() != 1 || d.Counts().Failures.Load() != 0 {
		t.Errorf("calls %d, delivered %d, failures %d", f.calls, d.Counts().Delivered.Load(), d.Counts().Failures.Load())
	}
}

func TestGivenUpAndCounted(t *testing.T) {
	f := &flaky{n: 100}
	d := NewDispatcher(Config{Transport: f, Backoff: time.Millisecond, Attempts: 4})
	defer d.Close()
	done := make(chan error, 1)
	d.Go(Message{Target: "arn:aws:sns:us-east-1:123456789012:t"}, func(err error) { done <- err })
	if err := <-done; err == nil || errors.Is(err, ErrClosed) {
		t.Fatalf("done(%v), want the transport's error", err)
	}
	if f.calls != 4 || d.Counts().Failures.Load() != 1 {
		t.Errorf("calls %d, failures %d", f.calls, d.Counts().Failures.Load())
	}
}

// Closing while a delivery waits to retry ends it as ErrClosed, not as a
// failure: the caller keeps it for the next start.
func TestCloseKeepsDelivery(t *testing.T) {
	f := &flaky{n: 100}
	d := NewDispatcher(Config{Transport: f, Backoff: time.Hour})
	done := make(chan error, 1)
	d.Go(Message{Target: "arn:aws:sqs:us-east-1:123456789012:q"}, func(err error) { done <- err })
	for {
		f.mu.Lock()
		c := f.calls
		f.mu.Unlock()
		if c > 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	d.Close()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("done(%v), want ErrClosed", err)
	}
	if d.Counts().Failures.Load() != 0 {
		t.Errorf("a delivery cut by Close was counted as failed")
	}
}

// blocking holds every send until released.
type blocking struct{ release chan struct{} }

func (b blocking) Send(ctx context.Context, m Message) error {
	if m.Target == "slow" {
		<-b.release
		return errors.New("down")
	}
	return nil
}

// Deliveries waiting between retries hold no worker: with the only worker's
// target failing, another delivery still goes through.
func TestBackoffHoldsNoWorker(t *testing.T) {
	b := blocking{release: make(chan struct{})}
	d := NewDispatcher(Config{Transport: b, Backoff: time.Hour, Workers: 1})
	failed := make(chan error, 1)
	d.Go(Message{Target: "slow"}, func(err error) { failed <- err })
	b.release <- struct{}{} // its first attempt failed: it waits an hour now
	delivered := make(chan error, 1)
	d.Go(Message{Target: "fast"}, func(err error) { delivered <- err })
	select {
	case err := <-delivered:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a delivery waited for another's backoff")
	}
	d.Close()
	if err := <-failed; !errors.Is(err, ErrClosed) {
		t.Errorf("the waiting delivery ended with %v, want ErrClosed", err)
	}
}
