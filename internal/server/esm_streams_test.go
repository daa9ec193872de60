package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/server"
	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// streamFn is a Python function that sends every event it gets to the
// probe queue. A Kinesis record whose data is {"fail": "all"}, or a
// DynamoDB record whose new image has a "fail" attribute, fails the
// invoke; {"fail": "item"} is reported as a batch item failure.
const streamFn = `
import json, os, base64, urllib.request, urllib.parse
def send(body):
    data = urllib.parse.urlencode({"Action": "SendMessage", "QueueUrl": os.environ["PROBE"], "MessageBody": body}).encode()
    req = urllib.request.Request(os.environ["AWS_ENDPOINT_URL"], data=data, headers={
        "Content-Type": "application/x-www-form-urlencoded",
        "Authorization": "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0"})
    urllib.request.urlopen(req).read()
def handler(event, context):
    send(json.dumps(event))
    failed = []
    for r in event.get("Records", []):
        if "fail" in (r.get("dynamodb", {}).get("NewImage") or {}):
            raise Exception("asked to fail")
        if "kinesis" not in r:
            continue
        try:
            d = json.loads(base64.b64decode(r["kinesis"]["data"]))
        except Exception:
            d = {}
        if not isinstance(d, dict):
            continue
        if d.get("fail") == "all":
            raise Exception("asked to fail")
        if d.get("fail") == "item":
            failed.append({"itemIdentifier": r["kinesis"]["sequenceNumber"]})
    if failed:
        return {"batchItemFailures": failed}
    return None
`

func kinesisClient(url string) *kinesis.Client {
	return kinesis.New(kinesis.Options{Region: testkit.Region, BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
}

func dynamoClient(url string) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{Region: testkit.Region, BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
}

// streamFunction creates the stream probe function and its probe queue.
func (e *esmEnv) streamFunction(name string) (probeURL string) {
	e.t.Helper()
	probeURL, _ = e.queue(name+"-probe", nil)
	in := testkit.PyFunction(e.t, name, streamFn)
	in.Environment = &ltypes.Environment{Variables: map[string]string{"PROBE": probeURL}}
	in.Timeout = aws.Int32(30)
	testkit.CreateActive(e.t, e.c, in)
	return probeURL
}

// stream makes a Kinesis stream of shards shards and answers its ARN.
func (e *esmEnv) stream(name string, shards int32) string {
	e.t.Helper()
	k := kinesisClient(e.moto)
	ctx := context.Background()
	if _, err := k.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(shards)}); err != nil {
		e.t.Fatal(err)
	}
	out, err := k.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
	if err != nil {
		e.t.Fatal(err)
	}
	return aws.ToString(out.StreamDescriptionSummary.StreamARN)
}

// put puts records of data (JSON) with partition key key; it answers
// their sequence numbers.
func (e *esmEnv) put(arn, key string, data ...string) []string {
	e.t.Helper()
	var seqs []string
	for _, d := range data {
		out, err := kinesisClient(e.moto).PutRecord(context.Background(), &kinesis.PutRecordInput{StreamARN: aws.String(arn), PartitionKey: aws.String(key), Data: []byte(d)})
		if err != nil {
			e.t.Fatal(err)
		}
		seqs = append(seqs, aws.ToString(out.SequenceNumber))
	}
	return seqs
}

