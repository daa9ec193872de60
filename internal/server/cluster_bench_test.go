package server_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/lambdad/lambdad/internal/server"
	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// BenchmarkInvokeGoEchoWarmCluster is BenchmarkInvokeGoEchoWarm/raw on a
// lambdad that is a node of a cluster, with reserved concurrency, so that
// both the function's and the account's limits are the cluster's: the warm
// path admits from local share and never waits on PostgreSQL. "alone" is
// the same lambdad without --cluster, in the same run.
func BenchmarkInvokeGoEchoWarmCluster(b *testing.B) {
	url := testkit.Postgres(b)
	for _, c := range []struct {
		name string
		tune func(*server.Config)
	}{
		{"alone", nil},
		{"cluster", func(c *server.Config) { c.Cluster = server.ClusterConfig{URL: url, NodeID: "bench"} }},
	} {
		b.Run(c.name, func(b *testing.B) {
			d, cl := servertest.InvokeEnv(b, c.tune)
			testkit.CreateActive(b, cl, testkit.GoFunction("go-bench", testkit.GoBootstrapZip(b, "testdata/goecho")))
			if _, err := cl.PutFunctionConcurrency(context.Background(), &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("go-bench"), ReservedConcurrentExecutions: aws.Int32(100)}); err != nil {
				b.Fatal(err)
			}
			warmLatency(b, rawInvoker(b, d.URL, "/2015-03-31/functions/go-bench/invocations"), true)
		})
	}
}
