package esm

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"hash/fnv"
	"strings"
	"sync"
	"time"

	"github.com/lambdad/lambdad/internal/destinations"
	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/ids"
	"github.com/lambdad/lambdad/internal/invoke"
)

// Destinations delivers on-failure records (destinations.Dispatcher).
type Destinations interface {
	Send(ctx context.Context, m destinations.Message) error
	Check(target string) error
}

// handle runs one batch read from a shard: filtered, split by partition
// key into up to ParallelizationFactor batches that run at once (each
// key's records stay in order in one of them), each retried, bisected
// and given up as the mapping says. It answers the sequence number to
// checkpoint, and false when the mapping stopped first (nothing of the
// batch is then checkpointed beyond what cp already says).
func (p *streamPoller) handle(ctx context.Context, shard string, batch []streamRecord, cp *checkpoint) (string, bool) {
	last := batch[len(batch)-1].Seq
	kept := batch
	if len(p.filters) > 0 {
		kept = nil
		for _, r := range batch {
			if p.filters.Pass(p.filterView(r)) {
				kept = append(kept, r)
			}
		}
	}
	if len(kept) == 0 {
		return last, true
	}
	if p.m.Stream.Tumbling > 0 {
		// Windows run one batch at a time, whatever the parallelization.
		return last, p.windowed(ctx, shard, kept, cp)
	}
	par := int(p.m.Stream.Parallelization)
	if par <= 1 {
		// One batch at a time: a partial success (ReportBatchItemFailures)
		// checkpoints what is done before the retry.
		advance := func(seq string) {
			cp.Seq = seq
			_ = p.r.svc.saveCheckpoint(context.WithoutCancel(ctx), p.m.ref(), shard, *cp)
		}
		return last, p.process(ctx, shard, kept, 0, advance, nil)
	}
	groups := make([][]streamRecord, par)
	for _, r := range kept {
		h := fnv.New32a()
		h.Write([]byte(r.Key))
		i := int(h.Sum32() % uint32(par))
		groups[i] = append(groups[i], r)
	}
	var wg sync.WaitGroup
	oks := make([]bool, par)
	for i, g := range groups {
		if len(g) == 0 {
			oks[i] = true
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			oks[i] = p.process(ctx, shard, g, 0, nil, nil)
		}()
	}
	wg.Wait()
	for _, ok := range oks {
		if !ok {
			return "", false
		}
	}
	return last, true
}

// filterView is what a filter pattern sees of a record: for Kinesis its
// data key only (AWS filters on nothing else), decoded when it is JSON;
// for DynamoDB the whole record (eventName, dynamodb...).
func (p *streamPoller) filterView(r streamRecord) map[string]any {
	b, _ := json.Marshal(r.Event)
	var v map[string]any
	_ = json.Unmarshal(b, &v)
	if k, ok := v["kinesis"].(map[string]any); ok {
		if s, ok := k["data"].(string); ok {
			if raw, err := base64.StdEncoding.DecodeString(s); err == nil {
				var d any
				if json.Unmarshal(raw, &d) == nil {
					k["data"] = d
				}
			}
		}
		return map[string]any{"data": k["data"]}
	}
	return v
}