// kinesisData is the decoded data of the records the probe got, in order.
func kinesisData(t testing.TB, evs []map[string]any) []string {
	t.Helper()
	var out []string
	for _, r := range records(evs) {
		b, err := base64.StdEncoding.DecodeString(r["kinesis"].(map[string]any)["data"].(string))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

// streamRecords reads the probe queue until n records arrived (or within
// passed), and answers their data in order.
func (e *esmEnv) streamRecords(probeURL string, n int, within time.Duration) []string {
	e.t.Helper()
	var out []string
	deadline := time.Now().Add(within)
	for len(out) < n && time.Now().Before(deadline) {
		out = append(out, kinesisData(e.t, e.events(probeURL, 1, time.Until(deadline)))...)
	}
	return out
}

func keysOf(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func numbered(prefix string, from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprintf(`{"n": "%s%d"}`, prefix, i))
	}
	return out
}

// A Kinesis mapping answers AWS's recorded shape with its defaults, and
// delivers a shard's records in order, in batches of BatchSize, each
// record with exactly AWS's keys.
func TestESMKinesisDeliversInOrder(t *testing.T) {
	e := newESMEnv(t, nil)
	probe := e.streamFunction("kin-order")
	arn := e.stream("kin-order-s", 1)
	seqs := e.put(arn, "pk", numbered("r", 1, 25)...)
	out := e.mapping(&lambda.CreateEventSourceMappingInput{FunctionName: aws.String("kin-order"), EventSourceArn: aws.String(arn),
		StartingPosition: ltypes.EventSourcePositionTrimHorizon, BatchSize: aws.Int32(10)})
	if aws.ToString(out.State) != "Creating" || aws.ToInt32(out.BatchSize) != 10 || aws.ToInt32(out.MaximumBatchingWindowInSeconds) != 0 ||
		aws.ToInt32(out.ParallelizationFactor) != 1 || aws.ToInt32(out.MaximumRetryAttempts) != -1 || aws.ToInt32(out.MaximumRecordAgeInSeconds) != -1 ||
		aws.ToBool(out.BisectBatchOnFunctionError) || aws.ToInt32(out.TumblingWindowInSeconds) != 0 || out.StartingPosition != ltypes.EventSourcePositionTrimHorizon ||
		out.DestinationConfig == nil || out.DestinationConfig.OnFailure == nil || out.DestinationConfig.OnFailure.Destination != nil ||
		aws.ToString(out.StateTransitionReason) != "User action" || aws.ToString(out.LastProcessingResult) != "No records processed" ||
		out.FunctionResponseTypes == nil || len(out.FunctionResponseTypes) != 0 || out.ScalingConfig != nil {
		t.Fatalf("create answered %+v", out)
	}
	evs := e.events(probe, 3, 30*time.Second)
	if got, want := kinesisData(t, evs), numbered("r", 1, 25); !reflect.DeepEqual(got, want) {
		t.Fatalf("records %v, want %v", got, want)
	}
	if len(evs) != 3 || len(evs[0]["Records"].([]any)) != 10 || len(evs[2]["Records"].([]any)) != 5 {
		t.Fatalf("batches of %d events, want 10+10+5", len(evs))
	}
	r := records(evs)[0]
	if got := keysOf(r); !reflect.DeepEqual(got, []string{"awsRegion", "eventID", "eventName", "eventSource", "eventSourceARN", "eventVersion", "invokeIdentityArn", "kinesis"}) {
		t.Fatalf("record keys %v", got)
	}
	k := r["kinesis"].(map[string]any)
	if got := keysOf(k); !reflect.DeepEqual(got, []string{"approximateArrivalTimestamp", "data", "kinesisSchemaVersion", "partitionKey", "sequenceNumber"}) {
		t.Fatalf("kinesis keys %v", got)
	}
	if r["eventSource"] != "aws:kinesis" || r["eventVersion"] != "1.0" || r["eventName"] != "aws:kinesis:record" || r["eventID"] != "shardId-000000000000:"+seqs[0] ||
		r["awsRegion"] != testkit.Region || r["eventSourceARN"] != arn || !strings.HasPrefix(r["invokeIdentityArn"].(string), "arn:aws:iam::") ||
		k["kinesisSchemaVersion"] != "1.0" || k["partitionKey"] != "pk" || k["sequenceNumber"] != seqs[0] {
		t.Fatalf("record %v", r)
	}
	if ts, ok := k["approximateArrivalTimestamp"].(float64); !ok || time.Since(time.UnixMilli(int64(ts*1000))) > time.Minute {
		t.Fatalf("approximateArrivalTimestamp %v", k["approximateArrivalTimestamp"])
	}
	got := e.waitState(*out.UUID, "Enabled")
	if aws.ToString(got.LastProcessingResult) != "OK" {
		t.Fatalf("LastProcessingResult %q", aws.ToString(got.LastProcessingResult))
	}
	// Nothing more comes: every batch was checkpointed once.
	if more := e.events(probe, 1, 2*time.Second); len(more) != 0 {
		t.Fatalf("redelivered %v", kinesisData(t, more))
	}
}

// LATEST skips what the stream held before the mapping; TRIM_HORIZON
// starts with it.
func TestESMKinesisStartingPosition(t *testing.T) {
	e := newESMEnv(t, nil)
	latest := e.streamFunction("kin-latest")
	horizon := e.streamFunction("kin-horizon")
	arn := e.stream("kin-pos-s", 1)
	e.put(arn, "pk", `"old"`)
	m1 := e.mapping(&lambda.CreateEventSourceMappingInput{FunctionName: aws.String("kin-latest"), EventSourceArn: aws.String(arn), StartingPosition: ltypes.EventSourcePositionLatest})
	m2 := e.mapping(&lambda.CreateEventSourceMappingInput{FunctionName: aws.String("kin-horizon"), EventSourceArn: aws.String(arn), StartingPosition: ltypes.EventSourcePositionTrimHorizon})
	e.waitState(*m1.UUID, "Enabled")
	e.waitState(*m2.UUID, "Enabled")
	time.Sleep(2 * time.Second) // the pollers have their LATEST iterators
	e.put(arn, "pk", `"new"`)
	if got := kinesisData(t, e.events(latest, 1, 20*time.Second)); !reflect.DeepEqual(got, []string{`"new"`}) {
		t.Fatalf("LATEST got %v", got)
	}
	if got := kinesisData(t, e.events(horizon, 2, 20*time.Second)); !reflect.DeepEqual(got, []string{`"old"`, `"new"`}) {
		t.Fatalf("TRIM_HORIZON got %v", got)
	}
}

// onFailure reads the one message of the on-failure queue.
func (e *esmEnv) onFailure(url string, within time.Duration) map[string]any {
	e.t.Helper()
	evs := e.events(url, 1, within)
	if len(evs) != 1 {
		e.t.Fatalf("%d on-failure records", len(evs))
	}
	return evs[0]
}

// A batch that keeps failing is retried MaximumRetryAttempts times, then
// its on-failure record (AWS's shape) goes to the SQS destination and the
// shard moves on.
func TestESMKinesisRetriesThenOnFailure(t *testing.T) {
	e := newESMEnv(t, nil)
	probe := e.streamFunction("kin-fail")
	dlq, dlqARN := e.queue("kin-fail-dlq", nil)
	arn := e.stream("kin-fail-s", 1)
	seqs := e.put(arn, "pk", `{"fail": "all"}`)
	m := e.mapping(&lambda.CreateEventSourceMappingInput{FunctionName: aws.String("kin-fail"), EventSourceArn: aws.String(arn),
		StartingPosition: ltypes.EventSourcePositionTrimHorizon, MaximumRetryAttempts: aws.Int32(2),
		DestinationConfig: &ltypes.DestinationConfig{OnFailure: &ltypes.OnFailure{Destination: aws.String(dlqARN)}}})
	if aws.ToString(m.DestinationConfig.OnFailure.Destination) != dlqARN || aws.ToInt32(m.MaximumRetryAttempts) != 2 {
		t.Fatalf("create answered %+v", m)
	}
	rec := e.onFailure(dlq, 30*time.Second)
	if got := keysOf(rec); !reflect.DeepEqual(got, []string{"KinesisBatchInfo", "requestContext", "responseContext", "timestamp", "version"}) {
		t.Fatalf("record keys %v", got)
	}
	rc := rec["requestContext"].(map[string]any)
	if rc["condition"] != "RetryAttemptsExhausted" || rc["approximateInvokeCount"] != 3.0 || rc["functionArn"] != "arn:aws:lambda:us-east-1:000000000000:function:kin-fail" || rc["requestId"] == "" {
		t.Fatalf("requestContext %v", rc)
	}
	if rs := rec["responseContext"].(map[string]any); rs["statusCode"] != 200.0 || rs["executedVersion"] != "$LATEST" || rs["functionError"] != "Unhandled" {
		t.Fatalf("responseContext %v", rs)
	}
	bi := rec["KinesisBatchInfo"].(map[string]any)
	if got := keysOf(bi); !reflect.DeepEqual(got, []string{"approximateArrivalOfFirstRecord", "approximateArrivalOfLastRecord", "batchSize", "endSequenceNumber", "shardId", "startSequenceNumber", "streamArn"}) {
		t.Fatalf("batch info keys %v", got)
	}
	if bi["shardId"] != "shardId-000000000000" || bi["startSequenceNumber"] != seqs[0] || bi["endSequenceNumber"] != seqs[0] || bi["batchSize"] != 1.0 || bi["streamArn"] != arn || rec["version"] != "1.0" {
		t.Fatalf("record %v", rec)
	}
	if _, err := time.Parse("2006-01-02T15:04:05.000Z", bi["approximateArrivalOfFirstRecord"].(string)); err != nil {
		t.Fatalf("approximateArrivalOfFirstRecord: %v", err)
	}
	if evs := e.events(probe, 3, 10*time.Second); len(evs) != 3 {
		t.Fatalf("%d invokes, want 3", len(evs))
	}
	// The shard moved on past the batch given up.
	e.put(arn, "pk", `"after"`)
	if got := kinesisData(t, e.events(probe, 1, 20*time.Second)); !reflect.DeepEqual(got, []string{`"after"`}) {
		t.Fatalf("after the failure: %v", got)
	}
}

// BisectBatchOnFunctionError splits a failing batch until the bad record
// is alone; only it goes to the on-failure destination.
func TestESMKinesisBisect(t *testing.T) {
	e := newESMEnv(t, nil)
	probe := e.streamFunction("kin-bisect")
	dlq, dlqARN := e.queue("kin-bisect-dlq", nil)
	arn := e.stream("kin-bisect-s", 1)
	seqs := e.put(arn, "pk", `"a"`, `"b"`, `{"fail": "all"}`, `"d"`)
	e.mapping(&lambda.CreateEventSourceMappingInput{FunctionName: aws.String("kin-bisect"), EventSourceArn: aws.String(arn),
		StartingPosition: ltypes.EventSourcePositionTrimHorizon, MaximumRetryAttempts: aws.Int32(0), BisectBatchOnFunctionError: aws.Bool(true),
		BatchSize: aws.Int32(4), MaximumBatchingWindowInSeconds: aws.Int32(1),
		DestinationConfig: &ltypes.DestinationConfig{OnFailure: &ltypes.OnFailure{Destination: aws.String(dlqARN)}}})
	bi := e.onFailure(dlq, 30*time.Second)["KinesisBatchInfo"].(map[string]any)
	if bi["startSequenceNumber"] != seqs[2] || bi["endSequenceNumber"] != seqs[2] || bi["batchSize"] != 1.0 {
		t.Fatalf("batch info %v", bi)
	}
	// [a b fail d] -> [a b] ok, [fail d] -> [fail] given up, [d] ok.
	var sizes []int
	for _, ev := range e.events(probe, 5, 10*time.Second) {
		sizes = append(sizes, len(ev["Records"].([]any)))
	}
	if !reflect.DeepEqual(sizes, []int{4, 2, 2, 1, 1}) {
		t.Fatalf("batch sizes %v", sizes)
	}
}

// ReportBatchItemFailures: the records before the first failed item are
// done; the retry starts at it, and what still fails is given up.
func TestESMKinesisReportBatchItemFailures(t *testing.T) {
	e := newESMEnv(t, nil)
	probe := e.streamFunction("kin-items")
	dlq, dlqARN := e.queue("kin-items-dlq", nil)
	arn := e.stream("kin-items-s", 1)
	seqs := e.put(arn, "pk", `"a"`, `"b"`, `{"fail": "item"}`, `"d"`)
	e.mapping(&lambda.CreateEventSourceMappingInput{FunctionName: aws.String("kin-items"), EventSourceArn: aws.String(arn),
		StartingPosition: ltypes.EventSourcePositionTrimHorizon, MaximumRetryAttempts: aws.Int32(1),
		FunctionResponseTypes: []ltypes.FunctionResponseType{ltypes.FunctionResponseTypeReportBatchItemFailures},
		BatchSize:             aws.Int32(4), MaximumBatchingWindowInSeconds: aws.Int32(1),
		DestinationConfig: &ltypes.DestinationConfig{OnFailure: &ltypes.OnFailure{Destination: aws.String(dlqARN)}}})
	rec := e.onFailure(dlq, 30*time.Second)
	bi := rec["KinesisBatchInfo"].(map[string]any)
	if bi["startSequenceNumber"] != seqs[2] || bi["endSequenceNumber"] != seqs[3] || bi["batchSize"] != 2.0 {
		t.Fatalf("batch info %v", bi)
	}
	if rs := rec["responseContext"].(map[string]any); rs["functionError"] != nil {
		t.Fatalf("responseContext %v", rs)
	}
	var got [][]string
	for _, ev := range e.events(probe, 2, 10*time.Second) {
		got = append(got, kinesisData(t, []map[string]any{ev}))
	}
	if !reflect.DeepEqual(got, [][]string{{`"a"`, `"b"`, `{"fail": "item"}`, `"d"`}, {`{"fail": "item"}`, `"d"`}}) {
		t.Fatalf("batches %v", got)
	}
}

// A restarted lambdad resumes each shard after its checkpoint: nothing
// is lost and nothing done is delivered again.
func TestESMKinesisRestartResumes(t *testing.T) {
	moto := testkit.Moto(t)
	dir := t.TempDir()
	tune := func(c *server.Config) { c.AWSEndpoint = moto }
	d := servertest.StartLambdad(t, dir, tune)
	e := &esmEnv{t: t, moto: moto, d: d, c: servertest.InvokeClient(d), sqs: sqsClient(moto)}
	probe := e.streamFunction("kin-restart")
	arn := e.stream("kin-restart-s", 2)
	e.mapping(&lambda.CreateEventSourceMappingInput{FunctionName: aws.String("kin-restart"), EventSourceArn: aws.String(arn), StartingPosition: ltypes.EventSourcePositionTrimHorizon})
	e.put(arn, "a", numbered("a", 1, 3)...)
	e.put(arn, "b", numbered("b", 1, 3)...)
	if got := e.streamRecords(probe, 6, 30*time.Second); len(got) != 6 {
		t.Fatalf("before restart: %v", got)
	}
	d.Stop()
	e.put(arn, "a", numbered("a", 4, 5)...)
	e.put(arn, "b", numbered("b", 4, 5)...)
	d = servertest.StartLambdad(t, dir, tune)
	e.d, e.c = d, servertest.InvokeClient(d)
	got := e.streamRecords(probe, 4, 30*time.Second)
	got = append(got, kinesisData(t, e.events(probe, 1, 2*time.Second))...)
	sort.Strings(got)
	if want := append(numbered("a", 4, 5), numbered("b", 4, 5)...); !reflect.DeepEqual(got, want) {
		t.Fatalf("after restart: %v, want %v", got, want)
	}
}

// A DynamoDB table's stream: INSERT, MODIFY and REMOVE records in order,
// with exactly AWS's keys.
func TestESMDynamoDBStream(t *testing.T) {
	e := newESMEnv(t, nil)
	ctx := context.Background()
	probe := e.streamFunction("ddb-stream")
	db := dynamoClient(e.moto)
	tbl, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String("ddb-t"), BillingMode: dtypes.BillingModePayPerRequest,
		AttributeDefinitions: []dtypes.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: dtypes.ScalarAttributeTypeS}},
		KeySchema:            []dtypes.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: dtypes.KeyTypeHash}},
		StreamSpecification:  &dtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: dtypes.StreamViewTypeNewAndOldImages}})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(tbl.TableDescription.LatestStreamArn)
	m := e.mapping(&lambda.CreateEventSourceMappingInput{FunctionName: aws.String("ddb-stream"), EventSourceArn: aws.String(arn),
		StartingPosition: ltypes.EventSourcePositionTrimHorizon, BatchSize: aws.Int32(1)})
	if aws.ToInt32(m.BatchSize) != 1 || aws.ToString(m.StateTransitionReason) != "User action" || aws.ToInt32(m.MaximumRetryAttempts) != -1 {
		t.Fatalf("create answered %+v", m)
	}
	item := map[string]dtypes.AttributeValue{"id": &dtypes.AttributeValueMemberS{Value: "k1"}, "v": &dtypes.AttributeValueMemberN{Value: "1"}}
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("ddb-t"), Item: item}); err != nil {
		t.Fatal(err)
	}
	item["v"] = &dtypes.AttributeValueMemberN{Value: "2"}
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("ddb-t"), Item: item}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String("ddb-t"), Key: map[string]dtypes.AttributeValue{"id": &dtypes.AttributeValueMemberS{Value: "k1"}}}); err != nil {
		t.Fatal(err)
	}
	recs := records(e.events(probe, 3, 30*time.Second))
	if len(recs) != 3 {
		t.Fatalf("%d records", len(recs))
	}
	var names []string
	for _, r := range recs {
		names = append(names, r["eventName"].(string))
		if got := keysOf(r); !reflect.DeepEqual(got, []string{"awsRegion", "dynamodb", "eventID", "eventName", "eventSource", "eventSourceARN", "eventVersion"}) {
			t.Fatalf("record keys %v", got)
		}
		if r["eventVersion"] != "1.1" || r["eventSource"] != "aws:dynamodb" || r["eventSourceARN"] != arn || r["awsRegion"] != testkit.Region {
			t.Fatalf("record %v", r)
		}
	}
	if !reflect.DeepEqual(names, []string{"INSERT", "MODIFY", "REMOVE"}) {
		t.Fatalf("events %v", names)
	}
	mod := recs[1]["dynamodb"].(map[string]any)
	if got := keysOf(mod); !reflect.DeepEqual(got, []string{"ApproximateCreationDateTime", "Keys", "NewImage", "OldImage", "SequenceNumber", "SizeBytes", "StreamViewType"}) {
		t.Fatalf("dynamodb keys %v", got)
	}
	b, _ := json.Marshal([]any{mod["Keys"], mod["NewImage"], mod["OldImage"], mod["StreamViewType"]})
	if string(b) != `[{"id":{"S":"k1"}},{"id":{"S":"k1"},"v":{"N":"2"}},{"id":{"S":"k1"},"v":{"N":"1"}},"NEW_AND_OLD_IMAGES"]` {
		t.Fatalf("MODIFY record %s", b)
	}
	if _, ok := recs[0]["dynamodb"].(map[string]any)["OldImage"]; ok {
		t.Fatalf("INSERT has an OldImage: %v", recs[0])
	}
}

