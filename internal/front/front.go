// Package front serves lambdad's API listener. A connection whose requests
// are all simple ones the caller picks (Invoke) is read by a small HTTP/1.1
// reader of its own and answered in one write, through the same
// http.Handler; the first request that is anything else, or that is not
// plainly framed, hands the connection with every byte already read to
// net/http, which serves it from then on. Every framing question (chunked
// bodies, Expect, bad or duplicate lengths, obsolete folding, long headers)
// is therefore answered by net/http, as before; this front only ever
// answers requests it could read without doubt.
package front

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lambdad/lambdad/internal/httpwire"
)

const (
	// headBuffer is a connection's read buffer: a head that does not fit
	// goes to net/http (whose own limit is MaxHeaderBytes). SDK requests,
	// SigV4 headers included, take 1–2 kB.
	headBuffer = 8 << 10
	// maxPostHandlerRead is how much of a body the handler left unread is
	// read to keep the connection, as net/http does; past it the
	// connection closes after the response.
	maxPostHandlerRead = 256 << 10
	// rstAvoidanceDelay is net/http's pause before closing a connection
	// whose request body was left unread.
	rstAvoidanceDelay = 500 * time.Millisecond
	// maxCachedKeys bounds a connection's cache of canonical header names.
	maxCachedKeys = 64
)

// Server serves a listener, handing connections to HTTP when they carry
// other than fast requests.
type Server struct {
	// HTTP serves handed-off connections; its Handler, ConnContext,
	// BaseContext, ErrorLog, ReadHeaderTimeout, ReadTimeout and IdleTimeout
	// apply to fast requests as well.
	HTTP *http.Server
	// Fast reports whether a POST request to target may be served here.
	Fast func(target []byte) bool

	once     sync.Once
	handoff  *handoffListener
	mu       sync.Mutex
	conns    map[*conn]struct{}
	ln       net.Listener
	shutting bool
	// closing is shutting, read without the lock on every response.
	closing atomic.Bool
	baseCtx context.Context
}

func (s *Server) init(ln net.Listener) {
	s.once.Do(func() {
		s.handoff = &handoffListener{addr: ln.Addr(), conns: make(chan net.Conn), done: make(chan struct{})}
		s.conns = make(map[*conn]struct{})
	})
}

// Serve accepts connections on ln until Shutdown; it returns
// http.ErrServerClosed then.
func (s *Server) Serve(ln net.Listener) error {
	s.init(ln)
	s.mu.Lock()
	if s.shutting {
		s.mu.Unlock()
		return http.ErrServerClosed
	}
	s.ln = ln
	s.baseCtx = context.Background()
	if s.HTTP.BaseContext != nil {
		s.baseCtx = s.HTTP.BaseContext(ln)
	}
	s.mu.Unlock()
	herr := make(chan error, 1)
	go func() { herr <- s.HTTP.Serve(s.handoff) }()
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			shutting := s.shutting
			s.mu.Unlock()
			if shutting {
				return http.ErrServerClosed
			}
			var te interface{ Temporary() bool }
			if errors.As(err, &te) && te.Temporary() {
				// As net/http: out of descriptors and the like pass.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.logf("http: Accept error: %v; retrying in %v", err, backoff)
				time.Sleep(backoff)
				continue
			}
			_ = s.handoff.Close()
			<-herr
			return err
		}
		backoff = 0
		c := s.newConn(nc)
		if c == nil {
			_ = nc.Close()
			continue
		}
		go c.serve()
	}
}

