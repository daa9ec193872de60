package runtimeapi

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/lambdad/lambdad/internal/httpwire"
)

const (
	maxHeaderBytes = httpwire.MaxHeaderBytes
	// maxDiscard is how much of an unwanted body is read to keep the
	// connection; past it the connection is closed instead.
	maxDiscard = 64 << 20
)

// Server serves one environment's Runtime API.
type Server struct {
	env      Env
	limit    int // largest result body
	log      *slog.Logger
	ln       net.Listener
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	closed   bool
	tooLarge []byte
}

// Serve serves env's Runtime API on ln until Close; results over limit
// bytes are TooLarge.
func Serve(ln net.Listener, env Env, limit int, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{env: env, limit: limit, log: log, ln: ln, conns: make(map[net.Conn]struct{}), tooLarge: errTooLarge(limit)}
	go s.accept()
	return s
}

// Close closes the listener and every connection.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	conns := s.conns
	s.conns = nil
	s.mu.Unlock()
	_ = s.ln.Close()
	for c := range conns {
		_ = c.Close()
	}
}

func (s *Server) accept() {
	backoff := 5 * time.Millisecond
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of descriptors and the like: the runtime may reconnect
			// once they are back.
			s.log.Debug("runtimeapi: accept", "error", err.Error())
			time.Sleep(backoff)
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		go s.serveConn(c)
	}
}

// conn is one runtime connection.
type conn struct {
	s   *Server
	c   net.Conn
	r   *bufio.Reader
	out []byte // the response being written
	// raw and writeOnce make tryWrite's one non-blocking write, with no
	// allocation per call; pending and written are its argument and result.
	raw       syscall.RawConn
	writeOnce func(fd uintptr) bool
	pending   []byte
	written   int
	// broken says the request's body could not be consumed whole: the
	// connection closes after the answer.
	broken bool
	// wmu orders writes: a Waiter delivers from the invoking goroutine.
	wmu sync.Mutex
	// delivered is the request id last delivered here (wmu's): the
	// runtime's result for it is routed without building its path.
	delivered string
	// trailerType and trailerBody are the error trailers of the last
	// chunked body read whole (stream.go).
	trailerType string
	trailerBody []byte
}

// request is what the routes need of one request.
type request struct {
	method, path string
	// resultOf, when set, is the delivered invocation whose /response this
	// request is (path is then left empty).
	resultOf string
	errType  string // Lambda-Runtime-Function-Error-Type
	// contentType and streaming (Lambda-Runtime-Function-Response-Mode:
	// streaming) describe a /response (stream.go).
	contentType string
	streaming   bool
	length      int64 // -1: chunked
	close       bool  // the client asked to close after this request
	http10      bool
	cont        bool // Expect: 100-continue
}

// errBad is a request the server cannot frame: answered 400, then closed.
var errBad = errors.New("runtimeapi: malformed request")

