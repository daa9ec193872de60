package invoke

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/lambdad/lambdad/internal/caller"
	"github.com/lambdad/lambdad/internal/destinations"
	"github.com/lambdad/lambdad/internal/functions"
	"github.com/lambdad/lambdad/internal/ids"
	"github.com/lambdad/lambdad/internal/store"
)

// bDeliveries holds records and dead-letter events bound for SQS, SNS,
// EventBridge or S3 until they were delivered (or given up): they are
// written in the transaction that ends their event, so a crash loses none.
const bDeliveries = "deliveries"

// Destinations delivers messages to other services in the background
// (destinations.Dispatcher); done learns the outcome.
type Destinations interface {
	Go(m destinations.Message, done func(err error))
}

// lastRun is what the last run of an event answered, for the record of an
// event that then grew too old (AWS's EventAgeExceeded records carry it).
type lastRun struct {
	Version string `json:"version"`
	Error   string `json:"error,omitempty"`
	Payload []byte `json:"payload,omitempty"`
}

// delivery is a stored message.
type delivery struct {
	ID      string               `json:"id"`
	Message destinations.Message `json:"message"`
	// Owner is the node whose lease on the delivery runs until
	// LeaseUntil, on a shared store (delivery_lease.go).
	Owner      string    `json:"owner,omitempty"`
	LeaseUntil time.Time `json:"leaseUntil,omitzero"`
}

// finish builds what a finished event sends: the record to its
// destination (an event when that is a function, else a delivery) and the
// event to the function's dead-letter queue after a failure. snap is the
// version that ran (nil when none could be resolved).
func (q *eventQueue) finish(cfg *functions.EventConfig, ref functions.Ref, e event, condition string, res Result, snap *functions.Snapshot) (next *event, out []delivery) {
	last := e.Last // what ran before, for an expired event (not run now)
	if res.ExecutedVersion != "" && condition != "EventAgeExceeded" {
		last = &lastRun{Version: res.ExecutedVersion, Error: res.FunctionError, Payload: res.Payload}
	}
	if cfg != nil {
		dest := cfg.OnFailure
		if condition == "Success" {
			dest = cfg.OnSuccess
		}
		if dest != "" {
			next, out = q.record(dest, ref, e, condition, last)
		}
	}
	if condition != "Success" && snap != nil && snap.Config.DeadLetterConfig != nil && snap.Config.DeadLetterConfig.TargetArn != nil && *snap.Config.DeadLetterConfig.TargetArn != "" {
		// AWS sends the event to the dead-letter queue as well as to an
		// on-failure destination when both are set [?].
		attrs := map[string]destinations.Attribute{"RequestID": {Type: "String", Value: e.ID}}
		if last != nil {
			attrs["ErrorCode"] = destinations.Attribute{Type: "Number", Value: "200"}
			if msg := errorMessage(last.Payload); msg != "" {
				attrs["ErrorMessage"] = destinations.Attribute{Type: "String", Value: msg}
			}
		}
		out = append(out, delivery{ID: ids.UUID(), Message: destinations.Message{
			Target: *snap.Config.DeadLetterConfig.TargetArn, Body: e.Payload, Attributes: attrs,
		}})
	}
	return next, out
}

// errorMessage is the errorMessage of a function error's payload, or the
// payload itself when it has none.
func errorMessage(payload []byte) string {
	var v struct {
		ErrorMessage *string `json:"errorMessage"`
	}
	if json.Unmarshal(payload, &v) == nil && v.ErrorMessage != nil {
		return *v.ErrorMessage
	}
	return strings.TrimSpace(string(payload))
}

