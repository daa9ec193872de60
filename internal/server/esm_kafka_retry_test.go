package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lambdad/lambdad/internal/testkit"
)

// kafkaPoisonFn records the values of every batch in the probe queue,
// fails every batch that holds "poison", and reports every "partial"
// record as failed (ReportBatchItemFailures).
const kafkaPoisonFn = `
import json, os, urllib.request, urllib.parse, base64
def send(body):
    data = urllib.parse.urlencode({"Action": "SendMessage", "QueueUrl": os.environ["PROBE"], "MessageBody": body}).encode()
    req = urllib.request.Request(os.environ["AWS_ENDPOINT_URL"], data=data, headers={
        "Content-Type": "application/x-www-form-urlencoded",
        "Authorization": "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0"})
    urllib.request.urlopen(req).read()
def handler(event, context):
    vals = [base64.b64decode(r["value"]).decode() for recs in event["records"].values() for r in recs]
    send(json.dumps({"values": vals}))
    if "poison" in vals:
        raise Exception("poison")
    fails = [{"itemIdentifier": {"partition": k, "offset": r["offset"]}}
             for k, recs in event["records"].items() for r in recs if base64.b64decode(r["value"]).decode() == "partial"]
    if fails:
        return {"batchItemFailures": fails}
`

// batchValues are the probe's batches, each as its values joined by ",".
func batchValues(evs []map[string]any) []string {
	var out []string
	for _, ev := range evs {
		var vs []string
		for _, v := range ev["values"].([]any) {
			vs = append(vs, v.(string))
		}
		out = append(out, strings.Join(vs, ","))
	}
	return out
}

