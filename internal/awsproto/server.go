package awsproto

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/lambdad/lambdad/internal/ids"
	"github.com/lambdad/lambdad/internal/limits"
	"github.com/lambdad/lambdad/internal/spec"
)

// DefaultMaxBody bounds request bodies of operations without their own limit:
// 6 MB, as for Invoke.
const DefaultMaxBody = limits.InvokeRequestBytes

// Handler serves one operation: it gets the decoded, validated input and
// returns the output shape or an error (an *Error, or an internal fault).
type Handler func(ctx context.Context, id Identity, in spec.Input) (spec.Output, error)

// handler is a registered operation. An operation with a blob member gets
// the writer its sink received that member in (nil when none did).
type handler struct {
	call func(ctx context.Context, id Identity, in spec.Input, blob BlobWriter) (spec.Output, error)
	// sink, when set, receives the blob member of at least 1 MB as the
	// request is read.
	sink BlobSink
}

// Service dispatches API requests to per-operation handlers.
type Service struct {
	router   *Router
	ops      map[string]*spec.Op
	handlers map[string]handler
	limits   map[string]BodyLimit
	log      *slog.Logger
	creds    Credentials // nil: signatures are not checked
	// fnKeys finds keys issued to functions: their signatures are always
	// checked, since they stand for a function's account.
	fnKeys FunctionKeys
	signer *v4.Signer
	budget *bodyBudget // nil: bodies are not budgeted
	// streams holds the operations whose input has a blob member: their
	// bodies are decoded as they are read (see stream.go).
	streams map[string]bool
	sinkMin int
	// account is the account of access keys that are not 12 digits ("":
	// DefaultAccount).
	account string
}

// WithDefaultAccount makes account the account of requests signed with an
// access key that is not an account id (--account).
func (s *Service) WithDefaultAccount(account string) { s.account = account }

// VerifyWith switches SigV4 signature checking on, against creds.
func (s *Service) VerifyWith(creds Credentials) { s.creds = creds }

// WithFunctionKeys makes keys issued to functions known: a request signed
// with one acts as that function's account, in its region only, and its
// signature is checked whether or not VerifyWith is on.
func (s *Service) WithFunctionKeys(keys FunctionKeys) { s.fnKeys = keys }

// BudgetBodies bounds the bytes of request bodies held at once to total. A
// request that cannot reserve its body's size within wait is throttled.
func (s *Service) BudgetBodies(total int64, wait time.Duration) {
	s.budget = newBodyBudget(total, wait)
}

// ReserveBody takes n bytes of the body budget for a request served outside
// the operations (a function URL's), waiting as operations do; release gives
// them back. Without a budget it reserves nothing.
func (s *Service) ReserveBody(ctx context.Context, n int64) (release func(), err error) {
	if s.budget == nil || n == 0 {
		return func() {}, nil
	}
	got, err := s.budget.acquire(ctx, n)
	if err != nil {
		return nil, err
	}
	return func() { s.budget.release(got) }, nil
}

// BodyLimit is an operation's request size limit and the error for exceeding it.
type BodyLimit struct {
	Max int64
	Err func(size int64) error
}

// NewService builds a service over the model's operations.
func NewService(log *slog.Logger) *Service {
	ops := spec.Operations()
	s := &Service{router: NewRouter(ops), ops: map[string]*spec.Op{}, handlers: map[string]handler{}, limits: map[string]BodyLimit{}, log: log, streams: map[string]bool{}, sinkMin: bigBlob, signer: newSigner()}
	for i := range ops {
		s.ops[ops[i].Name] = &ops[i]
		if body := ops[i].NewInput().JSONBody(); body != nil && blobMembers(reflect.TypeOf(body)) > 0 {
			s.streams[ops[i].Name] = true
		}
	}
	return s
}

// Handle registers h for the named operation. A blob member of its input
// is decoded whole, never streamed to a sink.
func (s *Service) Handle(op string, h Handler) {
	if _, ok := s.ops[op]; !ok {
		panic("awsproto: no operation " + op + " in the model")
	}
	s.handlers[op] = handler{call: func(ctx context.Context, id Identity, in spec.Input, _ BlobWriter) (spec.Output, error) {
		return h(ctx, id, in)
	}}
}

