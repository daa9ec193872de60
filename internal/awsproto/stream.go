package awsproto

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strconv"
	"strings"
)

// A zip upload arrives as base64 inside JSON: 67 MB of text for a 50 MB zip.
// Operations whose input has a blob member read their body as a stream: the
// blob's text is decoded while it is read, never held whole, and once it is
// large its bytes go to a BlobSink as they are decoded, so that hashing and
// writing it overlap reading the request. Everything else of the body is
// kept and decoded by encoding/json, which stays the judge of the JSON.

const (
	// bigBlob is the size from which a blob goes to the sink as it is
	// decoded; smaller ones are only decoded.
	bigBlob = 1 << 20
	// streamBuffer is how much of a streamed body is read at a time.
	streamBuffer = 256 << 10
	// firstBlob is the most a blob's buffer starts with.
	firstBlob = 1 << 20
)

// BlobWriter receives one blob member's decoded bytes as they are decoded.
type BlobWriter interface {
	// Append takes the next bytes. It may keep p: they are never changed.
	Append(p []byte) error
	// Close waits until everything appended has been taken in.
	Close() error
	// Discard drops the blob unless a handler has claimed it. It is called
	// for every writer once the request is answered.
	Discard()
}

// BlobSink opens a writer for one large blob.
type BlobSink func(ctx context.Context) (BlobWriter, error)

// Upload is the handoff of a streamed blob member to its operation's
// handler (see OnUpload): the decoder wrote the member's bytes to Writer
// while it read the request, so the handler need not write them again.
type Upload[W BlobWriter] struct {
	// Writer received exactly the bytes the input's blob member holds, and
	// is closed. Once the request is answered it is discarded unless the
	// handler claimed it (W's Discard decides what claiming is).
	Writer W
	// Streamed is false when nothing was written: the member is absent,
	// under 1 MB, or the operation has no sink. The member holds the bytes
	// in every case.
	Streamed bool
}

// streamed holds the writers a request's decoding opened, landed in the
// input or not, to discard them once the request is answered.
type streamed struct{ writers []BlobWriter }

func (st *streamed) discard() {
	for _, w := range st.writers {
		w.Discard()
	}
}

// blobMembers counts the []byte members of a JSON body of type t reachable
// through structs alone (the only place blobs are streamed).
func blobMembers(t reflect.Type) int {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return 0
	}
	n := 0
	for i := range t.NumField() {
		ft := t.Field(i).Type
		if ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Uint8 {
			n++
			continue
		}
		n += blobMembers(ft)
	}
	return n
}

// blobField returns the type reached from t by exact JSON member names,
// and whether it is a []byte.
func blobField(t reflect.Type, path []string) bool {
	for _, name := range path {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return false
		}
		f, ok := structFieldByJSON(t, name)
		if !ok {
			return false
		}
		t = f.Type
	}
	return t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8
}

func structFieldByJSON(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if tag, _, _ := strings.Cut(f.Tag.Get("json"), ","); tag == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// liftedBlob is a blob member decoded out of the body; its place in the
// kept JSON holds null.
type liftedBlob struct {
	path       []string
	data       []byte
	w          BlobWriter
	superseded bool // a later member of the same name wins, as in encoding/json
}

// bodyError is an error of reading the body, already in AWS's terms.
type bodyError struct{ err error }

func (e bodyError) Error() string { return e.err.Error() }

// sinkError is a failure to store a blob: lambdad's fault, not the request's.
type sinkError struct{ err error }

func (e sinkError) Error() string { return "storing an uploaded blob: " + e.err.Error() }
func (e sinkError) Unwrap() error { return e.err }

// lifter reads a JSON body, copying it to rest except the string values of
// blob members, which it decodes from base64 as they stream past.
type lifter struct {
	ctx      context.Context
	in       io.Reader
	buf      []byte
	pos, end int
	read     int64
	lim      BodyLimit
	eof      bool
	sizeHint int64

	dst  reflect.Type
	min  int
	sink BlobSink

	rest []byte
	// nest and keys describe the open containers: the bracket and the member
	// name the container is the value of ("" for the root, "\x00" where no
	// member path leads, e.g. inside an array).
	nest       []byte
	keys       []string
	key        string // the last member name read in the innermost object
	afterColon bool
	lifted     []*liftedBlob
}

const noPath = "\x00"

// run reads the body, leaving in rest the JSON with blob member values
// replaced by null, and in lifted the blobs themselves.
func (l *lifter) run() error {
	for {
		if l.pos == l.end && !l.fill() {
			return l.readErr()
		}
		c := l.buf[l.pos]
		switch c {
		case '"':
			l.pos++
			l.rest = append(l.rest, '"')
			inObject := len(l.nest) > 0 && l.nest[len(l.nest)-1] == '{'
			switch {
			case inObject && !l.afterColon:
				if err := l.readKey(); err != nil {
					return err
				}
			case inObject && l.blobPath() != nil:
				l.rest = append(l.rest[:len(l.rest)-1], "null"...)
				if err := l.liftString(l.blobPath()); err != nil {
					return err
				}
			default:
				if err := l.copyString(nil); err != nil {
					return err
				}
			}
			l.afterColon = false
			continue
		case '{', '[':
			k := noPath
			switch {
			case len(l.nest) == 0:
				k = ""
			case l.afterColon && l.nest[len(l.nest)-1] == '{':
				k = l.key
			}
			l.nest = append(l.nest, c)
			l.keys = append(l.keys, k)
			l.key = ""
		case '}', ']':
			if len(l.nest) > 0 {
				l.nest = l.nest[:len(l.nest)-1]
				l.keys = l.keys[:len(l.keys)-1]
			}
		case ':':
			l.afterColon = true
			l.rest = append(l.rest, c)
			l.pos++
			continue
		}
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			l.afterColon = false
		}
		l.rest = append(l.rest, c)
		l.pos++
	}
}