// Kafka error handling in provisioned mode, end to end: a failing batch is
// bisected, the poison record retried MaximumRetryAttempts times and its
// on-failure record (AWS's KafkaBatchInfo shape) sent to SQS, the rest
// delivered, and everything committed; then to a Kafka topic of the same
// cluster (one message per record, its key kept, its event as payload);
// a record older than MaximumRecordAgeInSeconds is given up unseen; with
// ReportBatchItemFailures only the reported records on are retried.
// Without ProvisionedPollerConfig the settings are refused.
func TestESMKafkaRetriesOnFailure(t *testing.T) {
	e := newESMEnv(t, nil)
	ctx := context.Background()
	kc, cl := kafkaCluster(t, 1, "jobs", "jobs-dlt")
	brokers := kc.ListenAddrs()
	probe, _ := e.queue("esm-kafka-retry-probe", nil)
	dlq, dlqARN := e.queue("esm-kafka-retry-dlq", nil)
	fn := testkit.PyFunction(t, "esm-kafka-retry", kafkaPoisonFn)
	fn.Environment = &ltypes.Environment{Variables: map[string]string{"PROBE": probe}}
	fn.Timeout = aws.Int32(30)
	testkit.CreateActive(t, e.c, fn)

	base := func() *lambda.CreateEventSourceMappingInput {
		return &lambda.CreateEventSourceMappingInput{
			FunctionName:                   aws.String("esm-kafka-retry"),
			SelfManagedEventSource:         &ltypes.SelfManagedEventSource{Endpoints: map[string][]string{"KAFKA_BOOTSTRAP_SERVERS": brokers}},
			Topics:                         []string{"jobs"},
			StartingPosition:               ltypes.EventSourcePositionTrimHorizon,
			MaximumBatchingWindowInSeconds: aws.Int32(1),
			ProvisionedPollerConfig:        &ltypes.ProvisionedPollerConfig{MinimumPollers: aws.Int32(1), MaximumPollers: aws.Int32(2)},
		}
	}
	const ipv = "InvalidParameterValueException"
	dest := func(d string) *ltypes.DestinationConfig {
		return &ltypes.DestinationConfig{OnFailure: &ltypes.OnFailure{Destination: aws.String(d)}}
	}
	for _, c := range []struct {
		name string
		mod  func(*lambda.CreateEventSourceMappingInput)
		msg  string
	}{
		{"not provisioned", func(in *lambda.CreateEventSourceMappingInput) {
			in.ProvisionedPollerConfig, in.MaximumRetryAttempts = nil, aws.Int32(1)
		}, "MaximumRetryAttempts is only supported for Kafka event source mappings in provisioned mode. Set ProvisionedPollerConfig."},
		{"destination not provisioned", func(in *lambda.CreateEventSourceMappingInput) {
			in.ProvisionedPollerConfig, in.DestinationConfig = nil, dest(dlqARN)
		}, "DestinationConfig is only supported for Kafka event source mappings in provisioned mode. Set ProvisionedPollerConfig."},
		{"source topic", func(in *lambda.CreateEventSourceMappingInput) { in.DestinationConfig = dest("kafka://jobs") },
			"The Kafka on-failure destination topic cannot be the same as a source topic: jobs"},
		{"lambda destination", func(in *lambda.CreateEventSourceMappingInput) {
			in.DestinationConfig = dest("arn:aws:lambda:us-east-1:000000000000:function:f")
		}, "Unsupported on-failure destination type. Supported types are SQS, SNS, S3 and Kafka: arn:aws:lambda:us-east-1:000000000000:function:f"},
		{"age", func(in *lambda.CreateEventSourceMappingInput) { in.MaximumRecordAgeInSeconds = aws.Int32(30) },
			"MaximumRecordAgeInSeconds must be -1 or between 60 and 604800."},
		{"pollers", func(in *lambda.CreateEventSourceMappingInput) {
			in.ProvisionedPollerConfig = &ltypes.ProvisionedPollerConfig{MinimumPollers: aws.Int32(3), MaximumPollers: aws.Int32(2)}
		}, "MinimumPollers must be less than or equal to MaximumPollers."},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := base()
			c.mod(in)
			_, err := e.c.CreateEventSourceMapping(ctx, in)
			testkit.APIErr(t, err, ipv, 400, c.msg)
		})
	}

	produce(t, cl,
		&kgo.Record{Topic: "jobs", Value: []byte("a")},
		&kgo.Record{Topic: "jobs", Value: []byte("poison")},
		&kgo.Record{Topic: "jobs", Value: []byte("b")})
	in := base()
	in.MaximumRetryAttempts, in.BisectBatchOnFunctionError, in.DestinationConfig = aws.Int32(1), aws.Bool(true), dest(dlqARN)
	out := e.mapping(in)
	uuid := aws.ToString(out.UUID)
	if p := out.ProvisionedPollerConfig; p == nil || aws.ToInt32(p.MinimumPollers) != 1 || aws.ToInt32(p.MaximumPollers) != 2 ||
		aws.ToInt32(out.MaximumRetryAttempts) != 1 || aws.ToInt32(out.MaximumRecordAgeInSeconds) != -1 || !aws.ToBool(out.BisectBatchOnFunctionError) ||
		out.DestinationConfig == nil || aws.ToString(out.DestinationConfig.OnFailure.Destination) != dlqARN {
		t.Fatalf("create answered %+v", out)
	}

	// The batch fails and is split; the poison record fails, is retried
	// once and given up; a and b come through.
	got := batchValues(e.events(probe, 6, 60*time.Second))
	slices.Sort(got)
	if want := []string{"a", "a,poison,b", "b", "poison", "poison", "poison,b"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("batches %v, want %v", got, want)
	}
	rec := e.onFailure(dlq, 20*time.Second)
	if keys := sortedMapKeys(rec); !reflect.DeepEqual(keys, []string{"KafkaBatchInfo", "requestContext", "responseContext", "timestamp", "version"}) {
		t.Fatalf("on-failure record keys %v", keys)
	}
	rc, resp, info := rec["requestContext"].(map[string]any), rec["responseContext"].(map[string]any), rec["KafkaBatchInfo"].(map[string]any)
	ri := info["recordsInfo"].(map[string]any)["jobs-0"].(map[string]any)
	if rc["condition"] != "RetryAttemptsExhausted" || rc["approximateInvokeCount"] != 2.0 || !strings.HasSuffix(rc["functionArn"].(string), ":function:esm-kafka-retry") ||
		resp["functionError"] != "Unhandled" || resp["statusCode"] != 200.0 || rec["version"] != "1.0" ||
		info["batchSize"] != 1.0 || info["bootstrapServers"] != strings.Join(brokers, ",") || info["payloadSize"].(float64) <= 0 ||
		ri["firstRecordOffset"] != "1" || ri["lastRecordOffset"] != "1" || !strings.HasSuffix(ri["firstRecordTimestamp"].(string), "Z") {
		t.Fatalf("on-failure record %v", rec)
	}
	testkit.Eventually(t, 10*time.Second, "batch committed", func() bool { return committed(t, cl, uuid, "jobs") == 3 })

	// To a Kafka topic of the same cluster, with no retry.
	up, err := e.c.UpdateEventSourceMapping(ctx, &lambda.UpdateEventSourceMappingInput{UUID: out.UUID,
		DestinationConfig: dest("kafka://jobs-dlt"), MaximumRetryAttempts: aws.Int32(0)})
	if err != nil || aws.ToString(up.DestinationConfig.OnFailure.Destination) != "kafka://jobs-dlt" || aws.ToInt32(up.MaximumRetryAttempts) != 0 {
		t.Fatalf("update: %v %+v", err, up)
	}
	e.waitState(uuid, "Enabled")
	produce(t, cl, &kgo.Record{Topic: "jobs", Key: []byte("pk"), Value: []byte("poison")})
	if got := batchValues(e.events(probe, 1, 30*time.Second)); !reflect.DeepEqual(got, []string{"poison"}) {
		t.Fatalf("after update: %v", got)
	}
	dl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics("jobs-dlt"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer dl.Close()
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	fs := dl.PollRecords(pctx, 10)
	cancel()
	recs := fs.Records()
	if len(recs) != 1 || string(recs[0].Key) != "pk" {
		t.Fatalf("dead-letter topic: %v %v", recs, fs.Errors())
	}
	var kr map[string]any
	if err := json.Unmarshal(recs[0].Value, &kr); err != nil {
		t.Fatal(err)
	}
	rc, info = kr["requestContext"].(map[string]any), kr["KafkaBatchInfo"].(map[string]any)
	one := info["recordInfo"].(map[string]any)
	payload := kr["payload"].(map[string]any)
	pr := payload["records"].(map[string]any)["jobs-0"].([]any)[0].(map[string]any)
	if rc["condition"] != "RetriesExhausted" || rc["approximateInvokeCount"] != 1.0 || info["batchSize"] != 1.0 || one["offset"] != "3" ||
		payload["eventSource"] != "SelfManagedKafka" || pr["value"] != base64.StdEncoding.EncodeToString([]byte("poison")) || pr["offset"] != 3.0 {
		t.Fatalf("dead-letter record %v", kr)
	}
	testkit.Eventually(t, 10*time.Second, "given-up record committed", func() bool { return committed(t, cl, uuid, "jobs") == 4 })

	// A record older than MaximumRecordAgeInSeconds goes to the
	// destination without reaching the function.
	if _, err := e.c.UpdateEventSourceMapping(ctx, &lambda.UpdateEventSourceMappingInput{UUID: out.UUID,
		DestinationConfig: dest(dlqARN), MaximumRecordAgeInSeconds: aws.Int32(60)}); err != nil {
		t.Fatal(err)
	}
	e.waitState(uuid, "Enabled")
	produce(t, cl, &kgo.Record{Topic: "jobs", Value: []byte("old"), Timestamp: time.Now().Add(-2 * time.Minute)},
		&kgo.Record{Topic: "jobs", Value: []byte("new")})
	rec = e.onFailure(dlq, 30*time.Second)
	rc, info = rec["requestContext"].(map[string]any), rec["KafkaBatchInfo"].(map[string]any)
	if rc["condition"] != "RecordAgeExceeded" || rec["responseContext"] != nil || info["recordsInfo"].(map[string]any)["jobs-0"].(map[string]any)["firstRecordOffset"] != "4" {
		t.Fatalf("aged record %v", rec)
	}
	if got := batchValues(e.events(probe, 1, 30*time.Second)); !reflect.DeepEqual(got, []string{"new"}) {
		t.Fatalf("after the old record: %v", got)
	}

	// ReportBatchItemFailures: the batch is retried from the reported
	// record on, then given up from there.
	up, err = e.c.UpdateEventSourceMapping(ctx, &lambda.UpdateEventSourceMappingInput{UUID: out.UUID, FunctionResponseTypes: []ltypes.FunctionResponseType{"ReportBatchItemFailures"},
		MaximumRetryAttempts: aws.Int32(1), BisectBatchOnFunctionError: aws.Bool(false), MaximumRecordAgeInSeconds: aws.Int32(-1)})
	if err != nil || !reflect.DeepEqual(up.FunctionResponseTypes, []ltypes.FunctionResponseType{"ReportBatchItemFailures"}) {
		t.Fatalf("update: %v %+v", err, up)
	}
	e.waitState(uuid, "Enabled")
	produce(t, cl, &kgo.Record{Topic: "jobs", Value: []byte("x1")}, &kgo.Record{Topic: "jobs", Value: []byte("partial")}, &kgo.Record{Topic: "jobs", Value: []byte("x2")})
	if got := batchValues(e.events(probe, 2, 30*time.Second)); !reflect.DeepEqual(got, []string{"x1,partial,x2", "partial,x2"}) {
		t.Fatalf("partial batch response: %v", got)
	}
	rec = e.onFailure(dlq, 30*time.Second)
	rc, info = rec["requestContext"].(map[string]any), rec["KafkaBatchInfo"].(map[string]any)
	ri = info["recordsInfo"].(map[string]any)["jobs-0"].(map[string]any)
	if rc["condition"] != "RetryAttemptsExhausted" || info["batchSize"] != 2.0 || ri["firstRecordOffset"] != "7" || ri["lastRecordOffset"] != "8" {
		t.Fatalf("partial failure record %v", rec)
	}
	testkit.Eventually(t, 10*time.Second, "partial batch committed", func() bool { return committed(t, cl, uuid, "jobs") == 9 })

	// Leaving provisioned mode with error handling set is refused [?].
	_, err = e.c.UpdateEventSourceMapping(ctx, &lambda.UpdateEventSourceMappingInput{UUID: out.UUID, ProvisionedPollerConfig: &ltypes.ProvisionedPollerConfig{}})
	testkit.APIErrPrefix(t, err, ipv, 400, "Error handling controls")
}

