package esm

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/lambdad/lambdad/internal/awsconn"
	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/invoke"
)

// defaultConcurrency is how many batches of one mapping run at once when
// ScalingConfig sets no maximum. AWS starts five pollers and scales up;
// lambdad keeps a fixed number, bounded further by the function's own
// concurrency (invocations over it are throttled and come back).
const defaultConcurrency = 5

// maxWait is SQS's longest long poll.
const maxWait = 20

// Processing results (LastProcessingResult). "OK" and "PROBLEM: Function
// not found" are AWS's; the others follow their form [?].
const (
	resultOK          = "OK"
	resultNoFunction  = "PROBLEM: Function not found"
	resultFuncError   = "PROBLEM: Function call failed"
	resultThrottled   = "PROBLEM: Function invocation throttled"
	resultSourceError = "PROBLEM: Event source could not be read: "
)

// url is the queue's URL, asked of SQS.
func (q queueARN) url(ctx context.Context, c *awsconn.Conn) (string, error) {
	out, err := c.SQS(q.Region).GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(q.Name), QueueOwnerAWSAccountId: aws.String(q.Account)})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.QueueUrl), nil
}

func isNoQueue(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		c := ae.ErrorCode()
		return c == "AWS.SimpleQueueService.NonExistentQueue" || c == "QueueDoesNotExist"
	}
	var qe *types.QueueDoesNotExist
	return errors.As(err, &qe)
}

// poller reads one mapping's queue and invokes its function.
type poller struct {
	r       *runner
	m       *mapping
	filters Filters
	// stopped closes when the mapping is disabled, changed or deleted.
	// A long poll under way is left to finish rather than cut: SQS may
	// already have taken messages for it, which would otherwise stay
	// invisible for the visibility timeout. They are handed back.
	stopped  chan struct{}
	stopOnce sync.Once
	// visibility is the queue's visibility timeout: how long a received
	// batch is ours to retry.
	visibility time.Duration
}

func newPoller(r *runner, m *mapping) (*poller, error) {
	fs, err := ParseFilters(m.Filters)
	if err != nil {
		return nil, err
	}
	return &poller{r: r, m: m, filters: fs, stopped: make(chan struct{})}, nil
}

// start polls until stop, or until ctx (lambdad's own life) ends.
func (p *poller) start(ctx context.Context, wg *sync.WaitGroup) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		p.loop(ctx)
	}()
}

// stop ends polling; a batch already received still runs to its end, so
// that its messages are deleted or left, never half-handled.
func (p *poller) stop() { p.stopOnce.Do(func() { close(p.stopped) }) }

func (p *poller) isStopped() bool {
	select {
	case <-p.stopped:
		return true
	default:
		return false
	}
}

func (p *poller) loop(ctx context.Context) {
	conn := p.r.svc.cfg.AWS
	if conn == nil {
		return
	}
	client := conn.SQS(p.m.Queue.Region)
	backoff := newBackoff()
	var url string
	for url == "" {
		u, err := p.m.Queue.url(ctx, conn)
		if ctx.Err() != nil || p.isStopped() {
			return
		}
		if err != nil {
			p.problem(resultSourceError+errText(err), err)
			backoff.wait(ctx)
			continue
		}
		url = u
	}
	p.visibility = 30 * time.Second // SQS's default
	if a, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameVisibilityTimeout}}); err == nil {
		if v, err := strconv.Atoi(a.Attributes[string(types.QueueAttributeNameVisibilityTimeout)]); err == nil {
			p.visibility = time.Duration(v) * time.Second
		}
	}
	conc := defaultConcurrency
	if p.m.MaxConcurrency > 0 {
		conc = int(p.m.MaxConcurrency)
	}
	slots := make(chan struct{}, conc)
	var inflight sync.WaitGroup
	defer inflight.Wait()
	var busy atomic.Int32 // batches running
	for {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		case <-p.stopped:
			return
		}
		msgs, err := p.collect(ctx, client, url, busy.Load() > 0)
		if p.isStopped() && len(msgs) > 0 {
			// Taken after the mapping stopped: hand them back now.
			p.release(context.WithoutCancel(ctx), client, url, msgs)
			msgs = nil
		}
		if (ctx.Err() != nil || p.isStopped()) && len(msgs) == 0 {
			<-slots
			return
		}
		if err != nil {
			<-slots
			p.problem(resultSourceError+errText(err), err)
			backoff.wait(ctx)
			continue
		}
		backoff.reset()
		if len(msgs) == 0 {
			<-slots
			continue
		}
		inflight.Add(1)
		busy.Add(1)
		go func() {
			defer inflight.Done()
			defer busy.Add(-1)
			defer func() { <-slots }()
			// The batch runs to its end even when the mapping stops.
			if pause := p.process(context.WithoutCancel(ctx), client, url, msgs); pause > 0 {
				sleep(ctx, pause)
			}
		}()
	}
}