// blobPath is the member path of a value starting now, when it leads to a
// blob member; else nil.
func (l *lifter) blobPath() []string {
	if l.key == "" || len(l.keys) == 0 || l.keys[0] != "" {
		return nil
	}
	path := make([]string, 0, len(l.keys))
	for _, k := range l.keys[1:] {
		if k == noPath || k == "" {
			return nil
		}
		path = append(path, k)
	}
	path = append(path, l.key)
	if !blobField(l.dst, path) {
		return nil
	}
	return path
}

// fill reads more of the body, keeping what is unread. It reports false at
// the end of the body or on an error (see readErr).
func (l *lifter) fill() bool {
	if l.eof {
		return false
	}
	if l.pos > 0 {
		n := copy(l.buf, l.buf[l.pos:l.end])
		l.pos, l.end = 0, n
	}
	for {
		n, err := l.in.Read(l.buf[l.end:])
		l.end += n
		l.read += int64(n)
		if l.read > l.lim.Max {
			l.eof = true
			return false
		}
		if err != nil {
			l.eof = true
			if err != io.EOF {
				l.in = errReader{err}
			}
			return n > 0
		}
		if n > 0 {
			return true
		}
	}
}

// ensure makes at least n bytes readable, unless the body ends first.
func (l *lifter) ensure(n int) bool {
	for l.end-l.pos < n {
		if !l.fill() {
			return l.end-l.pos >= n
		}
	}
	return true
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// readErr is why the body stopped: too large, a read error, or nil at its
// end.
func (l *lifter) readErr() error {
	if l.read > l.lim.Max {
		return bodyError{l.lim.tooLarge(l.read)}
	}
	if e, ok := l.in.(errReader); ok {
		return bodyError{Errorf("InvalidRequestContentException", "Could not read the request body: %v", e.err)}
	}
	return nil
}

// copyString copies the rest of a string (its opening quote is done),
// also into capture when that is not nil.
func (l *lifter) copyString(capture *[]byte) error {
	for {
		if l.pos == l.end && !l.fill() {
			return l.readErr() // encoding/json reports the unterminated string
		}
		seg := l.buf[l.pos:l.end]
		q := bytes.IndexByte(seg, '"')
		upto := len(seg)
		if q >= 0 {
			upto = q
		}
		if b := bytes.IndexByte(seg[:upto], '\\'); b >= 0 {
			// Copy the backslash and the character it escapes.
			l.take(b, capture)
			if !l.ensure(2) {
				l.take(l.end-l.pos, capture)
				return l.readErr()
			}
			l.take(2, capture)
			continue
		}
		if q >= 0 {
			l.take(q, capture)
			l.rest = append(l.rest, '"')
			l.pos++
			return nil
		}
		l.take(len(seg), capture)
	}
}

func (l *lifter) take(n int, capture *[]byte) {
	p := l.buf[l.pos : l.pos+n]
	l.rest = append(l.rest, p...)
	if capture != nil {
		*capture = append(*capture, p...)
	}
	l.pos += n
}

// readKey copies a member name and makes it the current key. A name that
// encoding/json would match to an already lifted blob's member supersedes it.
func (l *lifter) readKey() error {
	var raw []byte
	if err := l.copyString(&raw); err != nil {
		return err
	}
	key := string(raw)
	if bytes.IndexByte(raw, '\\') >= 0 {
		if err := json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &key); err != nil {
			key = noPath // invalid: encoding/json rejects the body anyway
		}
	}
	l.key = key
	for _, b := range l.lifted {
		if len(b.path) == len(l.keys) && l.samePath(b.path) {
			b.superseded = true
		}
	}
	return nil
}

