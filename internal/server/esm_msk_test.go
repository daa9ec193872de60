package server_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kafka"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kafka/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/lambdad/lambdad/internal/server"
	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

func mskClient(url string) *kafka.Client {
	return kafka.New(kafka.Options{Region: testkit.Region, BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
}

// mskCluster creates a provisioned MSK cluster in moto and returns its ARN.
func mskCluster(t testing.TB, c *kafka.Client, name string) string {
	t.Helper()
	out, err := c.CreateClusterV2(context.Background(), &kafka.CreateClusterV2Input{
		ClusterName: aws.String(name),
		Provisioned: &ktypes.ProvisionedRequest{
			BrokerNodeGroupInfo: &ktypes.BrokerNodeGroupInfo{ClientSubnets: []string{"subnet-1", "subnet-2"}, InstanceType: aws.String("kafka.m5.large")},
			KafkaVersion:        aws.String("3.6.0"),
			NumberOfBrokerNodes: aws.Int32(2),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.ClusterArn)
}

// An Amazon MSK mapping, end to end: the cluster is made in moto, whose
// Kafka API has no GetBootstrapBrokers, so --msk-bootstrap-brokers maps
// its ARN to a kfake cluster. The mapping answers AWS's MSK fields, the
// function gets AWS's MSK event (eventSource aws:kafka, eventSourceArn,
// bootstrapServers, records by topic-partition) and the group commits.
// A cluster moto does not know is refused; one lambdad has no brokers for
// reports a PROBLEM that names the flag.
func TestESMMSK(t *testing.T) {
	moto := testkit.Moto(t)
	mc := mskClient(moto)
	arn := mskCluster(t, mc, "orders-cluster")
	noBrokers := mskCluster(t, mc, "other-cluster")
	kc, cl := kafkaCluster(t, 2, "orders")
	brokers := kc.ListenAddrs()
	tune := func(c *server.Config) {
		c.AWSEndpoint = moto
		c.MSKBootstrapBrokers = map[string][]string{arn: brokers}
	}
	dir := t.TempDir()
	d := servertest.StartLambdad(t, dir, tune)
	e := &esmEnv{t: t, moto: moto, d: d, c: servertest.InvokeClient(d), sqs: sqsClient(moto)}
	ctx := context.Background()

	probe, _ := e.queue("esm-msk-probe", nil)
	fn := testkit.PyFunction(t, "esm-msk", kafkaProbeFn)
	fn.Environment = &ltypes.Environment{Variables: map[string]string{"PROBE": probe}}
	fn.Timeout = aws.Int32(30)
	testkit.CreateActive(t, e.c, fn)

	produce(t, cl,
		&kgo.Record{Topic: "orders", Partition: 0, Key: []byte("k1"), Value: []byte("one")},
		&kgo.Record{Topic: "orders", Partition: 1, Value: []byte("two")},
	)
	base := func(cluster string) *lambda.CreateEventSourceMappingInput {
		return &lambda.CreateEventSourceMappingInput{
			FunctionName:     aws.String("esm-msk"),
			EventSourceArn:   aws.String(cluster),
			Topics:           []string{"orders"},
			StartingPosition: ltypes.EventSourcePositionTrimHorizon,
		}
	}

	const ipv = "InvalidParameterValueException"
	unknown := arn + "x" // moto's ARNs are cluster/<uuid>
	cases := []struct {
		name string
		mod  func(*lambda.CreateEventSourceMappingInput)
		msg  string
	}{
		{"unknown cluster", func(in *lambda.CreateEventSourceMappingInput) { in.EventSourceArn = aws.String(unknown) },
			"The Amazon MSK cluster " + unknown + " does not exist."},
		{"not a cluster", func(in *lambda.CreateEventSourceMappingInput) {
			in.EventSourceArn = aws.String("arn:aws:kafka:us-east-1:123456789012:topic/orders-cluster/x/orders")
		}, "Unrecognized event source."},
		{"SASL/PLAIN", func(in *lambda.CreateEventSourceMappingInput) {
			in.SourceAccessConfigurations = []ltypes.SourceAccessConfiguration{{Type: ltypes.SourceAccessTypeBasicAuth, URI: aws.String("arn:aws:secretsmanager:us-east-1:123456789012:secret:s")}}
		}, "Unsupported SourceAccessConfiguration type BASIC_AUTH for Amazon MSK event sources."},
		{"self-managed config", func(in *lambda.CreateEventSourceMappingInput) {
			in.SelfManagedKafkaEventSourceConfig = &ltypes.SelfManagedKafkaEventSourceConfig{ConsumerGroupId: aws.String("g")}
		}, "Unsupported SelfManagedKafkaEventSourceConfig parameter for given event source mapping type."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := base(arn)
			c.mod(in)
			_, err := e.c.CreateEventSourceMapping(ctx, in)
			testkit.APIErr(t, err, ipv, 400, c.msg)
		})
	}

	in := base(arn)
	in.AmazonManagedKafkaEventSourceConfig = &ltypes.AmazonManagedKafkaEventSourceConfig{ConsumerGroupId: aws.String("msk-orders")}
	in.MaximumBatchingWindowInSeconds = aws.Int32(1)
	out := e.mapping(in)
	if aws.ToString(out.EventSourceArn) != arn || out.SelfManagedEventSource != nil || out.SelfManagedKafkaEventSourceConfig != nil ||
		out.AmazonManagedKafkaEventSourceConfig == nil || aws.ToString(out.AmazonManagedKafkaEventSourceConfig.ConsumerGroupId) != "msk-orders" ||
		aws.ToInt32(out.BatchSize) != 100 || !reflect.DeepEqual(out.Topics, []string{"orders"}) || out.StartingPosition != ltypes.EventSourcePositionTrimHorizon {
		t.Fatalf("create answered %+v", out)
	}
	uuid := aws.ToString(out.UUID)
	e.waitState(uuid, "Enabled")
	// The same cluster, topic and function again (another group): AWS's
	// conflict, in its words for MSK.
	again := base(arn)
	again.AmazonManagedKafkaEventSourceConfig = &ltypes.AmazonManagedKafkaEventSourceConfig{ConsumerGroupId: aws.String("msk-orders-2")}
	_, err := e.c.CreateEventSourceMapping(ctx, again)
	testkit.APIErr(t, err, "ResourceConflictException", 409, `An event source mapping with event source arn ("`+arn+`"), function ("esm-msk") and topics ("orders") already exists. Please update or delete the existing mapping with UUID `+uuid)
	l, err := e.c.ListEventSourceMappings(ctx, &lambda.ListEventSourceMappingsInput{EventSourceArn: aws.String(arn)})
	if err != nil || len(l.EventSourceMappings) != 1 || aws.ToString(l.EventSourceMappings[0].UUID) != uuid {
		t.Fatalf("list by cluster ARN: %v %v", l, err)
	}

	recs := map[string]any{}
	for len(recs) < 2 {
		evs := e.events(probe, 1, 30*time.Second)
		if len(evs) == 0 {
			t.Fatalf("no event (record groups so far: %v)", sortedMapKeys(recs))
		}
		for _, ev := range evs {
			if ev["eventSource"] != "aws:kafka" || ev["eventSourceArn"] != arn || ev["bootstrapServers"] != strings.Join(brokers, ",") {
				t.Fatalf("event: %v", ev)
			}
			for k, v := range ev["records"].(map[string]any) {
				recs[k] = v
			}
		}
	}
	if got := kafkaValues(t, []map[string]any{{"records": recs}}); !reflect.DeepEqual(got, []string{"one", "two"}) || recs["orders-0"] == nil || recs["orders-1"] == nil {
		t.Fatalf("records %v (%v)", recs, got)
	}
	testkit.Eventually(t, 10*time.Second, "offsets committed for group msk-orders", func() bool {
		return committedAt(t, cl, "msk-orders", "orders", 0) == 1 && committedAt(t, cl, "msk-orders", "orders", 1) == 1
	})

	// What an MSK mapping lets change, and what not.
	u, err := e.c.UpdateEventSourceMapping(ctx, &lambda.UpdateEventSourceMappingInput{UUID: aws.String(uuid), BatchSize: aws.Int32(7)})
	if err != nil || aws.ToInt32(u.BatchSize) != 7 || aws.ToString(u.EventSourceArn) != arn {
		t.Fatalf("update: %+v %v", u, err)
	}
	_, err = e.c.UpdateEventSourceMapping(ctx, &lambda.UpdateEventSourceMappingInput{UUID: aws.String(uuid),
		SourceAccessConfigurations: []ltypes.SourceAccessConfiguration{{Type: ltypes.SourceAccessTypeSaslScram256Auth, URI: aws.String("arn:aws:secretsmanager:us-east-1:123456789012:secret:s")}}})
	testkit.APIErr(t, err, ipv, 400, "Unsupported SourceAccessConfiguration type SASL_SCRAM_256_AUTH for Amazon MSK event sources.")

	// Restart: the mapping comes back with its cluster's brokers looked
	// up again, and reads on from the group's offsets.
	d.Stop()
	produce(t, cl, &kgo.Record{Topic: "orders", Partition: 0, Value: []byte("while-down")})
	d = servertest.StartLambdad(t, dir, tune)
	e.d, e.c = d, servertest.InvokeClient(d)
	evs := e.events(probe, 1, 40*time.Second)
	if v := kafkaValues(t, evs); !reflect.DeepEqual(v, []string{"while-down"}) || evs[0]["eventSourceArn"] != arn {
		t.Fatalf("after restart: %v %v", v, evs)
	}

	// A cluster lambdad has no brokers for: moto has no
	// GetBootstrapBrokers, so the mapping says so and names the flag.
	other := e.mapping(base(noBrokers))
	e.lastResult(aws.ToString(other.UUID), "PROBLEM: Lambda could not get the bootstrap brokers of Amazon MSK cluster "+noBrokers+": …", 30*time.Second)
	g, err := e.c.GetEventSourceMapping(ctx, &lambda.GetEventSourceMappingInput{UUID: other.UUID})
	t.Logf("LastProcessingResult: %s", aws.ToString(g.LastProcessingResult))
	if err != nil || !strings.Contains(aws.ToString(g.LastProcessingResult), "--msk-bootstrap-brokers (LAMBDAD_MSK_BOOTSTRAP_BROKERS)") {
		t.Fatalf("problem without the flag's name: %q %v", aws.ToString(g.LastProcessingResult), err)
	}

	if _, err := e.c.DeleteEventSourceMapping(ctx, &lambda.DeleteEventSourceMappingInput{UUID: aws.String(uuid)}); err != nil {
		t.Fatal(err)
	}
}

// Without an endpoint for the Kafka API (nor AWS credentials) and without
// --msk-bootstrap-brokers, lambdad cannot find an MSK cluster's brokers:
// the create answers so, naming the settings.
func TestESMMSKNoKafkaAPI(t *testing.T) {
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_KAFKA"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	_, c := servertest.InvokeEnv(t, nil)
	testkit.CreateActive(t, c, testkit.PyFunction(t, "msk-none", "def handler(e, c):\n    return None\n"))
	arn := "arn:aws:kafka:us-east-1:123456789012:cluster/c/6fa1c9f2-3b1e-4c1a-9d6e-1f2a3b4c5d6e-2"
	_, err := c.CreateEventSourceMapping(context.Background(), &lambda.CreateEventSourceMappingInput{
		FunctionName: aws.String("msk-none"), EventSourceArn: aws.String(arn), Topics: []string{"tt"}, StartingPosition: ltypes.EventSourcePositionLatest,
	})
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "lambdad cannot find the brokers of Amazon MSK cluster "+arn+
		": it has no endpoint and no AWS credentials for the Amazon MSK API. Set --aws-endpoint-url (LAMBDAD_AWS_ENDPOINT_URL) or AWS_ENDPOINT_URL_<SERVICE> to a local server, give lambdad AWS credentials, or name the brokers with --msk-bootstrap-brokers (LAMBDAD_MSK_BOOTSTRAP_BROKERS).")
}

// committedAt is the group's committed offset of one partition (-1 for
// none).
func committedAt(t testing.TB, cl *kgo.Client, group, topic string, partition int32) int64 {
	t.Helper()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = group
	tp := kmsg.NewOffsetFetchRequestTopic()
	tp.Topic, tp.Partitions = topic, []int32{partition}
	req.Topics = append(req.Topics, tp)
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range resp.Topics {
		for _, p := range tr.Partitions {
			if p.Partition == partition {
				return p.Offset
			}
		}
	}
	return -1
}
