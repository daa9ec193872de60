// Package logsapi serves the CloudWatch Logs API (JSON 1.1: POST / with
// X-Amz-Target: Logs_20140328.<Operation>) over lambdad's log store, on
// lambdad's own listener, so that `aws logs`, boto3's and the SDKs' logs
// clients read function logs unchanged. Shapes are internal/spec/logsspec's,
// generated from AWS's model.
package logsapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/lambdad/lambdad/internal/awsproto"
	"github.com/lambdad/lambdad/internal/ids"
	"github.com/lambdad/lambdad/internal/logs"
	"github.com/lambdad/lambdad/internal/spec/logsspec"
)

// ContentType is JSON 1.1's.
const ContentType = "application/x-amz-json-1.1"

// maxBody bounds a request (the largest, PutLogEvents, is 1 MiB; lambdad
// serves none that large).
const maxBody = 1 << 20

// Handler serves the Logs API.
type Handler struct {
	store logs.Logs
	auth  *awsproto.Service
	log   *slog.Logger
	ops   map[string]logsspec.Op
	calls map[string]func(ctx context.Context, w http.ResponseWriter, r *http.Request, id awsproto.Identity, in any) (any, error)

	stopOnce sync.Once
	stopped  chan struct{} // closed by Stop
}

// Stop ends the live tails in progress (lambdad is stopping).
func (h *Handler) Stop() { h.stopOnce.Do(func() { close(h.stopped) }) }

// New serves store; auth checks requests as the Lambda API does.
func New(store logs.Logs, auth *awsproto.Service, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Handler{store: store, auth: auth, log: log, ops: map[string]logsspec.Op{}, stopped: make(chan struct{})}
	for _, op := range logsspec.Operations() {
		h.ops[op.Name] = op
	}
	h.calls = map[string]func(context.Context, http.ResponseWriter, *http.Request, awsproto.Identity, any) (any, error){
		"DescribeLogGroups":     wrap(h.describeLogGroups),
		"DescribeLogStreams":    wrap(h.describeLogStreams),
		"GetLogEvents":          wrap(h.getLogEvents),
		"FilterLogEvents":       wrap(h.filterLogEvents),
		"CreateLogGroup":        wrap(h.createLogGroup),
		"DeleteLogGroup":        wrap(h.deleteLogGroup),
		"PutRetentionPolicy":    wrap(h.putRetentionPolicy),
		"DeleteRetentionPolicy": wrap(h.deleteRetentionPolicy),
		"StartLiveTail":         h.startLiveTail,
	}
	return h
}

func wrap[I, O any](f func(ctx context.Context, id awsproto.Identity, in *I) (*O, error)) func(context.Context, http.ResponseWriter, *http.Request, awsproto.Identity, any) (any, error) {
	return func(ctx context.Context, _ http.ResponseWriter, _ *http.Request, id awsproto.Identity, in any) (any, error) {
		return f(ctx, id, in.(*I))
	}
}

// Matches says whether r is a Logs API request.
func Matches(r *http.Request) bool {
	return r.Method == http.MethodPost && strings.HasPrefix(r.Header.Get("X-Amz-Target"), logsspec.TargetPrefix+".")
}

// Error is an error in JSON 1.1's form.
type Error struct {
	Type    string
	Status  int
	Message string
}

func (e *Error) Error() string { return e.Type + ": " + e.Message }

func invalid(format string, args ...any) *Error {
	return &Error{Type: "InvalidParameterException", Status: http.StatusBadRequest, Message: fmt.Sprintf(format, args...)}
}

func noGroup() *Error {
	return &Error{Type: "ResourceNotFoundException", Status: http.StatusBadRequest, Message: "The specified log group does not exist."}
}

func noStream() *Error {
	return &Error{Type: "ResourceNotFoundException", Status: http.StatusBadRequest, Message: "The specified log stream does not exist."}
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rid := ids.UUID()
	w.Header().Set("X-Amzn-Requestid", rid)
	ctx := awsproto.WithRequestID(r.Context(), rid)
	out, err := h.serve(ctx, w, r)
	if errors.Is(err, errStreamed) {
		return
	}
	if err != nil {
		h.writeError(w, err)
		return
	}
	body, err := json.Marshal(out)
	if err != nil {
		h.writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", ContentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body)
}

// errStreamed: the handler wrote its response itself.
var errStreamed = errors.New("streamed")

func (h *Handler) serve(ctx context.Context, w http.ResponseWriter, r *http.Request) (any, error) {
	name := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), logsspec.TargetPrefix+".")
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxBody {
		return nil, &Error{Type: "SerializationException", Status: http.StatusRequestEntityTooLarge, Message: "Request body too large"} // [?]
	}
	id, err := h.auth.Authenticate(r, "logs", body)
	if err != nil {
		return nil, err
	}
	op, ok := h.ops[name]
	if !ok {
		return nil, &Error{Type: "UnknownOperationException", Status: http.StatusBadRequest}
	}
	call := h.calls[name]
	if call == nil {
		return nil, awsproto.NotImplemented("The CloudWatch Logs operation " + name)
	}
	in, err := Decode(op, body)
	if err != nil {
		return nil, err
	}
	return call(ctx, w, r, id, in)
}