// samePath reports whether path names, as encoding/json matches names, the
// member l.key in the innermost object.
func (l *lifter) samePath(path []string) bool {
	for i, k := range l.keys[1:] {
		if !strings.EqualFold(k, path[i]) {
			return false
		}
	}
	return strings.EqualFold(l.key, path[len(path)-1])
}

// liftString decodes the rest of a blob member's string (its opening quote
// is done) as base64, streaming large ones to the sink.
func (l *lifter) liftString(path []string) error {
	b := &liftedBlob{path: path}
	l.lifted = append(l.lifted, b)
	// The decoded size the declared length allows: the buffer grows toward
	// it as text arrives, never allocated whole before it does.
	hint := int(min(max(l.sizeHint-l.read+int64(l.end-l.pos), 0)/4*3+3, 64<<20))
	d := b64stream{dst: make([]byte, 0, min(hint, firstBlob)), hint: hint}
	sent := 0
	flush := func(final bool) error {
		if l.sink == nil || d.err != nil {
			return nil
		}
		if b.w == nil {
			if len(d.dst) < l.min {
				return nil
			}
			w, err := l.sink(l.ctx)
			if err != nil {
				return sinkError{err}
			}
			b.w = w
		}
		if len(d.dst)-sent >= 256<<10 || final && len(d.dst) > sent {
			if err := b.w.Append(d.dst[sent:len(d.dst):len(d.dst)]); err != nil {
				return sinkError{err}
			}
			sent = len(d.dst)
		}
		return nil
	}
	for {
		if l.pos == l.end && !l.fill() {
			if err := l.readErr(); err != nil {
				return err
			}
			return errors.New("unexpected end of JSON input")
		}
		seg := l.buf[l.pos:l.end]
		upto := len(seg)
		q := bytes.IndexByte(seg, '"')
		if q >= 0 {
			upto = q
		}
		raw := seg[:upto]
		esc := bytes.IndexByte(raw, '\\')
		if esc >= 0 {
			raw = raw[:esc]
		}
		// Go's base64 skips CR and LF, but JSON forbids them raw in a string.
		if bytes.IndexByte(raw, '\n') >= 0 || bytes.IndexByte(raw, '\r') >= 0 {
			return errors.New("invalid character in string literal")
		}
		d.feed(raw)
		l.pos += len(raw)
		if esc >= 0 {
			if err := l.liftEscape(&d); err != nil {
				return err
			}
		} else if q >= 0 {
			l.pos++
			break
		}
		if err := flush(false); err != nil {
			return err
		}
	}
	if err := d.finish(); err != nil {
		return err
	}
	b.data = d.dst
	if err := flush(true); err != nil {
		return err
	}
	if b.w != nil {
		if err := b.w.Close(); err != nil {
			return sinkError{err}
		}
	}
	return nil
}

// liftEscape decodes one escape inside a blob's string: what it stands for
// is base64 text (only '/' and the skipped CR and LF can be valid).
func (l *lifter) liftEscape(d *b64stream) error {
	if !l.ensure(2) {
		return errors.New("unexpected end of JSON input")
	}
	c := l.buf[l.pos+1]
	n := 2
	var r rune
	switch c {
	case '"', '\\', '/':
		r = rune(c)
	case 'b':
		r = '\b'
	case 'f':
		r = '\f'
	case 't':
		r = '\t'
	case 'n':
		r = '\n'
	case 'r':
		r = '\r'
	case 'u':
		if !l.ensure(6) {
			return errors.New("unexpected end of JSON input")
		}
		v, err := strconv.ParseUint(string(l.buf[l.pos+2:l.pos+6]), 16, 16)
		if err != nil {
			return errors.New("invalid escape in string literal")
		}
		r, n = rune(v), 6
	default:
		return errors.New("invalid escape in string literal")
	}
	l.pos += n
	switch {
	case r == '\n' || r == '\r':
	case r < 0x80:
		d.feed([]byte{byte(r)})
	default:
		d.fail(errors.New("illegal base64 data: a non-ASCII character"))
	}
	return nil
}