// collect receives one batch: up to BatchSize messages; with a batching
// window, it keeps receiving until the batch is full or the window (which
// starts with the first message) is over. While batches of a FIFO queue
// run, their groups are locked and a long poll may not see them unlock
// (moto_server decides once per poll): it polls for a second at a time.
func (p *poller) collect(ctx context.Context, c *sqs.Client, url string, busy bool) ([]types.Message, error) {
	size := int(p.m.BatchSize)
	window := time.Duration(p.m.Window) * time.Second
	var msgs []types.Message
	var deadline time.Time
	first := int32(maxWait)
	if busy && strings.HasSuffix(p.m.Queue.Name, ".fifo") {
		first = 1
	}
	for len(msgs) < size {
		wait := first
		if len(msgs) > 0 {
			if window == 0 {
				break
			}
			left := time.Until(deadline)
			if left <= 0 {
				break
			}
			wait = min(int32((left+time.Second-1)/time.Second), maxWait)
		}
		rctx := ctx
		var cancel context.CancelFunc = func() {}
		if len(msgs) > 0 {
			rctx, cancel = context.WithDeadline(ctx, deadline)
		}
		out, err := c.ReceiveMessage(rctx, &sqs.ReceiveMessageInput{
			QueueUrl:                    aws.String(url),
			MaxNumberOfMessages:         int32(min(10, size-len(msgs))),
			WaitTimeSeconds:             wait,
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
			MessageAttributeNames:       []string{"All"},
		})
		cancel()
		if err != nil {
			if len(msgs) > 0 {
				return msgs, nil
			}
			return nil, err
		}
		if len(out.Messages) > 0 && len(msgs) == 0 {
			deadline = time.Now().Add(window)
		}
		msgs = append(msgs, out.Messages...)
		if window == 0 && len(msgs) > 0 {
			break
		}
	}
	return msgs, nil
}

// sqsRecord is one record of the event, with exactly AWS's keys.
type sqsRecord struct {
	MessageID              string             `json:"messageId"`
	ReceiptHandle          string             `json:"receiptHandle"`
	Body                   string             `json:"body"`
	Attributes             map[string]string  `json:"attributes"`
	MessageAttributes      map[string]msgAttr `json:"messageAttributes"`
	MD5OfMessageAttributes string             `json:"md5OfMessageAttributes,omitempty"`
	MD5OfBody              string             `json:"md5OfBody"`
	EventSource            string             `json:"eventSource"`
	EventSourceARN         string             `json:"eventSourceARN"`
	AWSRegion              string             `json:"awsRegion"`
}

// msgAttr is a message attribute in Lambda's shape.
type msgAttr struct {
	StringValue      *string  `json:"stringValue,omitempty"`
	BinaryValue      []byte   `json:"binaryValue,omitempty"`
	StringListValues []string `json:"stringListValues"`
	BinaryListValues [][]byte `json:"binaryListValues"`
	DataType         string   `json:"dataType"`
}

