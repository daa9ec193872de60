package server_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// BenchmarkInvokeGoEchoManaged is BenchmarkInvokeGoEchoWarm's "raw" case on
// a Lambda Managed Instances environment (version 1 of a function on a
// capacity provider, one of its three started environments, pinned to one
// core), beside the same loop on a plain function's warm on-demand
// environment in the same lambdad: an invoke on a managed instance takes
// the warm path. "on-demand-json" is the plain function with the JSON
// logs and 2 GB managed instances have; "latest" is the managed
// function's unpublished $LATEST, which runs on demand on a
// multi-invocation environment.
func BenchmarkInvokeGoEchoManaged(b *testing.B) {
	d, c := servertest.InvokeEnv(b, nil)
	zip := testkit.GoBootstrapZip(b, "testdata/goecho")
	testkit.CreateActive(b, c, testkit.GoFunction("go-bench", zip))
	jsonFn := testkit.GoFunction("go-json", zip)
	jsonFn.LoggingConfig = &types.LoggingConfig{LogFormat: types.LogFormatJson}
	jsonFn.MemorySize = aws.Int32(2048)
	testkit.CreateActive(b, c, jsonFn)
	testkit.CreateActive(b, c, onCapacityProvider(b, c, testkit.GoFunction("go-mi", zip), 1))
	if _, err := c.PublishVersion(context.Background(), &lambda.PublishVersionInput{FunctionName: aws.String("go-mi")}); err != nil {
		b.Fatal(err)
	}
	testkit.WaitVersionActive(b, c, "go-mi", "1")
	for _, q := range []string{"managed", "on-demand", "on-demand-json", "latest"} {
		path := "/2015-03-31/functions/go-bench/invocations"
		switch q {
		case "managed":
			path = "/2015-03-31/functions/go-mi/invocations?Qualifier=1"
		case "on-demand-json":
			path = "/2015-03-31/functions/go-json/invocations"
		case "latest":
			path = "/2015-03-31/functions/go-mi/invocations?Qualifier=$LATEST"
		}
		b.Run(q, func(b *testing.B) { benchLatency(b, d.URL, path) })
	}
}
