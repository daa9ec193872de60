package server_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/lambdad/lambdad/internal/archive/archivetest"
	"github.com/lambdad/lambdad/internal/server"
	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// nodeLoop invokes itself through AWS's JavaScript SDK v3, whose
// recursion-detection middleware forwards _X_AMZN_TRACE_ID.
const nodeLoop = `import { LambdaClient, InvokeCommand } from "@aws-sdk/client-lambda";
const client = new LambdaClient({ endpoint: process.env.AWS_ENDPOINT_URL_LAMBDA, maxAttempts: 1 });
export const handler = async (e, ctx) => {
  const trace = process.env._X_AMZN_TRACE_ID;
  if (!e.go) return { depth: e.depth, trace };
  try {
    const out = await client.send(new InvokeCommand({ FunctionName: ctx.functionName, Payload: JSON.stringify({ go: true, depth: e.depth + 1 }) }));
    return JSON.parse(new TextDecoder().decode(out.Payload));
  } catch (x) {
    return { depth: e.depth, trace, stopped: x.name, message: x.message };
  }
};
`

// TestRecursiveLoopNode: a Node function in a chain whose lineage says it
// ran 13 times already calls itself through the SDK; the 16th run's call is
// refused with RecursiveInvocationException.
func TestRecursiveLoopNode(t *testing.T) {
	t.Parallel()
	node22 := testkit.DurableTools(t)
	files := append(testkit.DurableSDKFiles(t), archivetest.File{Name: "index.mjs", Body: nodeLoop})
	_, c := servertest.InvokeEnv(t, func(cfg *server.Config) { cfg.Nodes = []string{node22} })
	testkit.CreateActive(t, c, &lambda.CreateFunctionInput{
		FunctionName: aws.String("nloop"), Role: aws.String(testkit.Role), Runtime: types.RuntimeNodejs22x,
		Handler: aws.String("index.handler"), Timeout: aws.Int32(120), MemorySize: aws.Int32(256),
		Code: &types.FunctionCode{ZipFile: archivetest.Zip(t, files...)},
	})
	out := testkit.MustInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("nloop"), Payload: []byte(`{"depth": 1}`)})
	m := lineageRe.FindStringSubmatch(testkit.DecodeJSON[loopResult](t, out.Payload).Trace)
	if m == nil {
		t.Fatalf("first run: %s", out.Payload)
	}
	header := "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0;Lineage=" + m[1] + ":12"
	out, err := c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("nloop"), Payload: []byte(`{"go": true, "depth": 14}`)},
		func(o *lambda.Options) {
			o.APIOptions = append(o.APIOptions, smithyhttp.AddHeaderValue("X-Amzn-Trace-Id", header))
		})
	if err != nil {
		t.Fatal(err)
	}
	r := testkit.DecodeJSON[loopResult](t, out.Payload)
	if r.Depth != 16 || r.Stopped != "RecursiveInvocationException" {
		t.Fatalf("chain: %s", out.Payload)
	}
	if m := lineageRe.FindStringSubmatch(r.Trace); m == nil || m[2] != "15" {
		t.Errorf("the 16th run's trace header: %q", r.Trace)
	}
}
