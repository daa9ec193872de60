package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/lambdad/lambdad/internal/server"
	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// Every refusal answers AWS's error, and leaves nothing behind.
func TestESMRefusals(t *testing.T) {
	e := newESMEnv(t, nil)
	ctx := context.Background()
	e.function("esm-ref")
	_, qARN := e.queue("esm-ref-q", nil)
	_, fifoARN := e.queue("esm-ref-q.fifo", map[string]string{"FifoQueue": "true"})
	iso := testkit.PyFunction(t, "esm-ref-iso", probeFn)
	iso.TenancyConfig = &ltypes.TenancyConfig{TenantIsolationMode: ltypes.TenantIsolationModePerTenant}
	testkit.CreateActive(t, e.c, iso)

	create := func(mod func(*lambda.CreateEventSourceMappingInput)) error {
		in := &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("esm-ref"), EventSourceArn: aws.String(qARN)}
		mod(in)
		_, err := e.c.CreateEventSourceMapping(ctx, in)
		return err
	}
	const ipv = "InvalidParameterValueException"
	cases := []struct {
		name   string
		mod    func(*lambda.CreateEventSourceMappingInput)
		code   string
		status int
		msg    string
	}{
		{"unknown function", func(in *lambda.CreateEventSourceMappingInput) { in.FunctionName = aws.String("nope") }, ipv, 400, "Function does not exist"},
		{"no source", func(in *lambda.CreateEventSourceMappingInput) { in.EventSourceArn = nil }, ipv, 400, "Unrecognized event source."},
		{"starting position", func(in *lambda.CreateEventSourceMappingInput) { in.StartingPosition = ltypes.EventSourcePositionLatest }, ipv, 400, "StartingPosition is not valid for SQS event sources."},
		{"batch over 10 without window", func(in *lambda.CreateEventSourceMappingInput) { in.BatchSize = aws.Int32(15) }, ipv, 400,
			"Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10"},
		{"destination", func(in *lambda.CreateEventSourceMappingInput) {
			in.DestinationConfig = &ltypes.DestinationConfig{OnFailure: &ltypes.OnFailure{Destination: aws.String(qARN)}}
		}, ipv, 400, "Unsupported DestinationConfig parameter for given event source mapping type."},
		{"bad filter", func(in *lambda.CreateEventSourceMappingInput) {
			in.FilterCriteria = &ltypes.FilterCriteria{Filters: []ltypes.Filter{{Pattern: aws.String("simple string")}}}
		}, ipv, 400, "Invalid filter pattern definition."},
		{"no queue", func(in *lambda.CreateEventSourceMappingInput) { in.EventSourceArn = aws.String(qARN + "-missing") }, ipv, 400,
			"Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. SQS Error Message: The specified queue does not exist."},
		{"tenant isolated", func(in *lambda.CreateEventSourceMappingInput) { in.FunctionName = aws.String("esm-ref-iso") }, ipv, 400,
			"Event source mappings is not supported for functions with tenant isolation mode enabled."},
		{"kinesis", func(in *lambda.CreateEventSourceMappingInput) {
			in.EventSourceArn = aws.String("arn:aws:kinesis:us-east-1:123456789012:stream/s")
			in.StartingPosition = ltypes.EventSourcePositionLatest
		}, ipv, 400, "Stream not found: arn:aws:kinesis:us-east-1:123456789012:stream/s"}, // Kinesis mappings: esm_streams_test.go
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			testkit.APIErr(t, create(c.mod), c.code, c.status, c.msg)
		})
	}
	// FIFO queues take batches of 10 at most [?].
	if err := create(func(in *lambda.CreateEventSourceMappingInput) {
		in.EventSourceArn, in.BatchSize, in.MaximumBatchingWindowInSeconds = aws.String(fifoARN), aws.Int32(20), aws.Int32(1)
	}); err == nil {
		t.Error("a FIFO mapping took a batch of 20")
	}
	l, err := e.c.ListEventSourceMappings(ctx, &lambda.ListEventSourceMappingsInput{})
	if err != nil || len(l.EventSourceMappings) != 0 {
		t.Fatalf("refusals left mappings: %v %+v", err, l)
	}
	// AWS lists for a function that does not exist: none.
	l, err = e.c.ListEventSourceMappings(ctx, &lambda.ListEventSourceMappingsInput{FunctionName: aws.String("doesnotexist")})
	if err != nil || len(l.EventSourceMappings) != 0 {
		t.Fatalf("list for a missing function: %v %+v", err, l)
	}
	// The destination is refused before the function is looked up.
	err = create(func(in *lambda.CreateEventSourceMappingInput) {
		in.FunctionName = aws.String("doesnotexist")
		in.DestinationConfig = &ltypes.DestinationConfig{OnSuccess: &ltypes.OnSuccess{Destination: aws.String(qARN)}}
	})
	testkit.APIErr(t, err, ipv, 400, "Unsupported DestinationConfig parameter for given event source mapping type.")

	// A duplicate is a conflict naming the first.
	first := e.mapping(&lambda.CreateEventSourceMappingInput{FunctionName: aws.String("esm-ref"), EventSourceArn: aws.String(qARN)})
	testkit.APIErr(t, create(func(*lambda.CreateEventSourceMappingInput) {}), "ResourceConflictException", 409,
		fmt.Sprintf(`An event source mapping with SQS arn (" %s ") and function (" esm-ref ") already exists. Please update or delete the existing mapping with UUID %s`, qARN, *first.UUID))

	// Unknown UUIDs, and tags.
	unknown := "3c9b7e0e-5f5e-4a57-9d7c-2f1c3d4e5f60"
	_, err = e.c.GetEventSourceMapping(ctx, &lambda.GetEventSourceMappingInput{UUID: aws.String(unknown)})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "The resource you requested does not exist.")
	_, err = e.c.DeleteEventSourceMapping(ctx, &lambda.DeleteEventSourceMappingInput{UUID: aws.String(unknown)})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "The resource you requested does not exist.")
	_, err = e.c.UpdateEventSourceMapping(ctx, &lambda.UpdateEventSourceMappingInput{UUID: aws.String(unknown), BatchSize: aws.Int32(2)})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "The resource you requested does not exist.")
	_, err = e.c.UpdateEventSourceMapping(ctx, &lambda.UpdateEventSourceMappingInput{UUID: first.UUID, BatchSize: aws.Int32(50)})
	testkit.APIErr(t, err, ipv, 400, "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10")
	unknownARN := "arn:aws:lambda:us-east-1:000000000000:event-source-mapping:" + unknown
	_, err = e.c.TagResource(ctx, &lambda.TagResourceInput{Resource: aws.String(unknownARN), Tags: map[string]string{"A": "a"}})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Event source mapping not found: "+unknownARN)

	arn := first.EventSourceMappingArn
	if _, err := e.c.TagResource(ctx, &lambda.TagResourceInput{Resource: arn, Tags: map[string]string{"A": "a", "B": "b"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.UntagResource(ctx, &lambda.UntagResourceInput{Resource: arn, TagKeys: []string{"A", "Z"}}); err != nil {
		t.Fatal(err)
	}
	tags, err := e.c.ListTags(ctx, &lambda.ListTagsInput{Resource: arn})
	if err != nil || len(tags.Tags) != 1 || tags.Tags["B"] != "b" {
		t.Fatalf("tags %v %v", err, tags)
	}
	got := e.waitState(*first.UUID, "Enabled")
	if aws.ToInt32(got.BatchSize) != 10 {
		t.Errorf("refused update changed the mapping: %+v", got)
	}
}

// Pages of ListEventSourceMappings follow NextMarker to the end.
func TestESMListPages(t *testing.T) {
	e := newESMEnv(t, nil)
	ctx := context.Background()
	e.function("esm-pages")
	want := map[string]bool{}
	for i := range 5 {
		_, arn := e.queue(fmt.Sprintf("esm-pages-%d", i), nil)
		want[*e.mapping(&lambda.CreateEventSourceMappingInput{FunctionName: aws.String("esm-pages"), EventSourceArn: aws.String(arn), Enabled: aws.Bool(false)}).UUID] = true
	}
	got := map[string]bool{}
	var marker *string
	for pages := 0; ; pages++ {
		l, err := e.c.ListEventSourceMappings(ctx, &lambda.ListEventSourceMappingsInput{MaxItems: aws.Int32(2), Marker: marker})
		if err != nil || len(l.EventSourceMappings) > 2 || pages > 5 {
			t.Fatalf("page %d: %v %+v", pages, err, l)
		}
		for _, m := range l.EventSourceMappings {
			got[*m.UUID] = true
		}
		if l.NextMarker == nil {
			break
		}
		marker = l.NextMarker
	}
	if len(got) != len(want) {
		t.Fatalf("listed %v, want %v", got, want)
	}
}

// A failing function leaves its batch for the visibility timeout; SQS
// then redelivers it (ApproximateReceiveCount 2). With
// ReportBatchItemFailures only the reported items come back; a filter
// deletes what it does not pass, unseen.
func TestESMFailuresAndFilters(t *testing.T) {
	e := newESMEnv(t, nil)
	probe := e.function("esm-fail")
	qURL, qARN := e.queue("esm-fail-q", map[string]string{"VisibilityTimeout": "2"})
	e.mapping(&lambda.CreateEventSourceMappingInput{FunctionName: aws.String("esm-fail"), EventSourceArn: aws.String(qARN), BatchSize: aws.Int32(1)})
	e.send(qURL, `{"answer":"fail"}`)
	evs := e.events(probe, 2, 20*time.Second)
	recs := records(evs)
	if len(recs) != 2 || recs[0]["attributes"].(map[string]any)["ApproximateReceiveCount"] != "1" || recs[1]["attributes"].(map[string]any)["ApproximateReceiveCount"] != "2" {
		t.Fatalf("want the message twice (receive count 1 then 2), got %v", recs)
	}
	testkit.Eventually(t, 5*time.Second, "message deleted after success", func() bool { return e.visible(qURL) == 0 })

	// ReportBatchItemFailures: the function reports the second of three.
	q2URL, q2ARN := e.queue("esm-fail-q2", map[string]string{"VisibilityTimeout": "2"})
	e.send(q2URL, "a", "b", "c")
	// Received together (one batch) thanks to the window.
	var ids []string
	r, err := e.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(q2URL), MaxNumberOfMessages: 10, VisibilityTimeout: 0})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range r.Messages {
		if *m.Body == "b" {
			ids = append(ids, *m.MessageId)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("message b not found: %v", r.Messages)
	}
	failB := fmt.Sprintf(`{"answer":{"batchItemFailures":[{"itemIdentifier":%q}]}}`, ids[0])
	e.send(q2URL, failB)
	e.mapping(&lambda.CreateEventSourceMappingInput{FunctionName: aws.String("esm-fail"), EventSourceArn: aws.String(q2ARN), BatchSize: aws.Int32(10),
		MaximumBatchingWindowInSeconds: aws.Int32(1), FunctionResponseTypes: []ltypes.FunctionResponseType{ltypes.FunctionResponseTypeReportBatchItemFailures}})
	seen := map[string]int{}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && seen["b"] < 2 {
		for _, b := range e.bodies(e.events(probe, 1, time.Second)) {
			seen[b]++
		}
	}
	// b came back alone, and then succeeded (the report travelled in the
	// first batch only).
	if seen["a"] != 1 || seen["c"] != 1 || seen["b"] != 2 {
		t.Fatalf("want a and c once, b twice; got %v", seen)
	}
	testkit.Eventually(t, 10*time.Second, "queue empty", func() bool { return e.visible(q2URL) == 0 })

	// A filter on the body: non-matching messages are deleted unseen.
	q3URL, q3ARN := e.queue("esm-fail-q3", nil)
	e.mapping(&lambda.CreateEventSourceMappingInput{FunctionName: aws.String("esm-fail"), EventSourceArn: aws.String(q3ARN),
		FilterCriteria: &ltypes.FilterCriteria{Filters: []ltypes.Filter{{Pattern: aws.String(`{"body":{"kind":["keep"]}}`)}}}})
	e.send(q3URL, `{"kind":"drop"}`, `plain`, `{"kind":"keep"}`)
	got := e.bodies(e.events(probe, 1, 20*time.Second))
	if len(got) != 1 || got[0] != `{"kind":"keep"}` {
		t.Fatalf("filter passed %v", got)
	}
	testkit.Eventually(t, 10*time.Second, "filtered messages deleted", func() bool { return e.visible(q3URL) == 0 })
	if more := e.events(probe, 1, 2*time.Second); len(more) != 0 {
		t.Fatalf("filtered messages reached the function: %v", more)
	}
}

// FIFO: each message group's messages reach the function in order, even
// with several batches running at once.
func TestESMFIFOOrder(t *testing.T) {
	e := newESMEnv(t, nil)
	probe := e.function("esm-fifo")
	qURL, qARN := e.queue("esm-fifo.fifo", map[string]string{"FifoQueue": "true", "ContentBasedDeduplication": "true"})
	const groups, per = 3, 8
	for i := range per {
		for g := range groups {
			if _, err := e.sqs.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(qURL),
				MessageBody: aws.String(fmt.Sprintf("g%d-%02d", g, i)), MessageGroupId: aws.String(fmt.Sprintf("g%d", g))}); err != nil {
				t.Fatal(err)
			}
		}
	}
	e.mapping(&lambda.CreateEventSourceMappingInput{FunctionName: aws.String("esm-fifo"), EventSourceArn: aws.String(qARN), BatchSize: aws.Int32(3)})
	var got []map[string]any
	deadline := time.Now().Add(40 * time.Second)
	for len(records(got)) < groups*per && time.Now().Before(deadline) {
		got = append(got, e.events(probe, 1, time.Second)...)
	}
	byGroup := map[string][]string{}
	for _, r := range records(got) {
		a := r["attributes"].(map[string]any)
		// (moto gives no SequenceNumber; lambdad passes it on when SQS does.)
		for _, k := range []string{"MessageGroupId", "MessageDeduplicationId"} {
			if _, ok := a[k]; !ok {
				t.Fatalf("FIFO record lacks %s: %v", k, a)
			}
		}
		g := a["MessageGroupId"].(string)
		byGroup[g] = append(byGroup[g], r["body"].(string))
	}
	for g, bs := range byGroup {
		if !sort.StringsAreSorted(bs) || len(bs) != per {
			t.Errorf("group %s got %v", g, bs)
		}
	}
	if len(byGroup) != groups {
		t.Fatalf("groups %v", byGroup)
	}
}

