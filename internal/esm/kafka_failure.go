package esm

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lambdad/lambdad/internal/destinations"
	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/ids"
	"github.com/lambdad/lambdad/internal/invoke"
)

// process runs one batch (payload is its event) until the function
// succeeds with it, or, in provisioned mode, until the error handling
// gives it up (kafka_retry.go): split in two on an error when
// BisectBatchOnFunctionError says so (each half starts its own retry
// count, as for streams), handed to the on-failure destination when its
// retries are spent; records older than MaximumRecordAgeInSeconds go
// there without reaching the function. Throttles and a missing function are no
// attempts. false when the mapping stopped first (nothing is committed).
func (p *kafkaPoller) process(ctx context.Context, recs []*kgo.Record, payload []byte) bool {
	e := p.m.Kafka.Errors
	attempts := 0
	var last *invoke.Result
	lastID := ""
	wait := 100 * time.Millisecond
	for {
		if old, fresh := p.aged(recs); len(old) > 0 {
			// Records past MaximumRecordAgeInSeconds are not sent to
			// the function; the rest of the batch goes on.
			oldPayload, _ := p.payload(old)
			p.giveUp(ctx, old, oldPayload, "RecordAgeExceeded", attempts, lastID, last) // [?] the streams' word
			if len(fresh) == 0 {
				return true
			}
			recs = fresh
			var err error
			if payload, err = p.payload(recs); err != nil {
				p.problem("PROBLEM: "+err.Error(), err)
				return false
			}
		}
		if cond := p.expired(attempts); cond != "" {
			p.giveUp(ctx, recs, payload, cond, attempts, lastID, last)
			return true
		}
		lastID = ids.UUID()
		res, err := p.r.svc.cfg.Invoker.Invoke(context.WithoutCancel(ctx), p.m.Function.ref(), payload, invoke.Options{Type: invoke.Sync, RequestID: lastID})
		pause := wait
		failed := recs
		if err == nil && res.FunctionError == "" && e != nil && e.ReportFailures {
			failed = kafkaFailed(res.Payload, recs)
		} else if err == nil && res.FunctionError == "" {
			failed = nil
		}
		switch {
		case err == nil && len(failed) == 0:
			p.r.report(p.m.ref(), resultOK)
			return true
		case err == nil:
			attempts++
			last = &res
			p.problem(resultFuncError, nil)
			if len(failed) < len(recs) {
				// ReportBatchItemFailures: only what failed is tried
				// again.
				recs = failed
				if payload, err = p.payload(recs); err != nil {
					p.problem("PROBLEM: "+err.Error(), err)
					return false
				}
			}
			if e != nil && e.Bisect && len(recs) > 1 {
				h := len(recs) / 2
				return p.deliver(ctx, recs[:h]) && p.deliver(ctx, recs[h:])
			}
			if cond := p.expired(attempts); cond != "" {
				p.giveUp(ctx, recs, payload, cond, attempts, lastID, last)
				return true
			}
		case fault.Is(err, fault.TooManyRequests):
			p.problem(resultThrottled, nil)
			pause = min(wait, 100*time.Millisecond)
		default:
			if fe, ok := fault.As(err); ok && fe.Kind == fault.NotFound && fe.Resource == "Function" {
				p.problem(resultNoFunction, err)
			} else {
				p.problem("PROBLEM: "+err.Error(), err)
			}
		}
		sleep(ctx, pause)
		if ctx.Err() != nil || p.isStopped() {
			return false
		}
		wait = min(wait*2, 10*time.Second)
	}
}

// kafkaFailed reads a ReportBatchItemFailures response to a Kafka batch:
// the records to try again. Each itemIdentifier names a record of the
// batch as {"partition": "<topic>-<partition>", "offset": n} (the shape
// AWS's Powertools answer [?]); the records of that partition from that
// offset on failed. As for streams: no answer, null, "", [] or an empty
// list is success; an answer Lambda cannot read, or one naming a record
// not in the batch, fails the whole batch.
func kafkaFailed(payload []byte, recs []*kgo.Record) []*kgo.Record {
	s := strings.TrimSpace(string(payload))
	switch strings.Join(strings.Fields(s), "") {
	case "", "null", `""`, "[]":
		return nil
	}
	var resp map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &resp); err != nil {
		return recs
	}
	raw, ok := resp["batchItemFailures"]
	if !ok || string(raw) == "null" {
		return nil
	}
	var items []struct {
		ID *struct {
			Partition *string `json:"partition"`
			Offset    *int64  `json:"offset"`
		} `json:"itemIdentifier"`
	}
	if err := json.Unmarshal(raw, &items); err != nil {
		return recs
	}
	key := func(r *kgo.Record) string { return r.Topic + "-" + strconv.Itoa(int(r.Partition)) }
	in := map[string]map[int64]bool{}
	for _, r := range recs {
		if in[key(r)] == nil {
			in[key(r)] = map[int64]bool{}
		}
		in[key(r)][r.Offset] = true
	}
	from := map[string]int64{} // per partition, the first offset that failed
	for _, it := range items {
		if it.ID == nil || it.ID.Partition == nil || it.ID.Offset == nil || !in[*it.ID.Partition][*it.ID.Offset] {
			return recs
		}
		if f, seen := from[*it.ID.Partition]; !seen || *it.ID.Offset < f {
			from[*it.ID.Partition] = *it.ID.Offset
		}
	}
	var failed []*kgo.Record
	for _, r := range recs {
		if f, ok := from[key(r)]; ok && r.Offset >= f {
			failed = append(failed, r)
		}
	}
	return failed
}