// On registers a typed handler.
func On[I spec.Input, O spec.Output](s *Service, op string, h func(context.Context, Identity, I) (O, error)) {
	s.Handle(op, func(ctx context.Context, id Identity, in spec.Input) (spec.Output, error) {
		return h(ctx, id, in.(I))
	})
}

// OnUpload registers a typed handler for an operation whose input has
// exactly one blob member (such as CreateFunction's Code.ZipFile). When that
// member is 1 MB or more, sink (if not nil) opens a writer that receives its
// bytes as the request is read, and the handler gets that writer in its
// Upload: storing the blob overlaps reading it, and the handler need not
// write it again.
func OnUpload[I spec.Input, O spec.Output, W BlobWriter](s *Service, op string, sink func(context.Context) (W, error), h func(context.Context, Identity, I, Upload[W]) (O, error)) {
	o, ok := s.ops[op]
	if !ok {
		panic("awsproto: no operation " + op + " in the model")
	}
	if body := o.NewInput().JSONBody(); body == nil || blobMembers(reflect.TypeOf(body)) != 1 {
		panic("awsproto: the input of " + op + " has not exactly one blob member")
	}
	var bs BlobSink
	if sink != nil {
		bs = func(ctx context.Context) (BlobWriter, error) {
			w, err := sink(ctx)
			if err != nil {
				return nil, err
			}
			return w, nil
		}
	}
	s.handlers[op] = handler{sink: bs, call: func(ctx context.Context, id Identity, in spec.Input, blob BlobWriter) (spec.Output, error) {
		var up Upload[W]
		if blob != nil {
			// Always a W: only sink opens writers for this operation.
			up.Writer, up.Streamed = blob.(W)
		}
		return h(ctx, id, in.(I), up)
	}}
}

// Limit sets an operation's request body limit.
func (s *Service) Limit(op string, l BodyLimit) { s.limits[op] = l }

// Implemented reports whether op has a handler.
func (s *Service) Implemented(op string) bool { return s.handlers[op].call != nil }

// ServeHTTP routes, decodes, validates, calls the handler and encodes.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := ids.UUID()
	w.Header().Set("X-Amzn-Requestid", id)
	r = r.WithContext(WithRequestID(r.Context(), id))
	if th := r.Header.Get(traceHeader); th != "" {
		r = r.WithContext(withTraceHeader(r.Context(), th))
	}
	if err := s.serve(w, r); err != nil {
		if r.Context().Err() != nil && errors.Is(err, context.Canceled) {
			// The client hung up: nobody reads the answer, and it is not
			// lambdad's fault.
			s.log.Debug("request abandoned by the client", "request_id", id, "path", r.URL.Path)
			return
		}
		WriteError(w, s.log, err)
	}
}