func (s *Server) serveConn(nc net.Conn) {
	c := &conn{s: s, c: nc, r: bufio.NewReaderSize(nc, 4096), out: make([]byte, 0, 512)}
	if sc, ok := nc.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			c.raw = raw
			c.writeOnce = func(fd uintptr) bool {
				n, err := syscall.Write(int(fd), c.pending)
				if err == nil && n > 0 {
					c.written = n
				}
				return true // never wait: writeBy does, with a deadline
			}
		}
	}
	var waiting *Waiter
	defer func() {
		if waiting != nil && waiting.cancel() {
			s.env.CancelNext(waiting)
		}
		_ = nc.Close()
		s.mu.Lock()
		delete(s.conns, nc)
		s.mu.Unlock()
	}()
	var req request
	for {
		err := c.readRequest(&req)
		if waiting != nil {
			// The runtime has moved on (or gone): a delivery either
			// happened before this point or will not happen.
			if waiting.cancel() {
				s.env.CancelNext(waiting)
			}
			waiting = nil
		}
		if err != nil {
			if errors.Is(err, errBad) {
				c.respond(400, errBadRequest, true, false)
			}
			return
		}
		c.broken = false
		keep := !req.close
		rt, id := match(req.method, req.path)
		if req.resultOf != "" {
			rt, id = routeResponse, req.resultOf
		}
		switch rt {
		case routeNext:
			if !c.discard(&req) {
				return
			}
			w := &Waiter{c: c, close: !keep}
			if err := s.env.Next(w); err != nil {
				c.respond(500, errShuttingDown, !keep, false)
			} else {
				waiting = w
			}
		case routeResponse, routeInvokeError:
			if se, ok := s.env.(StreamEnv); ok && rt == routeResponse && c.streamResult(se, id, &req) {
				break
			}
			c.trailerType, c.trailerBody = "", nil
			body, tooLarge, ok := c.readBody(&req, s.limit)
			if !ok {
				c.respond(400, errBadBody, true, false)
				return
			}
			kind := Response
			if rt == routeInvokeError {
				kind = Failure
			}
			if c.trailerType != "" || c.trailerBody != nil {
				// An error after the first byte of a streamed response,
				// read whole: the error is the result.
				kind, body = Failure, decodeErrorBody(c.trailerType, c.trailerBody)
			}
			if tooLarge {
				kind = TooLarge
			}
			switch s.env.Result(id, kind, body) {
			case UnknownID:
				c.respond(400, errBadRequestID, !keep, false)
			case AlreadyHandled:
				c.respond(403, errAlreadyHandled(id), !keep, false)
			default:
				if tooLarge {
					c.respond(413, s.tooLarge, !keep, false)
				} else {
					c.respond(202, bodyAccepted, !keep, false)
				}
			}
		case routeInitError:
			body, _, ok := c.readBody(&req, s.limit)
			if !ok {
				c.respond(400, errBadBody, true, false)
				return
			}
			if len(body) == 0 {
				body = initErrorBody(req.errType)
			}
			if s.env.InitError(body) {
				c.respond(202, bodyAccepted, !keep, false)
			} else {
				c.respond(403, errLateInitError, !keep, false)
			}
		default:
			if !c.discard(&req) {
				c.broken = true
			}
			body := errNotFound
			code := 404
			if rt == routeNotAllowed {
				body, code = errMethodNotAllowed, 405
			}
			c.respond(code, body, !keep, req.method == "HEAD")
		}
		if c.broken || !keep && waiting == nil {
			return
		}
		// A /next on a connection to close waits here all the same: the
		// delivery closes the connection's write side, and the runtime
		// its own.
	}
}

// readRequest reads a request line and header block.
func (c *conn) readRequest(req *request) error {
	*req = request{length: 0}
	budget := maxHeaderBytes
	line, err := c.line(&budget)
	for i := 0; err == nil && len(line) == 0 && i < 4; i++ {
		line, err = c.line(&budget) // empty lines before a request are ignored
	}
	if err != nil {
		return err
	}
	// Request-line: method SP request-target SP HTTP-version.
	m, target, proto, ok := httpwire.RequestLine(line)
	if !ok {
		return errBad
	}
	switch string(proto) {
	case "HTTP/1.1":
	case "HTTP/1.0":
		req.http10, req.close = true, true
	default:
		return errBad
	}
	req.method = method(m)
	if req.method == "" {
		return errBad
	}
	// The /response of every invocation is the one path with a variable
	// part: it is matched against the id delivered, without building it.
	if req.method != "POST" || !c.isResponseOfDelivered(target, req) {
		if req.path, err = requestPath(target); err != nil {
			return err
		}
	}
	haveLength, chunked := false, false
	for {
		line, err := c.line(&budget)
		if err != nil {
			if err == io.EOF {
				err = errBad
			}
			return err
		}
		if len(line) == 0 {
			break
		}
		name, value, ok := httpwire.HeaderLine(line)
		if !ok {
			return errBad // obsolete folding and nameless fields included
		}
		switch {
		case httpwire.EqualFold(name, "Content-Length"):
			n, ok := httpwire.ParseLength(value)
			if !ok || haveLength && n != req.length {
				return errBad
			}
			haveLength, req.length = true, n
		case httpwire.EqualFold(name, "Transfer-Encoding"):
			if !httpwire.EqualFold(value, "chunked") || chunked {
				return errBad // no other coding is accepted
			}
			chunked = true
		case httpwire.EqualFold(name, "Connection"):
			for _, tok := range bytes.Split(value, []byte(",")) {
				tok = bytes.Trim(tok, " \t")
				if httpwire.EqualFold(tok, "close") {
					req.close = true
				} else if httpwire.EqualFold(tok, "keep-alive") && req.http10 {
					req.close = false
				}
			}
		case httpwire.EqualFold(name, "Expect"):
			if !httpwire.EqualFold(value, "100-continue") {
				return errBad
			}
			req.cont = !req.http10
		case httpwire.EqualFold(name, "Lambda-Runtime-Function-Error-Type"):
			if req.errType == "" {
				req.errType = string(value)
			}
		case httpwire.EqualFold(name, "Content-Type"):
			req.contentType = string(value)
		case httpwire.EqualFold(name, hdrResponseMode):
			req.streaming = httpwire.EqualFold(value, "streaming")
		}
	}
	if chunked {
		if haveLength || req.http10 {
			return errBad // request smuggling's shape
		}
		req.length = -1
	}
	return nil
}

