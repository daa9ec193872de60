package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/server"
	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// BenchmarkProvisionedReady10Python times PutProvisionedConcurrencyConfig of
// 10 Python environments until Get answers READY (polled every 2 ms),
// isolated (lambdad's default as root) and unconfined; ready-ms is that time.
func BenchmarkProvisionedReady10Python(b *testing.B) {
	for _, iso := range []string{"auto", "off"} {
		b.Run("isolation="+iso, func(b *testing.B) {
			benchProvisionedReady(b, iso, testkit.PyFunction(b, "prov-bench", "def handler(event, context):\n    return event\n"))
		})
	}
}

// BenchmarkProvisionedReady10Node is BenchmarkProvisionedReady10Python for Node.
func BenchmarkProvisionedReady10Node(b *testing.B) {
	benchProvisionedReady(b, "auto", testkit.NodeFunction(b, "prov-bench", "index.js", "index.handler", "exports.handler = async (e) => e;\n"))
}

func benchProvisionedReady(b *testing.B, isolation string, in *lambda.CreateFunctionInput) {
	_, c := servertest.InvokeEnv(b, func(cfg *server.Config) { cfg.Isolation = isolation })
	ctx := context.Background()
	name := aws.ToString(in.FunctionName)
	testkit.CreateActive(b, c, in)
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

// BenchmarkInvokeGoEchoProvisioned is BenchmarkInvokeGoEchoWarm's "raw"
// case on a provisioned environment (version 1, one provisioned), beside
// the same loop on $LATEST's warm on-demand environment: an invoke that
// lands on a provisioned environment takes the warm path.
func BenchmarkInvokeGoEchoProvisioned(b *testing.B) {
	d, c := servertest.InvokeEnv(b, nil)
	name := "go-bench"
	testkit.CreateActive(b, c, testkit.GoFunction(name, testkit.GoBootstrapZip(b, "testdata/goecho")))
	ctx := context.Background()
	if _, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String(name)}); err != nil {
		b.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if _, err := c.PutProvisionedConcurrencyConfig(ctx, &lambda.PutProvisionedConcurrencyConfigInput{FunctionName: aws.String(name), Qualifier: aws.String("1"), ProvisionedConcurrentExecutions: aws.Int32(1)}); err != nil {
		b.Fatal(err)
	}
	for {
		g, err := c.GetProvisionedConcurrencyConfig(ctx, &lambda.GetProvisionedConcurrencyConfigInput{FunctionName: aws.String(name), Qualifier: aws.String("1")})
		if err != nil {
			b.Fatal(err)
		}
		if g.Status == types.ProvisionedConcurrencyStatusEnumReady {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, q := range []string{"provisioned", "on-demand"} {
		path := "/2015-03-31/functions/" + name + "/invocations"
		if q == "provisioned" {
			path += "?Qualifier=1"
		}
		b.Run(q, func(b *testing.B) { benchLatency(b, d.URL, path) })
	}
}
