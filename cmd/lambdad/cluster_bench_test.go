package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/testkit"
)

// BenchmarkClusterGetFunction is GetFunction's throughput across a cluster
// of three lambdad processes on one PostgreSQL (this machine runs all of
// it: the nodes, PostgreSQL and the client), beside one node on the
// embedded store: 32 clients, keep-alive connections spread over the
// nodes, for 5 s per b.N; reqs/s is the answer rate.
func BenchmarkClusterGetFunction(b *testing.B) {
	for _, kind := range []string{"bolt-1-node", "postgres-3-nodes"} {
		b.Run(kind, func(b *testing.B) {
			bin := lambdadBin.Path(b)
			var store []string
			nodes := 1
			if kind == "postgres-3-nodes" {
				store, nodes = []string{"--store", testkit.Postgres(b)}, 3
			}
			var addrs []string
			for i := range nodes {
				args := append([]string{"--listen", "127.0.0.1:0", "--data-dir", filepath.Join(b.TempDir(), fmt.Sprint(i)),
					"--transition", "1ms", "--log-level", "warn", "--isolation", "off"}, store...)
				addrs = append(addrs, testkit.StartProcess(b, bin, "", nil, args...).Addr)
			}
			ctx := context.Background()
			cl := newLambdaClient(addrs[0])
			for i := range 10 {
				if _, err := cl.CreateFunction(ctx, &lambda.CreateFunctionInput{
					FunctionName: aws.String(fmt.Sprintf("fn-%d", i)), Runtime: types.RuntimePython312, Role: aws.String(testkit.Role),
					Handler: aws.String("handler.handler"), Code: &types.FunctionCode{ZipFile: testkit.HandlerZip(b, "def handler(e, c):\n    return e\n")},
				}); err != nil {
					b.Fatal(err)
				}
			}
			hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			get := func(addr string, i int) error {
				req, _ := http.NewRequest("GET", fmt.Sprintf("%s/2015-03-31/functions/fn-%d", addr, i%10), nil)
				req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=000000000000/20250101/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=0")
				resp, err := hc.Do(req)
				if err != nil {
					return err
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					return fmt.Errorf("HTTP %d", resp.StatusCode)
				}
				return nil
			}
			b.ResetTimer()
			var total int64
			var elapsed time.Duration
			for range b.N {
				var n atomic.Int64
				var failed atomic.Value
				deadline := time.Now().Add(5 * time.Second)
				start := time.Now()
				var wg sync.WaitGroup
				for c := range 32 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := 0; time.Now().Before(deadline); i++ {
							if err := get(addrs[c%len(addrs)], i); err != nil {
								failed.Store(err)
								return
							}
							n.Add(1)
						}
					}()
				}
				wg.Wait()
				elapsed += time.Since(start)
				total += n.Load()
				if err, _ := failed.Load().(error); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(total)/elapsed.Seconds(), "reqs/s")
		})
	}
}
