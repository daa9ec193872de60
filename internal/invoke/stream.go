package invoke

import (
	"context"
	"sync"
	"time"

	"github.com/lambdad/lambdad/internal/functions"
)

// Response streaming (InvokeWithResponseStream, function URLs in
// RESPONSE_STREAM mode): the sandbox hands the runtime's response to a
// Stream as it arrives. A function that answers buffered (no stream
// began) has its result in Result.Payload, as Invoke's.

// streamBurst is how much of a streamed response goes out at full speed;
// AWS caps the rest's bandwidth (Config.StreamBandwidth).
const streamBurst = 6 << 20

// Stream receives a streamed invocation's response.
type Stream interface {
	// Begin is called once, before the first Write, as the function
	// starts its response: with the version that runs and the
	// response's Content-Type.
	Begin(executedVersion, contentType string) error
	// Write takes the response's next bytes as they arrive; p is reused
	// after it returns. An error (the client is gone) stops the writes.
	Write(p []byte) (int, error)
}

// InvokeStream is Invoke with the response handed to st as the function
// writes it. streamed reports whether st began; if not, the function
// answered buffered and Result.Payload holds its response (or error).
// Either way, Result.FunctionError reports a failure, also one after the
// stream began (Result.Payload then holds the error document).
func (s *Service) InvokeStream(ctx context.Context, ref functions.Ref, payload []byte, opts Options, st Stream) (res Result, streamed bool, err error) {
	k := &streamSink{st: st, limit: s.cfg.StreamLimit, rate: s.cfg.StreamBandwidth}
	res, err = s.Invoke(context.WithValue(ctx, streamKey{}, k), ref, payload, opts)
	return res, k.close(), err
}

type streamKey struct{}

// streamTo is the stream an invocation's context carries, or nil.
func streamTo(ctx context.Context) *streamSink {
	k, _ := ctx.Value(streamKey{}).(*streamSink)
	return k
}

// streamSink is a Stream as the sandbox sees it (sandbox.Sink) for one
// invocation: it names the version that ran, caps the bandwidth past the
// burst, and takes no writes once the invocation has ended (a runtime's
// connection may still be forwarding after a timeout).
type streamSink struct {
	st      Stream
	version string // set before the run starts
	limit   int64  // the most the response may be; 0: the sandbox's default
	rate    int64  // bytes per second past streamBurst; 0: uncapped

	mu       sync.Mutex
	began    bool
	closed   bool
	written  int64
	burstEnd time.Time
}

func (k *streamSink) Begin(contentType string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return errStreamClosed
	}
	k.began = true
	return k.st.Begin(k.version, contentType)
}

func (k *streamSink) Write(p []byte) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return 0, errStreamClosed
	}
	k.pace(int64(len(p)))
	return k.st.Write(p)
}

// pace waits until n more bytes fit the bandwidth cap: past the burst,
// the bytes after it go out no faster than rate.
func (k *streamSink) pace(n int64) {
	before := k.written
	k.written += n
	if k.rate <= 0 || k.written <= streamBurst {
		return
	}
	if before <= streamBurst {
		k.burstEnd = time.Now()
	}
	due := k.burstEnd.Add(time.Duration(float64(k.written-streamBurst) / float64(k.rate) * float64(time.Second)))
	if d := time.Until(due); d > 0 {
		time.Sleep(d)
	}
}

// close ends the writes (waiting for one under way) and reports whether
// the stream began.
func (k *streamSink) close() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.closed = true
	return k.began
}

type streamError string

func (e streamError) Error() string { return string(e) }

const errStreamClosed = streamError("invoke: the invocation has ended")