// Decode reads a request body into op's input shape, as JSON 1.1 does: an
// empty body is an empty object; members of the wrong type or a body that
// is not a JSON object are a SerializationException.
func Decode(op logsspec.Op, body []byte) (any, error) {
	in := op.NewInput()
	if len(bytes.TrimSpace(body)) == 0 {
		return in, nil
	}
	d := json.NewDecoder(bytes.NewReader(body))
	if err := d.Decode(in); err != nil {
		return nil, &Error{Type: "SerializationException", Status: http.StatusBadRequest, Message: serializationMessage(err)}
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, &Error{Type: "SerializationException", Status: http.StatusBadRequest, Message: "Unexpected content after the request body"} // [?]
	}
	return in, nil
}

func serializationMessage(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		// [?] AWS's Coral wording.
		return fmt.Sprintf("Unexpected value type in payload for %s", te.Field)
	}
	return "" // [?] AWS answers a malformed body without a message
}

func (h *Handler) writeError(w http.ResponseWriter, err error) {
	var e *Error
	var ae *awsproto.Error
	switch {
	case errors.As(err, &e):
	case errors.As(err, &ae):
		e = &Error{Type: ae.Code, Status: ae.Status, Message: ae.Message}
	default:
		h.log.Error("logs api: internal error", "err", err)
		e = &Error{Type: "ServiceUnavailableException", Status: http.StatusInternalServerError, Message: "An internal error occurred: " + err.Error()}
	}
	body := map[string]string{"__type": e.Type}
	if e.Message != "" {
		body["message"] = e.Message
	}
	raw, _ := json.Marshal(body)
	w.Header().Set("Content-Type", ContentType)
	w.Header().Set("X-Amzn-ErrorType", e.Type)
	w.WriteHeader(e.Status)
	w.Write(raw)
}

// groupPattern is the model's LogGroupName pattern.
var groupPattern = regexp.MustCompile(`^[\.\-_/#A-Za-z0-9]+$`)

func validGroupName(member, name string) error {
	if len(name) > 512 {
		// AWS's answer (LocalStack snapshot test_logs_groups:
		// test_create_log_group_invalid_name_length, a name of 513 "a"s).
		return invalid("Invalid LogGroup or LogStream, both must have length less than or equal to 512.")
	}
	if len(name) < 1 || !groupPattern.MatchString(name) {
		// [?] wording of the model's constraint as InvalidParameterException.
		return invalid("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+", name, member)
	}
	return nil
}

func required(member string) error {
	// [?] AWS's wording for a missing member, as Logs words it.
	return invalid("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", member)
}

// groupOf reads logGroupName or logGroupIdentifier (a name or an ARN,
// with or without ":*").
func groupOf(name, ident *string) (string, error) {
	switch {
	case name != nil && ident != nil:
		// AWS's answer, a ValidationException (LocalStack snapshot
		// test_logs_streams: test_describe_log_streams_with_log_group_identifier,
		// DescribeLogStreams with both; GetLogEvents and FilterLogEvents share
		// this check, their answers unrecorded).
		return "", &Error{Type: "ValidationException", Status: http.StatusBadRequest,
			Message: "LogGroup name and LogGroup ARN are mutually exclusive parameters."}
	case name != nil:
		return *name, nil
	case ident != nil:
		g := *ident
		if strings.HasPrefix(g, "arn:") {
			if i := strings.Index(g, ":log-group:"); i >= 0 {
				g = strings.TrimSuffix(g[i+len(":log-group:"):], ":*")
			}
		}
		return g, nil
	}
	// [?]
	return "", invalid("Should provide either name or identifier of the LogGroup.")
}

func groupARN(id awsproto.Identity, name string) string {
	return "arn:aws:logs:" + id.Region + ":" + id.Account + ":log-group:" + name
}

func storeErr(err error) error {
	switch {
	case errors.Is(err, logs.ErrNoGroup):
		return noGroup()
	case errors.Is(err, logs.ErrNoStream):
		return noStream()
	case errors.Is(err, logs.ErrGroupExists):
		return &Error{Type: "ResourceAlreadyExistsException", Status: http.StatusBadRequest, Message: "The specified log group already exists"}
	case errors.Is(err, logs.ErrToken):
		// AWS's answer (LocalStack snapshots test_logs_events:
		// test_get_log_events_invalid_token and test_logs_filter_events:
		// test_filter_log_events_unknown_token, nextToken "invalid-token").
		return invalid("The specified nextToken is invalid.")
	}
	return err
}

func limitOf(l *int32, max int32, member string) (int, error) {
	if l == nil {
		return 0, nil
	}
	if *l < 1 || *l > max {
		// Above max, AWS's answer (LocalStack snapshots test_logs_events:
		// test_get_log_events_limit_validation and test_logs_filter_events:
		// test_filter_log_events_limit_validation, limit 10001).
		// [?] below 1.
		return 0, invalid("1 validation error detected: Value '%d' at '%s' failed to satisfy constraint: Member must have value less than or equal to %d", *l, member, max)
	}
	return int(*l), nil
}

func ptr[T any](v T) *T { return &v }