// An S3 on-failure destination gets AWS's record with the whole event as
// an escaped JSON string in "payload"; the Node function sees the batch
// once (MaximumRetryAttempts 0). An empty ProvisionedPollerConfig is the
// model's defaults (1 and 200 pollers).
func TestESMKafkaOnFailureS3(t *testing.T) {
	e := newESMEnv(t, nil)
	ctx := context.Background()
	kc, cl := kafkaCluster(t, 1, "s3jobs")
	brokers := kc.ListenAddrs()
	svc := motoClients(e.moto)
	if _, err := svc.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("kafka-failures")}); err != nil {
		t.Fatal(err)
	}
	fn := testkit.NodeFunction(t, "esm-kafka-s3", "index.mjs", "index.handler", `export const handler = async () => { throw new Error("no"); };`)
	testkit.CreateActive(t, e.c, fn)
	out := e.mapping(&lambda.CreateEventSourceMappingInput{
		FunctionName:            aws.String("esm-kafka-s3"),
		SelfManagedEventSource:  &ltypes.SelfManagedEventSource{Endpoints: map[string][]string{"KAFKA_BOOTSTRAP_SERVERS": brokers}},
		Topics:                  []string{"s3jobs"},
		StartingPosition:        ltypes.EventSourcePositionTrimHorizon,
		ProvisionedPollerConfig: &ltypes.ProvisionedPollerConfig{},
		MaximumRetryAttempts:    aws.Int32(0),
		DestinationConfig:       &ltypes.DestinationConfig{OnFailure: &ltypes.OnFailure{Destination: aws.String("arn:aws:s3:::kafka-failures")}},
	})
	if pc := out.ProvisionedPollerConfig; pc == nil || aws.ToInt32(pc.MinimumPollers) != 1 || aws.ToInt32(pc.MaximumPollers) != 200 {
		t.Fatalf("default pollers: %+v", pc)
	}
	produce(t, cl, &kgo.Record{Topic: "s3jobs", Value: []byte("lost")})
	var keys []string
	testkit.Eventually(t, 30*time.Second, "on-failure object", func() bool {
		l, err := svc.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("kafka-failures")})
		if err != nil {
			t.Fatal(err)
		}
		keys = keys[:0]
		for _, o := range l.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
		return len(keys) == 1
	})
	obj, err := svc.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("kafka-failures"), Key: aws.String(keys[0])})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Body.Close()
	var rec map[string]any
	if err := json.NewDecoder(obj.Body).Decode(&rec); err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	p, _ := rec["payload"].(string)
	if err := json.Unmarshal([]byte(p), &ev); err != nil || !strings.HasPrefix(keys[0], "aws/lambda/"+aws.ToString(out.UUID)+"/s3jobs-0/") {
		t.Fatalf("S3 record %v under %s: %v", rec, keys[0], err)
	}
	if v := kafkaValues(t, []map[string]any{ev}); !reflect.DeepEqual(v, []string{"lost"}) || rec["requestContext"].(map[string]any)["approximateInvokeCount"] != 1.0 {
		t.Fatalf("S3 record %v", rec)
	}
}