// line reads one header line without its CRLF (or bare LF), counting it
// against budget.
func (c *conn) line(budget *int) ([]byte, error) {
	line, err := c.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		// Longer than the buffer: gather it (rare: long error types).
		long := append([]byte(nil), line...)
		for err == bufio.ErrBufferFull && len(long) <= *budget {
			line, err = c.r.ReadSlice('\n')
			long = append(long, line...)
		}
		line = long
	}
	*budget -= len(line)
	if *budget < 0 {
		return nil, errBad
	}
	if err != nil {
		if len(line) > 0 && err == io.EOF {
			return nil, errBad
		}
		return nil, err
	}
	return httpwire.TrimCR(line[:len(line)-1]), nil
}

// method interns the methods the routes answer; others only need to be
// told apart from them.
func method(b []byte) string {
	switch string(b) {
	case "GET":
		return "GET"
	case "POST":
		return "POST"
	case "HEAD":
		return "HEAD"
	}
	if !httpwire.ValidName(b) {
		return ""
	}
	return "OTHER"
}

// isResponseOfDelivered reports whether target is exactly the /response
// path of the invocation last delivered on c, and then sets
// req.resultOf. match would route that path to the same id: the id is one
// clean segment with nothing to decode.
func (c *conn) isResponseOfDelivered(target []byte, req *request) bool {
	c.wmu.Lock()
	id := c.delivered
	c.wmu.Unlock()
	const suffix = "/response"
	if id == "" || id == "." || id == ".." || len(target) != len(pathInvoke)+len(id)+len(suffix) ||
		strings.ContainsAny(id, "/%?") {
		return false
	}
	if string(target[:len(pathInvoke)]) != pathInvoke ||
		string(target[len(pathInvoke):len(pathInvoke)+len(id)]) != id ||
		string(target[len(pathInvoke)+len(id):]) != suffix {
		return false
	}
	req.resultOf = id
	return true
}

// requestPath is the decoded path of an origin-form (or absolute-form)
// request target, its query dropped.
func requestPath(t []byte) (string, error) {
	if len(t) > 0 && t[0] != '/' {
		// Absolute form, "http://host/path", which proxies send.
		u, err := url.ParseRequestURI(string(t))
		if err != nil || u.Host == "" {
			return "", errBad
		}
		return u.Path, nil
	}
	if i := bytes.IndexByte(t, '?'); i >= 0 {
		t = t[:i]
	}
	if bytes.IndexByte(t, '%') < 0 {
		switch string(t) { // the two paths of every invocation, unallocated
		case pathNext:
			return pathNext, nil
		}
		return string(t), nil
	}
	p, err := url.PathUnescape(string(t))
	if err != nil {
		return "", errBad
	}
	return p, nil
}

// readBody reads a body of at most limit bytes; tooLarge reports one over
// it, consumed (up to maxDiscard) so the connection stays usable. ok is
// false when the body cannot be read whole.
func (c *conn) readBody(req *request, limit int) (body []byte, tooLarge, ok bool) {
	c.continue100(req)
	if req.length >= 0 {
		if req.length > int64(limit) {
			if req.length > maxDiscard {
				c.broken = true
				return nil, true, true
			}
			return nil, true, c.skip(req.length)
		}
		body = make([]byte, req.length)
		_, err := io.ReadFull(c.r, body)
		return body, false, err == nil
	}
	body, tooLarge, ok = c.readChunked(limit)
	return body, tooLarge, ok
}

