package server

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lambdad/lambdad/internal/awsproto"
	"github.com/lambdad/lambdad/internal/cluster"
	"github.com/lambdad/lambdad/internal/functions"
)

// Placement (docs/cluster.md §3): a synchronous invoke runs on the node
// preferred for its function version by rendezvous hashing over the live
// members, so that version's warm environments gather on one node. The
// receiving node resolves the version and forwards the request, as it
// came (Host, headers and body, so the owner's SigV4 check passes), to the
// owner; the owner runs it. A node that cannot be reached, or that answers
// busy, is passed over for the next in Node.Rank; the receiver itself is
// the last resort. Only HTTP lives here: the domain (invoke) sees an
// ordinary local invoke on whichever node runs it.

// Internal headers between nodes. A forwarded request carries the mark
// (time and an HMAC under the secret the nodes' store shares, over the
// time, method, target and key), so a client cannot pass for a node: a
// request whose mark does not verify is handled as any other.
const (
	hForwarded = "X-Lambdad-Forwarded"
	hKey       = "X-Lambdad-Placement-Key"
	hBusy      = "X-Lambdad-Busy"
	// markAge bounds how long a mark is accepted: forwarding is immediate,
	// the window only absorbs clock differences between nodes.
	markAge = 5 * time.Minute
	// maxForwardBody is the largest synchronous payload (6 MB) and some
	// room; a larger body is not forwarded (it is refused locally).
	maxForwardBody = 6<<20 + 1<<10
)

// placement is the server's forwarding of invokes while clustered.
type placement struct {
	s          *Server
	secret     []byte
	spillAfter int32
	// reserve takes a body's bytes from the API's memory budget while it
	// is held for forwarding (awsproto.Service.ReserveBody).
	reserve  func(ctx context.Context, n int64) (release func(), err error)
	tr       *http.Transport
	inflight sync.Map // key → *atomic.Int32: invokes of the key running here
	dead     sync.Map // node id → Member.Heartbeat when it could not be reached
	bufs     sync.Pool

	forwarded, spilled, busy prometheus.Counter
}

// dialError marks a failure to connect: nothing was sent, so the invoke
// may run elsewhere.
type dialError struct{ err error }

func (e dialError) Error() string { return e.err.Error() }
func (e dialError) Unwrap() error { return e.err }

// newPlacement is nil when lambdad runs alone: the handler is then not
// wrapped at all.
func (s *Server) newPlacement(secret []byte, reserve func(context.Context, int64) (func(), error)) *placement {
	if s.cfg.Cluster.URL == "" {
		return nil
	}
	spill := s.cfg.Cluster.SpillAfter
	if spill <= 0 {
		spill = 2 * runtime.GOMAXPROCS(0)
	}
	d := &net.Dialer{Timeout: 500 * time.Millisecond, KeepAlive: 30 * time.Second}
	p := &placement{s: s, secret: secret, spillAfter: int32(spill), reserve: reserve,
		tr: &http.Transport{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				c, err := d.DialContext(ctx, network, addr)
				if err != nil {
					return nil, dialError{err}
				}
				return c, nil
			},
			MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second,
			// The owner's answer is passed on as it is.
			DisableCompression: true,
		},
		forwarded: prometheus.NewCounter(prometheus.CounterOpts{Name: "lambdad_placement_forwarded_total",
			Help: "Synchronous invokes this node forwarded to the node preferred for their version, which answered."}),
		spilled: prometheus.NewCounter(prometheus.CounterOpts{Name: "lambdad_placement_spilled_total",
			Help: "Synchronous invokes this node placed elsewhere than the preferred node, which was busy or unreachable."}),
		busy: prometheus.NewCounter(prometheus.CounterOpts{Name: "lambdad_placement_busy_total",
			Help: "Forwarded invokes this node answered busy (no room for another run of that version)."}),
	}
	s.metrics.reg.MustRegister(p.forwarded, p.spilled, p.busy)
	return p
}

func (p *placement) close() { p.tr.CloseIdleConnections() }