// Bad stream mappings get AWS's errors, and nothing is created.
func TestESMStreamRefusals(t *testing.T) {
	e := newESMEnv(t, nil)
	ctx := context.Background()
	e.streamFunction("kin-refuse")
	arn := e.stream("kin-refuse-s", 1)
	missing := strings.Replace(arn, "kin-refuse-s", "nope", 1)
	ddbARN := "arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/2025-02-22T03:03:25.490"
	_, dlqARN := e.queue("kin-refuse-dlq", nil)
	base := func(mod func(*lambda.CreateEventSourceMappingInput)) *lambda.CreateEventSourceMappingInput {
		in := &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("kin-refuse"), EventSourceArn: aws.String(arn), StartingPosition: ltypes.EventSourcePositionLatest}
		mod(in)
		return in
	}
	cases := []struct {
		name, code, msg string
		in              *lambda.CreateEventSourceMappingInput
	}{
		{"no stream", "InvalidParameterValueException", "Stream not found: " + missing, base(func(in *lambda.CreateEventSourceMappingInput) { in.EventSourceArn = aws.String(missing) })},
		{"no function", "InvalidParameterValueException", "Function does not exist", base(func(in *lambda.CreateEventSourceMappingInput) { in.FunctionName = aws.String("nope") })},
		{"no position", "InvalidParameterValueException", "1 validation error detected: Value null at 'startingPosition' failed to satisfy constraint: Member must not be null.", base(func(in *lambda.CreateEventSourceMappingInput) { in.StartingPosition = "" })},
		// AWS's answer (LocalStack snapshot test_lambda_api:
		// TestLambdaEventSourceMappings.test_create_event_source_validation_kinesis).
		{"invalid position", "ValidationException", "1 validation error detected: Value 'invalid' at 'startingPosition' failed to satisfy constraint: Member must satisfy enum value set: [LATEST, AT_TIMESTAMP, TRIM_HORIZON]", base(func(in *lambda.CreateEventSourceMappingInput) { in.StartingPosition = "invalid" })},
		{"ddb at timestamp", "InvalidParameterValueException", "Unsupported starting position for arn type: " + ddbARN, base(func(in *lambda.CreateEventSourceMappingInput) {
			in.EventSourceArn, in.StartingPosition, in.StartingPositionTimestamp = aws.String(ddbARN), ltypes.EventSourcePositionAtTimestamp, aws.Time(time.Now())
		})},
		{"at timestamp without one", "InvalidParameterValueException", "", base(func(in *lambda.CreateEventSourceMappingInput) {
			in.StartingPosition = ltypes.EventSourcePositionAtTimestamp
		})},
		{"record age 30", "InvalidParameterValueException", "", base(func(in *lambda.CreateEventSourceMappingInput) { in.MaximumRecordAgeInSeconds = aws.Int32(30) })},
		{"lambda destination", "InvalidParameterValueException", "", base(func(in *lambda.CreateEventSourceMappingInput) {
			in.DestinationConfig = &ltypes.DestinationConfig{OnFailure: &ltypes.OnFailure{Destination: aws.String("arn:aws:lambda:us-east-1:000000000000:function:x")}}
		})},
		{"scaling config", "InvalidParameterValueException", "", base(func(in *lambda.CreateEventSourceMappingInput) {
			in.ScalingConfig = &ltypes.ScalingConfig{MaximumConcurrency: aws.Int32(5)}
		})},
	}
	for _, c := range cases {
		_, err := e.c.CreateEventSourceMapping(ctx, c.in)
		t.Log(c.name)
		if c.msg != "" {
			testkit.APIErr(t, err, c.code, 400, c.msg)
		} else {
			testkit.APIErrPrefix(t, err, c.code, 400, "")
		}
	}
	// The duplicate: AWS's words, 409.
	m := e.mapping(base(func(in *lambda.CreateEventSourceMappingInput) {
		in.DestinationConfig = &ltypes.DestinationConfig{OnFailure: &ltypes.OnFailure{Destination: aws.String(dlqARN)}}
	}))
	_, err := e.c.CreateEventSourceMapping(ctx, base(func(*lambda.CreateEventSourceMappingInput) {}))
	want := fmt.Sprintf(`The event source arn (" %s ") and function (" kin-refuse ") provided mapping already exists. Please update or delete the existing mapping with UUID %s`, arn, *m.UUID)
	testkit.APIErr(t, err, "ResourceConflictException", 409, want)
	// A bad update changes nothing.
	if _, err := e.c.UpdateEventSourceMapping(ctx, &lambda.UpdateEventSourceMappingInput{UUID: m.UUID, MaximumRecordAgeInSeconds: aws.Int32(10), BatchSize: aws.Int32(7)}); err == nil {
		t.Error("update with record age 10 accepted")
	}
	got, err := e.c.GetEventSourceMapping(ctx, &lambda.GetEventSourceMappingInput{UUID: m.UUID})
	if err != nil || aws.ToInt32(got.BatchSize) != 100 || aws.ToInt32(got.MaximumRecordAgeInSeconds) != -1 || aws.ToString(got.DestinationConfig.OnFailure.Destination) != dlqARN {
		t.Fatalf("after a refused update: %+v %v", got, err)
	}
	l, err := e.c.ListEventSourceMappings(ctx, &lambda.ListEventSourceMappingsInput{})
	if err != nil || len(l.EventSourceMappings) != 1 {
		t.Fatalf("list: %d mappings, %v", len(l.EventSourceMappings), err)
	}
}