// recordAttributes are the system attributes a record carries.
var recordAttributes = []string{"ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp", "SequenceNumber", "MessageGroupId", "MessageDeduplicationId", "AWSTraceHeader", "DeadLetterQueueSourceArn"}

func (p *poller) record(m types.Message) sqsRecord {
	r := sqsRecord{
		MessageID: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle), Body: aws.ToString(m.Body),
		Attributes: map[string]string{}, MessageAttributes: map[string]msgAttr{},
		MD5OfMessageAttributes: aws.ToString(m.MD5OfMessageAttributes), MD5OfBody: aws.ToString(m.MD5OfBody),
		EventSource: "aws:sqs", EventSourceARN: p.m.EventSourceARN, AWSRegion: p.m.Queue.Region,
	}
	for _, k := range recordAttributes {
		if v, ok := m.Attributes[k]; ok {
			r.Attributes[k] = v
		}
	}
	for k, v := range m.MessageAttributes {
		a := msgAttr{StringValue: v.StringValue, BinaryValue: v.BinaryValue, StringListValues: v.StringListValues, BinaryListValues: v.BinaryListValues, DataType: aws.ToString(v.DataType)}
		if a.StringListValues == nil {
			a.StringListValues = []string{}
		}
		if a.BinaryListValues == nil {
			a.BinaryListValues = [][]byte{}
		}
		r.MessageAttributes[k] = a
	}
	return r
}

// process filters a batch, invokes the function with what passes and
// deletes what is done with: filtered-out messages, and those the
// function handled. It answers how long the poller should pause (a
// throttled or missing function).
func (p *poller) process(ctx context.Context, c *sqs.Client, url string, msgs []types.Message) time.Duration {
	var done []types.Message // to delete
	var kept []sqsRecord
	var keptMsgs []types.Message
	for _, m := range msgs {
		rec := p.record(m)
		if len(p.filters) > 0 {
			b, _ := json.Marshal(rec)
			var v map[string]any
			_ = json.Unmarshal(b, &v)
			if !p.filters.Pass(sqsFilterView(v, rec.Body)) {
				done = append(done, m)
				continue
			}
		}
		kept = append(kept, rec)
		keptMsgs = append(keptMsgs, m)
	}
	var pause time.Duration
	if len(kept) > 0 {
		payload, _ := json.Marshal(struct {
			Records []sqsRecord `json:"Records"`
		}{kept})
		res, err := p.invoke(ctx, payload)
		switch {
		case err != nil:
			pause = time.Second
			if fe, ok := fault.As(err); ok && fe.Kind == fault.NotFound && fe.Resource == "Function" {
				p.problem(resultNoFunction, err)
				pause = 5 * time.Second
			} else if fault.Is(err, fault.TooManyRequests) {
				p.problem(resultThrottled, nil)
				pause = 100 * time.Millisecond
			} else {
				p.problem("PROBLEM: "+err.Error(), err)
			}
		case res.FunctionError != "":
			// The messages come back after the visibility timeout.
			p.problem(resultFuncError, nil)
		case p.reportsFailures():
			failed, ok := batchItemFailures(res.Payload, kept)
			if !ok {
				p.problem(resultFuncError, nil)
				break
			}
			for i, m := range keptMsgs {
				if !failed[kept[i].MessageID] {
					done = append(done, m)
				}
			}
			p.r.report(p.m.ref(), resultOK)
		default:
			done = append(done, keptMsgs...)
			p.r.report(p.m.ref(), resultOK)
		}
	}
	p.delete(ctx, c, url, done)
	return pause
}

