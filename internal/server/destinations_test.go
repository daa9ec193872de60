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

	testkit.Eventually(t, 5*time.Second, "deliveries not counted", func() bool {
		return metric(t, d, "lambdad_destination_deliveries_total") == "2"
	})

	// A Node.js function's failure record.
	testkit.CreateActive(t, c, testkit.NodeFunction(t, "dest-node", "index.js", "index.handler",
		"exports.handler = async (e) => { if (e.fail) { throw new Error('asked to fail'); } return {echo: e}; };\n"))
	putDestinations(t, c, "dest-node", qarn, qarn)
	id = invokeEvent(t, c, "dest-node", `{"fail": true}`)
	var rec map[string]any
	json.Unmarshal([]byte(aws.ToString(receive(t, s, qurl).Body)), &rec)
	rp, _ := rec["responsePayload"].(map[string]any)
	if rp["errorMessage"] != "asked to fail" || rp["errorType"] != "Error" {
		t.Errorf("Node.js responsePayload = %v", rec["responsePayload"])
	}
	delete(rec, "responsePayload")
	b, _ := json.Marshal(rec)
	checkRecord(t, string(b), failedRecord(id, "dest-node", map[string]any{"fail": true}))
}

// metric reads one of lambdad's metrics.
func metric(t testing.TB, d *servertest.Daemon, name string) string {
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

// After its retries, a failed event goes to the function's dead-letter
// queue as it came, with AWS's RequestID, ErrorCode and ErrorMessage
// attributes; to an SNS dead-letter topic too. The on-failure destination
// gets its record as well.
func TestDeadLetterQueue(t *testing.T) {
	t.Parallel()
	_, c, s, _ := destEnv(t)
	ctx := context.Background()
	dlqURL, dlqARN := queue(t, s, "dlq")
	destURL, destARN := queue(t, s, "failures")
	in := testkit.PyFunction(t, "dlq-fn", destFunction)
	in.DeadLetterConfig = &types.DeadLetterConfig{TargetArn: aws.String(dlqARN)}
	testkit.CreateActive(t, c, in)
	putDestinations(t, c, "dlq-fn", "", destARN)

	payload := `{"fail": true, "n": 3}`
	id := invokeEvent(t, c, "dlq-fn", payload)
	m := receive(t, s, dlqURL)
	if aws.ToString(m.Body) != payload {
		t.Errorf("dead-letter body %q, want the event %q", aws.ToString(m.Body), payload)
	}
	attrs := map[string][2]string{}
	for k, v := range m.MessageAttributes {
		attrs[k] = [2]string{aws.ToString(v.DataType), aws.ToString(v.StringValue)}
	}
	want := map[string][2]string{"RequestID": {"String", id}, "ErrorCode": {"Number", "200"}, "ErrorMessage": {"String", "asked to fail"}}
	if len(attrs) != len(want) || attrs["RequestID"] != want["RequestID"] || attrs["ErrorCode"] != want["ErrorCode"] || attrs["ErrorMessage"] != want["ErrorMessage"] {
		t.Errorf("dead-letter attributes %v, want %v", attrs, want)
	}
	checkFailure(t, aws.ToString(receive(t, s, destURL).Body), id, "dlq-fn", map[string]any{"fail": true, "n": 3.0})

	// A success sends nothing to the dead-letter queue.
	invokeEvent(t, c, "dlq-fn", `{"n": 4}`)
	out, err := s.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(dlqURL), WaitTimeSeconds: 3})
	if err != nil || len(out.Messages) != 0 {
		t.Errorf("dead-letter queue after a success: %v %v", out.Messages, err)
	}

	// An SNS topic as dead-letter queue.
	snsURL, snsQueue := queue(t, s, "dlq-sns")
	topic, err := s.sns.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("dlq")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.sns.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"), Endpoint: aws.String(snsQueue)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("dlq-fn"),
		DeadLetterConfig: &types.DeadLetterConfig{TargetArn: topic.TopicArn}}); err != nil {
		t.Fatal(err)
	}
	testkit.WaitUpdated(t, c, "dlq-fn")
	id = invokeEvent(t, c, "dlq-fn", `{"fail": true, "via": "sns"}`)
	var note struct {
		Message           string
		MessageAttributes map[string]struct{ Type, Value string }
	}
	if err := json.Unmarshal([]byte(aws.ToString(receive(t, s, snsURL).Body)), &note); err != nil {
		t.Fatal(err)
	}
	if note.Message != `{"fail": true, "via": "sns"}` || note.MessageAttributes["RequestID"].Value != id ||
		note.MessageAttributes["ErrorCode"] != (struct{ Type, Value string }{"Number", "200"}) || note.MessageAttributes["ErrorMessage"].Value != "asked to fail" {
		t.Errorf("SNS dead-letter notification %+v", note)
	}
}