// windowFn counts a window's records in its state, and sends every event
// to the probe queue.
const windowFn = `
import json, os, urllib.request, urllib.parse
def handler(event, context):
    data = urllib.parse.urlencode({"Action": "SendMessage", "QueueUrl": os.environ["PROBE"], "MessageBody": json.dumps(event)}).encode()
    urllib.request.urlopen(urllib.request.Request(os.environ["AWS_ENDPOINT_URL"], data=data, headers={
        "Content-Type": "application/x-www-form-urlencoded",
        "Authorization": "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0"})).read()
    state = event.get("state") or {}
    return {"state": {"count": state.get("count", 0) + len(event["Records"])}}
`

// Tumbling windows: the state the function answers comes back with the
// next batch of the window, and a final invoke (no records,
// isFinalInvokeForWindow) closes each window with its whole state.
func TestESMKinesisTumblingWindow(t *testing.T) {
	e := newESMEnv(t, nil)
	probe, _ := e.queue("kin-window-probe", nil)
	in := testkit.PyFunction(t, "kin-window", windowFn)
	in.Environment = &ltypes.Environment{Variables: map[string]string{"PROBE": probe}}
	testkit.CreateActive(t, e.c, in)
	arn := e.stream("kin-window-s", 1)
	e.put(arn, "pk", `"a"`, `"b"`)
	e.mapping(&lambda.CreateEventSourceMappingInput{FunctionName: aws.String("kin-window"), EventSourceArn: aws.String(arn),
		StartingPosition: ltypes.EventSourcePositionTrimHorizon, TumblingWindowInSeconds: aws.Int32(2), BatchSize: aws.Int32(1)})
	var finals, records int
	counted := 0.0 // the final states' counts
	deadline := time.Now().Add(30 * time.Second)
	for counted < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d final invokes, %d records", finals, records)
		}
		for _, ev := range e.events(probe, 1, 5*time.Second) {
			if got := keysOf(ev); !reflect.DeepEqual(got, []string{"Records", "eventSourceARN", "isFinalInvokeForWindow", "isWindowTerminatedEarly", "shardId", "state", "window"}) {
				t.Fatalf("event keys %v", got)
			}
			w := ev["window"].(map[string]any)
			start, err1 := time.Parse(time.RFC3339, w["start"].(string))
			end, err2 := time.Parse(time.RFC3339, w["end"].(string))
			if err1 != nil || err2 != nil || end.Sub(start) != 2*time.Second || ev["shardId"] != "shardId-000000000000" || ev["eventSourceARN"] != arn {
				t.Fatalf("event %v", ev)
			}
			n := len(ev["Records"].([]any))
			records += n
			if ev["isFinalInvokeForWindow"] == true {
				finals++
				c, ok := ev["state"].(map[string]any)["count"].(float64)
				if n != 0 || !ok {
					t.Fatalf("final invoke %v", ev)
				}
				counted += c
			}
		}
	}
	// Every record was counted once in its window's state, carried from
	// invoke to invoke (batches of one).
	if records != 2 || counted != 2 {
		t.Fatalf("%d records", records)
	}
}