// aged splits recs into those older than MaximumRecordAgeInSeconds (by
// their Kafka timestamps) and the rest, in order.
func (p *kafkaPoller) aged(recs []*kgo.Record) (old, fresh []*kgo.Record) {
	e := p.m.Kafka.Errors
	if e == nil || e.MaxAge == -1 {
		return nil, recs
	}
	limit := time.Duration(e.MaxAge) * time.Second
	for _, r := range recs {
		if time.Since(r.Timestamp) > limit {
			old = append(old, r)
		} else {
			fresh = append(fresh, r)
		}
	}
	return old, fresh
}

// expired names the condition that gives a batch up after attempts
// invokes: its retries spent; "" while it is still tried.
func (p *kafkaPoller) expired(attempts int) string {
	if n := p.m.Kafka.Errors.retries(); n != -1 && attempts > n {
		return "RetryAttemptsExhausted"
	}
	return ""
}

// kafkaFailureRecord is AWS's on-failure record of a Kafka batch ("Capturing
// discarded batches for Amazon MSK and self-managed Apache Kafka event
// sources"; for a Kafka topic destination, one per record with the record's
// event as payload: "Using a Kafka topic as an on-failure destination").
type kafkaFailureRecord struct {
	RequestContext  failureRequest   `json:"requestContext"`
	ResponseContext *failureResponse `json:"responseContext"` // null when the function never answered
	Version         string           `json:"version"`
	Timestamp       string           `json:"timestamp"`
	KafkaBatchInfo  kafkaBatchInfo   `json:"KafkaBatchInfo"`
	// Payload is the event: an escaped JSON string in records sent to
	// S3, the event itself in those sent to a Kafka topic.
	Payload any `json:"payload,omitempty"`
}

type kafkaBatchInfo struct {
	BatchSize        int    `json:"batchSize"`
	EventSourceArn   string `json:"eventSourceArn,omitempty"` // MSK only
	BootstrapServers string `json:"bootstrapServers"`
	PayloadSize      int    `json:"payloadSize"`
	// RecordsInfo: per "<topic>-<partition>" (SQS, SNS, S3); RecordInfo:
	// the one record (a Kafka topic).
	RecordsInfo map[string]kafkaRangeInfo `json:"recordsInfo,omitempty"`
	RecordInfo  *kafkaOneInfo             `json:"recordInfo,omitempty"`
}

type kafkaRangeInfo struct {
	FirstRecordOffset    string `json:"firstRecordOffset"`
	LastRecordOffset     string `json:"lastRecordOffset"`
	FirstRecordTimestamp string `json:"firstRecordTimestamp"`
	LastRecordTimestamp  string `json:"lastRecordTimestamp"`
}

type kafkaOneInfo struct {
	Offset    string `json:"offset"`
	Timestamp string `json:"timestamp"`
}

const failureTime = "2006-01-02T15:04:05.000Z"

