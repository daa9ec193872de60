package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// BenchmarkProvisionedReady10Python times PutProvisionedConcurrencyConfig of
// 10 Python environments until Get answers READY (polled every 2 ms), with
// isolation as lambdad runs by default; ready-ms is that time.
func BenchmarkProvisionedReady10Python(b *testing.B) {
	_, c := servertest.InvokeEnv(b, nil)
	ctx := context.Background()
	name := "prov-bench"
	testkit.CreateActive(b, c, testkit.PyFunction(b, name, "def handler(event, context):\n    return event\n"))
	out, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String(name)})
	if err != nil {
		b.Fatal(err)
	}
	v := out.Version
	time.Sleep(200 * time.Millisecond) // the version's Pending transition
	var total time.Duration
	for b.Loop() {
		start := time.Now()
		if _, err := c.PutProvisionedConcurrencyConfig(ctx, &lambda.PutProvisionedConcurrencyConfigInput{FunctionName: aws.String(name), Qualifier: v, ProvisionedConcurrentExecutions: aws.Int32(10)}); err != nil {
			b.Fatal(err)
		}
		for {
			g, err := c.GetProvisionedConcurrencyConfig(ctx, &lambda.GetProvisionedConcurrencyConfigInput{FunctionName: aws.String(name), Qualifier: v})
			if err != nil {
				b.Fatal(err)
			}
			if g.Status == types.ProvisionedConcurrencyStatusEnumReady {
				break
			}
			if g.Status == types.ProvisionedConcurrencyStatusEnumFailed || time.Since(start) > 30*time.Second {
				b.Fatalf("status %s after %v", g.Status, time.Since(start))
			}
			time.Sleep(2 * time.Millisecond)
		}
		total += time.Since(start)
		b.StopTimer()
		if _, err := c.DeleteProvisionedConcurrencyConfig(ctx, &lambda.DeleteProvisionedConcurrencyConfigInput{FunctionName: aws.String(name), Qualifier: v}); err != nil {
			b.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond) // the retired environments stop
		b.StartTimer()
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ready-ms")
}