// Bad targets are refused with AWS's messages, and nothing changes.
func TestDestinationValidation(t *testing.T) {
	t.Parallel()
	_, c, _, _ := destEnv(t)
	ctx := context.Background()
	good := "arn:aws:sqs:us-east-1:" + motoAccount + ":good"
	in := testkit.PyFunction(t, "bad-targets", destFunction)
	in.DeadLetterConfig = &types.DeadLetterConfig{TargetArn: aws.String(good)}
	testkit.CreateActive(t, c, in)
	putDestinations(t, c, "bad-targets", good, good)

	const dlqPrefix = "Invalid dead letter queue ARN: "
	for _, tc := range []struct{ target, msg string }{
		{testkit.InvokeARN("bad-targets"), dlqPrefix + "The service specified by the TargetArn is not supported for dead letter configuration."},
		{"arn:aws:events:us-east-1:" + motoAccount + ":event-bus/default", dlqPrefix + "The service specified by the TargetArn is not supported for dead letter configuration."},
		{"arn:aws:sqs:us-east-1:" + motoAccount + ":", dlqPrefix + "The resource specified by the TargetArn is not valid."},
		{"arn:aws:sqs:us-east-1:" + motoAccount + ":q.fifo", dlqPrefix + "FIFO SQS queue is not supported for dead letter configuration"},
		{"arn:aws:sns:eu-west-1:" + motoAccount + ":t", dlqPrefix + "The resource specified by the TargetArn must be in the same region as the Lambda function it's associated with."},
	} {
		_, err := c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("bad-targets"),
			DeadLetterConfig: &types.DeadLetterConfig{TargetArn: aws.String(tc.target)}})
		testkit.APIErr(t, err, "InvalidParameterValueException", 400, tc.msg)
		in := testkit.PyFunction(t, "bad-dlq", destFunction)
		in.DeadLetterConfig = &types.DeadLetterConfig{TargetArn: aws.String(tc.target)}
		_, err = c.CreateFunction(ctx, in)
		testkit.APIErr(t, err, "InvalidParameterValueException", 400, tc.msg)
	}
	for _, tc := range []struct{ success, failure string }{
		{"arn:aws:sqs:us-east-1:" + motoAccount + ":", ""},
		{"", "arn:aws:sns:us-east-1:" + motoAccount + ":"},
		{"", "arn:aws:events:us-east-1:" + motoAccount + ":rule/r"},
		{"arn:aws:s3:::bucket", ""}, // S3 takes failures only
		{"", "arn:aws:s3:::bucket/key"},
	} {
		dc := &types.DestinationConfig{}
		bad := tc.success
		if tc.success != "" {
			dc.OnSuccess = &types.OnSuccess{Destination: aws.String(tc.success)}
		} else {
			bad = tc.failure
			dc.OnFailure = &types.OnFailure{Destination: aws.String(tc.failure)}
		}
		_, err := c.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("bad-targets"), DestinationConfig: dc})
		testkit.APIErr(t, err, "InvalidParameterValueException", 400, "The destination ARN "+bad+" is invalid.")
	}
	// Nothing changed.
	cfg, err := c.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("bad-targets")})
	if err != nil || cfg.DeadLetterConfig == nil || aws.ToString(cfg.DeadLetterConfig.TargetArn) != good {
		t.Errorf("DeadLetterConfig after refusals: %+v %v", cfg.DeadLetterConfig, err)
	}
	eic, err := c.GetFunctionEventInvokeConfig(ctx, &lambda.GetFunctionEventInvokeConfigInput{FunctionName: aws.String("bad-targets")})
	if err != nil || aws.ToString(eic.DestinationConfig.OnSuccess.Destination) != good || aws.ToString(eic.DestinationConfig.OnFailure.Destination) != good {
		t.Errorf("destinations after refusals: %+v %v", eic.DestinationConfig, err)
	}
	if _, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("bad-dlq")}); testkit.HTTPStatus(err) != 404 {
		t.Errorf("a function with a bad dead-letter queue was created: %v", err)
	}
	// A good destination of every service is accepted.
	for _, ok := range []string{"arn:aws:sns:us-east-1:" + motoAccount + ":t", "arn:aws:events:us-east-1:" + motoAccount + ":event-bus/default", "arn:aws:s3:::bucket"} {
		putDestinations(t, c, "bad-targets", "", ok)
	}
}