// process invokes the function with recs until it succeeds, or the
// records are given up (too old, or out of retries: sent to the
// on-failure destination, if any). attempts counts the invokes the
// records already had. It answers
// false when the mapping stopped first.
func (p *streamPoller) process(ctx context.Context, shard string, recs []streamRecord, attempts int, advance func(string), win *windowCall) bool {
	st := p.m.Stream
	var last *invoke.Result
	lastID := ""
	wait := 100 * time.Millisecond
	for {
		if cond := p.expired(recs, attempts); cond != "" && len(recs) > 0 {
			p.giveUp(ctx, shard, recs, cond, attempts, lastID, last)
			return true
		}
		events := make([]any, len(recs))
		for i, r := range recs {
			events[i] = r.Event
		}
		payload, _ := json.Marshal(struct {
			Records []any `json:"Records"`
		}{events})
		if win != nil {
			payload = win.event(events, shard, p.m.EventSourceARN)
		}
		lastID = ids.UUID()
		res, err := p.invoke(ctx, payload, lastID)
		if err != nil {
			if ctx.Err() != nil || p.isStopped() {
				return false
			}
			// Not the function's failure (missing, throttled past
			// patience...): not an attempt; try again later.
			if fe, ok := fault.As(err); ok && fe.Kind == fault.NotFound && fe.Resource == "Function" {
				p.problem(resultNoFunction, err)
			} else {
				p.problem("PROBLEM: "+err.Error(), err)
			}
			if !p.pause(ctx, time.Second) {
				return false
			}
			continue
		}
		attempts++
		last = &res
		from, ok := 0, false // from: the first record that failed
		switch {
		case res.FunctionError != "":
		case win != nil && !win.answered(res.Payload):
			// A windowed invoke must answer its state.
		case p.reportsFailures():
			from = firstFailed(res.Payload, recs)
			ok = from == len(recs)
		default:
			from, ok = len(recs), true
		}
		if ok {
			p.r.report(p.m.ref(), resultOK)
			return true
		}
		p.problem(resultFuncError, nil)
		if from > 0 {
			// Done up to the first failure: the retry starts there.
			if advance != nil {
				advance(recs[from-1].Seq)
			}
			recs = recs[from:]
		}
		if st.Bisect && len(recs) > 1 && win == nil {
			// Each half is tried on its own: splitting does not count
			// towards the retry quota, so a bad record ends up alone.
			h := len(recs) / 2
			return p.process(ctx, shard, recs[:h], 0, advance, nil) && p.process(ctx, shard, recs[h:], 0, advance, nil)
		}
		if cond := p.expired(recs, attempts); cond != "" && len(recs) > 0 {
			p.giveUp(ctx, shard, recs, cond, attempts, lastID, last)
			return true
		}
		if !p.pause(ctx, wait) {
			return false
		}
		wait = min(wait*2, 5*time.Second)
	}
}

// expired names the condition that gives recs up: their age past
// MaximumRecordAgeInSeconds, or attempts past MaximumRetryAttempts
// (retries come after the first attempt); "" while they are still tried.
func (p *streamPoller) expired(recs []streamRecord, attempts int) string {
	st := p.m.Stream
	if len(recs) > 0 && st.MaxAge != -1 && time.Since(recs[0].Arrival) > time.Duration(st.MaxAge)*time.Second {
		return "RecordAgeExceeded"
	}
	if st.MaxRetries != -1 && attempts > int(st.MaxRetries) {
		return "RetryAttemptsExhausted"
	}
	return ""
}

// invoke runs the function with a batch; a throttled invoke waits and
// comes back (it counts against the function's concurrency like any).
func (p *streamPoller) invoke(ctx context.Context, payload []byte, requestID string) (invoke.Result, error) {
	wait := 20 * time.Millisecond
	for {
		res, err := p.r.svc.cfg.Invoker.Invoke(context.WithoutCancel(ctx), p.fn(), payload, invoke.Options{Type: invoke.Sync, RequestID: requestID})
		if !fault.Is(err, fault.TooManyRequests) {
			return res, err
		}
		p.problem(resultThrottled, nil)
		if !p.pause(ctx, wait) {
			return res, err
		}
		wait = min(wait*2, time.Second)
	}
}

func (p *streamPoller) reportsFailures() bool {
	for _, t := range p.m.ResponseTypes {
		if t == "ReportBatchItemFailures" {
			return true
		}
	}
	return false
}

// firstFailed reads a ReportBatchItemFailures response: the index of the
// first record that failed (the lowest sequence number named), len(recs)
// when none did, 0 when the response fails the whole batch (an
// itemIdentifier missing, empty, not a string or not in the batch), as
// AWS's recorded answers show; another answer that is no object fails the
// batch too [?].
func firstFailed(payload []byte, recs []streamRecord) int {
	s := strings.TrimSpace(string(payload))
	switch strings.Join(strings.Fields(s), "") {
	case "", "null", `""`, "[]":
		// AWS's recorded successes: no answer, null, "" and [].
		return len(recs)
	}
	var resp map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &resp); err != nil {
		return 0
	}
	raw, ok := resp["batchItemFailures"]
	if !ok || string(raw) == "null" {
		return len(recs)
	}
	var items []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return 0
	}
	at := map[string]int{}
	for i, r := range recs {
		at[r.Seq] = i
	}
	first := len(recs)
	for _, it := range items {
		var id string
		if err := json.Unmarshal(it["itemIdentifier"], &id); err != nil || id == "" {
			return 0
		}
		i, ok := at[id]
		if !ok {
			return 0
		}
		first = min(first, i)
	}
	return first
}