// A stream whose shard was split keeps its key's records in order and
// loses none. (moto_server 5.2 still routes records put after a split to
// the closed parent, and never ends it: this does not show the children
// waiting for their parent, only that a split breaks nothing.)
func TestESMKinesisShardSplit(t *testing.T) {
	e := newESMEnv(t, nil)
	ctx := context.Background()
	probe := e.streamFunction("kin-split")
	arn := e.stream("kin-split-s", 1)
	e.put(arn, "k", numbered("p", 1, 5)...)
	k := kinesisClient(e.moto)
	if _, err := k.SplitShard(ctx, &kinesis.SplitShardInput{StreamARN: aws.String(arn), ShardToSplit: aws.String("shardId-000000000000"),
		NewStartingHashKey: aws.String("170141183460469231731687303715884105728")}); err != nil {
		t.Fatal(err)
	}
	e.put(arn, "k", numbered("c", 1, 5)...)
	e.mapping(&lambda.CreateEventSourceMappingInput{FunctionName: aws.String("kin-split"), EventSourceArn: aws.String(arn),
		StartingPosition: ltypes.EventSourcePositionTrimHorizon, BatchSize: aws.Int32(2)})
	got := e.streamRecords(probe, 10, 30*time.Second)
	if want := append(numbered("p", 1, 5), numbered("c", 1, 5)...); !reflect.DeepEqual(got, want) {
		t.Fatalf("records %v, want %v", got, want)
	}
}

