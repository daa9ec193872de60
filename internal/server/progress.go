package server

import (
	"io"
	"net/http"
	"time"
)

// progressDeadlines gives every request body a read deadline that moves
// forward with each read: a client that sends nothing for d is cut, while a
// large upload on a slow link goes on as long as bytes keep coming. Once the
// body is read to its end the deadline is lifted, so a long handler (an
// Invoke) is never cut by it.
func progressDeadlines(h http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody {
			b := &progressBody{ReadCloser: r.Body, rc: *http.NewResponseController(w), d: d}
			// Also bounds what net/http reads to discard a body the
			// handler left unread.
			_ = b.rc.SetReadDeadline(time.Now().Add(d))
			r.Body = b
		}
		h.ServeHTTP(w, r)
	})
}

type progressBody struct {
	io.ReadCloser
	rc   http.ResponseController
	d    time.Duration
	done bool
}

func (b *progressBody) Read(p []byte) (int, error) {
	if b.done {
		return b.ReadCloser.Read(p)
	}
	_ = b.rc.SetReadDeadline(time.Now().Add(b.d))
	n, err := b.ReadCloser.Read(p)
	b.done = err != nil
	if err == io.EOF {
		// The whole body is in: what follows (net/http's watch for the
		// client hanging up) must not time out.
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}