// Shutdown stops accepting, closes idle connections and waits for the
// others to finish their request, as http.Server.Shutdown does (which it
// calls for the handed-off ones).
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.shutting = true
	s.closing.Store(true)
	ln := s.ln
	s.mu.Unlock()
	if ln != nil {
		_ = ln.Close()
	}
	err := s.HTTP.Shutdown(ctx)
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		s.mu.Lock()
		for c := range s.conns {
			if c.idle.Load() {
				_ = c.nc.Close()
			}
		}
		n := len(s.conns)
		s.mu.Unlock()
		if n == 0 {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

func (s *Server) logf(format string, args ...any) {
	if s.HTTP.ErrorLog != nil {
		s.HTTP.ErrorLog.Printf(format, args...)
	} else {
		log.Printf(format, args...)
	}
}

func (s *Server) readHeaderTimeout() time.Duration {
	if s.HTTP.ReadHeaderTimeout > 0 {
		return s.HTTP.ReadHeaderTimeout
	}
	return s.HTTP.ReadTimeout
}

func (s *Server) idleTimeout() time.Duration {
	if s.HTTP.IdleTimeout > 0 {
		return s.HTTP.IdleTimeout
	}
	return s.HTTP.ReadTimeout
}

// conn is one connection while it is served here.
type conn struct {
	s      *Server
	nc     net.Conn
	br     *bufio.Reader
	ctx    context.Context // the connection's, made at its first fast request
	remote string
	fields []field
	keys   map[string]string // header names as read → canonical
	body   body
	w      response
	// rd is the read deadline the handler asked for (progress deadlines),
	// set on the socket only when a read has to wait for it.
	rd, applied time.Time
	// linger says the connection closes with a request body unread: as
	// net/http, its write side closes first and the close waits a little,
	// so the client reads the answer before a reset.
	linger bool
	// headBy is when the head being read must be in (zero: not known yet).
	headBy time.Time
	// idle says c is between requests (Shutdown closes it then).
	idle atomic.Bool
	// post says the last request was a POST: like net/http, a CRLF after
	// its body is skipped.
	post bool
}

// field is a header line's name and value, as offsets into the head.
type field struct{ name, nameEnd, value, valueEnd int }

func (s *Server) newConn(nc net.Conn) *conn {
	c := &conn{s: s, nc: nc, br: bufio.NewReaderSize(nc, headBuffer)}
	c.body.c = c
	c.w.c = c
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutting {
		return nil
	}
	c.idle.Store(true)
	s.conns[c] = struct{}{}
	return c
}

// setState records whether c is between requests (idle), and says no when
// the server is shutting down and c should close instead.
func (c *conn) setState(idle bool) bool {
	c.idle.Store(idle)
	// Shutdown sets closing before it closes idle connections: one that
	// goes idle after that sees it here.
	return !idle || !c.s.closing.Load()
}

var errHandOff = errors.New("front: hand off")

func (c *conn) serve() {
	handedOff := false
	defer func() {
		// As net/http: a panic ends its connection, not lambdad.
		if err := recover(); err != nil {
			const size = 64 << 10
			buf := make([]byte, size)
			buf = buf[:runtime.Stack(buf, false)]
			c.s.logf("http: panic serving %v: %v\n%s", c.nc.RemoteAddr(), err, buf)
		}
		if !handedOff {
			if c.linger {
				if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
					_ = cw.CloseWrite()
					time.Sleep(rstAvoidanceDelay)
				}
			}
			_ = c.nc.Close()
		}
		c.s.mu.Lock()
		delete(c.s.conns, c)
		c.s.mu.Unlock()
	}()
	first := true
	for {
		wait := c.s.idleTimeout()
		if first {
			wait = c.s.readHeaderTimeout()
		}
		c.setDeadline(wait)
		c.headBy = time.Time{}
		if first {
			c.headBy = c.rd
		}
		n, err := c.readHead(first)
		if err == errHandOff {
			handedOff = c.handOff()
			return
		}
		if err != nil {
			return
		}
		first = false
		if !c.setState(false) {
			return
		}
		keep, err := c.serveRequest(n)
		if err == errHandOff {
			handedOff = c.handOff()
			return
		}
		if err != nil || !keep || !c.setState(true) {
			return
		}
	}
}

// setDeadline sets the socket's read deadline d from now (none for 0).
func (c *conn) setDeadline(d time.Duration) {
	var t time.Time
	if d > 0 {
		t = time.Now().Add(d)
	}
	c.rd = t
	c.applied = t
	_ = c.nc.SetReadDeadline(t)
}

