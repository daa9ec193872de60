package esm

import (
	"context"
	"encoding/json"
	"strings"
	"time"
)

// Tumbling windows (TumblingWindowInSeconds): each record belongs to the
// window its arrival falls in; the function gets the state it answered
// for the window so far with each batch of it, and once the window is
// over a last invoke with isFinalInvokeForWindow true and no records.
// The window under way and its state are kept with the checkpoint, so a
// restart resumes the window.

// tumble is the window under way on a shard.
type tumble struct {
	Start time.Time       `json:"start"`
	State json.RawMessage `json:"state,omitempty"`
}

// windowCall is one windowed invoke: its window, and the state, updated
// from the function's answer.
type windowCall struct {
	Start, End time.Time
	State      json.RawMessage
	Final      bool
}

// windowEvent is the event of a windowed invoke, keys in AWS's order.
type windowEvent struct {
	Records                 []any           `json:"Records"`
	Window                  windowSpan      `json:"window"`
	State                   json.RawMessage `json:"state"`
	ShardID                 string          `json:"shardId"`
	EventSourceARN          string          `json:"eventSourceARN"`
	IsFinalInvokeForWindow  bool            `json:"isFinalInvokeForWindow"`
	IsWindowTerminatedEarly bool            `json:"isWindowTerminatedEarly"`
}

type windowSpan struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

func (w *windowCall) event(records []any, shard, arn string) []byte {
	state := w.State
	if len(state) == 0 {
		state = json.RawMessage("{}")
	}
	b, _ := json.Marshal(windowEvent{Records: records, State: state, ShardID: shard, EventSourceARN: arn, IsFinalInvokeForWindow: w.Final,
		Window: windowSpan{Start: w.Start.UTC().Format(time.RFC3339), End: w.End.UTC().Format(time.RFC3339)}})
	return b
}

// answered reads the function's answer: it must hold a state object
// (AWS treats an answer without one as a failed invoke).
func (w *windowCall) answered(payload []byte) bool {
	var resp map[string]json.RawMessage
	if json.Unmarshal(payload, &resp) != nil {
		return false
	}
	st, ok := resp["state"]
	if !ok || !strings.HasPrefix(strings.TrimSpace(string(st)), "{") {
		return false
	}
	w.State = st
	return true
}

// windowOf is the start of the window t falls in.
func (p *streamPoller) windowOf(t time.Time) time.Time {
	return t.UTC().Truncate(time.Duration(p.m.Stream.Tumbling) * time.Second)
}

// windowed runs a batch window by window: the window under way is closed
// (its final invoke) before a record of a later one; cp keeps the state
// and, after each invoke, the last record done. It answers false when
// the mapping stopped first.
func (p *streamPoller) windowed(ctx context.Context, shard string, recs []streamRecord, cp *checkpoint) bool {
	size := time.Duration(p.m.Stream.Tumbling) * time.Second
	for len(recs) > 0 {
		start := p.windowOf(recs[0].Arrival)
		n := 1
		for n < len(recs) && p.windowOf(recs[n].Arrival).Equal(start) {
			n++
		}
		if cp.Window != nil && !cp.Window.Start.Equal(start) {
			if !p.closeWindow(ctx, shard, cp) {
				return false
			}
		}
		w := &windowCall{Start: start, End: start.Add(size)}
		if cp.Window != nil {
			w.State = cp.Window.State
		}
		if !p.process(ctx, shard, recs[:n], 0, nil, w) {
			return false
		}
		cp.Window = &tumble{Start: start, State: w.State}
		cp.Seq = recs[n-1].Seq
		_ = p.r.svc.saveCheckpoint(context.WithoutCancel(ctx), p.m.ref(), shard, *cp)
		recs = recs[n:]
	}
	return true
}

// closeWindow makes the final invoke of the window under way, retried
// until it succeeds (AWS pauses the shard until then).
func (p *streamPoller) closeWindow(ctx context.Context, shard string, cp *checkpoint) bool {
	size := time.Duration(p.m.Stream.Tumbling) * time.Second
	w := &windowCall{Start: cp.Window.Start, End: cp.Window.Start.Add(size), State: cp.Window.State, Final: true}
	if !p.process(ctx, shard, nil, 0, nil, w) {
		return false
	}
	cp.Window = nil
	_ = p.r.svc.saveCheckpoint(context.WithoutCancel(ctx), p.m.ref(), shard, *cp)
	return true
}
