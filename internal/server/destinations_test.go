package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/lambdad/lambdad/internal/server"
	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// motoAccount is the account moto_server puts its resources in.
const motoAccount = "123456789012"

// destFunction succeeds with {"echo": event}, or raises when the event
// asks it to.
const destFunction = "def handler(e, c):\n    if e.get('fail'):\n        raise Exception('asked to fail')\n    return {'echo': e}\n"

// services are SDK clients of a moto_server.
type services struct {
	sqs *sqs.Client
	sns *sns.Client
	eb  *eventbridge.Client
	s3  *s3.Client
}

func motoClients(url string) services {
	cfg := aws.Config{Region: testkit.Region, Credentials: credentials.NewStaticCredentialsProvider("moto", "moto", "")}
	return services{
		sqs: sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(url) }),
		sns: sns.NewFromConfig(cfg, func(o *sns.Options) { o.BaseEndpoint = aws.String(url) }),
		eb:  eventbridge.NewFromConfig(cfg, func(o *eventbridge.Options) { o.BaseEndpoint = aws.String(url) }),
		s3:  s3.NewFromConfig(cfg, func(o *s3.Options) { o.BaseEndpoint = aws.String(url); o.UsePathStyle = true }),
	}
}

// syncBuffer collects lambdad's log.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// destEnv starts moto_server and a lambdad that reaches it.
func destEnv(t *testing.T) (*servertest.Daemon, *lambda.Client, services, *syncBuffer) {
	t.Helper()
	url := testkit.Moto(t)
	logs := &syncBuffer{}
	d, c := servertest.InvokeEnv(t, func(cfg *server.Config) {
		cfg.AWSEndpoint = url
		cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	})
	return d, c, motoClients(url), logs
}

func queue(t *testing.T, s services, name string) (url, arn string) {
	t.Helper()
	out, err := s.sqs.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.QueueUrl), "arn:aws:sqs:" + testkit.Region + ":" + motoAccount + ":" + name
}

// receive waits for one message on the queue.
func receive(t *testing.T, s services, url string) sqstypes.Message {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		out, err := s.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(url),
			WaitTimeSeconds: 1, MaxNumberOfMessages: 1, MessageAttributeNames: []string{"All"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) > 0 {
			m := out.Messages[0]
			s.sqs.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle})
			return m
		}
	}
	t.Fatalf("no message on %s", url)
	return sqstypes.Message{}
}

func putDestinations(t *testing.T, c *lambda.Client, fn, onSuccess, onFailure string) {
	t.Helper()
	dc := &types.DestinationConfig{}
	if onSuccess != "" {
		dc.OnSuccess = &types.OnSuccess{Destination: aws.String(onSuccess)}
	}
	if onFailure != "" {
		dc.OnFailure = &types.OnFailure{Destination: aws.String(onFailure)}
	}
	if _, err := c.PutFunctionEventInvokeConfig(context.Background(), &lambda.PutFunctionEventInvokeConfigInput{
		FunctionName: aws.String(fn), MaximumRetryAttempts: aws.Int32(0), DestinationConfig: dc}); err != nil {
		t.Fatal(err)
	}
}

var s3Key = regexp.MustCompile(`^aws/lambda/async/dest-s3/\d{4}/\d\d/\d\d/\d{4}-\d\d-\d\dT\d\d\.\d\d\.\d\d-[0-9a-f-]{36}$`)

var recordTime = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

// checkRecord compares a destination record with AWS's, the timestamp
// by its form.
func checkRecord(t *testing.T, body string, want map[string]any) {
	t.Helper()
	var got map[string]any
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("record %q: %v", body, err)
	}
	if ts, _ := got["timestamp"].(string); !recordTime.MatchString(ts) {
		t.Errorf("record timestamp %q", got["timestamp"])
	}
	delete(got, "timestamp")
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if !bytes.Equal(g, w) {
		t.Errorf("record:\n got %s\nwant %s", g, w)
	}
}

