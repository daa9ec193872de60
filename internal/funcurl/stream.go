package funcurl

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"time"
)

// HTTPIntegration is the content type of a streamed response that starts
// with an HTTP prelude: the JSON of its status, headers and cookies, then
// 8 NUL bytes, then the body (awslambda.HttpResponseStream.from,
// aws-lambda-go's events.LambdaFunctionURLStreamingResponse).
const HTTPIntegration = "application/vnd.awslambda.http-integration-response"

// maxPrelude bounds the prelude gathered before its delimiter [?: AWS's
// limit is not documented; headers are limited to about this much].
const maxPrelude = 64 << 10

var delimiter = make([]byte, 8)

// errBadPrelude is a prelude that is too long or not a JSON object.
var errBadPrelude = errors.New("funcurl: invalid HTTP prelude")

// StreamWriter writes a function's streamed response to a function URL's
// client as the function writes it (invoke.Stream). With HTTPIntegration,
// the prelude becomes the response's status, headers and cookies; any
// other stream is a 200 with the function's content type.
type StreamWriter struct {
	w  http.ResponseWriter
	rc *http.ResponseController
	// prelude: the bytes are a prelude until its delimiter, gathered in pre.
	prelude bool
	pre     []byte
	started bool
	failed  error
}

// NewStreamWriter streams to w.
func NewStreamWriter(w http.ResponseWriter) *StreamWriter {
	return &StreamWriter{w: w, rc: http.NewResponseController(w)}
}

// Started reports whether the response's status went out: from then on a
// failure can only end the body early.
func (s *StreamWriter) Started() bool { return s.started }

// Begin starts a streamed response of contentType; its status goes out
// with its first bytes, so that a function failing before any answers 502.
func (s *StreamWriter) Begin(_, contentType string) error {
	if contentType == HTTPIntegration {
		s.prelude = true
		return nil
	}
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	s.w.Header().Set("Content-Type", contentType)
	return nil
}

func (s *StreamWriter) start(status int) {
	s.started = true
	s.w.WriteHeader(status)
}

// Write sends the function's next bytes, once the prelude is complete.
func (s *StreamWriter) Write(p []byte) (int, error) {
	if s.failed != nil {
		return 0, s.failed
	}
	n := len(p)
	if !s.started && !s.prelude {
		s.start(http.StatusOK)
	}
	if !s.started {
		s.pre = append(s.pre, p...)
		i := bytes.Index(s.pre, delimiter)
		if i < 0 {
			if len(s.pre) > maxPrelude {
				s.failed = errBadPrelude
				return 0, s.failed
			}
			return n, nil
		}
		if err := s.writePrelude(s.pre[:i]); err != nil {
			return 0, err
		}
		p, s.pre = s.pre[i+len(delimiter):], nil
	}
	if len(p) > 0 {
		deadline(s.rc)
		if _, err := s.w.Write(p); err != nil {
			s.failed = err
			return 0, err
		}
	}
	return n, s.flush()
}

// Finish ends the stream of a function that succeeded (ok) or failed. A
// response not started yet is sent when ok: empty, or, when its prelude
// never ended, with what came as the prelude [?]. It reports whether a
// response was sent; if not, the caller answers the failure.
func (s *StreamWriter) Finish(ok bool) bool {
	if s.started || !ok || s.failed != nil {
		return s.started
	}
	if s.prelude {
		if s.writePrelude(s.pre) != nil {
			return false
		}
	} else {
		s.start(http.StatusOK)
	}
	_ = s.flush()
	return true
}

// prelude is what HttpResponseStream.from writes before the body.
type prelude struct {
	StatusCode *int              `json:"statusCode"`
	Headers    map[string]string `json:"headers"`
	Cookies    []string          `json:"cookies"`
}

func (s *StreamWriter) writePrelude(raw []byte) error {
	var p prelude
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &p); err != nil {
			s.failed = errBadPrelude
			return s.failed
		}
	}
	status := http.StatusOK
	if p.StatusCode != nil {
		status = *p.StatusCode
	}
	if status < 100 || status > 999 {
		s.failed = errBadPrelude
		return s.failed
	}
	keys := make([]string, 0, len(p.Headers))
	for k := range p.Headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := s.w.Header()
	for _, k := range keys {
		h.Set(k, p.Headers[k])
	}
	for _, c := range p.Cookies {
		h.Add("Set-Cookie", c)
	}
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/octet-stream") // [?]
	}
	s.start(status)
	return nil
}

func (s *StreamWriter) flush() error {
	if err := s.rc.Flush(); err != nil {
		s.failed = err
	}
	return s.failed
}

// StalledClient is how long one write to a streaming client may take: a
// client that stops reading is dropped after it, so that the invocation's
// end is not held up by it.
const StalledClient = time.Minute

// deadline bounds the next write to w; writers that cannot be bounded
// (recorders) are left alone.
func deadline(rc *http.ResponseController) {
	_ = rc.SetWriteDeadline(time.Now().Add(StalledClient))
}
