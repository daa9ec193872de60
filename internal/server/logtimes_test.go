package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

const pyTwoPrints = `import time
def handler(event, context):
    print("first plain print")
    time.sleep(0.3)
    print("second plain print")
    return context.log_stream_name
`

const nodeTwoWrites = `exports.handler = async (event, context) => {
  process.stdout.write("first plain print\n");
  await new Promise((r) => setTimeout(r, 300));
  process.stdout.write("second plain print\n");
  return context.logStreamName;
};
`

// TestLogTimesPlainPrints: a plain print (Python's print, Node's
// process.stdout.write) has no timestamp of its own; its event has the
// time it was written, as on AWS, not the invocation's start. Read back
// with aws-sdk-go-v2's cloudwatchlogs client.
func TestLogTimesPlainPrints(t *testing.T) {
	t.Parallel()
	d, c := servertest.InvokeEnv(t, nil)
	testkit.CreateActive(t, c, testkit.PyFunction(t, "py-two-prints", pyTwoPrints))
	testkit.CreateActive(t, c, testkit.NodeFunction(t, "node-two-writes", "index.js", "index.handler", nodeTwoWrites))
	for _, fn := range []string{"py-two-prints", "node-two-writes"} {
		t.Run(fn, func(t *testing.T) { checkPrintTimes(t, d, c, fn) })
	}
}

func checkPrintTimes(t *testing.T, d *servertest.Daemon, c *lambda.Client, fn string) {
	testkit.Call(t, c, fn, `{}`) // the cold start is not what is measured
	before := time.Now().UnixMilli()
	stream := strings.Trim(string(testkit.Call(t, c, fn, `{}`).Payload), `"`)
	after := time.Now().UnixMilli()

	lc := d.Logs()
	var msgs []string
	var times []int64
	testkit.Eventually(t, 5*time.Second, "the second invocation's events", func() bool {
		res, err := lc.GetLogEvents(context.Background(), &cloudwatchlogs.GetLogEventsInput{
			LogGroupName: aws.String("/aws/lambda/" + fn), LogStreamName: aws.String(stream),
			StartTime: aws.Int64(before), StartFromHead: aws.Bool(true)})
		if err != nil {
			return false
		}
		msgs, times = msgs[:0], times[:0]
		for _, e := range res.Events {
			msgs = append(msgs, aws.ToString(e.Message))
			times = append(times, aws.ToInt64(e.Timestamp))
		}
		return len(msgs) > 0 && strings.HasPrefix(msgs[len(msgs)-1], "REPORT RequestId:")
	})
	find := func(prefix string) int64 { // its last event: the first invocation may end at before
		t.Helper()
		for i := len(msgs) - 1; i >= 0; i-- {
			if strings.HasPrefix(msgs[i], prefix) {
				return times[i]
			}
		}
		t.Fatalf("no event %q among %q", prefix, msgs)
		return 0
	}
	start, first, second, report := find("START RequestId:"), find("first plain print"), find("second plain print"), find("REPORT RequestId:")
	t.Logf("START +0, first +%d ms, second +%d ms, REPORT +%d ms", first-start, second-start, report-start)
	if second-first < 250 {
		t.Errorf("the prints are %d ms apart; the function slept 300 ms between them", second-first)
	}
	for _, ts := range []int64{start, first, second, report} {
		if ts < before || ts > after {
			t.Errorf("an event at %d lies outside the invocation [%d, %d]", ts, before, after)
		}
	}
	if first < start || second > report {
		t.Errorf("the prints (%d, %d) lie outside START..REPORT (%d, %d)", first, second, start, report)
	}
}