// parFn takes a second per batch, then sends the batch's records with
// when it started and ended to the probe queue.
const parFn = `
import json, os, time, base64, urllib.request, urllib.parse
def handler(event, context):
    start = time.time()
    time.sleep(1)
    body = json.dumps({"start": start, "end": time.time(), "keys": [r["kinesis"]["partitionKey"] for r in event["Records"]],
        "data": [base64.b64decode(r["kinesis"]["data"]).decode() for r in event["Records"]]})
    data = urllib.parse.urlencode({"Action": "SendMessage", "QueueUrl": os.environ["PROBE"], "MessageBody": body}).encode()
    urllib.request.urlopen(urllib.request.Request(os.environ["AWS_ENDPOINT_URL"], data=data, headers={
        "Content-Type": "application/x-www-form-urlencoded",
        "Authorization": "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0"})).read()
`

// ParallelizationFactor runs several batches of one shard at once, each
// partition key's records in one of them, in order.
func TestESMKinesisParallelization(t *testing.T) {
	e := newESMEnv(t, nil)
	probe, _ := e.queue("kin-par-probe", nil)
	in := testkit.PyFunction(t, "kin-par", parFn)
	in.Environment = &ltypes.Environment{Variables: map[string]string{"PROBE": probe}}
	in.Timeout = aws.Int32(30)
	testkit.CreateActive(t, e.c, in)
	arn := e.stream("kin-par-s", 1)
	for i := range 3 {
		for _, k := range []string{"k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"} {
			e.put(arn, k, fmt.Sprintf("%s-%d", k, i))
		}
	}
	m := e.mapping(&lambda.CreateEventSourceMappingInput{FunctionName: aws.String("kin-par"), EventSourceArn: aws.String(arn),
		StartingPosition: ltypes.EventSourcePositionTrimHorizon, ParallelizationFactor: aws.Int32(4), BatchSize: aws.Int32(24)})
	if aws.ToInt32(m.ParallelizationFactor) != 4 {
		t.Fatalf("create answered %+v", m)
	}
	type batch struct {
		Start, End float64
		Keys, Data []string
	}
	var got []batch
	n := 0
	for _, ev := range e.events(probe, 4, 30*time.Second) {
		var b batch
		raw, _ := json.Marshal(ev)
		_ = json.Unmarshal(raw, &b)
		got = append(got, b)
		n += len(b.Data)
	}
	for n < 24 {
		more := e.events(probe, 1, 10*time.Second)
		if len(more) == 0 {
			t.Fatalf("%d of 24 records: %v", n, got)
		}
		for _, ev := range more {
			var b batch
			raw, _ := json.Marshal(ev)
			_ = json.Unmarshal(raw, &b)
			got = append(got, b)
			n += len(b.Data)
		}
	}
	// Each key's records in order, in one batch.
	where := map[string]int{}
	next := map[string]int{}
	overlap := false
	for i, b := range got {
		for j, k := range b.Keys {
			if w, ok := where[k]; ok && w != i {
				t.Fatalf("key %s in batches %d and %d: %v", k, w, i, got)
			}
			where[k] = i
			if want := fmt.Sprintf("%s-%d", k, next[k]); b.Data[j] != want {
				t.Fatalf("batch %d has %s where %s was next", i, b.Data[j], want)
			}
			next[k]++
		}
		for _, o := range got[:i] {
			if o.Start < b.End && b.Start < o.End {
				overlap = true
			}
		}
	}
	if len(got) < 2 || !overlap {
		t.Fatalf("%d batches, none at once: %v", len(got), got)
	}
}