func failedRecord(id, fn string, payload map[string]any) map[string]any {
	return map[string]any{
		"version":         "1.0",
		"requestContext":  map[string]any{"requestId": id, "functionArn": testkit.InvokeARN(fn) + ":$LATEST", "condition": "RetriesExhausted", "approximateInvokeCount": 1},
		"requestPayload":  payload,
		"responseContext": map[string]any{"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
	}
}

// checkFailure checks a failure record, its responsePayload by the error's
// message and type.
func checkFailure(t *testing.T, body, id, fn string, payload map[string]any) {
	t.Helper()
	var got map[string]any
	json.Unmarshal([]byte(body), &got)
	rp, _ := got["responsePayload"].(map[string]any)
	if rp["errorMessage"] != "asked to fail" || rp["errorType"] != "Exception" {
		t.Errorf("responsePayload = %v", got["responsePayload"])
	}
	delete(got, "responsePayload")
	b, _ := json.Marshal(got)
	checkRecord(t, string(b), failedRecord(id, fn, payload))
}

// An asynchronous invocation's record reaches an SQS destination exactly as
// AWS writes it, on success and after the retries.
func TestDestinationSQSRecords(t *testing.T) {
	t.Parallel()
	d, c, s, _ := destEnv(t)
	qurl, qarn := queue(t, s, "records")
	testkit.CreateActive(t, c, testkit.PyFunction(t, "dest-sqs", destFunction))
	putDestinations(t, c, "dest-sqs", qarn, qarn)

	id := invokeEvent(t, c, "dest-sqs", `{"n": 1}`)
	checkRecord(t, aws.ToString(receive(t, s, qurl).Body), map[string]any{
		"version":         "1.0",
		"requestContext":  map[string]any{"requestId": id, "functionArn": testkit.InvokeARN("dest-sqs") + ":$LATEST", "condition": "Success", "approximateInvokeCount": 1},
		"requestPayload":  map[string]any{"n": 1},
		"responseContext": map[string]any{"statusCode": 200, "executedVersion": "$LATEST"},
		"responsePayload": map[string]any{"echo": map[string]any{"n": 1}},
	})

	id = invokeEvent(t, c, "dest-sqs", `{"fail": true}`)
	checkFailure(t, aws.ToString(receive(t, s, qurl).Body), id, "dest-sqs", map[string]any{"fail": true})

	if got := metric(t, d, "lambdad_destination_deliveries_total"); got != "2" {
		t.Errorf("lambdad_destination_deliveries_total = %s, want 2", got)
	}
}

// metric reads one of lambdad's metrics.
func metric(t *testing.T, d *servertest.Daemon, name string) string {
	t.Helper()
	resp, err := http.Get(d.URL + "/_lambdad/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, l := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			return v
		}
	}
	return ""
}