// record is AWS's destination record of an event, in the event that
// carries it to a function or the delivery that carries it to a service.
func (q *eventQueue) record(dest string, ref functions.Ref, e event, condition string, last *lastRun) (*event, []delivery) {
	now := time.Now().UTC()
	record := map[string]any{
		"version":   "1.0",
		"timestamp": now.Format("2006-01-02T15:04:05.000Z"),
		"requestContext": map[string]any{
			"requestId": e.ID, "functionArn": ref.VersionARN(), "condition": condition, "approximateInvokeCount": e.Attempts,
		},
		"requestPayload": rawOrString(e.Payload),
	}
	if last != nil {
		rc := map[string]any{"statusCode": 200, "executedVersion": last.Version}
		if last.Error != "" {
			rc["functionError"] = last.Error
		}
		record["responseContext"] = rc
		if len(last.Payload) > 0 {
			record["responsePayload"] = rawOrString(last.Payload)
		}
	}
	payload, _ := json.Marshal(record)
	if strings.HasPrefix(dest, "arn:") && strings.SplitN(dest, ":", 4)[2] != "lambda" {
		m := destinations.Message{Target: dest, Body: payload}
		switch m.Service() {
		case "events":
			m.DetailType = "Lambda Function Invocation Result - Success"
			if condition != "Success" {
				m.DetailType = "Lambda Function Invocation Result - Failure"
			}
			m.Resources = []string{dest, ref.VersionARN()}
		case "s3":
			// aws/lambda/async/<function>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<uuid> [?]
			m.Key = "aws/lambda/async/" + ref.Name + "/" + now.Format("2006/01/02/2006-01-02T15.04.05") + "-" + ids.UUID()
		}
		return nil, []delivery{{ID: ids.UUID(), Message: m}}
	}
	target, err := functions.ParseRef(caller.Identity{Account: ref.Account, Region: ref.Region}, dest, nil)
	if err != nil {
		q.s.cfg.Logger.Warn("event destination", "destination", dest, "err", err)
		return nil, nil
	}
	return &event{ID: ids.UUID(), Account: target.Account, Region: target.Region,
		Name: target.Name, Qualifier: target.Qualifier, Payload: payload, NotBefore: now, Enqueued: now}, nil
}

// rawOrString is payload as JSON when it is JSON, else as a string.
func rawOrString(payload []byte) any {
	if json.Valid(payload) {
		return json.RawMessage(payload)
	}
	return string(payload)
}

// putDeliveries stores ds, leased to this node, which sends them next.
func (q *eventQueue) putDeliveries(tx store.Tx, ds []delivery) error {
	q.leaseDeliveries(ds)
	for _, d := range ds {
		raw, err := json.Marshal(d)
		if err != nil {
			return err
		}
		if err := tx.Put(bDeliveries, d.ID, raw); err != nil {
			return err
		}
	}
	return nil
}

// deliver hands stored deliveries to the dispatcher, off the queue's
// workers; each is removed once delivered or given up (logged and counted
// by the dispatcher), and kept when lambdad stops first.
func (q *eventQueue) deliver(ds []delivery) {
	for _, d := range ds {
		if q.s.cfg.Destinations == nil {
			q.s.cfg.Logger.Warn("event destination: lambdad has no connection to other services", "destination", d.Message.Target)
			q.delivered(d)
			continue
		}
		q.sends.add(d.ID)
		stop := make(chan struct{})
		if !q.s.cfg.ExclusiveStore {
			go q.renewDelivery(d, stop)
		}
		q.s.cfg.Destinations.Go(d.Message, func(err error) {
			close(stop)
			defer q.sends.done(d.ID)
			if errors.Is(err, destinations.ErrClosed) {
				return // its lease runs out; the next start sends it
			}
			q.delivered(d)
		})
	}
}

// resumeDeliveries sends again what a previous run had not delivered; on
// a shared store, what no other live node is sending, and from then on
// what other nodes leave when they die (delivery_lease.go).
func (q *eventQueue) resumeDeliveries(ctx context.Context) {
	if !q.s.cfg.ExclusiveStore {
		q.deliver(q.claimDeliveries(ctx, true))
		q.wg.Add(1)
		go q.takeOverDeliveries(ctx)
		return
	}
	var ds []delivery
	q.s.cfg.Store.View(ctx, func(tx store.Tx) error {
		return tx.Scan(bDeliveries, "", "", func(_ string, raw []byte) bool {
			var d delivery
			if json.Unmarshal(raw, &d) == nil {
				ds = append(ds, d)
			}
			return true
		})
	})
	q.deliver(ds)
}