// b64stream decodes standard base64 arriving in pieces of any length.
type b64stream struct {
	dst []byte
	// hint is the size dst is expected to reach: it grows eightfold at a
	// time up to it, so growing copies under a seventh of a blob's size.
	hint  int
	carry [4]byte
	nc    int
	ended bool // padding seen: nothing may follow
	err   error
}

func (d *b64stream) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *b64stream) feed(p []byte) {
	if d.err != nil || len(p) == 0 {
		return
	}
	if d.ended {
		d.fail(errors.New("illegal base64 data: text after the padding"))
		return
	}
	if d.nc > 0 {
		k := copy(d.carry[d.nc:], p)
		d.nc += k
		p = p[k:]
		if d.nc < 4 {
			return
		}
		d.nc = 0
		d.block(d.carry[:])
		if d.ended && len(p) > 0 {
			d.fail(errors.New("illegal base64 data: text after the padding"))
			return
		}
	}
	n := len(p) / 4 * 4
	if n > 0 {
		d.block(p[:n])
	}
	if tail := p[n:]; len(tail) > 0 {
		if d.ended {
			d.fail(errors.New("illegal base64 data: text after the padding"))
			return
		}
		d.nc = copy(d.carry[:], tail)
	}
}

func (d *b64stream) block(src []byte) {
	if d.err != nil {
		return
	}
	want := len(src) / 4 * 3
	if cap(d.dst)-len(d.dst) < want {
		n := max(len(d.dst)+want, min(8*cap(d.dst), d.hint))
		grown := make([]byte, len(d.dst), n)
		copy(grown, d.dst)
		d.dst = grown
	}
	n, err := base64.StdEncoding.Decode(d.dst[len(d.dst):len(d.dst)+want], src)
	if err != nil {
		d.fail(err)
		return
	}
	d.dst = d.dst[:len(d.dst)+n]
	if n < want {
		d.ended = true
	}
}

func (d *b64stream) finish() error {
	if d.err == nil && d.nc > 0 {
		d.fail(errors.New("illegal base64 data: the text ends inside a group"))
	}
	return d.err
}

// decodeStreaming decodes a JSON body read from in into dst, streaming blob
// members of at least min bytes to sink (nil: none). It returns the kept
// JSON and the writer of the blob that landed in dst, if it was streamed;
// dst has at most one blob member when sink is set (OnUpload checks). Every
// writer it opened is added to st, to be discarded once the request is
// answered. Its errors are already AWS's.
func decodeStreaming(ctx context.Context, in io.Reader, size int64, lim BodyLimit, dst any, min int, sink BlobSink, st *streamed, bufSize int) ([]byte, BlobWriter, error) {
	l := &lifter{ctx: ctx, in: in, buf: make([]byte, bufSize), lim: lim, sizeHint: size, dst: reflect.TypeOf(dst), min: min, sink: sink}
	err := l.run()
	for _, b := range l.lifted {
		if b.w != nil {
			st.writers = append(st.writers, b.w)
		}
	}
	if err != nil {
		var be bodyError
		if errors.As(err, &be) {
			return nil, nil, be.err
		}
		var se sinkError
		if errors.As(err, &se) {
			return nil, nil, se
		}
		return nil, nil, Errorf("InvalidRequestContentException", "Could not parse request body into json: %s", err)
	}
	if len(bytes.TrimSpace(l.rest)) == 0 && len(l.lifted) == 0 {
		return l.rest, nil, nil
	}
	if err := json.Unmarshal(l.rest, dst); err != nil {
		return nil, nil, Errorf("InvalidRequestContentException", "Could not parse request body into json: %s", jsonErrText(err))
	}
	var landed BlobWriter
	for _, b := range l.lifted {
		if !b.superseded && setLifted(reflect.ValueOf(dst), b) && b.w != nil {
			landed = b.w
		}
	}
	return l.rest, landed, nil
}

// setLifted puts a lifted blob in its member, reporting whether it did. A
// nil object on the way means a later member replaced it with null, so the
// blob is not there either.
func setLifted(v reflect.Value, b *liftedBlob) bool {
	for _, name := range b.path {
		for v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return false
			}
			v = v.Elem()
		}
		f, ok := structFieldByJSON(v.Type(), name)
		if !ok {
			return false
		}
		v = v.FieldByIndex(f.Index)
	}
	v.SetBytes(b.data)
	return true
}
