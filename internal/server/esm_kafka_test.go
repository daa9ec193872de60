package server_test

import (
	"context"
	"encoding/base64"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/lambdad/lambdad/internal/server"
	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// kafkaProbeFn sends every event to the probe queue; it fails the first
// time it sees a record whose value is "fail" (per environment).
const kafkaProbeFn = `
import json, os, urllib.request, urllib.parse, base64
seen = set()
def send(body):
    data = urllib.parse.urlencode({"Action": "SendMessage", "QueueUrl": os.environ["PROBE"], "MessageBody": body}).encode()
    req = urllib.request.Request(os.environ["AWS_ENDPOINT_URL"], data=data, headers={
        "Content-Type": "application/x-www-form-urlencoded",
        "Authorization": "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0"})
    urllib.request.urlopen(req).read()
def handler(event, context):
    send(json.dumps(event))
    for recs in event["records"].values():
        for r in recs:
            v = base64.b64decode(r["value"]).decode()
            key = (r["partition"], r["offset"])
            if v == "fail" and key not in seen:
                seen.add(key)
                raise Exception("asked to fail")
    return None
`

func kafkaCluster(t testing.TB, partitions int32, topics ...string) (*kfake.Cluster, *kgo.Client) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, topics...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return c, cl
}

func produce(t testing.TB, cl *kgo.Client, rs ...*kgo.Record) {
	t.Helper()
	if err := cl.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// kafkaValues are the decoded values of the events' records, in order.
func kafkaValues(t *testing.T, evs []map[string]any) []string {
	var out []string
	for _, ev := range evs {
		recs := ev["records"].(map[string]any)
		for _, k := range sortedMapKeys(recs) {
			for _, r := range recs[k].([]any) {
				v, err := base64.StdEncoding.DecodeString(r.(map[string]any)["value"].(string))
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, string(v))
			}
		}
	}
	return out
}

func sortedMapKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// groups are the consumer groups the cluster knows, with their member
// counts.
func groups(t *testing.T, cl *kgo.Client) map[string]int {
	t.Helper()
	ctx := context.Background()
	lr, err := kmsg.NewPtrListGroupsRequest().RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	dr := kmsg.NewPtrDescribeGroupsRequest()
	for _, g := range lr.Groups {
		dr.Groups = append(dr.Groups, g.Group)
	}
	d, err := dr.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range d.Groups {
		out[g.Group] = len(g.Members)
	}
	return out
}

// committed is the group's committed offset of topic's partition 0 (-1
// for none).
func committed(t testing.TB, cl *kgo.Client, group, topic string) int64 {
	t.Helper()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = group
	tp := kmsg.NewOffsetFetchRequestTopic()
	tp.Topic, tp.Partitions = topic, []int32{0}
	req.Topics = append(req.Topics, tp)
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range resp.Topics {
		for _, p := range tr.Partitions {
			return p.Offset
		}
	}
	return -1
}