// readHead waits until the buffer holds a whole request head and returns
// its length; errHandOff when the head is not one this front reads (or
// will not fit), another error when the connection should just close.
func (c *conn) readHead(first bool) (int, error) {
	waiting := !first
	for {
		buf, _ := c.br.Peek(c.br.Buffered())
		if len(buf) > 0 {
			if c.post && (buf[0] == '\r' || buf[0] == '\n') {
				// A CRLF some old clients add after a POST body.
				k := 0
				for k < len(buf) && k < 4 && (buf[k] == '\r' || buf[k] == '\n') {
					k++
				}
				_, _ = c.br.Discard(k)
				c.post = false
				continue
			}
			switch n := headEnd(buf); {
			case n > 0:
				return n, nil
			case n < 0 || len(buf) == c.br.Size():
				return 0, errHandOff
			}
			if waiting {
				// The request has begun: the rest of its head has the
				// header timeout.
				c.setDeadline(c.s.readHeaderTimeout())
				c.headBy = c.rd
				waiting = false
			}
		}
		if _, err := c.br.Peek(len(buf) + 1); err != nil {
			if c.br.Buffered() > 0 && !errors.Is(err, os.ErrDeadlineExceeded) {
				// Let net/http answer what it makes of a truncated head.
				return 0, errHandOff
			}
			return 0, err
		}
	}
}

// headEnd returns the length of the head at the start of buf (its blank
// line included), 0 when buf does not hold all of it yet, -1 when it is
// not one this front reads: a line ending in a bare LF, a blank line first.
func headEnd(buf []byte) int {
	start := 0
	for {
		i := bytes.IndexByte(buf[start:], '\n')
		if i < 0 {
			return 0
		}
		i += start
		if i == 0 || buf[i-1] != '\r' {
			return -1
		}
		if i-start == 1 {
			if start == 0 {
				return -1
			}
			return i + 1
		}
		start = i + 1
	}
}

// handOff gives the connection, with what has been read, to net/http.
func (c *conn) handOff() bool {
	hc := &handedConn{Conn: c.nc, r: c.br, headBy: c.headBy}
	if hc.headBy.IsZero() {
		if d := c.s.readHeaderTimeout(); d > 0 {
			hc.headBy = time.Now().Add(d)
		}
	}
	select {
	case c.s.handoff.conns <- hc:
		return true
	case <-c.s.handoff.done:
		return false
	}
}

// parsed is what the head says, when this front may serve it.
type parsed struct {
	target        [2]int
	host          [2]int
	contentLength int64
	close         bool // Connection: close
}

// parse reads a head (without its final blank line); ok is false when
// the request is not one this front serves.
func (c *conn) parse(head []byte) (p parsed, ok bool) {
	c.fields = c.fields[:0]
	eol := bytes.IndexByte(head, '\n')
	line := head[:eol-1]
	method, target, proto, ok := httpwire.RequestLine(line)
	if !ok || string(method) != "POST" || string(proto) != "HTTP/1.1" || len(target) == 0 || target[0] != '/' || !c.s.Fast(target) {
		return p, false
	}
	p.target[0] = len(method) + 1
	p.target[1] = p.target[0] + len(target)
	haveHost, haveLength := false, false
	for off := eol + 1; off < len(head); {
		eol := bytes.IndexByte(head[off:], '\n')
		line := head[off : off+eol-1]
		name, value, ok := httpwire.HeaderLine(line)
		if !ok {
			return p, false
		}
		nameAt := off
		valueAt := nameAt // an empty value may not point into line
		if len(value) > 0 {
			valueAt = off + (cap(line) - cap(value))
		}
		off += eol + 1
		switch {
		case httpwire.EqualFold(name, "Host"):
			if haveHost || !validHost(value) {
				return p, false
			}
			haveHost = true
			p.host = [2]int{valueAt, valueAt + len(value)}
			continue // net/http keeps Host out of Header
		case httpwire.EqualFold(name, "Content-Length"):
			n, ok := httpwire.ParseLength(value)
			if !ok || haveLength {
				return p, false
			}
			haveLength, p.contentLength = true, n
		case httpwire.EqualFold(name, "Connection"):
			// keep-alive and close (Python's urllib sends it) only.
			for tok := range bytes.SplitSeq(value, []byte(",")) {
				tok = bytes.Trim(tok, " \t")
				if httpwire.EqualFold(tok, "close") {
					p.close = true
				} else if !httpwire.EqualFold(tok, "keep-alive") {
					return p, false
				}
			}
		case httpwire.EqualFold(name, "Transfer-Encoding"), httpwire.EqualFold(name, "Expect"),
			httpwire.EqualFold(name, "Upgrade"), httpwire.EqualFold(name, "Pragma"),
			httpwire.EqualFold(name, "Trailer"):
			return p, false
		}
		c.fields = append(c.fields, field{nameAt, nameAt + len(name), valueAt, valueAt + len(value)})
	}
	return p, haveHost && haveLength
}

