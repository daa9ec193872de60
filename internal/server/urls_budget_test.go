package server_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/server"
	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// TestFunctionURLBodiesShareTheBudget: while stalled API bodies hold all of
// the body memory, a function URL request is throttled instead of adding
// its body to it; once they are gone it runs.
func TestFunctionURLBodiesShareTheBudget(t *testing.T) {
	t.Parallel()
	d, c := servertest.InvokeEnv(t, func(cfg *server.Config) { cfg.BodyMemory = 1 << 20; servertest.IsolationOff(cfg) })
	ctx := context.Background()
	testkit.CreateActive(t, c, testkit.PyFunction(t, "budget", "def handler(e, c):\n    return {'statusCode': 200, 'body': str(len(e.get('body') or ''))}\n"))
	cfg, err := c.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("budget"), AuthType: types.FunctionUrlAuthTypeNone})
	if err != nil {
		t.Fatal(err)
	}
	fu, _ := url.Parse(aws.ToString(cfg.FunctionUrl))
	id, _, _ := strings.Cut(fu.Host, ".")
	post := func() int {
		t.Helper()
		resp, err := http.Post(d.URL+"/_lambdad/url/"+id+"/", "text/plain", strings.NewReader(strings.Repeat("x", 64<<10)))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := post(); got != http.StatusOK {
		t.Fatalf("before the stall: %d", got)
	}
	// An API request that declares the whole budget and stalls.
	conn, err := net.Dial("tcp", strings.TrimPrefix(d.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST /2015-03-31/functions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{", 1<<20)
	testkit.Eventually(t, 5*time.Second, "a function URL request was not throttled while the budget was held", func() bool { return post() == http.StatusTooManyRequests })
	conn.Close()
	testkit.Eventually(t, 10*time.Second, "the function URL did not run once the budget was free", func() bool { return post() == http.StatusOK })
}