// discard consumes a body nobody reads; false when it could not be.
func (c *conn) discard(req *request) bool {
	if req.length == 0 {
		return true
	}
	c.continue100(req)
	if req.length > 0 {
		return req.length <= maxDiscard && c.skip(req.length)
	}
	_, _, ok := c.readChunked(-1)
	return ok
}

func (c *conn) skip(n int64) bool {
	d, err := c.r.Discard(int(n))
	return err == nil && int64(d) == n
}

// continue100 tells a client that waits for it to send the body.
func (c *conn) continue100(req *request) {
	if req.cont {
		req.cont = false
		c.wmu.Lock()
		_, _ = c.c.Write([]byte("HTTP/1.1 100 Continue\r\n\r\n"))
		c.wmu.Unlock()
	}
}

// readChunked reads a chunked body, keeping at most limit bytes (none
// when limit < 0, to discard it).
func (c *conn) readChunked(limit int) (body []byte, tooLarge, ok bool) {
	var total int64
	var full [][]byte // filled segments before body
	budget := maxHeaderBytes
	for {
		line, err := c.line(&budget)
		if err != nil {
			return nil, false, false
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i] // chunk extensions
		}
		line = bytes.TrimRight(line, " \t")
		if len(line) == 0 || len(line) > 15 {
			return nil, false, false
		}
		n, err := strconv.ParseInt(string(line), 16, 64)
		if err != nil || n < 0 {
			return nil, false, false
		}
		if n == 0 {
			break
		}
		total += n
		if total > maxDiscard {
			c.broken = true
			return nil, limit >= 0, limit >= 0
		}
		if limit >= 0 && !tooLarge && total <= int64(limit) {
			// Chunks fill segments that are never moved; a segment full
			// is kept and the next is as large as all so far. One
			// segment is the body itself; several are copied into it
			// once at the end. (Appending to one slice copied a 6 MB
			// body about four times over, at append's 1.25x growth.)
			start := len(body)
			if int64(cap(body)-start) < n {
				if start > 0 {
					full = append(full, body)
				}
				body = make([]byte, 0, max(int(n), int(total-n)))
				start = 0
			}
			body = body[:start+int(n)]
			if _, err := io.ReadFull(c.r, body[start:]); err != nil {
				return nil, false, false
			}
		} else {
			if limit >= 0 {
				tooLarge, body = true, nil
			}
			if !c.skip(n) {
				return nil, false, false
			}
		}
		if end, err := c.line(&budget); err != nil || len(end) != 0 {
			return nil, false, false
		}
	}
	for { // trailers
		line, err := c.line(&budget)
		if err != nil {
			return nil, false, false
		}
		if len(line) == 0 {
			break
		}
		if name, value, ok := httpwire.HeaderLine(line); ok && limit >= 0 {
			switch {
			case httpwire.EqualFold(name, hdrErrorType):
				c.trailerType = string(value)
			case httpwire.EqualFold(name, hdrErrorBody):
				c.trailerBody = append([]byte(nil), value...)
			}
		}
	}
	if tooLarge {
		return nil, true, true
	}
	if len(full) > 0 {
		all := make([]byte, 0, total)
		for _, seg := range full {
			all = append(all, seg...)
		}
		body = append(all, body...)
	}
	if body == nil {
		body = []byte{}
	}
	return body, false, true
}

func statusLine(code int) string {
	switch code {
	case 202:
		return "HTTP/1.1 202 Accepted\r\n"
	case 400:
		return "HTTP/1.1 400 Bad Request\r\n"
	case 403:
		return "HTTP/1.1 403 Forbidden\r\n"
	case 404:
		return "HTTP/1.1 404 Not Found\r\n"
	case 405:
		return "HTTP/1.1 405 Method Not Allowed\r\n"
	case 413:
		return "HTTP/1.1 413 Request Entity Too Large\r\n"
	case 500:
		return "HTTP/1.1 500 Internal Server Error\r\n"
	}
	return "HTTP/1.1 200 OK\r\n"
}

// respond writes a JSON response; headOnly leaves the body out (HEAD).
func (c *conn) respond(code int, body []byte, close, headOnly bool) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	b := append(c.out[:0], statusLine(code)...)
	b = append(b, "Content-Type: application/json\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	if close || c.broken {
		b = append(b, "\r\nConnection: close"...)
	}
	b = append(b, "\r\n\r\n"...)
	if !headOnly {
		b = append(b, body...)
	}
	c.out = b[:0]
	_, _ = c.c.Write(b)
}