// validHost is a conservative subset of what net/http accepts as a Host
// (names, IPv4, bracketed IPv6, a port); anything else goes to it.
func validHost(v []byte) bool {
	if len(v) == 0 {
		return false
	}
	for _, ch := range v {
		switch {
		case 'a' <= ch && ch <= 'z', 'A' <= ch && ch <= 'Z', '0' <= ch && ch <= '9':
		case ch == '.', ch == '-', ch == ':', ch == '_', ch == '[', ch == ']':
		default:
			return false
		}
	}
	return true
}

// serveRequest serves the request whose head is the buffer's first n
// bytes; keep says the connection may carry another.
func (c *conn) serveRequest(n int) (keep bool, err error) {
	raw, _ := c.br.Peek(n)
	p, ok := c.parse(raw[:n-2])
	if !ok {
		return false, errHandOff
	}
	// One string holds every value the request needs.
	head := string(raw[:n-2])
	u, err := url.ParseRequestURI(head[p.target[0]:p.target[1]])
	if err != nil {
		return false, errHandOff
	}
	_, _ = c.br.Discard(n)
	h := make(http.Header, len(c.fields))
	vals := make([]string, len(c.fields))
	for i, f := range c.fields {
		vals[i] = head[f.value:f.valueEnd]
		k := c.key(raw[f.name:f.nameEnd])
		if old, ok := h[k]; ok {
			h[k] = append(old, vals[i])
		} else {
			h[k] = vals[i : i+1 : i+1]
		}
	}
	if c.ctx == nil {
		c.ctx = c.connContext()
		c.remote = c.nc.RemoteAddr().String()
	}
	ctx, cancel := context.WithCancel(c.ctx)
	defer cancel()
	r := (&http.Request{
		Method: "POST", URL: u, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, ContentLength: p.contentLength, Host: head[p.host[0]:p.host[1]],
		RemoteAddr: c.remote, RequestURI: head[p.target[0]:p.target[1]],
		Body: http.NoBody, Close: p.close,
	}).WithContext(ctx)
	c.body.left, c.body.closed, c.body.err = p.contentLength, false, nil
	if p.contentLength > 0 {
		r.Body = &c.body
	}
	c.w.reset()
	c.post = true
	if !c.call(r) {
		return false, errors.New("front: handler panicked")
	}
	return c.finish(p.close)
}

// key is the canonical form of a header name.
func (c *conn) key(name []byte) string {
	if k, ok := c.keys[string(name)]; ok {
		return k
	}
	k := textproto.CanonicalMIMEHeaderKey(string(name))
	if c.keys == nil {
		c.keys = make(map[string]string)
	}
	if len(c.keys) < maxCachedKeys {
		c.keys[string(name)] = k
	}
	return k
}

func (c *conn) connContext() context.Context {
	ctx := context.WithValue(c.s.baseCtx, http.ServerContextKey, c.s.HTTP)
	ctx = context.WithValue(ctx, http.LocalAddrContextKey, c.nc.LocalAddr())
	if cc := c.s.HTTP.ConnContext; cc != nil {
		ctx = cc(ctx, c.nc)
	}
	return ctx
}

// call runs the handler, reporting false when it panicked (logged as
// net/http does).
func (c *conn) call(r *http.Request) (ok bool) {
	defer func() {
		if err := recover(); err != nil && err != http.ErrAbortHandler {
			const size = 64 << 10
			buf := make([]byte, size)
			buf = buf[:runtime.Stack(buf, false)]
			c.s.logf("http: panic serving %v: %v\n%s", c.nc.RemoteAddr(), err, buf)
		}
	}()
	c.s.HTTP.Handler.ServeHTTP(&c.w, r)
	return true
}