func (s *Service) serve(w http.ResponseWriter, r *http.Request) error {
	var query url.Values // nil when there is none: most invokes
	if r.URL.RawQuery != "" {
		query = r.URL.Query()
	}
	op, params, pathOK := s.router.Match(r.Method, r.URL.EscapedPath(), query)
	if op == nil {
		if pathOK {
			return &Error{Code: "MethodNotAllowedException", Status: http.StatusMethodNotAllowed, Message: "Method " + r.Method + " is not allowed for " + r.URL.Path}
		}
		return &Error{Code: "UnknownOperationException", Status: http.StatusNotFound, Message: "No Lambda operation matches " + r.Method + " " + r.URL.Path}
	}
	id, chk, err := s.authenticate(r, time.Now())
	if err != nil {
		return err
	}
	var hasher hash.Hash
	if chk != nil {
		if ph := r.Header.Get("X-Amz-Content-Sha256"); ph != "" {
			if err := chk.verify(s.signer, r, ph); err != nil {
				return err
			}
			chk = nil
		} else {
			// Hash the body as it is read, within the operation's limit.
			hasher = sha256.New()
			r.Body = hashingBody{r.Body, hasher}
		}
	}
	h := s.handlers[op.Name]
	if h.call == nil && chk == nil {
		return NotImplemented("The operation " + op.Name)
	}
	lim, ok := s.limits[op.Name]
	if !ok {
		lim = BodyLimit{Max: DefaultMaxBody}
	}
	if r.ContentLength > lim.Max {
		return lim.tooLarge(r.ContentLength)
	}
	if s.budget != nil && r.ContentLength != 0 {
		need := r.ContentLength
		if need < 0 {
			need = lim.Max // chunked: the most it may be
		}
		got, err := s.budget.acquire(r.Context(), need)
		if err != nil {
			return err
		}
		defer s.budget.release(got)
	}
	in := op.NewInput()
	var body []byte
	var blob BlobWriter
	if s.streams[op.Name] {
		st := &streamed{}
		defer st.discard()
		body, blob, err = s.readStreamed(r, lim, in, h.sink, st)
	} else {
		body, err = readJSON(r, lim, in)
	}
	if err != nil {
		return err
	}
	if chk != nil {
		if err := chk.verify(s.signer, r, hex.EncodeToString(hasher.Sum(nil))); err != nil {
			return err
		}
	}
	if h.call == nil {
		return NotImplemented("The operation " + op.Name)
	}
	if err := in.BindHTTP(&binder{r: r, params: params, query: query, body: body}); err != nil {
		var be *spec.BindError
		if errors.As(err, &be) {
			return ValidationError([]string{fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: Member must be a valid %s", be.Value, lowerFirst(be.Member), be.Type)})
		}
		return err
	}
	if err := Validate(in); err != nil {
		return err
	}
	out, err := h.call(r.Context(), id, in, blob)
	if err != nil {
		return err
	}
	return writeOutput(w, op, out)
}

// readStreamed decodes a body with blob members as it is read (stream.go),
// returning the writer of sink that received the input's blob member.
func (s *Service) readStreamed(r *http.Request, lim BodyLimit, in spec.Input, sink BlobSink, st *streamed) ([]byte, BlobWriter, error) {
	if r.ContentLength > lim.Max {
		return nil, nil, lim.tooLarge(r.ContentLength)
	}
	buf := streamBuffer
	if r.ContentLength >= 0 && r.ContentLength < streamBuffer {
		buf = max(int(r.ContentLength)+1, 512) // most bodies are small
	}
	body, blob, err := decodeStreaming(r.Context(), r.Body, r.ContentLength, lim, in.JSONBody(), s.sinkMin, sink, st, buf)
	if err != nil {
		return nil, nil, err
	}
	// What is left of the body once blobs are lifted out: blobs are base64,
	// so invalid UTF-8 can only be here.
	if msg, bad := InvalidUTF8(body); bad {
		return nil, nil, Errorf("InvalidRequestContentException", "Could not parse request body into json: %s", msg)
	}
	return body, blob, nil
}

// readJSON reads a whole body and decodes it into in's JSON members, if any.
func readJSON(r *http.Request, lim BodyLimit, in spec.Input) ([]byte, error) {
	body, err := readBody(r, lim)
	if err != nil {
		return nil, err
	}
	if dst := in.JSONBody(); dst != nil && len(bytes.TrimSpace(body)) > 0 {
		// encoding/json would turn invalid UTF-8 into U+FFFD; AWS refuses it.
		if msg, bad := InvalidUTF8(body); bad {
			return nil, Errorf("InvalidRequestContentException", "Could not parse request body into json: %s", msg)
		}
		if err := json.Unmarshal(body, dst); err != nil {
			return nil, Errorf("InvalidRequestContentException", "Could not parse request body into json: %s", jsonErrText(err))
		}
	}
	return body, nil
}

// tooLarge is the error for a body of n bytes over the limit.
func (lim BodyLimit) tooLarge(n int64) error {
	if lim.Err != nil {
		return lim.Err(n)
	}
	return Errorf("RequestTooLargeException", "Request must be smaller than %d bytes for the operation", lim.Max)
}

// firstRead is the most a body buffer starts with: it grows as bytes
// arrive, never to the declared length before they do.
const firstRead = 64 << 10

func readBody(r *http.Request, lim BodyLimit) ([]byte, error) {
	if r.ContentLength > lim.Max {
		return nil, lim.tooLarge(r.ContentLength)
	}
	// One byte past a declared length sees the end without growing; a body
	// of unknown length may grow to one byte past the limit.
	most := lim.Max + 1
	if r.ContentLength >= 0 {
		most = r.ContentLength + 1
	}
	start := int64(512)
	if r.ContentLength >= 0 {
		start = min(most, firstRead)
	}
	buf := make([]byte, 0, start)
	for {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(2*int64(cap(buf)), most))
			copy(grown, buf)
			buf = grown
		}
		n, err := r.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > lim.Max {
			return nil, lim.tooLarge(int64(len(buf)))
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, Errorf("InvalidRequestContentException", "Could not read the request body: %v", err)
		}
		if int64(len(buf)) == most {
			// Longer than declared (net/http never lets that through).
			return nil, Errorf("InvalidRequestContentException", "Could not read the request body: it is longer than its Content-Length")
		}
	}
}

