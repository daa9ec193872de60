package server_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/chromedp/chromedp"

	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

const consoleSQS = `
def handler(event, context):
    for r in event["Records"]:
        print("got message", r["body"])
    return {}
`

// TestConsoleMappings: an SQS event source mapping (moto_server) shows on
// the mappings page and on its function's page, and the invocations it
// makes show in the function's live logs and charts.
func TestConsoleMappings(t *testing.T) {
	e := newESMEnv(t, nil)
	testkit.CreateActive(t, e.c, testkit.PyFunction(t, "console-sqs", consoleSQS))
	qurl, qarn := e.queue("console-q", nil)
	m := e.mapping(&lambda.CreateEventSourceMappingInput{FunctionName: aws.String("console-sqs"), EventSourceArn: aws.String(qarn), BatchSize: aws.Int32(1)})
	if _, err := e.sqs.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(qurl), MessageBody: aws.String("hello-from-sqs")}); err != nil {
		t.Fatal(err)
	}

	b := newBrowser(t, e.d.URL)
	b.run(t, "open mappings", chromedp.Navigate(e.d.URL+"/#/mappings"))
	row := `#mappings-table tr[data-uuid="` + aws.ToString(m.UUID) + `"]`
	b.until(t, 30*time.Second, "the mapping is listed, Enabled", `document.querySelector('`+row+` [data-state="Enabled"]')`)
	if got := b.text(t, row); !contains(got, "console-q", "console-sqs") {
		t.Errorf("mapping row: %q", got)
	}
	b.screenshot(t, screenshotDir(t), "mappings")

	b.run(t, "open console-sqs", chromedp.Navigate(e.d.URL+"/#/fn/console-sqs"))
	b.until(t, 20*time.Second, "its page lists the mapping", `!document.querySelector('#function-mappings').hidden && document.querySelector('#function-mappings `+row[len("#mappings-table "):]+`')`)
	b.until(t, 60*time.Second, "live logs show the mapping's invocation", `document.querySelector('#live-logs').innerText.includes("got message hello-from-sqs")`)
	b.until(t, 20*time.Second, "the chart counts it", `Number(document.querySelector('.chart[data-metric="invocations"]').dataset.total) >= 1`)
}

// TestConsoleDurable: a function's durable executions show on its page.
func TestConsoleDurable(t *testing.T) {
	d, c := durableEnv(t)
	arn := startDurable(t, c, `{"scenario": "steps"}`)
	waitStatus(t, c, arn, types.ExecutionStatusSucceeded, 60*time.Second)

	b := newBrowser(t, d.URL)
	b.run(t, "open durable", chromedp.Navigate(d.URL+"/#/fn/durable"))
	b.until(t, 30*time.Second, "the execution is listed, SUCCEEDED",
		`!document.querySelector('#durable').hidden && document.querySelector('#durable-table [data-state="SUCCEEDED"]')`)
	b.screenshot(t, screenshotDir(t), "durable", "#durable")
}

func contains(s string, subs ...string) bool {
	for _, x := range subs {
		if !strings.Contains(s, x) {
			return false
		}
	}
	return true
}

// consoleSnoop calls the console's data endpoints from inside a function,
// unsigned, as a function of another account trying to read the default
// account's logs would.
const consoleSnoop = `
import os, urllib.request, urllib.error
def handler(event, context):
    out = {}
    base = os.environ["AWS_ENDPOINT_URL_LAMBDA"]
    reqs = {p: urllib.request.Request(base + p) for p in ["/_lambdad/console/api/queue", "/_lambdad/console/api/activity?function=console-victim"]}
    # The console reads logs through the Logs API.
    reqs["FilterLogEvents"] = urllib.request.Request(base + "/", method="POST", data=b'{"logGroupName": "/aws/lambda/console-victim"}',
        headers={"X-Amz-Target": "Logs_20140328.FilterLogEvents", "Content-Type": "application/x-amz-json-1.1"})
    for p, req in reqs.items():
        try:
            with urllib.request.urlopen(req) as r:
                out[p] = [r.status, r.read().decode()]
        except urllib.error.HTTPError as e:
            out[p] = [e.code, e.read().decode()]
    return out
`

// TestConsoleRefusesFunctionsActingAsOthers: without --credentials, an
// unsigned request is the default account's, but not from inside an
// execution environment: there, as for the Lambda API, only the function's
// own key is taken, so a function of account 123456789012 cannot read the
// default account's logs through the console's endpoints, nor through the
// Logs API the console reads logs with.
func TestConsoleRefusesFunctionsActingAsOthers(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("environments are known by their socket's owner only when isolated (root)")
	}
	d, c := servertest.InvokeEnv(t, nil)
	testkit.CreateActive(t, c, testkit.PyFunction(t, "console-victim", `
def handler(event, context):
    print("the victim's secret")
    return 1
`))
	testkit.Call(t, c, "console-victim", `{}`)
	other := d.Client(testkit.Account, testkit.Region)
	testkit.CreateActive(t, other, testkit.PyFunction(t, "console-snoop", consoleSnoop))
	out := testkit.Call(t, other, "console-snoop", `{}`)
	got := testkit.DecodeJSON[map[string][2]any](t, out.Payload)
	if len(got) != 3 {
		t.Fatalf("answers: %s", out.Payload)
	}
	for p, r := range got {
		if r[0] != float64(403) || !strings.Contains(r[1].(string), "MissingAuthenticationTokenException") {
			t.Errorf("unsigned %s from a function: %v", p, r)
		}
	}
}
