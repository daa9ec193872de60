package sandbox

import (
	"io"

	"github.com/lambdad/lambdad/internal/runtimeapi"
)

// Sink receives a streamed invocation's response as the runtime sends it
// (Invocation.Stream). Its methods are called from the runtime's
// connection, one at a time; a call still under way when the invocation
// ends (timeout, crash) may finish after Invoke returned.
type Sink interface {
	// Begin is called once, before the first Write, with the response's
	// Content-Type.
	Begin(contentType string) error
	// Write takes the next bytes; p is reused after it returns. An error
	// (the client is gone) stops forwarding: the rest is read and dropped.
	Write(p []byte) (int, error)
}

// streamBuffer is how much of a streamed response is read at a time: what
// has arrived is forwarded at once, up to this much.
const streamBuffer = 256 << 10

// ResultStream forwards the /response of the pending call to its
// Invocation.Stream as it arrives; a call without one is left to Result.
// Over the call's StreamLimit the response is cut off and the call fails
// with Function.ResponseSizeTooLarge.
func (e *env) ResultStream(id string, b *runtimeapi.Body) (runtimeapi.Verdict, bool) {
	if e.multi != nil {
		return 0, false // Managed Instances' runtimes answer buffered
	}
	e.mu.Lock()
	c := e.cur
	ok := c != nil && c.id == id && c.state == callPending && c.inv.Stream != nil
	e.mu.Unlock()
	if !ok {
		return 0, false
	}
	sink := c.inv.Stream
	limit := c.inv.responseLimit()
	sinkErr := sink.Begin(b.ContentType)
	buf := make([]byte, streamBuffer)
	var total int64
	for {
		n, err := b.Read(buf)
		if n > 0 {
			total += int64(n)
			if total > limit {
				e.complete(id, callTooLarge, nil)
				return runtimeapi.Truncated, true
			}
			if sinkErr == nil {
				_, sinkErr = sink.Write(buf[:n])
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			// The runtime's connection broke: its process is ending, and
			// the platform will call it a crash.
			return runtimeapi.Accepted, true
		}
	}
	st, payload := callResponded, []byte(nil)
	if b.ErrorType != "" || b.ErrorBody != nil {
		st, payload = callFailed, b.ErrorBody
	}
	ok, _ = e.complete(id, st, payload)
	if !ok {
		return runtimeapi.AlreadyHandled, true
	}
	return runtimeapi.Accepted, true
}

// DefaultStreamLimit is the most a streamed response may be: AWS's 200 MB.
const DefaultStreamLimit = 200 << 20

// responseLimit is the most inv's response may be: a stream's limit, or
// AWS's synchronous response limit.
func (inv *Invocation) responseLimit() int64 {
	switch {
	case inv.Stream == nil:
		return maxResponseBytes
	case inv.StreamLimit > 0:
		return inv.StreamLimit
	}
	return DefaultStreamLimit
}