// ScalingConfig.MaximumConcurrency bounds how many batches run at once.
func TestESMMaximumConcurrency(t *testing.T) {
	e := newESMEnv(t, nil)
	probe := e.function("esm-conc")
	qURL, qARN := e.queue("esm-conc-q", map[string]string{"VisibilityTimeout": "60"})
	for range 8 {
		e.send(qURL, `{"sleep":1}`)
	}
	start := time.Now()
	e.mapping(&lambda.CreateEventSourceMappingInput{FunctionName: aws.String("esm-conc"), EventSourceArn: aws.String(qARN), BatchSize: aws.Int32(1),
		ScalingConfig: &ltypes.ScalingConfig{MaximumConcurrency: aws.Int32(2)}})
	n := len(records(e.events(probe, 8, 40*time.Second)))
	took := time.Since(start)
	if n != 8 {
		t.Fatalf("got %d of 8", n)
	}
	// The function records each batch as it starts: two at a time, the
	// eighth starts after three seconds (three at a time: two).
	if took < 3*time.Second {
		t.Fatalf("8 batches of 1 s took %v: more than 2 ran at once", took)
	}
}

// Mappings keep running across a restart of lambdad.
func TestESMRestartResumes(t *testing.T) {
	moto := testkit.Moto(t)
	dir := t.TempDir()
	tune := func(c *server.Config) { c.AWSEndpoint = moto }
	d := servertest.StartLambdad(t, dir, tune)
	e := &esmEnv{t: t, moto: moto, d: d, c: servertest.InvokeClient(d), sqs: sqsClient(moto)}
	probe := e.function("esm-restart")
	qURL, qARN := e.queue("esm-restart-q", nil)
	e.mapping(&lambda.CreateEventSourceMappingInput{FunctionName: aws.String("esm-restart"), EventSourceArn: aws.String(qARN)})
	e.send(qURL, "before")
	if b := e.bodies(e.events(probe, 1, 20*time.Second)); len(b) != 1 {
		t.Fatalf("before restart: %v", b)
	}
	d.Stop()
	e.send(qURL, "while-down")
	d = servertest.StartLambdad(t, dir, tune)
	e.d, e.c = d, servertest.InvokeClient(d)
	if b := e.bodies(e.events(probe, 1, 40*time.Second)); len(b) != 1 || b[0] != "while-down" {
		t.Fatalf("after restart: %v", b)
	}
}