// Failure records reach SNS (read through a subscribed queue), EventBridge
// (through a rule that targets a queue) and S3 (an object under
// aws/lambda/async/<function>/).
func TestDestinationSNSEventBridgeS3(t *testing.T) {
	t.Parallel()
	_, c, s, _ := destEnv(t)
	ctx := context.Background()

	// SNS
	snsURL, snsQueue := queue(t, s, "from-sns")
	topic, err := s.sns.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("records")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.sns.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"), Endpoint: aws.String(snsQueue),
		Attributes: map[string]string{"RawMessageDelivery": "true"}}); err != nil {
		t.Fatal(err)
	}
	testkit.CreateActive(t, c, testkit.PyFunction(t, "dest-sns", destFunction))
	putDestinations(t, c, "dest-sns", "", aws.ToString(topic.TopicArn))

	// EventBridge
	ebURL, ebQueue := queue(t, s, "from-events")
	bus, err := s.eb.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String("records")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("to-queue"), EventBusName: aws.String("records"),
		EventPattern: aws.String(`{"source": ["lambda"]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("to-queue"), EventBusName: aws.String("records"),
		Targets: []ebtypes.Target{{Id: aws.String("q"), Arn: aws.String(ebQueue)}}}); err != nil {
		t.Fatal(err)
	}
	testkit.CreateActive(t, c, testkit.PyFunction(t, "dest-events", destFunction))
	putDestinations(t, c, "dest-events", aws.ToString(bus.EventBusArn), aws.ToString(bus.EventBusArn))

	// S3
	if _, err := s.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("records")}); err != nil {
		t.Fatal(err)
	}
	testkit.CreateActive(t, c, testkit.PyFunction(t, "dest-s3", destFunction))

	t.Run("sns", func(t *testing.T) {
		id := invokeEvent(t, c, "dest-sns", `{"fail": true, "to": "sns"}`)
		checkFailure(t, aws.ToString(receive(t, s, snsURL).Body), id, "dest-sns", map[string]any{"fail": true, "to": "sns"})
	})
	t.Run("eventbridge", func(t *testing.T) {
		id := invokeEvent(t, c, "dest-events", `{"to": "events"}`)
		var ev map[string]any
		json.Unmarshal([]byte(aws.ToString(receive(t, s, ebURL).Body)), &ev)
		if ev["source"] != "lambda" || ev["detail-type"] != "Lambda Function Invocation Result - Success" {
			t.Errorf("event = %v", ev)
		}
		res, _ := ev["resources"].([]any)
		if len(res) != 2 || res[0] != aws.ToString(bus.EventBusArn) || res[1] != testkit.InvokeARN("dest-events")+":$LATEST" {
			t.Errorf("event resources = %v", ev["resources"])
		}
		detail, _ := json.Marshal(ev["detail"])
		checkRecord(t, string(detail), map[string]any{
			"version":         "1.0",
			"requestContext":  map[string]any{"requestId": id, "functionArn": testkit.InvokeARN("dest-events") + ":$LATEST", "condition": "Success", "approximateInvokeCount": 1},
			"requestPayload":  map[string]any{"to": "events"},
			"responseContext": map[string]any{"statusCode": 200, "executedVersion": "$LATEST"},
			"responsePayload": map[string]any{"echo": map[string]any{"to": "events"}},
		})
		id = invokeEvent(t, c, "dest-events", `{"fail": true}`)
		json.Unmarshal([]byte(aws.ToString(receive(t, s, ebURL).Body)), &ev)
		if ev["detail-type"] != "Lambda Function Invocation Result - Failure" {
			t.Errorf("failure event detail-type = %v", ev["detail-type"])
		}
		detail, _ = json.Marshal(ev["detail"])
		checkFailure(t, string(detail), id, "dest-events", map[string]any{"fail": true})
	})
	t.Run("s3", func(t *testing.T) {
		putDestinations(t, c, "dest-s3", "", "arn:aws:s3:::records")
		id := invokeEvent(t, c, "dest-s3", `{"fail": true, "to": "s3"}`)
		var keys []string
		testkit.Eventually(t, 30*time.Second, "no record object in S3", func() bool {
			out, err := s.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("records"), Prefix: aws.String("aws/lambda/async/dest-s3/")})
			if err != nil {
				t.Fatal(err)
			}
			keys = keys[:0]
			for _, o := range out.Contents {
				keys = append(keys, aws.ToString(o.Key))
			}
			return len(keys) > 0
		})
		sort.Strings(keys)
		if len(keys) != 1 || !s3Key.MatchString(keys[0]) {
			t.Fatalf("objects %v, want one named %s", keys, s3Key)
		}
		obj, err := s.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("records"), Key: aws.String(keys[0])})
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(obj.Body)
		obj.Body.Close()
		checkFailure(t, string(body), id, "dest-s3", map[string]any{"fail": true, "to": "s3"})
	})
}