// A self-managed Kafka mapping, end to end: AWS's event shape, the
// consumer group named by ConsumerGroupId, a failed batch seen again and
// committed only after success, disable stops and leaves the group,
// enable resumes, and a restart of lambdad resumes from the committed
// offset with nothing lost or repeated.
func TestESMKafka(t *testing.T) {
	moto := testkit.Moto(t)
	dir := t.TempDir()
	tune := func(c *server.Config) { c.AWSEndpoint = moto }
	d := servertest.StartLambdad(t, dir, tune)
	e := &esmEnv{t: t, moto: moto, d: d, c: servertest.InvokeClient(d), sqs: sqsClient(moto)}
	ctx := context.Background()
	kc, cl := kafkaCluster(t, 2, "orders")
	brokers := kc.ListenAddrs()

	probe, _ := e.queue("esm-kafka-probe", nil)
	fn := testkit.PyFunction(t, "esm-kafka", kafkaProbeFn)
	fn.Environment = &ltypes.Environment{Variables: map[string]string{"PROBE": probe}}
	fn.Timeout = aws.Int32(30)
	testkit.CreateActive(t, e.c, fn)

	// Records before the mapping: TRIM_HORIZON reads them.
	ts := time.UnixMilli(1545084650987)
	produce(t, cl,
		&kgo.Record{Topic: "orders", Partition: 0, Key: []byte("k1"), Value: []byte("one"), Timestamp: ts,
			Headers: []kgo.RecordHeader{{Key: "headerKey", Value: []byte("headerValue")}, {Key: "bin", Value: []byte{0, 200, 255}}}},
		&kgo.Record{Topic: "orders", Partition: 0, Value: []byte("two"), Timestamp: ts},
		&kgo.Record{Topic: "orders", Partition: 1, Key: []byte("k3"), Value: []byte("three"), Timestamp: ts},
	)
	out := e.mapping(&lambda.CreateEventSourceMappingInput{
		FunctionName:                      aws.String("esm-kafka"),
		SelfManagedEventSource:            &ltypes.SelfManagedEventSource{Endpoints: map[string][]string{"KAFKA_BOOTSTRAP_SERVERS": brokers}},
		Topics:                            []string{"orders"},
		StartingPosition:                  ltypes.EventSourcePositionTrimHorizon,
		SelfManagedKafkaEventSourceConfig: &ltypes.SelfManagedKafkaEventSourceConfig{ConsumerGroupId: aws.String("orders-lambda")},
		MaximumBatchingWindowInSeconds:    aws.Int32(1),
	})
	if aws.ToString(out.State) != "Creating" || aws.ToInt32(out.BatchSize) != 100 || out.EventSourceArn != nil ||
		!reflect.DeepEqual(out.Topics, []string{"orders"}) || out.StartingPosition != ltypes.EventSourcePositionTrimHorizon ||
		out.SelfManagedEventSource == nil || !reflect.DeepEqual(out.SelfManagedEventSource.Endpoints["KAFKA_BOOTSTRAP_SERVERS"], brokers) ||
		out.SelfManagedKafkaEventSourceConfig == nil || aws.ToString(out.SelfManagedKafkaEventSourceConfig.ConsumerGroupId) != "orders-lambda" {
		t.Fatalf("create answered %+v", out)
	}
	uuid := aws.ToString(out.UUID)
	e.waitState(uuid, "Enabled")

	// The two partitions usually come in one event; a busy machine may
	// fetch them apart (AWS promises no grouping across partitions), so
	// events are read until both have come.
	recs := map[string]any{}
	for len(recs) < 2 {
		evs := e.events(probe, 1, 30*time.Second)
		if len(evs) == 0 {
			t.Fatalf("no event (record groups so far: %v)", sortedMapKeys(recs))
		}
		for _, ev := range evs {
			if ev["eventSource"] != "SelfManagedKafka" || ev["bootstrapServers"] != strings.Join(brokers, ",") {
				t.Fatalf("event: %v", ev)
			}
			if _, ok := ev["eventSourceArn"]; ok {
				t.Fatalf("self-managed event has an eventSourceArn: %v", ev)
			}
			if len(ev) != 3 {
				t.Fatalf("event keys: %v", sortedMapKeys(ev))
			}
			for k, v := range ev["records"].(map[string]any) {
				if _, dup := recs[k]; dup {
					t.Fatalf("records of %s came twice", k)
				}
				recs[k] = v
			}
		}
	}
	if !reflect.DeepEqual(sortedMapKeys(recs), []string{"orders-0", "orders-1"}) {
		t.Fatalf("record groups: %v", sortedMapKeys(recs))
	}
	p0 := recs["orders-0"].([]any)
	want := map[string]any{
		"topic": "orders", "partition": float64(0), "offset": float64(0), "timestamp": float64(1545084650987),
		"timestampType": "CREATE_TIME", "key": base64.StdEncoding.EncodeToString([]byte("k1")),
		"value": base64.StdEncoding.EncodeToString([]byte("one")),
		"headers": []any{
			map[string]any{"headerKey": []any{104.0, 101.0, 97.0, 100.0, 101.0, 114.0, 86.0, 97.0, 108.0, 117.0, 101.0}},
			map[string]any{"bin": []any{0.0, 200.0, 255.0}},
		},
	}
	if len(p0) != 2 || !reflect.DeepEqual(p0[0], want) {
		t.Fatalf("orders-0: %v", p0)
	}
	second := p0[1].(map[string]any)
	if _, ok := second["key"]; ok || second["offset"] != float64(1) || !reflect.DeepEqual(second["headers"], []any{}) {
		t.Fatalf("keyless record: %v", second)
	}
	testkit.Eventually(t, 10*time.Second, "offset committed", func() bool { return committed(t, cl, "orders-lambda", "orders") == 2 })
	if g := groups(t, cl); g["orders-lambda"] != 1 {
		t.Fatalf("groups: %v", g)
	}

	// A failing batch comes again; its offset is committed only after.
	produce(t, cl, &kgo.Record{Topic: "orders", Partition: 0, Value: []byte("fail")})
	if v := kafkaValues(t, e.events(probe, 2, 30*time.Second)); !reflect.DeepEqual(v, []string{"fail", "fail"}) {
		t.Fatalf("failing record seen: %v", v)
	}
	testkit.Eventually(t, 10*time.Second, "offset committed after success", func() bool { return committed(t, cl, "orders-lambda", "orders") == 3 })

	// Disabled: nothing delivered, the group has no member; enabled: it
	// comes.
	if _, err := e.c.UpdateEventSourceMapping(ctx, &lambda.UpdateEventSourceMappingInput{UUID: aws.String(uuid), Enabled: aws.Bool(false)}); err != nil {
		t.Fatal(err)
	}
	e.waitState(uuid, "Disabled")
	testkit.Eventually(t, 10*time.Second, "group left", func() bool { return groups(t, cl)["orders-lambda"] == 0 })
	produce(t, cl, &kgo.Record{Topic: "orders", Partition: 0, Value: []byte("while-disabled")})
	if evs := e.events(probe, 1, 3*time.Second); len(evs) != 0 {
		t.Fatalf("disabled mapping delivered %v", kafkaValues(t, evs))
	}
	if _, err := e.c.UpdateEventSourceMapping(ctx, &lambda.UpdateEventSourceMappingInput{UUID: aws.String(uuid), Enabled: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	if v := kafkaValues(t, e.events(probe, 1, 30*time.Second)); !reflect.DeepEqual(v, []string{"while-disabled"}) {
		t.Fatalf("after enable: %v", v)
	}

	// Restart: the record produced while lambdad is down comes, alone.
	testkit.Eventually(t, 10*time.Second, "offset committed", func() bool { return committed(t, cl, "orders-lambda", "orders") == 4 })
	d.Stop()
	produce(t, cl, &kgo.Record{Topic: "orders", Partition: 1, Value: []byte("while-down")})
	d = servertest.StartLambdad(t, dir, tune)
	e.d, e.c = d, servertest.InvokeClient(d)
	if v := kafkaValues(t, e.events(probe, 1, 40*time.Second)); !reflect.DeepEqual(v, []string{"while-down"}) {
		t.Fatalf("after restart: %v", v)
	}
	if evs := e.events(probe, 1, 2*time.Second); len(evs) != 0 {
		t.Fatalf("redelivered after restart: %v", kafkaValues(t, evs))
	}

	// Deleted: the consumer leaves the group.
	if _, err := e.c.DeleteEventSourceMapping(ctx, &lambda.DeleteEventSourceMappingInput{UUID: aws.String(uuid)}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "group left on delete", func() bool { return groups(t, cl)["orders-lambda"] == 0 })
}

// Without ConsumerGroupId the group is the mapping's UUID; BatchSize
// bounds a batch; refusals answer AWS's errors and create nothing.
func TestESMKafkaGroupBatchRefusals(t *testing.T) {
	e := newESMEnv(t, nil)
	ctx := context.Background()
	kc, cl := kafkaCluster(t, 1, "events")
	brokers := kc.ListenAddrs()
	probe, _ := e.queue("esm-kafka2-probe", nil)
	fn := testkit.PyFunction(t, "esm-kafka2", kafkaProbeFn)
	fn.Environment = &ltypes.Environment{Variables: map[string]string{"PROBE": probe}}
	testkit.CreateActive(t, e.c, fn)
	var rs []*kgo.Record
	for i := range 7 {
		rs = append(rs, &kgo.Record{Topic: "events", Value: []byte{'a' + byte(i)}})
	}
	produce(t, cl, rs...)

	base := func() *lambda.CreateEventSourceMappingInput {
		return &lambda.CreateEventSourceMappingInput{
			FunctionName:           aws.String("esm-kafka2"),
			SelfManagedEventSource: &ltypes.SelfManagedEventSource{Endpoints: map[string][]string{"KAFKA_BOOTSTRAP_SERVERS": brokers}},
			Topics:                 []string{"events"},
			StartingPosition:       ltypes.EventSourcePositionTrimHorizon,
		}
	}
	const ipv = "InvalidParameterValueException"
	cases := []struct {
		name   string
		mod    func(*lambda.CreateEventSourceMappingInput)
		code   string
		status int
		msg    string
	}{
		{"no topics", func(in *lambda.CreateEventSourceMappingInput) { in.Topics = nil }, ipv, 400, "Topics must be specified for Kafka event sources."},
		{"two topics", func(in *lambda.CreateEventSourceMappingInput) { in.Topics = []string{"ab", "cd"} }, "ValidationException", 400,
			"1 validation error detected: Value '[ab, cd]' at 'topics' failed to satisfy constraint: Member must have length less than or equal to 1"},
		{"batch size", func(in *lambda.CreateEventSourceMappingInput) { in.BatchSize = aws.Int32(10001) }, "ValidationException", 400,
			"1 validation error detected: Value '10001' at 'batchSize' failed to satisfy constraint: Member must have value less than or equal to 10000"},
		{"two authentications", func(in *lambda.CreateEventSourceMappingInput) {
			in.SourceAccessConfigurations = []ltypes.SourceAccessConfiguration{
				{Type: ltypes.SourceAccessTypeSaslScram512Auth, URI: aws.String("arn:aws:secretsmanager:us-east-1:000000000000:secret:s")},
				{Type: ltypes.SourceAccessTypeBasicAuth, URI: aws.String("arn:aws:secretsmanager:us-east-1:000000000000:secret:t")}}
		}, ipv, 400, "Only one authentication method can be specified for Kafka event sources, found SASL_SCRAM_512_AUTH and BASIC_AUTH."},
		{"secret not an ARN", func(in *lambda.CreateEventSourceMappingInput) {
			in.SourceAccessConfigurations = []ltypes.SourceAccessConfiguration{{Type: ltypes.SourceAccessTypeSaslScram512Auth, URI: aws.String("s")}}
		}, ipv, 400, "The URI of SASL_SCRAM_512_AUTH must be the ARN of a Secrets Manager secret, got s."},
		{"msk cluster moto does not know", func(in *lambda.CreateEventSourceMappingInput) {
			in.SelfManagedEventSource = nil
			in.EventSourceArn = aws.String("arn:aws:kafka:us-east-1:000000000000:cluster/c/abc")
		}, ipv, 400, "The Amazon MSK cluster arn:aws:kafka:us-east-1:000000000000:cluster/c/abc does not exist."},
		{"queues", func(in *lambda.CreateEventSourceMappingInput) { in.Queues = []string{"q"} }, ipv, 400, "Unsupported Queues parameter for given event source mapping type."},
		{"retries without provisioned mode", func(in *lambda.CreateEventSourceMappingInput) { in.MaximumRetryAttempts = aws.Int32(1) }, ipv, 400,
			"MaximumRetryAttempts is only supported for Kafka event source mappings in provisioned mode. Set ProvisionedPollerConfig."},
		{"parallelization", func(in *lambda.CreateEventSourceMappingInput) { in.ParallelizationFactor = aws.Int32(2) }, ipv, 400,
			"Unsupported ParallelizationFactor parameter for given event source mapping type."},
		{"unknown function", func(in *lambda.CreateEventSourceMappingInput) { in.FunctionName = aws.String("nope") }, ipv, 400, "Function does not exist"},
		{"bad filter", func(in *lambda.CreateEventSourceMappingInput) {
			in.FilterCriteria = &ltypes.FilterCriteria{Filters: []ltypes.Filter{{Pattern: aws.String("simple string")}}}
		}, ipv, 400, "Invalid filter pattern definition."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := base()
			c.mod(in)
			_, err := e.c.CreateEventSourceMapping(ctx, in)
			testkit.APIErr(t, err, c.code, c.status, c.msg)
		})
	}
	l, err := e.c.ListEventSourceMappings(ctx, &lambda.ListEventSourceMappingsInput{})
	if err != nil || len(l.EventSourceMappings) != 0 {
		t.Fatalf("refusals created %v (%v)", l.EventSourceMappings, err)
	}

	// Without a starting position, TRIM_HORIZON; the group is the UUID
	// (AWS's answer: LocalStack snapshot test_lambda_api:
	// TestLambdaEventSourceMappings.test_create_event_source_self_managed).
	in := base()
	in.BatchSize, in.StartingPosition = aws.Int32(3), ""
	out := e.mapping(in)
	uuid := aws.ToString(out.UUID)
	if aws.ToString(out.SelfManagedKafkaEventSourceConfig.ConsumerGroupId) != uuid || out.StartingPosition != ltypes.EventSourcePositionTrimHorizon {
		t.Fatalf("defaults: %s %+v", out.StartingPosition, out.SelfManagedKafkaEventSourceConfig)
	}
	var got []string
	var sizes []int
	for len(got) < 7 {
		evs := e.events(probe, 1, 30*time.Second)
		if len(evs) == 0 {
			t.Fatalf("after %v: no more events", got)
		}
		for _, ev := range evs {
			v := kafkaValues(t, []map[string]any{ev})
			sizes = append(sizes, len(v))
			got = append(got, v...)
		}
	}
	if !slices.Equal(got, []string{"a", "b", "c", "d", "e", "f", "g"}) || slices.Max(sizes) > 3 {
		t.Fatalf("batches %v: %v", sizes, got)
	}
	testkit.Eventually(t, 10*time.Second, "group named by the UUID", func() bool { return groups(t, cl)[uuid] == 1 })

	// Update: BatchSize changes (Updating); the group cannot [?];
	// a bad access configuration is refused and nothing changes.
	up, err := e.c.UpdateEventSourceMapping(ctx, &lambda.UpdateEventSourceMappingInput{UUID: out.UUID, BatchSize: aws.Int32(50)})
	if err != nil || aws.ToString(up.State) != "Updating" || aws.ToInt32(up.BatchSize) != 50 {
		t.Fatalf("update: %+v %v", up, err)
	}
	_, err = e.c.UpdateEventSourceMapping(ctx, &lambda.UpdateEventSourceMappingInput{UUID: out.UUID,
		SelfManagedKafkaEventSourceConfig: &ltypes.SelfManagedKafkaEventSourceConfig{ConsumerGroupId: aws.String("other")}})
	testkit.APIErr(t, err, ipv, 400, "Updating the consumer group ID of an event source mapping is not supported.")
	_, err = e.c.UpdateEventSourceMapping(ctx, &lambda.UpdateEventSourceMappingInput{UUID: out.UUID, BatchSize: aws.Int32(7),
		SourceAccessConfigurations: []ltypes.SourceAccessConfiguration{{Type: ltypes.SourceAccessTypeBasicAuth, URI: aws.String("arn:aws:sqs:us-east-1:000000000000:q")}}})
	testkit.APIErrPrefix(t, err, ipv, 400, "The URI of BASIC_AUTH must be")
	got2 := e.waitState(uuid, "Enabled")
	if aws.ToInt32(got2.BatchSize) != 50 || aws.ToString(got2.SelfManagedKafkaEventSourceConfig.ConsumerGroupId) != uuid {
		t.Fatalf("after refused updates: %+v", got2)
	}

	// The same group again, on another topic, is refused [?].
	in = base()
	in.Topics = []string{"other"}
	in.SelfManagedKafkaEventSourceConfig = &ltypes.SelfManagedKafkaEventSourceConfig{ConsumerGroupId: aws.String(uuid)}
	_, err = e.c.CreateEventSourceMapping(ctx, in)
	testkit.APIErr(t, err, "ResourceConflictException", 409,
		"An event source mapping with consumer group id "+uuid+" already exists. Please update or delete the existing mapping with UUID "+uuid)

	// A duplicate (function, topic, a broker in common) is refused in
	// AWS's words, naming the new brokers and the function's ARN, before
	// a group in use (the snapshot above: "duplicate-source",
	// "multiple-duplicate-source").
	fnARN := aws.ToString(out.FunctionArn)
	dup := func(brokers []string) string {
		return `An event source mapping with event source ("` + strings.Join(brokers, ",") + `"), function ("` + fnARN +
			`"), topics ("events") already exists. Please update or delete the existing mapping with UUID ` + uuid
	}
	_, err = e.c.CreateEventSourceMapping(ctx, base())
	testkit.APIErr(t, err, "ResourceConflictException", 409, dup(brokers))
	other := e.mapping(&lambda.CreateEventSourceMappingInput{FunctionName: aws.String("esm-kafka2"),
		SelfManagedEventSource: &ltypes.SelfManagedEventSource{Endpoints: map[string][]string{"KAFKA_BOOTSTRAP_SERVERS": brokers}},
		Topics:                 []string{"events_2"}, StartingPosition: ltypes.EventSourcePositionLatest,
		SelfManagedKafkaEventSourceConfig: &ltypes.SelfManagedKafkaEventSourceConfig{ConsumerGroupId: aws.String("random_id")}})
	in = base()
	more := append(slices.Clone(brokers), "127.0.0.1:1")
	in.SelfManagedEventSource.Endpoints["KAFKA_BOOTSTRAP_SERVERS"] = more
	in.SelfManagedKafkaEventSourceConfig = &ltypes.SelfManagedKafkaEventSourceConfig{ConsumerGroupId: aws.String("random_id")}
	_, err = e.c.CreateEventSourceMapping(ctx, in)
	testkit.APIErr(t, err, "ResourceConflictException", 409, dup(more))
	if _, err := e.c.DeleteEventSourceMapping(ctx, &lambda.DeleteEventSourceMappingInput{UUID: other.UUID}); err != nil {
		t.Fatal(err)
	}
}

// A Node function on two mappings of one topic: LATEST skips what was
// there before the group joined, AT_TIMESTAMP starts at the first record
// at or after the time; a mapping whose brokers are down reports it in
// LastProcessingResult and stays, without a panic.
func TestESMKafkaPositionsNodeDown(t *testing.T) {
	e := newESMEnv(t, nil)
	ctx := context.Background()
	kc, cl := kafkaCluster(t, 1, "pos")
	brokers := kc.ListenAddrs()
	probe, _ := e.queue("esm-kafka-node-probe", nil)
	in := testkit.NodeFunction(t, "esm-kafka-node", "index.mjs", "index.handler", nodeProbeFn)
	in.Environment = &ltypes.Environment{Variables: map[string]string{"PROBE": probe}}
	testkit.CreateActive(t, e.c, in)
	t0 := time.UnixMilli(1_700_000_000_000)
	produce(t, cl,
		&kgo.Record{Topic: "pos", Value: []byte("old"), Timestamp: t0},
		&kgo.Record{Topic: "pos", Value: []byte("mid"), Timestamp: t0.Add(time.Minute)},
	)
	create := func(group string, pos ltypes.EventSourcePosition, at *time.Time) string {
		out := e.mapping(&lambda.CreateEventSourceMappingInput{FunctionName: aws.String("esm-kafka-node"),
			SelfManagedEventSource: &ltypes.SelfManagedEventSource{Endpoints: map[string][]string{"KAFKA_BOOTSTRAP_SERVERS": brokers}},
			Topics:                 []string{"pos"}, StartingPosition: pos, StartingPositionTimestamp: at,
			SelfManagedKafkaEventSourceConfig: &ltypes.SelfManagedKafkaEventSourceConfig{ConsumerGroupId: aws.String(group)},
			MaximumBatchingWindowInSeconds:    aws.Int32(0)})
		if out.StartingPosition != pos {
			t.Fatalf("answered %+v", out)
		}
		return aws.ToString(out.UUID)
	}
	at := t0.Add(30 * time.Second)
	atUUID := create("g-at", ltypes.EventSourcePositionAtTimestamp, &at)
	if v := kafkaValues(t, e.events(probe, 1, 30*time.Second)); !reflect.DeepEqual(v, []string{"mid"}) {
		t.Fatalf("AT_TIMESTAMP read %v", v)
	}
	if _, err := e.c.DeleteEventSourceMapping(ctx, &lambda.DeleteEventSourceMappingInput{UUID: aws.String(atUUID)}); err != nil {
		t.Fatal(err)
	}
	create("g-latest", ltypes.EventSourcePositionLatest, nil)
	testkit.Eventually(t, 10*time.Second, "latest group joined", func() bool { return groups(t, cl)["g-latest"] == 1 })
	time.Sleep(time.Second) // its offsets resolved to the end
	produce(t, cl, &kgo.Record{Topic: "pos", Value: []byte("new")})
	if v := kafkaValues(t, e.events(probe, 1, 30*time.Second)); !reflect.DeepEqual(v, []string{"new"}) {
		t.Fatalf("LATEST read %v", v)
	}

	down := e.mapping(&lambda.CreateEventSourceMappingInput{FunctionName: aws.String("esm-kafka-node"),
		SelfManagedEventSource: &ltypes.SelfManagedEventSource{Endpoints: map[string][]string{"KAFKA_BOOTSTRAP_SERVERS": {"127.0.0.1:1"}}},
		Topics:                 []string{"pos"}, StartingPosition: ltypes.EventSourcePositionTrimHorizon})
	testkit.Eventually(t, 30*time.Second, "the down cluster reported", func() bool {
		g, err := e.c.GetEventSourceMapping(ctx, &lambda.GetEventSourceMappingInput{UUID: down.UUID})
		return err == nil && strings.HasPrefix(aws.ToString(g.LastProcessingResult), "PROBLEM: Event source could not be read: ")
	})
}

// kafkaOffsetsFn sends only the offsets it got (a big event does not fit
// a probe message).
const kafkaOffsetsFn = `
import json, os, urllib.request, urllib.parse
def handler(event, context):
    offs = [r["offset"] for recs in event["records"].values() for r in recs]
    data = urllib.parse.urlencode({"Action": "SendMessage", "QueueUrl": os.environ["PROBE"], "MessageBody": json.dumps({"offsets": offs})}).encode()
    urllib.request.urlopen(urllib.request.Request(os.environ["AWS_ENDPOINT_URL"], data=data, headers={
        "Content-Type": "application/x-www-form-urlencoded",
        "Authorization": "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0"})).read()
`

// A batch whose event would pass the 6 MB invoke limit is split, in
// order, rather than refused forever.
func TestESMKafkaLargeBatchSplits(t *testing.T) {
	e := newESMEnv(t, nil)
	kc, cl := kafkaCluster(t, 1, "big")
	probe, _ := e.queue("esm-kafka-big-probe", nil)
	in := testkit.PyFunction(t, "esm-kafka-big", kafkaOffsetsFn)
	in.Environment = &ltypes.Environment{Variables: map[string]string{"PROBE": probe}}
	in.Timeout = aws.Int32(30)
	testkit.CreateActive(t, e.c, in)
	for range 8 {
		produce(t, cl, &kgo.Record{Topic: "big", Value: make([]byte, 900_000)})
	}
	e.mapping(&lambda.CreateEventSourceMappingInput{FunctionName: aws.String("esm-kafka-big"),
		SelfManagedEventSource: &ltypes.SelfManagedEventSource{Endpoints: map[string][]string{"KAFKA_BOOTSTRAP_SERVERS": kc.ListenAddrs()}},
		Topics:                 []string{"big"}, StartingPosition: ltypes.EventSourcePositionTrimHorizon,
		MaximumBatchingWindowInSeconds: aws.Int32(2)})
	var offs []float64
	var events int
	deadline := time.Now().Add(60 * time.Second)
	for len(offs) < 8 && time.Now().Before(deadline) {
		for _, ev := range e.events(probe, 1, time.Second) {
			events++
			for _, o := range ev["offsets"].([]any) {
				offs = append(offs, o.(float64))
			}
		}
	}
	if !reflect.DeepEqual(offs, []float64{0, 1, 2, 3, 4, 5, 6, 7}) || events < 2 {
		t.Fatalf("%d events, offsets %v", events, offs)
	}
}

// FilterCriteria on a Kafka mapping looks at the value (a JSON object's
// fields, or the string): what does not pass never reaches the function
// and is committed all the same.
func TestESMKafkaFilters(t *testing.T) {
	e := newESMEnv(t, nil)
	kc, cl := kafkaCluster(t, 1, "flt")
	probe, _ := e.queue("esm-kafka-flt-probe", nil)
	fn := testkit.PyFunction(t, "esm-kafka-flt", kafkaProbeFn)
	fn.Environment = &ltypes.Environment{Variables: map[string]string{"PROBE": probe}}
	testkit.CreateActive(t, e.c, fn)
	produce(t, cl,
		&kgo.Record{Topic: "flt", Value: []byte(`{"device_ID":"AB1234"}`)},
		&kgo.Record{Topic: "flt", Value: []byte(`{"device_ID":"CD5678"}`)},
		&kgo.Record{Topic: "flt", Value: []byte(`plain text`)},
		&kgo.Record{Topic: "flt", Value: []byte(`hello`)},
	)
	out := e.mapping(&lambda.CreateEventSourceMappingInput{FunctionName: aws.String("esm-kafka-flt"),
		SelfManagedEventSource: &ltypes.SelfManagedEventSource{Endpoints: map[string][]string{"KAFKA_BOOTSTRAP_SERVERS": kc.ListenAddrs()}},
		Topics:                 []string{"flt"}, StartingPosition: ltypes.EventSourcePositionTrimHorizon,
		SelfManagedKafkaEventSourceConfig: &ltypes.SelfManagedKafkaEventSourceConfig{ConsumerGroupId: aws.String("flt")},
		FilterCriteria: &ltypes.FilterCriteria{Filters: []ltypes.Filter{
			{Pattern: aws.String(`{"value": {"device_ID": [{"prefix": "AB"}]}}`)},
			{Pattern: aws.String(`{"value": [{"prefix": "plain"}]}`)},
		}}})
	if out.FilterCriteria == nil || len(out.FilterCriteria.Filters) != 2 {
		t.Fatalf("create answered %+v", out.FilterCriteria)
	}
	var got []string
	deadline := time.Now().Add(30 * time.Second)
	for len(got) < 2 && time.Now().Before(deadline) {
		got = append(got, kafkaValues(t, e.events(probe, 1, time.Second))...)
	}
	if !reflect.DeepEqual(got, []string{`{"device_ID":"AB1234"}`, "plain text"}) {
		t.Fatalf("delivered %v", got)
	}
	testkit.Eventually(t, 10*time.Second, "filtered records committed", func() bool { return committed(t, cl, "flt", "flt") == 4 })
	if evs := e.events(probe, 1, 2*time.Second); len(evs) != 0 {
		t.Fatalf("more delivered: %v", kafkaValues(t, evs))
	}
}
