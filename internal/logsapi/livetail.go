package logsapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream/eventstreamapi"

	"github.com/lambdad/lambdad/internal/awsproto"
	"github.com/lambdad/lambdad/internal/ids"
	"github.com/lambdad/lambdad/internal/logs"
	ls "github.com/lambdad/lambdad/internal/spec/logsspec"
)

// Live Tail, as AWS: a session lasts at most three hours, sends a
// sessionUpdate every second (empty ones too) with at most 500 events.
const (
	liveTailMax      = 3 * time.Hour
	liveTailInterval = time.Second
	liveTailBatch    = 500
)

// startLiveTail answers with an event stream (application/
// vnd.amazon.eventstream): the initial-response, a sessionStart, then
// sessionUpdates until the client hangs up or the session times out.
func (h *Handler) startLiveTail(ctx context.Context, w http.ResponseWriter, _ *http.Request, id awsproto.Identity, in any) (any, error) {
	req := in.(*ls.StartLiveTailRequest)
	if len(req.LogGroupIdentifiers) == 0 {
		return nil, required("logGroupIdentifiers")
	}
	if len(req.LogStreamNames) > 0 && len(req.LogStreamNamePrefixes) > 0 {
		// [?]
		return nil, invalid("Cannot specify both logStreamNames and logStreamNamePrefixes")
	}
	var groups []string
	arnOf := map[string]string{}
	for _, gi := range req.LogGroupIdentifiers {
		name, _ := groupOf(nil, &gi)
		key := logs.Key(id.Account, id.Region, name)
		if ok, err := h.store.GroupExists(ctx, key); err != nil {
			return nil, err
		} else if !ok {
			return nil, noGroup()
		}
		groups = append(groups, key)
		arnOf[key] = gi
	}
	var match func(string) bool
	if req.LogEventFilterPattern != nil {
		if len(*req.LogEventFilterPattern) > 1024 {
			return nil, invalid("1 validation error detected: Value at 'logEventFilterPattern' failed to satisfy constraint: Member must have length less than or equal to 1024") // [?]
		}
		p, err := logs.ParsePattern(*req.LogEventFilterPattern)
		if err != nil {
			return nil, invalid("Invalid filter pattern") // [?]
		}
		match = p.Match
	}
	sub := h.store.Subscribe(groups)
	defer h.store.Unsubscribe(sub)

	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
	w.WriteHeader(http.StatusOK)
	enc := eventstream.NewEncoder()
	send := func(eventType string, v any) error {
		payload, err := json.Marshal(v)
		if err != nil {
			return err
		}
		var msg eventstream.Message
		msg.Headers.Set(eventstreamapi.MessageTypeHeader, eventstream.StringValue(eventstreamapi.EventMessageType))
		msg.Headers.Set(eventstreamapi.EventTypeHeader, eventstream.StringValue(eventType))
		msg.Headers.Set(eventstreamapi.ContentTypeHeader, eventstream.StringValue("application/json"))
		msg.Payload = payload
		var buf bytes.Buffer
		if err := enc.Encode(&buf, msg); err != nil {
			return err
		}
		if _, err := w.Write(buf.Bytes()); err != nil {
			return err
		}
		return rc.Flush()
	}
	start := ls.LiveTailSessionStart{
		RequestId:             ptr(awsproto.RequestID(ctx)),
		SessionId:             ptr(ids.UUID()),
		LogGroupIdentifiers:   req.LogGroupIdentifiers,
		LogStreamNames:        req.LogStreamNames,
		LogStreamNamePrefixes: req.LogStreamNamePrefixes,
		LogEventFilterPattern: req.LogEventFilterPattern,
	}
	if send("initial-response", struct{}{}) != nil || send("sessionStart", start) != nil {
		return nil, errStreamed
	}
	tick := time.NewTicker(liveTailInterval)
	defer tick.Stop()
	timeout := time.NewTimer(liveTailMax)
	defer timeout.Stop()
	var pending []ls.LiveTailSessionLogEvent
	sampled := false
	for {
		select {
		case <-ctx.Done():
			return nil, errStreamed
		case <-h.stopped:
			return nil, errStreamed
		case <-timeout.C:
			var msg eventstream.Message
			msg.Headers.Set(eventstreamapi.MessageTypeHeader, eventstream.StringValue(eventstreamapi.ExceptionMessageType))
			msg.Headers.Set(eventstreamapi.ExceptionTypeHeader, eventstream.StringValue("SessionTimeoutException"))
			msg.Headers.Set(eventstreamapi.ContentTypeHeader, eventstream.StringValue("application/json"))
			msg.Payload = []byte(`{"message":"Session timed out after 3 hours"}`) // [?]
			var buf bytes.Buffer
			enc.Encode(&buf, msg)
			w.Write(buf.Bytes())
			rc.Flush()
			return nil, errStreamed
		case evs, ok := <-sub.C:
			if !ok {
				return nil, errStreamed // lambdad is stopping
			}
			for _, e := range evs {
				if !wanted(req, e) || (match != nil && !match(e.Message)) {
					continue
				}
				if len(pending) == liveTailBatch {
					sampled = true
					continue
				}
				pending = append(pending, ls.LiveTailSessionLogEvent{
					LogStreamName: ptr(e.Stream), LogGroupIdentifier: ptr(arnOf[e.Group]),
					Message: ptr(e.Message), Timestamp: ptr(e.Timestamp), IngestionTime: ptr(e.Ingestion)})
			}
		case <-tick.C:
			up := ls.LiveTailSessionUpdate{SessionMetadata: &ls.LiveTailSessionMetadata{Sampled: ptr(sampled)},
				SessionResults: pending}
			if up.SessionResults == nil {
				up.SessionResults = []ls.LiveTailSessionLogEvent{}
			}
			if send("sessionUpdate", up) != nil {
				return nil, errStreamed
			}
			pending, sampled = nil, false
		}
	}
}

func wanted(req *ls.StartLiveTailRequest, e logs.Event) bool {
	if len(req.LogStreamNames) > 0 {
		for _, n := range req.LogStreamNames {
			if n == e.Stream {
				return true
			}
		}
		return false
	}
	if len(req.LogStreamNamePrefixes) > 0 {
		for _, p := range req.LogStreamNamePrefixes {
			if strings.HasPrefix(e.Stream, p) {
				return true
			}
		}
		return false
	}
	return true
}