// sign is a request's mark at time at.
func (p *placement) sign(at int64, method, target, key string) string {
	m := hmac.New(sha256.New, p.secret)
	fmt.Fprintf(m, "%d\n%s\n%s\n%s", at, method, target, key)
	return strconv.FormatInt(at, 10) + "." + hex.EncodeToString(m.Sum(nil))
}

// verified says whether r carries a valid mark for key.
func (p *placement) verified(r *http.Request, key string) bool {
	v := r.Header.Get(hForwarded)
	ts, _, ok := strings.Cut(v, ".")
	if !ok {
		return false
	}
	at, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false
	}
	if d := time.Since(time.Unix(at, 0)); d > markAge || d < -markAge {
		return false
	}
	return hmac.Equal([]byte(v), []byte(p.sign(at, r.Method, r.URL.RequestURI(), key)))
}

// invokeFunction is the function name of a synchronous Invoke or
// InvokeWithResponseStream request, or "" for anything else.
func invokeFunction(r *http.Request) string {
	if r.Method != http.MethodPost {
		return ""
	}
	if t := r.Header.Get("X-Amz-Invocation-Type"); t != "" && t != "RequestResponse" {
		return "" // Event invokes are queued, leased by any node; DryRun runs nothing
	}
	path := r.URL.Path
	for _, pre := range [...]struct{ prefix, suffix string }{
		{"/2015-03-31/functions/", "/invocations"},
		{"/2021-11-15/functions/", "/response-streaming-invocations"},
	} {
		if strings.HasPrefix(path, pre.prefix) && strings.HasSuffix(path, pre.suffix) && len(path) > len(pre.prefix)+len(pre.suffix) {
			name := path[len(pre.prefix) : len(path)-len(pre.suffix)]
			if !strings.Contains(name, "/") {
				return name
			}
		}
	}
	return ""
}

// urlID is the URL id of a function URL request (<id>.lambda-url.… or
// /_lambdad/url/<id>/…), or "". CORS preflights are answered where they
// arrive: they run nothing.
func urlID(r *http.Request) string {
	if r.Method == http.MethodOptions {
		return ""
	}
	if id, rest, ok := strings.Cut(r.Host, "."); ok && len(id) == 32 && strings.HasPrefix(rest, "lambda-url.") {
		return id
	}
	const prefix = "/_lambdad/url/"
	if rest, ok := strings.CutPrefix(r.URL.Path, prefix); ok {
		if id, _, ok := strings.Cut(rest, "/"); ok && id != "" {
			return id
		}
	}
	return ""
}

// key is the placement key of r's function version: the version's ARN, and
// the tenant for a tenant-isolated function (its tenants' environments are
// apart anyway). "" when it does not resolve: the local answer says why.
func (p *placement) key(r *http.Request, name, url string) string {
	var ref functions.Ref
	if url != "" {
		t, err := p.s.functions.URL(r.Context(), url)
		if err != nil || t == nil {
			return ""
		}
		ref = t.Ref
	} else {
		id := awsproto.IdentityFrom(r, p.s.cfg.Account)
		var q *string
		if r.URL.RawQuery != "" { // most invokes have none: no parse
			if v := r.URL.Query().Get("Qualifier"); v != "" {
				q = &v
			}
		}
		var err error
		if ref, err = functions.ParseRef(id, name, q); err != nil {
			return ""
		}
	}
	snap, err := p.s.functions.Resolve(r.Context(), ref)
	if err != nil || snap.Pending {
		return ""
	}
	if prov := functions.ManagedProvider(snap); prov != "" {
		return managedKey(prov) // managedplace.go
	}
	key := snap.FunctionARN + ":" + snap.Version
	if functions.TenantIsolated(&snap.Config) {
		key += "#" + r.Header.Get("X-Amz-Tenant-Id")
	}
	return key
}

func (p *placement) counter(key string) *atomic.Int32 {
	if c, ok := p.inflight.Load(key); ok {
		return c.(*atomic.Int32)
	}
	c, _ := p.inflight.LoadOrStore(key, new(atomic.Int32))
	return c.(*atomic.Int32)
}