// A deleted function's mapping stays and reports the problem; an SQS
// that goes away is reported too, without a panic, and polling resumes
// when it is back.
func TestESMProblems(t *testing.T) {
	e := newESMEnv(t, nil)
	ctx := context.Background()
	e.function("esm-prob")
	qURL, qARN := e.queue("esm-prob-q", map[string]string{"VisibilityTimeout": "1"})
	m := e.mapping(&lambda.CreateEventSourceMappingInput{FunctionName: aws.String("esm-prob"), EventSourceArn: aws.String(qARN)})
	if _, err := e.c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("esm-prob")}); err != nil {
		t.Fatal(err)
	}
	e.send(qURL, "orphan")
	testkit.Eventually(t, 20*time.Second, "PROBLEM: Function not found", func() bool {
		g, err := e.c.GetEventSourceMapping(ctx, &lambda.GetEventSourceMappingInput{UUID: m.UUID})
		return err == nil && aws.ToString(g.LastProcessingResult) == "PROBLEM: Function not found" && aws.ToString(g.State) == "Enabled"
	})
	// The message is not lost.
	if n := e.visible(qURL); n != 1 {
		t.Fatalf("%d messages on the queue, want the orphan", n)
	}
}

// proxy forwards a loopback port to target until closed; it can be
// reopened on the same port, to play a service going down and back.
type proxy struct {
	addr, target string
	mu           sync.Mutex
	ln           net.Listener
	conns        []net.Conn
}