// Waiter is a runtime's pending /next.
type Waiter struct {
	c     *conn
	close bool
	mu    sync.Mutex
	done  bool // delivered or canceled
}

// smallPayload is the size up to which a payload is copied behind its
// headers for one write; larger ones go out with writev, uncopied.
const smallPayload = 16 << 10

// Deliver hands inv to the runtime; false when the runtime is gone (or
// has moved on) and did not get it.
func (w *Waiter) Deliver(inv *Invocation) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return false
	}
	w.done = true
	c := w.c
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.delivered = inv.RequestID
	b := append(c.out[:0], "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: "...)
	b = appendValue(b, inv.RequestID)
	b = append(b, "\r\nLambda-Runtime-Deadline-Ms: "...)
	b = strconv.AppendInt(b, inv.DeadlineMs, 10)
	b = append(b, "\r\nLambda-Runtime-Invoked-Function-Arn: "...)
	b = appendValue(b, inv.FunctionARN)
	if inv.TraceID != "" {
		b = append(b, "\r\nLambda-Runtime-Trace-Id: "...)
		b = appendValue(b, inv.TraceID)
	}
	if inv.ClientContext != "" {
		b = append(b, "\r\nLambda-Runtime-Client-Context: "...)
		b = appendValue(b, inv.ClientContext)
	}
	if inv.CognitoIdentity != "" {
		b = append(b, "\r\nLambda-Runtime-Cognito-Identity: "...)
		b = appendValue(b, inv.CognitoIdentity)
	}
	if inv.TenantID != "" {
		b = append(b, "\r\nLambda-Runtime-Aws-Tenant-Id: "...)
		b = appendValue(b, inv.TenantID)
	}
	b = append(b, "\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(inv.Payload)), 10)
	if w.close {
		b = append(b, "\r\nConnection: close"...)
	}
	b = append(b, "\r\n\r\n"...)
	var err error
	if len(inv.Payload) <= smallPayload {
		b = append(b, inv.Payload...)
		// Nearly always the socket takes it all at once; only when it
		// does not does the write need a deadline (below).
		n := c.tryWrite(b)
		if n < len(b) {
			err = c.writeBy(inv.DeadlineMs, b[n:])
		}
	} else {
		err = c.writeBy(inv.DeadlineMs, b, inv.Payload)
	}
	c.out = b[:0]
	if err != nil {
		_ = c.c.Close()
	} else if w.close {
		// The runtime asked to close after this answer; its goroutine is
		// in a read that this ends.
		if tc, ok := c.c.(interface{ CloseWrite() error }); ok {
			_ = tc.CloseWrite()
		}
	}
	return err == nil
}

// tryWrite writes what b the socket takes without waiting.
func (c *conn) tryWrite(b []byte) int {
	if c.raw == nil {
		return 0
	}
	c.pending, c.written = b, 0
	_ = c.raw.Write(c.writeOnce)
	c.pending = nil
	return c.written
}

// writeBy writes bufs, giving up at the deadline (Unix ms): a runtime that
// stopped reading must not hold the invoker past its invocation's end.
func (c *conn) writeBy(deadlineMs int64, bufs ...[]byte) error {
	_ = c.c.SetWriteDeadline(time.UnixMilli(deadlineMs))
	nb := net.Buffers(bufs)
	_, err := nb.WriteTo(c.c)
	_ = c.c.SetWriteDeadline(time.Time{})
	return err
}

// cancel makes later deliveries fail, once one under way has finished;
// it reports whether w was still waiting.
func (w *Waiter) cancel() bool {
	w.mu.Lock()
	pending := !w.done
	w.done = true
	w.mu.Unlock()
	return pending
}

// appendValue appends a header value with CR and LF made spaces, as
// net/http writes them, so no value can add a header.
func appendValue(b []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		if v[i] == '\r' || v[i] == '\n' {
			start := len(b)
			b = append(b, v...)
			for j := start; j < len(b); j++ {
				if b[j] == '\r' || b[j] == '\n' {
					b[j] = ' '
				}
			}
			return b
		}
	}
	return append(b, v...)
}
