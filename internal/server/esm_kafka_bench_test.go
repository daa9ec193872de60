package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lambdad/lambdad/internal/testkit"
)

const benchKafkaRecords = 5000

// BenchmarkESMKafkaThroughput is Kafka → Lambda with a Python echo, batch
// 100, side by side with a plain franz-go group consumer that polls 100
// records and commits them, against the same in-process kfake cluster:
// records/s of each (5,000 records per op, a fresh group member per op
// for both, so both pay the join).
func BenchmarkESMKafkaThroughput(b *testing.B) {
	e := newESMEnv(b, nil)
	kc, cl := kafkaCluster(b, 1, "bench-loop", "bench-lambdad")
	brokers := kc.ListenAddrs()
	ends := map[string]int64{}
	fill := func(topic string) int64 {
		rs := make([]*kgo.Record, benchKafkaRecords)
		for i := range rs {
			rs[i] = &kgo.Record{Topic: topic, Value: []byte(`{"n":` + strconv.Itoa(i) + `}`)}
		}
		produce(b, cl, rs...)
		ends[topic] += benchKafkaRecords
		return ends[topic]
	}
	// loop reads the topic as a consumer group and commits each batch;
	// with invoke, it first invokes the function through the Lambda API
	// with the batch, as a hand-written poller would.
	loop := func(invoke bool) func(b *testing.B) {
		return func(b *testing.B) {
			var total time.Duration
			for b.Loop() {
				b.StopTimer()
				end := fill("bench-loop")
				b.StartTimer()
				start := time.Now()
				c, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumerGroup("bench-loop"), kgo.ConsumeTopics("bench-loop"),
					kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
				if err != nil {
					b.Fatal(err)
				}
				for committed(b, cl, "bench-loop", "bench-loop") < end {
					fs := c.PollRecords(context.Background(), 100)
					if err := fs.Err0(); err != nil {
						b.Fatal(err)
					}
					if invoke {
						var recs []map[string]any
						for _, r := range fs.Records() {
							recs = append(recs, map[string]any{"topic": r.Topic, "partition": r.Partition, "offset": r.Offset,
								"timestamp": r.Timestamp.UnixMilli(), "timestampType": "CREATE_TIME", "value": base64.StdEncoding.EncodeToString(r.Value), "headers": []any{}})
						}
						payload, _ := json.Marshal(map[string]any{"eventSource": "SelfManagedKafka", "bootstrapServers": brokers[0], "records": map[string]any{"bench-loop-0": recs}})
						if _, err := e.c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("bench-kafka-echo"), Payload: payload}); err != nil {
							b.Fatal(err)
						}
					}
					if err := c.CommitRecords(context.Background(), fs.Records()...); err != nil {
						b.Fatal(err)
					}
				}
				c.Close()
				total += time.Since(start)
			}
			b.ReportMetric(float64(b.N*benchKafkaRecords)/total.Seconds(), "records/s")
		}
	}
	b.Run("loop", loop(false))
	in := testkit.PyFunction(b, "bench-kafka-echo", "def handler(event, context):\n    return None\n")
	testkit.CreateActive(b, e.c, in)
	b.Run("loop+invoke", loop(true))
	m := e.mapping(&lambda.CreateEventSourceMappingInput{FunctionName: aws.String("bench-kafka-echo"),
		SelfManagedEventSource: &ltypes.SelfManagedEventSource{Endpoints: map[string][]string{"KAFKA_BOOTSTRAP_SERVERS": brokers}},
		Topics:                 []string{"bench-lambdad"}, StartingPosition: ltypes.EventSourcePositionTrimHorizon,
		SelfManagedKafkaEventSourceConfig: &ltypes.SelfManagedKafkaEventSourceConfig{ConsumerGroupId: aws.String("bench-lambdad")},
		Enabled:                           aws.Bool(false)})
	b.Run("lambdad", func(b *testing.B) {
		var total time.Duration
		for b.Loop() {
			b.StopTimer()
			end := fill("bench-lambdad")
			b.StartTimer()
			start := time.Now()
			if _, err := e.c.UpdateEventSourceMapping(context.Background(), &lambda.UpdateEventSourceMappingInput{UUID: m.UUID, Enabled: aws.Bool(true)}); err != nil {
				b.Fatal(err)
			}
			for committed(b, cl, "bench-lambdad", "bench-lambdad") < end {
				time.Sleep(20 * time.Millisecond)
			}
			total += time.Since(start)
			b.StopTimer()
			if _, err := e.c.UpdateEventSourceMapping(context.Background(), &lambda.UpdateEventSourceMappingInput{UUID: m.UUID, Enabled: aws.Bool(false)}); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		b.ReportMetric(float64(b.N*benchKafkaRecords)/total.Seconds(), "records/s")
	})
}

// BenchmarkESMKafkaIdleMappings is what 100 enabled Kafka mappings on idle
// topics cost: CPU of this process (lambdad and the in-process kfake
// cluster together, so an upper bound for lambdad) and heap.
func BenchmarkESMKafkaIdleMappings(b *testing.B) {
	e := newESMEnv(b, nil)
	testkit.CreateActive(b, e.c, testkit.PyFunction(b, "kidle", "def handler(event, context):\n    return None\n"))
	topics := make([]string, 100)
	for i := range topics {
		topics[i] = "idle-" + strconv.Itoa(i)
	}
	kc, _ := kafkaCluster(b, 1, topics...)
	runtime.GC()
	var m0 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for _, tp := range topics {
		e.mapping(&lambda.CreateEventSourceMappingInput{FunctionName: aws.String("kidle"),
			SelfManagedEventSource: &ltypes.SelfManagedEventSource{Endpoints: map[string][]string{"KAFKA_BOOTSTRAP_SERVERS": kc.ListenAddrs()}},
			Topics:                 []string{tp}, StartingPosition: ltypes.EventSourcePositionLatest})
	}
	time.Sleep(5 * time.Second) // every consumer joined and polling
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