// finish writes the response and reads what the handler left of the body.
func (c *conn) finish(close bool) (keep bool, err error) {
	// As net/http: a body the handler closed unread, or left with 256 kB
	// or more unread, closes the connection (after a pause, below); less
	// is read and dropped.
	keep = !close
	switch b := &c.body; {
	case b.err != nil:
		keep = keep && b.err == io.EOF
	case b.left == 0:
	case b.closed || b.left >= maxPostHandlerRead:
		keep = false
		c.linger = true
	default:
		_, err := io.Copy(io.Discard, b)
		keep = keep && err == nil && b.left == 0
	}
	// As net/http: no keep-alive once shutting down.
	out, keep := c.w.head(keep && !c.s.closing.Load())
	if len(c.w.buf) <= 16<<10 {
		out = append(out, c.w.buf...)
		_, err = c.nc.Write(out)
	} else {
		bufs := net.Buffers{out, c.w.buf}
		_, err = bufs.WriteTo(c.nc)
	}
	c.w.out = out[:0]
	if cap(c.w.buf) > 64<<10 {
		c.w.buf = nil // do not keep a large payload's buffer
	}
	return keep && err == nil, err
}

// body is a request's body as the handler reads it.
type body struct {
	c      *conn
	left   int64
	closed bool
	err    error
}

func (b *body) Read(p []byte) (int, error) {
	if b.closed {
		return 0, http.ErrBodyReadAfterClose
	}
	if b.err != nil {
		return 0, b.err
	}
	if b.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	c := b.c
	if c.br.Buffered() == 0 && !c.rd.Equal(c.applied) {
		c.applied = c.rd
		_ = c.nc.SetReadDeadline(c.rd)
	}
	n, err := c.br.Read(p)
	b.left -= int64(n)
	if b.left == 0 {
		b.err = io.EOF
		return n, io.EOF
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		b.err = err
	}
	return n, err
}

// Close marks the body closed; what is left of it is dealt with after the
// handler, as net/http does.
func (b *body) Close() error {
	b.closed = true
	return nil
}

// response is the connection's http.ResponseWriter: the response is
// gathered and written once the handler returns.
type response struct {
	c       *conn
	header  http.Header
	status  int
	written bool
	// the handler's headers when it wrote its status, serialized
	handler []byte
	has     uint8 // which headers the handler set (hasDate...)
	length  int64 // its Content-Length, or -1
	close   bool  // it asked for Connection: close
	buf     []byte
	out     []byte
	keys    []string
	// date is the Date header's value for the second dateSec.
	date    []byte
	dateSec int64
}

const (
	hasDate = 1 << iota
	hasType
	hasLength
)

func (w *response) reset() {
	if w.header == nil {
		w.header = make(http.Header, 8)
	} else {
		clear(w.header)
	}
	w.status, w.written, w.has, w.length, w.close = 0, false, 0, -1, false
	w.handler = w.handler[:0]
	w.buf = w.buf[:0]
}

func (w *response) Header() http.Header { return w.header }

func (w *response) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if w.written {
		w.c.s.logf("http: superfluous response.WriteHeader call")
		return
	}
	if code < 200 {
		return // no informational responses from the handlers served here
	}
	w.written, w.status = true, code
	// The header as it is now is the response's: later changes do not count.
	w.keys = w.keys[:0]
	for k := range w.header {
		w.keys = append(w.keys, k)
	}
	slices.Sort(w.keys)
	noBody := !bodyAllowed(code)
	b := w.handler[:0]
	for _, k := range w.keys {
		if !httpwire.ValidName(k) {
			continue
		}
		switch k {
		case "Date":
			w.has |= hasDate
		case "Content-Type":
			w.has |= hasType
		case "Content-Length":
			w.has |= hasLength
		case "Connection":
			for _, v := range w.header[k] {
				if httpwire.EqualFold(textproto.TrimString(v), "close") {
					w.close = true
				}
			}
		}
		if noBody && (k == "Content-Type" || k == "Content-Length" || k == "Transfer-Encoding") {
			continue
		}
		if k == "Content-Length" {
			vs := w.header[k]
			if n, err := strconv.ParseInt(textproto.TrimString(vs[0]), 10, 64); err == nil && n >= 0 {
				w.length = n
			}
		}
		for _, v := range w.header[k] {
			b = append(b, k...)
			b = append(b, ": "...)
			b = appendValue(b, textproto.TrimString(v))
			b = append(b, "\r\n"...)
		}
	}
	w.handler = b
}

