package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	stypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/lambdad/lambdad/internal/testkit"
)

const benchMessages = 500

// fill puts n messages on the queue, ten per call.
func (e *esmEnv) fill(url string, n int) {
	for i := 0; i < n; i += 10 {
		var es []stypes.SendMessageBatchRequestEntry
		for j := i; j < min(n, i+10); j++ {
			es = append(es, stypes.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(j)), MessageBody: aws.String(`{"n":` + strconv.Itoa(j) + `}`)})
		}
		if _, err := e.sqs.SendMessageBatch(context.Background(), &sqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: es}); err != nil {
			e.t.Fatal(err)
		}
	}
}

// BenchmarkESMSQSThroughput is SQS → Lambda with a Python echo, batch 10,
// side by side with a plain ReceiveMessage/DeleteMessageBatch loop against
// the same moto_server: messages/s of each (500 messages per op).
func BenchmarkESMSQSThroughput(b *testing.B) {
	e := newESMEnv(b, nil)
	b.Run("loop", func(b *testing.B) {
		url, _ := e.queue("bench-loop", nil)
		var total time.Duration
		for b.Loop() {
			b.StopTimer()
			e.fill(url, benchMessages)
			b.StartTimer()
			start := time.Now()
			for got := 0; got < benchMessages; {
				r, err := e.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 20,
					MessageSystemAttributeNames: []stypes.MessageSystemAttributeName{stypes.MessageSystemAttributeNameAll}, MessageAttributeNames: []string{"All"}})
				if err != nil {
					b.Fatal(err)
				}
				var es []stypes.DeleteMessageBatchRequestEntry
				for i, m := range r.Messages {
					es = append(es, stypes.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
				}
				if len(es) > 0 {
					if _, err := e.sqs.DeleteMessageBatch(context.Background(), &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(url), Entries: es}); err != nil {
						b.Fatal(err)
					}
				}
				got += len(r.Messages)
			}
			total += time.Since(start)
		}
		b.ReportMetric(float64(b.N*benchMessages)/total.Seconds(), "msgs/s")
	})
	// Made once: the testing package may call a sub-benchmark's body more
	// than once (a probe run of one, then b.N).
	in := testkit.PyFunction(b, "bench-echo", "def handler(event, context):\n    return event\n")
	testkit.CreateActive(b, e.c, in)
	url, arn := e.queue("bench-esm", nil)
	m := e.mapping(&lambda.CreateEventSourceMappingInput{FunctionName: aws.String("bench-echo"), EventSourceArn: aws.String(arn), Enabled: aws.Bool(false)})
	b.Run("lambdad", func(b *testing.B) {
		var total time.Duration
		for b.Loop() {
			b.StopTimer()
			e.fill(url, benchMessages)
			b.StartTimer()
			before := deletedCount(b, e)
			start := time.Now()
			if _, err := e.c.UpdateEventSourceMapping(context.Background(), &lambda.UpdateEventSourceMappingInput{UUID: m.UUID, Enabled: aws.Bool(true)}); err != nil {
				b.Fatal(err)
			}
			// Done when lambdad has deleted them all: asked of lambdad's
			// metrics, often, rather than of moto_server, the bottleneck,
			// which looking would slow.
			for deletedCount(b, e) < before+benchMessages {
				time.Sleep(5 * time.Millisecond)
			}
			total += time.Since(start)
			b.StopTimer()
			if _, err := e.c.UpdateEventSourceMapping(context.Background(), &lambda.UpdateEventSourceMappingInput{UUID: m.UUID, Enabled: aws.Bool(false)}); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		b.ReportMetric(float64(b.N*benchMessages)/total.Seconds(), "msgs/s")
	})
}

// deletedCount is lambdad_esm_sqs_messages_deleted_total.
func deletedCount(b *testing.B, e *esmEnv) int {
	n, err := strconv.Atoi(metric(b, e.d, "lambdad_esm_sqs_messages_deleted_total"))
	if err != nil {
		b.Fatal(err)
	}
	return n
}