// invoke runs the function with the batch; a throttled invoke is retried
// with backoff, as AWS does, while the batch is still invisible (a second
// short of the visibility timeout); then it is left to come back.
func (p *poller) invoke(ctx context.Context, payload []byte) (invoke.Result, error) {
	deadline := time.Now().Add(max(p.visibility-time.Second, 0))
	wait := 20 * time.Millisecond
	for {
		res, err := p.r.svc.cfg.Invoker.Invoke(ctx, p.m.Function.ref(), payload, invoke.Options{Type: invoke.Sync})
		if !fault.Is(err, fault.TooManyRequests) || time.Now().Add(wait).After(deadline) {
			return res, err
		}
		sleep(ctx, wait)
		wait = min(wait*2, time.Second)
	}
}

func (p *poller) reportsFailures() bool {
	for _, t := range p.m.ResponseTypes {
		if t == "ReportBatchItemFailures" {
			return true
		}
	}
	return false
}

// batchItemFailures reads a ReportBatchItemFailures response: the IDs
// that failed, or ok false when the response fails the whole batch.
// AWS: an empty or null response, or no/empty batchItemFailures, is
// success; an itemIdentifier that is missing, empty, or not in the batch
// fails the whole batch, as does a response that is not such an object.
func batchItemFailures(payload []byte, batch []sqsRecord) (map[string]bool, bool) {
	failed := map[string]bool{}
	s := strings.TrimSpace(string(payload))
	if s == "" || s == "null" {
		return failed, true
	}
	var resp map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &resp); err != nil {
		return nil, false
	}
	raw, ok := resp["batchItemFailures"]
	if !ok || string(raw) == "null" {
		return failed, true
	}
	var items []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, false
	}
	in := map[string]bool{}
	for _, r := range batch {
		in[r.MessageID] = true
	}
	for _, it := range items {
		var id string
		if err := json.Unmarshal(it["itemIdentifier"], &id); err != nil || id == "" || !in[id] {
			return nil, false
		}
		failed[id] = true
	}
	return failed, true
}

// delete removes handled messages, ten at a time.
func (p *poller) delete(ctx context.Context, c *sqs.Client, url string, msgs []types.Message) {
	for len(msgs) > 0 {
		n := min(10, len(msgs))
		var es []types.DeleteMessageBatchRequestEntry
		for i, m := range msgs[:n] {
			es = append(es, types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
		}
		out, err := c.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(url), Entries: es})
		if err != nil {
			// Not deleted: they come back after the visibility timeout
			// (at least once).
			p.r.svc.cfg.Logger.Warn("esm: cannot delete messages", "uuid", p.m.UUID, "err", err)
		} else {
			p.r.counts.SQSDeleted.Add(int64(n - len(out.Failed)))
			if len(out.Failed) > 0 {
				p.r.svc.cfg.Logger.Warn("esm: messages not deleted", "uuid", p.m.UUID, "failed", len(out.Failed), "code", aws.ToString(out.Failed[0].Code))
			}
		}
		msgs = msgs[n:]
	}
}

// release makes messages visible again at once.
func (p *poller) release(ctx context.Context, c *sqs.Client, url string, msgs []types.Message) {
	for len(msgs) > 0 {
		n := min(10, len(msgs))
		var es []types.ChangeMessageVisibilityBatchRequestEntry
		for i, m := range msgs[:n] {
			es = append(es, types.ChangeMessageVisibilityBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0})
		}
		if _, err := c.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(url), Entries: es}); err != nil {
			p.r.svc.cfg.Logger.Warn("esm: cannot release messages", "uuid", p.m.UUID, "err", err)
		}
		msgs = msgs[n:]
	}
}

func (p *poller) problem(res string, err error) { p.r.problem(p.m, res, err) }

func errText(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode() + ": " + ae.ErrorMessage()
	}
	s := err.Error()
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// backoff doubles from 100 ms to 10 s between failed reads.
type backoff struct{ d time.Duration }

func newBackoff() *backoff { return &backoff{} }

func (b *backoff) reset() { b.d = 0 }

func (b *backoff) wait(ctx context.Context) {
	b.d = min(max(b.d*2, 100*time.Millisecond), 10*time.Second)
	sleep(ctx, b.d)
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