// giveUp skips recs: their on-failure record goes to the mapping's
// destination, if it has one; the batch is then committed.
func (p *kafkaPoller) giveUp(ctx context.Context, recs []*kgo.Record, payload []byte, cond string, attempts int, requestID string, last *invoke.Result) {
	dest := ""
	if e := p.m.Kafka.Errors; e != nil {
		dest = e.OnFailure
	}
	p.r.svc.cfg.Logger.Warn("esm: kafka records given up", "uuid", p.m.UUID, "topic", p.m.Kafka.Topic, "condition", cond, "records", len(recs), "destination", dest)
	if dest == "" {
		return
	}
	if requestID == "" {
		requestID = ids.UUID()
	}
	base := kafkaFailureRecord{
		RequestContext: failureRequest{RequestID: requestID, FunctionArn: p.m.Function.ref().QualifiedARN(), Condition: cond, ApproximateInvokeCount: max(attempts, 1)},
		Version:        "1.0",
		Timestamp:      time.Now().UTC().Format(failureTime),
		KafkaBatchInfo: kafkaBatchInfo{BootstrapServers: strings.Join(p.brokers, ",")},
	}
	if last != nil {
		r := &failureResponse{StatusCode: 200, ExecutedVersion: last.ExecutedVersion}
		if last.FunctionError != "" {
			r.FunctionError = ptr(last.FunctionError)
		}
		base.ResponseContext = r
	}
	if topic, ok := strings.CutPrefix(dest, kafkaDestPrefix); ok {
		p.produceFailures(ctx, topic, recs, base)
		return
	}
	if p.r.svc.cfg.Destinations == nil {
		return
	}
	rec := base
	rec.KafkaBatchInfo.BatchSize = len(recs)
	rec.KafkaBatchInfo.PayloadSize = len(payload)
	rec.KafkaBatchInfo.RecordsInfo = map[string]kafkaRangeInfo{}
	for _, r := range recs {
		k := r.Topic + "-" + strconv.Itoa(int(r.Partition))
		ri, seen := rec.KafkaBatchInfo.RecordsInfo[k]
		off, ts := strconv.FormatInt(r.Offset, 10), r.Timestamp.UTC().Format(failureTime)
		if !seen {
			ri.FirstRecordOffset, ri.FirstRecordTimestamp = off, ts
		}
		ri.LastRecordOffset, ri.LastRecordTimestamp = off, ts
		rec.KafkaBatchInfo.RecordsInfo[k] = ri
	}
	msg := destinations.Message{Target: dest}
	if msg.Service() == "s3" {
		rec.Payload = string(payload)
		first := recs[0].Topic + "-" + strconv.Itoa(int(recs[0].Partition))
		// [?] the object key's shape, after the streams'.
		msg.Key = "aws/lambda/" + p.m.UUID + "/" + first + "/" + time.Now().UTC().Format("2006/01/02/2006-01-02T15.04.05") + "-" + ids.UUID()
	}
	msg.Body, _ = json.Marshal(rec)
	if err := p.r.svc.cfg.Destinations.Send(context.WithoutCancel(ctx), msg); err != nil {
		p.r.svc.cfg.Logger.Warn("esm: on-failure record not delivered", "uuid", p.m.UUID, "target", dest, "err", err)
	}
}

// produceFailures writes one record per failed record to a topic of the
// mapping's cluster, with the record's key (so it lands as the original's
// partition key says) and its own event as payload.
func (p *kafkaPoller) produceFailures(ctx context.Context, topic string, recs []*kgo.Record, base kafkaFailureRecord) {
	// The condition's word on this page of AWS's guide [?].
	if base.RequestContext.Condition == "RetryAttemptsExhausted" {
		base.RequestContext.Condition = "RetriesExhausted"
	}
	cl, err := p.producerClient()
	if err != nil {
		p.r.svc.cfg.Logger.Warn("esm: on-failure record not delivered", "uuid", p.m.UUID, "target", kafkaDestPrefix+topic, "err", err)
		return
	}
	out := make([]*kgo.Record, 0, len(recs))
	for _, r := range recs {
		ev, err := p.payload([]*kgo.Record{r})
		if err != nil {
			continue
		}
		rec := base
		rec.KafkaBatchInfo.BatchSize = 1
		rec.KafkaBatchInfo.PayloadSize = len(ev)
		rec.KafkaBatchInfo.RecordInfo = &kafkaOneInfo{Offset: strconv.FormatInt(r.Offset, 10), Timestamp: r.Timestamp.UTC().Format(failureTime)}
		rec.Payload = json.RawMessage(ev)
		body, _ := json.Marshal(rec)
		out = append(out, &kgo.Record{Topic: topic, Key: r.Key, Value: body})
	}
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(pctx, out...).FirstErr(); err != nil {
		p.r.svc.cfg.Logger.Warn("esm: on-failure record not delivered", "uuid", p.m.UUID, "target", kafkaDestPrefix+topic, "err", err)
	}
}

// producerClient is the client that writes to an on-failure topic: made on
// first need with the consumer's brokers and authentication, closed with
// the consumer (consume).
func (p *kafkaPoller) producerClient() (*kgo.Client, error) {
	if p.producer != nil {
		return p.producer, nil
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(p.brokers...), kgo.ClientID("lambdad"), kgo.DisableClientMetrics()}, p.auth...)...)
	if err != nil {
		return nil, err
	}
	p.producer = cl
	return cl, nil
}