// probeTimeFn sends the time it was invoked (ns since the epoch) to the
// probe queue.
const probeTimeFn = `
import json, os, urllib.request, urllib.parse, time
def handler(event, context):
    t = time.time_ns()
    data = urllib.parse.urlencode({"Action": "SendMessage", "QueueUrl": os.environ["PROBE"], "MessageBody": json.dumps({"t": t, "body": event["Records"][0]["body"]})}).encode()
    urllib.request.urlopen(urllib.request.Request(os.environ["AWS_ENDPOINT_URL"], data=data, headers={
        "Content-Type": "application/x-www-form-urlencoded",
        "Authorization": "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0"})).read()
`

// BenchmarkESMSQSIdleLatency is how long one message sent to an idle
// queue takes to reach the function (long polling), as the function's
// clock sees it.
func BenchmarkESMSQSIdleLatency(b *testing.B) {
	e := newESMEnv(b, nil)
	probe, _ := e.queue("lat-probe", nil)
	in := testkit.PyFunction(b, "lat", probeTimeFn)
	in.Environment = &ltypes.Environment{Variables: map[string]string{"PROBE": probe}}
	testkit.CreateActive(b, e.c, in)
	url, arn := e.queue("lat-q", nil)
	e.mapping(&lambda.CreateEventSourceMappingInput{FunctionName: aws.String("lat"), EventSourceArn: aws.String(arn), BatchSize: aws.Int32(1)})
	get := func(want string) int64 {
		for {
			r, err := e.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(probe), WaitTimeSeconds: 20})
			if err != nil {
				b.Fatal(err)
			}
			for _, m := range r.Messages {
				_, _ = e.sqs.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(probe), ReceiptHandle: m.ReceiptHandle})
				var v struct {
					T    int64  `json:"t"`
					Body string `json:"body"`
				}
				_ = json.Unmarshal([]byte(*m.Body), &v)
				if v.Body == want {
					return v.T
				}
			}
		}
	}
	e.send(url, "warm")
	get("warm")
	var lat []time.Duration
	i := 0
	for b.Loop() {
		time.Sleep(500 * time.Millisecond) // idle: the poller is in its long poll
		body := fmt.Sprint("m", i)
		i++
		sent := time.Now()
		e.send(url, body)
		lat = append(lat, time.Unix(0, get(body)).Sub(sent))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1e3, "p50-ms")
	b.ReportMetric(float64(lat[min(len(lat)-1, len(lat)*99/100)].Microseconds())/1e3, "p99-ms")
}

// BenchmarkESMIdleMappings is what 100 enabled mappings on idle queues
// cost lambdad: CPU over a 10 s idle window, and heap.
func BenchmarkESMIdleMappings(b *testing.B) {
	e := newESMEnv(b, nil)
	testkit.CreateActive(b, e.c, testkit.PyFunction(b, "idle", "def handler(event, context):\n    return None\n"))
	runtime.GC()
	var m0 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for i := range 100 {
		_, arn := e.queue(fmt.Sprint("idle-", i), nil)
		e.mapping(&lambda.CreateEventSourceMappingInput{FunctionName: aws.String("idle"), EventSourceArn: aws.String(arn)})
	}
	time.Sleep(3 * time.Second) // every poller in its long poll
	for b.Loop() {
		cpu0, t0 := processCPU(), time.Now()
		time.Sleep(10 * time.Second)
		b.ReportMetric(100*float64(processCPU()-cpu0)/float64(time.Since(t0)), "%core")
	}
	runtime.GC()
	var m1 runtime.MemStats
	runtime.ReadMemStats(&m1)
	b.ReportMetric(float64(int64(m1.HeapInuse)-int64(m0.HeapInuse))/1e6, "heap-MB")
	b.ReportMetric(float64(runtime.NumGoroutine()), "goroutines")
}