// A DynamoDB stream batch out of retries: its on-failure record has
// DDBStreamBatchInfo (its timestamps without milliseconds, as AWS
// records them), and the SQS destination gets it.
func TestESMDynamoDBOnFailure(t *testing.T) {
	e := newESMEnv(t, nil)
	ctx := context.Background()
	e.streamFunction("ddb-fail")
	dlq, dlqARN := e.queue("ddb-fail-dlq", nil)
	db := dynamoClient(e.moto)
	tbl, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String("ddb-f"), BillingMode: dtypes.BillingModePayPerRequest,
		AttributeDefinitions: []dtypes.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: dtypes.ScalarAttributeTypeS}},
		KeySchema:            []dtypes.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: dtypes.KeyTypeHash}},
		StreamSpecification:  &dtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: dtypes.StreamViewTypeNewImage}})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(tbl.TableDescription.LatestStreamArn)
	e.mapping(&lambda.CreateEventSourceMappingInput{FunctionName: aws.String("ddb-fail"), EventSourceArn: aws.String(arn),
		StartingPosition: ltypes.EventSourcePositionTrimHorizon, MaximumRetryAttempts: aws.Int32(1),
		DestinationConfig: &ltypes.DestinationConfig{OnFailure: &ltypes.OnFailure{Destination: aws.String(dlqARN)}}})
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("ddb-f"), Item: map[string]dtypes.AttributeValue{
		"id": &dtypes.AttributeValueMemberS{Value: "x"}, "fail": &dtypes.AttributeValueMemberBOOL{Value: true}}}); err != nil {
		t.Fatal(err)
	}
	rec := e.onFailure(dlq, 30*time.Second)
	if got := keysOf(rec); !reflect.DeepEqual(got, []string{"DDBStreamBatchInfo", "requestContext", "responseContext", "timestamp", "version"}) {
		t.Fatalf("record keys %v", got)
	}
	bi := rec["DDBStreamBatchInfo"].(map[string]any)
	if bi["batchSize"] != 1.0 || bi["streamArn"] != arn || bi["startSequenceNumber"] != bi["endSequenceNumber"] || bi["shardId"] == "" {
		t.Fatalf("batch info %v", bi)
	}
	if _, err := time.Parse("2006-01-02T15:04:05Z", bi["approximateArrivalOfFirstRecord"].(string)); err != nil {
		t.Fatalf("approximateArrivalOfFirstRecord: %v", err)
	}
	if rc := rec["requestContext"].(map[string]any); rc["condition"] != "RetryAttemptsExhausted" || rc["approximateInvokeCount"] != 2.0 {
		t.Fatalf("requestContext %v", rc)
	}
}

// slowFn sends each event to the probe queue as it starts, then takes
// two seconds.
const slowFn = `
import json, os, time, urllib.request, urllib.parse
def handler(event, context):
    data = urllib.parse.urlencode({"Action": "SendMessage", "QueueUrl": os.environ["PROBE"], "MessageBody": json.dumps(event)}).encode()
    urllib.request.urlopen(urllib.request.Request(os.environ["AWS_ENDPOINT_URL"], data=data, headers={
        "Content-Type": "application/x-www-form-urlencoded",
        "Authorization": "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0"})).read()
    time.sleep(2)
`

// A mapping updated while a batch runs: the new poller waits for the
// batch to end and resumes after it; the batch is not delivered twice.
func TestESMKinesisUpdateMidBatch(t *testing.T) {
	e := newESMEnv(t, nil)
	probe, _ := e.queue("kin-upd-probe", nil)
	in := testkit.PyFunction(t, "kin-upd", slowFn)
	in.Environment = &ltypes.Environment{Variables: map[string]string{"PROBE": probe}}
	in.Timeout = aws.Int32(30)
	testkit.CreateActive(t, e.c, in)
	arn := e.stream("kin-upd-s", 1)
	e.put(arn, "pk", `"a"`, `"b"`)
	m := e.mapping(&lambda.CreateEventSourceMappingInput{FunctionName: aws.String("kin-upd"), EventSourceArn: aws.String(arn), StartingPosition: ltypes.EventSourcePositionTrimHorizon})
	if got := kinesisData(t, e.events(probe, 1, 20*time.Second)); len(got) != 2 {
		t.Fatalf("first batch %v", got)
	}
	if _, err := e.c.UpdateEventSourceMapping(context.Background(), &lambda.UpdateEventSourceMappingInput{UUID: m.UUID, BatchSize: aws.Int32(50)}); err != nil {
		t.Fatal(err)
	}
	e.put(arn, "pk", `"c"`)
	got := kinesisData(t, e.events(probe, 2, 8*time.Second))
	if !reflect.DeepEqual(got, []string{`"c"`}) {
		t.Fatalf("after the update: %v", got)
	}
}

