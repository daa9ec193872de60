package server_test

import (
	"testing"

	"github.com/lambdad/lambdad/internal/server"
	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// BenchmarkInvokeWarmStores is a warm invoke of the aws-lambda-go echo
// function on a node of one machine (bbolt, code in the data directory)
// and on a node of a cluster (PostgreSQL, code in S3 on moto_server): the
// warm path must not wait on either (compare p50-µs with benchstat).
func BenchmarkInvokeWarmStores(b *testing.B) {
	for _, kind := range []string{"embedded", "postgres+s3"} {
		b.Run(kind, func(b *testing.B) {
			d, cl := servertest.InvokeEnv(b, func(cfg *server.Config) {
				if kind != "embedded" {
					endpoint, _ := motoBucket(b, "code")
					cfg.Store = testkit.Postgres(b)
					cfg.Blobs, cfg.S3Endpoint = "s3://code/bench", endpoint
				}
			})
			testkit.CreateActive(b, cl, testkit.GoFunction("go-bench", testkit.GoBootstrapZip(b, "testdata/goecho")))
			warmLatency(b, rawInvoker(b, d.URL, "/2015-03-31/functions/go-bench/invocations"), false)
		})
	}
}