// wrap forwards synchronous invokes and function URL requests to their
// version's node.
func (p *placement) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == managedRunPath && r.Method == http.MethodPost {
			p.serveManagedRun(w, r) // managedplace.go
			return
		}
		n := p.s.cluster.node.Load()
		name, url := invokeFunction(r), ""
		if name == "" {
			url = urlID(r)
		}
		if n == nil || name == "" && url == "" {
			next.ServeHTTP(w, r)
			return
		}
		if fk := r.Header.Get(hKey); fk != "" && r.Header.Get(hForwarded) != "" {
			if p.verified(r, fk) {
				p.serveForwarded(w, r, fk, next)
				return
			}
			// Not from a node: the headers mean nothing (forwarding
			// replaces them).
		}
		// A function's own calls, from an environment of this node, run
		// here: they are held to the function's credentials by the
		// connection they came on, which a forward would lose.
		if awsproto.FromEnvironment(r.Context()) {
			next.ServeHTTP(w, r)
			return
		}
		key := p.key(r, name, url)
		if key == "" {
			next.ServeHTTP(w, r)
			return
		}
		p.place(w, r, n, key, next)
	})
}

// serveForwarded runs a forwarded invoke here, unless this node already
// runs as many of the key as it takes: then it answers busy, before
// anything ran, and the sender tries the next node.
func (p *placement) serveForwarded(w http.ResponseWriter, r *http.Request, key string, next http.Handler) {
	c := p.counter(key)
	if c.Add(1) > p.spillAfter && !managedPlacement(key) {
		c.Add(-1)
		p.busy.Inc()
		p.s.log.Debug("placement: busy", "key", key)
		w.Header().Set(hBusy, "1")
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	defer c.Add(-1)
	next.ServeHTTP(w, r)
}

// place runs r on the first node in key's rank that takes it: this one
// when it is first and has room, else forwarded. The receiver is the last
// resort, whatever its load.
func (p *placement) place(w http.ResponseWriter, r *http.Request, n *cluster.Node, key string, next http.Handler) {
	// The common case, the owner with room, needs no ranking of the others.
	// A capacity provider's versions run on its owner only (the others
	// have no environments for them), however busy.
	spill := !managedPlacement(key)
	if _, own := n.Owner(key); own {
		c := p.counter(key)
		if c.Add(1) <= p.spillAfter || !spill {
			defer c.Add(-1)
			next.ServeHTTP(w, r)
			return
		}
		c.Add(-1)
	}
	self := n.ID()
	rank := n.Rank(key)
	if !spill {
		rank = rank[:1] // the owner, or else here
	}
	var body []byte
	// The body held for forwarding counts against the API's memory
	// budget; it is given back before the request runs here, where the
	// handler takes its own.
	release := func() {}
	defer func() { release() }()
	for i, m := range rank {
		if m.ID == self {
			c := p.counter(key)
			if c.Add(1) <= p.spillAfter || i == len(rank)-1 {
				if i > 0 {
					p.spilled.Inc()
					p.s.log.Debug("placement: spilled here", "key", key, "owner", rank[0].ID)
				}
				defer c.Add(-1)
				release()
				release = func() {}
				next.ServeHTTP(w, r)
				return
			}
			c.Add(-1)
			continue
		}
		if h, ok := p.dead.Load(m.ID); ok && h.(time.Time).Equal(m.Heartbeat) {
			continue // unreachable since the view that lists it
		}
		if body == nil {
			need := r.ContentLength
			if need < 0 || need > maxForwardBody {
				need = maxForwardBody // chunked: the most that is forwarded
			}
			if p.reserve != nil && need > 0 {
				rel, err := p.reserve(r.Context(), need)
				if err != nil {
					// No memory to hold it for another node: it runs
					// here, whose handler budgets (and throttles) it.
					break
				}
				release = rel
			}
			b, err := io.ReadAll(io.LimitReader(r.Body, maxForwardBody+1))
			if err != nil {
				// The client's body broke off: nothing to forward, nothing to run.
				http.Error(w, "", http.StatusBadRequest)
				return
			}
			body = b
			if len(body) > maxForwardBody {
				// Refused here, with AWS's error, reading it all.
				r.Body = struct {
					io.Reader
					io.Closer
				}{io.MultiReader(bytes.NewReader(body), r.Body), r.Body}
				break
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		switch p.forward(w, r, m, key, body) {
		case answered:
			if i == 0 {
				p.forwarded.Inc()
				p.s.log.Debug("placement: forwarded", "key", key, "to", m.ID)
			} else {
				p.spilled.Inc()
				p.s.log.Debug("placement: spilled", "key", key, "to", m.ID, "owner", rank[0].ID)
			}
			return
		case unreachable:
			p.dead.Store(m.ID, m.Heartbeat)
			p.s.log.Debug("placement: unreachable", "node", m.ID, "address", m.Address)
		case busy:
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	// Not run anywhere yet (every node busy or gone, or a body too large).
	if len(rank) > 0 && rank[0].ID != self {
		p.spilled.Inc()
	}
	c := p.counter(key)
	c.Add(1)
	defer c.Add(-1)
	release()
	release = func() {}
	next.ServeHTTP(w, r)
}

type outcome int

const (
	answered outcome = iota
	unreachable
	busy
)

// hopHeaders are the connection's, not the request's (RFC 9110 §7.6.1).
var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// forward sends r to m and, unless m could not be reached or answered
// busy, passes m's answer on, streaming. Once m took the request its
// answer is final, failures included: an invoke is never run twice.
func (p *placement) forward(w http.ResponseWriter, r *http.Request, m cluster.Member, key string, body []byte) outcome {
	target := r.URL.RequestURI()
	out, err := http.NewRequestWithContext(r.Context(), r.Method, strings.TrimSuffix(m.Address, "/")+target, bytes.NewReader(body))
	if err != nil {
		return unreachable
	}
	out.Header = r.Header.Clone()
	for _, h := range hopHeaders {
		out.Header.Del(h)
	}
	out.Host = r.Host
	out.Header.Set(hKey, key)
	out.Header.Set(hForwarded, p.sign(time.Now().Unix(), r.Method, target, key))
	resp, err := p.tr.RoundTrip(out)
	if err != nil {
		var de dialError
		if errors.As(err, &de) {
			return unreachable
		}
		// The request may have reached the owner: its outcome is unknown,
		// and running it here could run it twice.
		lvl := slog.LevelWarn
		if r.Context().Err() != nil {
			lvl = slog.LevelDebug // the client hung up; the owner's run goes on
		}
		p.s.log.Log(r.Context(), lvl, "placement: forwarded invoke failed", "node", m.ID, "err", err)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amzn-ErrorType", "ServiceException")
		w.WriteHeader(http.StatusBadGateway)
		fmt.Fprintf(w, `{"Type":"Service","message":%q}`, "The invoke was passed to node "+m.ID+", which did not answer: "+err.Error())
		return answered
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get(hBusy) != "" {
		return busy
	}
	for _, h := range hopHeaders {
		resp.Header.Del(h)
	}
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	rc := http.NewResponseController(w)
	streaming := resp.ContentLength < 0
	bp, _ := p.bufs.Get().(*[]byte)
	if bp == nil {
		b := make([]byte, 32<<10)
		bp = &b
	}
	defer p.bufs.Put(bp)
	buf := *bp
	for {
		k, err := resp.Body.Read(buf)
		if k > 0 {
			if _, werr := w.Write(buf[:k]); werr != nil {
				return answered
			}
			if streaming {
				_ = rc.Flush()
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				p.s.log.Debug("placement: forwarded answer broke off", "node", m.ID, "err", err)
				panic(http.ErrAbortHandler) // the client sees it cut, as the owner's was
			}
			return answered
		}
	}
}