// failureRecord is AWS's on-failure record of a stream batch, keys in
// AWS's order.
type failureRecord struct {
	RequestContext  failureRequest   `json:"requestContext"`
	ResponseContext *failureResponse `json:"responseContext,omitempty"`
	Version         string           `json:"version"`
	Timestamp       string           `json:"timestamp"`
	Kinesis         *batchInfo       `json:"KinesisBatchInfo,omitempty"`
	DDB             *batchInfo       `json:"DDBStreamBatchInfo,omitempty"`
	// Payload is the batch's event, in records sent to S3 only.
	Payload json.RawMessage `json:"payload,omitempty"`
}

type failureRequest struct {
	RequestID              string `json:"requestId"`
	FunctionArn            string `json:"functionArn"`
	Condition              string `json:"condition"`
	ApproximateInvokeCount int    `json:"approximateInvokeCount"`
}

type failureResponse struct {
	StatusCode      int     `json:"statusCode"`
	ExecutedVersion string  `json:"executedVersion"`
	FunctionError   *string `json:"functionError"`
}

type batchInfo struct {
	ShardID                         string `json:"shardId"`
	StartSequenceNumber             string `json:"startSequenceNumber"`
	EndSequenceNumber               string `json:"endSequenceNumber"`
	ApproximateArrivalOfFirstRecord string `json:"approximateArrivalOfFirstRecord"`
	ApproximateArrivalOfLastRecord  string `json:"approximateArrivalOfLastRecord"`
	BatchSize                       int    `json:"batchSize"`
	StreamArn                       string `json:"streamArn"`
}

// giveUp skips recs: their on-failure record goes to the mapping's
// destination, if it has one; the checkpoint then moves past them.
func (p *streamPoller) giveUp(ctx context.Context, shard string, recs []streamRecord, cond string, attempts int, requestID string, last *invoke.Result) {
	st := p.m.Stream
	p.r.svc.cfg.Logger.Warn("esm: records given up", "uuid", p.m.UUID, "shard", shard, "condition", cond, "records", len(recs), "destination", st.OnFailure)
	if st.OnFailure == "" || p.r.svc.cfg.Destinations == nil {
		return
	}
	if requestID == "" {
		requestID = ids.UUID()
	}
	now := time.Now().UTC()
	tsFormat := "2006-01-02T15:04:05.000Z"
	if st.Kind == streamDynamoDB {
		tsFormat = "2006-01-02T15:04:05Z"
	}
	rec := failureRecord{
		RequestContext: failureRequest{RequestID: requestID, FunctionArn: p.fn().QualifiedARN(), Condition: cond, ApproximateInvokeCount: max(attempts, 1)},
		Version:        "1.0",
		Timestamp:      now.Format("2006-01-02T15:04:05.000Z"),
	}
	if last != nil {
		r := &failureResponse{StatusCode: 200, ExecutedVersion: last.ExecutedVersion}
		if last.FunctionError != "" {
			r.FunctionError = ptr(last.FunctionError)
		}
		rec.ResponseContext = r
	}
	info := &batchInfo{ShardID: shard, StartSequenceNumber: recs[0].Seq, EndSequenceNumber: recs[len(recs)-1].Seq,
		ApproximateArrivalOfFirstRecord: recs[0].Arrival.UTC().Format(tsFormat),
		ApproximateArrivalOfLastRecord:  recs[len(recs)-1].Arrival.UTC().Format(tsFormat),
		BatchSize:                       len(recs), StreamArn: p.m.EventSourceARN}
	if st.Kind == streamDynamoDB {
		rec.DDB = info
	} else {
		rec.Kinesis = info
	}
	msg := destinations.Message{Target: st.OnFailure}
	if msg.Service() == "s3" {
		events := make([]any, len(recs))
		for i, r := range recs {
			events[i] = r.Event
		}
		rec.Payload, _ = json.Marshal(struct {
			Records []any `json:"Records"`
		}{events})
		msg.Key = "aws/lambda/" + p.m.UUID + "/" + shard + "/" + now.Format("2006/01/02/2006-01-02T15.04.05") + "-" + ids.UUID()
	}
	msg.Body, _ = json.Marshal(rec)
	if err := p.r.svc.cfg.Destinations.Send(context.WithoutCancel(ctx), msg); err != nil {
		p.r.svc.cfg.Logger.Warn("esm: on-failure record not delivered", "uuid", p.m.UUID, "target", st.OnFailure, "err", err)
	}
}