// hashingBody hashes a body as it is read, for checking its signature.
type hashingBody struct {
	io.ReadCloser
	h hash.Hash
}

func (b hashingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.h.Write(p[:n])
	return n, err
}

func jsonErrText(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s at offset %d", se.Error(), se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("Cannot deserialize value of type %s for field '%s'", te.Value, te.Field)
	}
	return err.Error()
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return string(s[0]|0x20) + s[1:]
}

// encoder collects what an output's EncodeHTTP sets.
type encoder struct {
	status int
	w      http.ResponseWriter
	raw    []byte
	hasRaw bool
}

func (e *encoder) Status(c int)       { e.status = c }
func (e *encoder) Header(k, v string) { e.w.Header().Set(k, v) }
func (e *encoder) Raw(b []byte)       { e.raw, e.hasRaw = b, true }

func writeOutput(w http.ResponseWriter, op *spec.Op, out spec.Output) error {
	enc := &encoder{status: op.SuccessCode, w: w}
	if out == nil {
		w.WriteHeader(enc.status)
		return nil
	}
	if st, ok := out.(Streamer); ok {
		return st.ServeStream(w)
	}
	out.EncodeHTTP(enc)
	if enc.hasRaw {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(enc.raw)))
		w.WriteHeader(enc.status)
		w.Write(enc.raw)
		return nil
	}
	body := out.JSONBody()
	if body == nil || enc.status == http.StatusNoContent {
		w.WriteHeader(enc.status)
		return nil
	}
	var buf bytes.Buffer
	je := json.NewEncoder(&buf)
	je.SetEscapeHTML(false)
	if err := je.Encode(body); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()-1))
	w.WriteHeader(enc.status)
	w.Write(buf.Bytes()[:buf.Len()-1])
	return nil
}

// binder reads the non-body parts of a request for the generated BindHTTP.
type binder struct {
	r      *http.Request
	params Params
	query  url.Values
	body   []byte
}

func (b *binder) Path(name string) *string {
	v, ok := b.params[name]
	if !ok {
		return nil
	}
	return &v
}

func (b *binder) Query(name string) *string {
	vs, ok := b.query[name]
	if !ok || len(vs) == 0 {
		return nil
	}
	return &vs[0]
}

func (b *binder) QueryList(name string) []string { return b.query[name] }

func (b *binder) Header(name string) *string {
	vs := b.r.Header.Values(name)
	if len(vs) == 0 {
		return nil
	}
	return &vs[0]
}

func (b *binder) Body() []byte { return b.body }

type requestIDKey struct{}

// WithRequestID gives ctx a request id (for requests awsproto does not serve,
// such as function URLs).
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID is the id of the API request ctx belongs to ("" outside one):
// an invocation runs under the id its Invoke call answered with, as in AWS.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}