// Without an endpoint and without credentials, lambdad refuses a
// destination or dead-letter queue it could not deliver to, naming the
// flag. (Not parallel: it empties the credential chain of the process.)
func TestDestinationUnreachable(t *testing.T) {
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SQS"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	_, c := servertest.InvokeEnv(t, nil)
	ctx := context.Background()
	queue := "arn:aws:sqs:us-east-1:" + motoAccount + ":q"
	in := testkit.PyFunction(t, "unreachable", destFunction)
	in.DeadLetterConfig = &types.DeadLetterConfig{TargetArn: aws.String(queue)}
	_, err := c.CreateFunction(ctx, in)
	flag := "--aws-endpoint-url (LAMBDAD_AWS_ENDPOINT_URL)"
	if e := testkit.APIErrPrefix(t, err, "InvalidParameterValueException", 400, "lambdad cannot reach SQS"); e != nil && !strings.Contains(e.ErrorMessage(), flag) {
		t.Errorf("error %q does not name %s", e.ErrorMessage(), flag)
	}
	testkit.CreateActive(t, c, testkit.PyFunction(t, "unreachable", destFunction))
	_, err = c.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("unreachable"),
		DestinationConfig: &types.DestinationConfig{OnFailure: &types.OnFailure{Destination: aws.String(queue)}}})
	if e := testkit.APIErrPrefix(t, err, "InvalidParameterValueException", 400, "lambdad cannot reach SQS"); e != nil && !strings.Contains(e.ErrorMessage(), flag) {
		t.Errorf("error %q does not name %s", e.ErrorMessage(), flag)
	}
}

// A destination queue deleted after it was set: the record is retried,
// then logged and counted, and the event queue goes on meanwhile.
func TestDestinationDeletedQueue(t *testing.T) {
	t.Parallel()
	d, c, s, logs := destEnv(t)
	ctx := context.Background()
	goneURL, goneARN := queue(t, s, "gone")
	okURL, okARN := queue(t, s, "still-here")
	testkit.CreateActive(t, c, testkit.PyFunction(t, "to-gone", destFunction))
	testkit.CreateActive(t, c, testkit.PyFunction(t, "to-ok", destFunction))
	putDestinations(t, c, "to-gone", goneARN, goneARN)
	putDestinations(t, c, "to-ok", okARN, okARN)
	if _, err := s.sqs.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(goneURL)}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	invokeEvent(t, c, "to-gone", `{"n": 1}`)
	testkit.Eventually(t, 10*time.Second, "the event did not run", func() bool { return metric(t, d, "lambdad_invocations_total") == "1" })
	id := invokeEvent(t, c, "to-ok", `{"n": 2}`)
	m := receive(t, s, okURL)
	if !strings.Contains(aws.ToString(m.Body), id) {
		t.Errorf("record %s lacks %s", aws.ToString(m.Body), id)
	}
	t.Logf("the other function's record arrived %v after the first event, failures so far %s", time.Since(start), metric(t, d, "lambdad_destination_failures_total"))
	testkit.Eventually(t, 30*time.Second, "the failed delivery was not counted", func() bool {
		return metric(t, d, "lambdad_destination_failures_total") == "1"
	})
	if !strings.Contains(logs.String(), "destination delivery failed") || !strings.Contains(logs.String(), goneARN) {
		t.Errorf("no log line of the failed delivery:\n%s", logs.String())
	}
}

// A record not yet delivered when lambdad stops (its queue does not exist
// yet) is kept, and delivered once lambdad runs again.
func TestDestinationSurvivesRestart(t *testing.T) {
	t.Parallel()
	url := testkit.Moto(t)
	s := motoClients(url)
	dir := t.TempDir()
	tune := func(cfg *server.Config) { cfg.AWSEndpoint = url }
	d := servertest.StartLambdad(t, dir, tune)
	c := servertest.InvokeClient(d)
	arn := "arn:aws:sqs:us-east-1:" + motoAccount + ":later"
	testkit.CreateActive(t, c, testkit.PyFunction(t, "restart-fn", destFunction))
	putDestinations(t, c, "restart-fn", arn, arn)
	id := invokeEvent(t, c, "restart-fn", `{"n": 5}`)
	testkit.Eventually(t, 10*time.Second, "the event did not run", func() bool { return metric(t, d, "lambdad_invocations_total") == "1" })
	time.Sleep(200 * time.Millisecond) // into the delivery's retries
	d.Stop()
	qurl, _ := queue(t, s, "later")
	d = servertest.StartLambdad(t, dir, tune)
	m := receive(t, s, qurl)
	if !strings.Contains(aws.ToString(m.Body), id) {
		t.Errorf("record %s lacks %s", aws.ToString(m.Body), id)
	}
	// (the count follows SQS's answer)
	testkit.Eventually(t, 5*time.Second, "the delivery after the restart was not counted", func() bool {
		return metric(t, d, "lambdad_destination_deliveries_total") == "1"
	})
}