func (p *proxy) open(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go func() { io.Copy(u, c); u.Close() }()
			go func() { io.Copy(c, u); c.Close() }()
		}
	}()
}

func (p *proxy) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ln.Close()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// SQS going down is reported in LastProcessingResult and logged, lambdad
// goes on answering, and polling resumes when SQS is back.
func TestESMSourceDown(t *testing.T) {
	moto := testkit.Moto(t)
	px := &proxy{addr: "127.0.0.1:0", target: strings.TrimPrefix(moto, "http://")}
	px.open(t)
	t.Cleanup(px.close)
	logs := &syncBuffer{}
	d := servertest.StartLambdad(t, t.TempDir(), func(c *server.Config) {
		c.AWSEndpoint = "http://" + px.addr
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})
	e := &esmEnv{t: t, moto: moto, d: d, c: servertest.InvokeClient(d), sqs: sqsClient(moto)}
	ctx := context.Background()
	probe := e.function("esm-down")
	qURL, qARN := e.queue("esm-down-q", nil)
	m := e.mapping(&lambda.CreateEventSourceMappingInput{FunctionName: aws.String("esm-down"), EventSourceArn: aws.String(qARN)})
	e.waitState(*m.UUID, "Enabled")
	px.close()
	testkit.Eventually(t, 40*time.Second, "the problem reported", func() bool {
		g, err := e.c.GetEventSourceMapping(ctx, &lambda.GetEventSourceMappingInput{UUID: m.UUID})
		return err == nil && strings.HasPrefix(aws.ToString(g.LastProcessingResult), "PROBLEM: Event source could not be read")
	})
	// A log line names the mapping and its queue when the problem is new
	// (the long poll cut by the close, then the refused connections), not
	// once a retry; the metrics count every failed poll and the mapping.
	if gauge := metric(t, d, "lambdad_esm_mappings_with_problems"); gauge != "1" {
		t.Errorf("mappings with problems: %q", gauge)
	}
	count := func() int {
		n, err := strconv.Atoi(metric(t, d, "lambdad_esm_problems_total"))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	first := count()
	testkit.Eventually(t, 30*time.Second, "more failed polls counted", func() bool { return count() >= first+3 })
	if n := strings.Count(logs.String(), "esm: PROBLEM: Event source could not be read"); n < 1 || n > 2 {
		t.Errorf("%d problem lines logged for %d failed polls, want 1 or 2:\n%s", n, count(), logs.String())
	}
	if l := logs.String(); !strings.Contains(l, "uuid="+aws.ToString(m.UUID)) || !strings.Contains(l, "source="+qARN) {
		t.Errorf("the problem line does not name the mapping and its queue:\n%s", l)
	}
	px.open(t)
	e.send(qURL, "back")
	if b := e.bodies(e.events(probe, 1, 40*time.Second)); len(b) != 1 || b[0] != "back" {
		t.Fatalf("after SQS came back: %v", b)
	}
	testkit.Eventually(t, 10*time.Second, "the problem cleared", func() bool {
		return metric(t, d, "lambdad_esm_mappings_with_problems") == "0"
	})
}

// Batches count against the function's concurrency: with one reserved,
// they run one at a time; the throttled ones are retried, and nothing is
// lost.
func TestESMReservedConcurrency(t *testing.T) {
	e := newESMEnv(t, nil)
	probe := e.function("esm-reserved")
	if _, err := e.c.PutFunctionConcurrency(context.Background(), &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("esm-reserved"), ReservedConcurrentExecutions: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	qURL, qARN := e.queue("esm-reserved-q", map[string]string{"VisibilityTimeout": "60"})
	for range 4 {
		e.send(qURL, `{"sleep":1}`)
	}
	start := time.Now()
	e.mapping(&lambda.CreateEventSourceMappingInput{FunctionName: aws.String("esm-reserved"), EventSourceArn: aws.String(qARN), BatchSize: aws.Int32(1)})
	n := len(records(e.events(probe, 4, 40*time.Second)))
	took := time.Since(start)
	if n != 4 {
		t.Fatalf("got %d of 4", n)
	}
	// One at a time, the fourth starts after three seconds.
	if took < 3*time.Second {
		t.Fatalf("4 batches of 1 s started within %v: more than one ran at once", took)
	}
	testkit.Eventually(t, 10*time.Second, "queue empty", func() bool { return e.visible(qURL) == 0 })
}

// Without an endpoint and without AWS credentials lambdad cannot reach
// SQS: creating a mapping says so, naming the flag, and creates nothing.
func TestESMNoEndpoint(t *testing.T) {
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SQS"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	_, c := servertest.InvokeEnv(t, nil)
	testkit.CreateActive(t, c, testkit.PyFunction(t, "esm-noep", "def handler(e, c):\n    return None\n"))
	_, err := c.CreateEventSourceMapping(context.Background(), &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("esm-noep"),
		EventSourceArn: aws.String("arn:aws:sqs:us-east-1:123456789012:q")})
	testkit.APIErr(t, err, "InvalidParameterValueException", 400,
		"lambdad cannot reach SQS: it has no endpoint and no AWS credentials for it. Set --aws-endpoint-url (LAMBDAD_AWS_ENDPOINT_URL) or AWS_ENDPOINT_URL_<SERVICE> to a local server, or give lambdad AWS credentials.")
	l, err := c.ListEventSourceMappings(context.Background(), &lambda.ListEventSourceMappingsInput{})
	if err != nil || len(l.EventSourceMappings) != 0 {
		t.Fatalf("list: %v %+v", err, l)
	}
}