func (w *response) Write(p []byte) (int, error) {
	if !w.written {
		w.WriteHeader(http.StatusOK)
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	if w.length >= 0 && int64(len(w.buf)+len(p)) > w.length {
		return 0, http.ErrContentLength
	}
	w.buf = append(w.buf, p...)
	return len(p), nil
}

// SetReadDeadline is for http.ResponseController: the request body's
// reads wait until t.
func (w *response) SetReadDeadline(t time.Time) error {
	w.c.rd = t
	return nil
}

// SetWriteDeadline is for http.ResponseController.
func (w *response) SetWriteDeadline(t time.Time) error {
	return w.c.nc.SetWriteDeadline(t)
}

// head makes the status line and header block (in w.out), with the
// headers net/http adds: Date, Content-Length, a sniffed Content-Type,
// Connection: close.
func (w *response) head(keep bool) ([]byte, bool) {
	if !w.written {
		w.WriteHeader(http.StatusOK)
	}
	b := append(w.out[:0], "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(w.status), 10)
	b = append(b, ' ')
	if text := http.StatusText(w.status); text != "" {
		b = append(b, text...)
	} else {
		b = append(b, "status code "...)
		b = strconv.AppendInt(b, int64(w.status), 10)
	}
	b = append(b, "\r\n"...)
	b = append(b, w.handler...)
	if w.close {
		keep = false
	}
	if w.length >= 0 && int64(len(w.buf)) < w.length {
		keep = false // short of its declared length: the client sees the close
	}
	if bodyAllowed(w.status) {
		if w.has&hasType == 0 && len(w.buf) > 0 {
			b = append(b, "Content-Type: "...)
			b = append(b, http.DetectContentType(w.buf)...)
			b = append(b, "\r\n"...)
		}
		if w.has&hasLength == 0 {
			b = append(b, "Content-Length: "...)
			b = strconv.AppendInt(b, int64(len(w.buf)), 10)
			b = append(b, "\r\n"...)
		}
	}
	if w.has&hasDate == 0 {
		// Formatted once a second per connection, not per response.
		if now := time.Now(); now.Unix() != w.dateSec || w.date == nil {
			w.dateSec = now.Unix()
			w.date = now.UTC().AppendFormat(w.date[:0], http.TimeFormat)
		}
		b = append(b, "Date: "...)
		b = append(b, w.date...)
		b = append(b, "\r\n"...)
	}
	if !keep && !w.close {
		b = append(b, "Connection: close\r\n"...)
	}
	b = append(b, "\r\n"...)
	return b, keep
}

func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// appendValue appends a header value with CR and LF made spaces, as
// net/http writes them.
func appendValue(b []byte, v string) []byte {
	start := len(b)
	b = append(b, v...)
	for i := start; i < len(b); i++ {
		if b[i] == '\r' || b[i] == '\n' {
			b[i] = ' '
		}
	}
	return b
}

// handedConn is a connection given to net/http: its reads start with the
// bytes this front had read.
type handedConn struct {
	net.Conn
	r *bufio.Reader
	// headBy is the header deadline the front had set: net/http's first
	// deadline, for the same head, may not be later.
	headBy  time.Time
	clamped atomic.Bool
}

func (h *handedConn) SetReadDeadline(t time.Time) error {
	if !h.clamped.Swap(true) && !h.headBy.IsZero() && (t.IsZero() || t.After(h.headBy)) {
		t = h.headBy
	}
	return h.Conn.SetReadDeadline(t)
}

func (h *handedConn) Read(p []byte) (int, error) {
	if h.r != nil {
		if h.r.Buffered() > 0 {
			return h.r.Read(p)
		}
		h.r = nil
	}
	return h.Conn.Read(p)
}

// handoffListener yields handed-off connections to net/http.
type handoffListener struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *handoffListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *handoffListener) Addr() net.Addr { return l.addr }