// A Node function gets a DynamoDB stream's records, and a batching
// window gathers changes made apart into one batch.
func TestESMDynamoDBNodeWindow(t *testing.T) {
	e := newESMEnv(t, nil)
	ctx := context.Background()
	probe, _ := e.queue("ddb-node-probe", nil)
	in := testkit.NodeFunction(t, "ddb-node", "index.mjs", "index.handler", nodeProbeFn)
	in.Environment = &ltypes.Environment{Variables: map[string]string{"PROBE": probe}}
	testkit.CreateActive(t, e.c, in)
	db := dynamoClient(e.moto)
	tbl, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String("ddb-n"), BillingMode: dtypes.BillingModePayPerRequest,
		AttributeDefinitions: []dtypes.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: dtypes.ScalarAttributeTypeS}},
		KeySchema:            []dtypes.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: dtypes.KeyTypeHash}},
		StreamSpecification:  &dtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: dtypes.StreamViewTypeKeysOnly}})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(tbl.TableDescription.LatestStreamArn)
	m := e.mapping(&lambda.CreateEventSourceMappingInput{FunctionName: aws.String("ddb-node"), EventSourceArn: aws.String(arn),
		StartingPosition: ltypes.EventSourcePositionLatest, MaximumBatchingWindowInSeconds: aws.Int32(2)})
	e.waitState(*m.UUID, "Enabled")
	time.Sleep(time.Second) // the poller has its LATEST iterator
	for _, id := range []string{"a", "b", "c"} {
		if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("ddb-n"), Item: map[string]dtypes.AttributeValue{"id": &dtypes.AttributeValueMemberS{Value: id}}}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
	}
	evs := e.events(probe, 1, 20*time.Second)
	evs = append(evs, e.events(probe, 1, 3*time.Second)...)
	if len(evs) != 1 {
		t.Fatalf("%d batches, want the window's one", len(evs))
	}
	var ids []string
	for _, r := range records(evs) {
		d := r["dynamodb"].(map[string]any)
		if _, ok := d["NewImage"]; ok || d["StreamViewType"] != "KEYS_ONLY" {
			t.Fatalf("KEYS_ONLY record %v", d)
		}
		ids = append(ids, d["Keys"].(map[string]any)["id"].(map[string]any)["S"].(string))
	}
	if !reflect.DeepEqual(ids, []string{"a", "b", "c"}) {
		t.Fatalf("keys %v", ids)
	}
}

// AT_TIMESTAMP starts with the first record put at or after the time.
func TestESMKinesisAtTimestamp(t *testing.T) {
	e := newESMEnv(t, nil)
	probe := e.streamFunction("kin-at")
	arn := e.stream("kin-at-s", 1)
	e.put(arn, "pk", `"before"`)
	time.Sleep(1500 * time.Millisecond)
	at := time.Now()
	time.Sleep(500 * time.Millisecond)
	e.put(arn, "pk", `"after"`)
	m := e.mapping(&lambda.CreateEventSourceMappingInput{FunctionName: aws.String("kin-at"), EventSourceArn: aws.String(arn),
		StartingPosition: ltypes.EventSourcePositionAtTimestamp, StartingPositionTimestamp: aws.Time(at)})
	if m.StartingPosition != ltypes.EventSourcePositionAtTimestamp || m.StartingPositionTimestamp == nil || m.StartingPositionTimestamp.Unix() != at.Unix() {
		t.Fatalf("create answered %+v", m)
	}
	got := e.streamRecords(probe, 1, 20*time.Second)
	got = append(got, kinesisData(t, e.events(probe, 1, 2*time.Second))...)
	if !reflect.DeepEqual(got, []string{`"after"`}) {
		t.Fatalf("records %v", got)
	}
}

// A stream that goes away is reported in LastProcessingResult, without a
// panic; the mapping stays, and can be deleted.
func TestESMKinesisStreamGone(t *testing.T) {
	e := newESMEnv(t, nil)
	ctx := context.Background()
	e.streamFunction("kin-gone")
	arn := e.stream("kin-gone-s", 1)
	m := e.mapping(&lambda.CreateEventSourceMappingInput{FunctionName: aws.String("kin-gone"), EventSourceArn: aws.String(arn), StartingPosition: ltypes.EventSourcePositionLatest})
	e.waitState(*m.UUID, "Enabled")
	if _, err := kinesisClient(e.moto).DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamARN: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 20*time.Second, "the problem reported", func() bool {
		got, err := e.c.GetEventSourceMapping(ctx, &lambda.GetEventSourceMappingInput{UUID: m.UUID})
		return err == nil && strings.HasPrefix(aws.ToString(got.LastProcessingResult), "PROBLEM: Event source could not be read: ResourceNotFoundException")
	})
	if _, err := e.c.DeleteEventSourceMapping(ctx, &lambda.DeleteEventSourceMappingInput{UUID: m.UUID}); err != nil {
		t.Fatal(err)
	}
}

// FilterCriteria on a Kinesis mapping sees the data decoded from JSON;
// records that do not match are skipped (and checkpointed past).
func TestESMKinesisFilter(t *testing.T) {
	e := newESMEnv(t, nil)
	probe := e.streamFunction("kin-filter")
	arn := e.stream("kin-filter-s", 1)
	e.put(arn, "pk", `{"kind": "keep", "n": 1}`, `{"kind": "drop", "n": 2}`, `not json`, `{"kind": "keep", "n": 3}`)
	e.mapping(&lambda.CreateEventSourceMappingInput{FunctionName: aws.String("kin-filter"), EventSourceArn: aws.String(arn),
		StartingPosition: ltypes.EventSourcePositionTrimHorizon,
		FilterCriteria:   &ltypes.FilterCriteria{Filters: []ltypes.Filter{{Pattern: aws.String(`{"data": {"kind": ["keep"]}}`)}}}})
	got := e.streamRecords(probe, 2, 20*time.Second)
	got = append(got, kinesisData(t, e.events(probe, 1, 2*time.Second))...)
	if !reflect.DeepEqual(got, []string{`{"kind": "keep", "n": 1}`, `{"kind": "keep", "n": 3}`}) {
		t.Fatalf("records %v", got)
	}
}
