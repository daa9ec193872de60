package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/chromedp/chromedp"

	"github.com/lambdad/lambdad/internal/server"
	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// consoleLive prints one plain line naming how it was invoked: the
// event's "how", or an SQS message's body.
const consoleLive = `
def handler(event, context):
    how = event.get("how") or event["Records"][0]["body"]
    print("live line", how, "from", context.function_name)
    return how
`

// TestConsoleLiveLogs: the console's live logs are read through lambdad's
// CloudWatch Logs API. A function invoked every way (SDK sync and Event,
// the console's form sync and Event, an SQS event source mapping) shows
// each invocation's line once, with its log stream, on its page and on the
// page of every function's logs; after a restart they are still there.
func TestConsoleLiveLogs(t *testing.T) {
	moto := testkit.Moto(t)
	dir := t.TempDir()
	tune := func(cfg *server.Config) { cfg.AWSEndpoint = moto }
	d := servertest.StartLambdad(t, dir, tune)
	c := servertest.InvokeClient(d)
	ctx := context.Background()
	shots := screenshotDir(t)

	testkit.CreateActive(t, c, testkit.PyFunction(t, "live-a", consoleLive))
	testkit.CreateActive(t, c, testkit.PyFunction(t, "live-b", consoleLive))
	e := &esmEnv{t: t, moto: moto, d: d, c: c, sqs: sqsClient(moto)}
	qurl, qarn := e.queue("console-live", nil)
	m, err := c.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("live-a"), EventSourceArn: aws.String(qarn), BatchSize: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "the mapping enabled", func() bool {
		g, err := c.GetEventSourceMapping(ctx, &lambda.GetEventSourceMappingInput{UUID: m.UUID})
		return err == nil && aws.ToString(g.State) == "Enabled"
	})

	b := newBrowser(t, d.URL)
	b.run(t, "open live-a", chromedp.Navigate(d.URL+"/#/fn/live-a"))
	b.until(t, 30*time.Second, "live logs follow live-a's group",
		`document.querySelector('#live-logs').dataset.ready === "1" && document.querySelector('#live-group').innerText === "/aws/lambda/live-a"`)

	// Every way of invoking.
	testkit.Call(t, c, "live-a", `{"how": "sdk-sync"}`)
	if _, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("live-a"), InvocationType: types.InvocationTypeEvent, Payload: []byte(`{"how": "sdk-event"}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(qurl), MessageBody: aws.String("esm-message")}); err != nil {
		t.Fatal(err)
	}
	b.run(t, "invoke from the form",
		chromedp.SetValue(chromedp.CSS("#payload"), `{"how": "form-sync"}`),
		chromedp.Click(chromedp.CSS("#invoke")))
	b.until(t, 60*time.Second, "the form's invoke answers", `document.querySelector('#invoke-response').innerText.includes("form-sync")`)
	b.run(t, "invoke Event from the form",
		chromedp.SetValue(chromedp.CSS("#payload"), `{"how": "form-event"}`),
		chromedp.SetValue(chromedp.CSS("#invocation-type"), "Event"),
		chromedp.Click(chromedp.CSS("#invoke")))
	b.until(t, 30*time.Second, "the Event invoke is accepted", `document.querySelector('#invoke-status').dataset.status === "202"`)

	hows := []string{"sdk-sync", "sdk-event", "esm-message", "form-sync", "form-event"}
	for _, how := range hows {
		line := "live line " + how + " from live-a"
		b.until(t, 60*time.Second, "live logs show the "+how+" invocation", fmt.Sprintf(`document.querySelector('#live-logs').innerText.includes(%q)`, line))
	}
	// The Event invoke's log, read from the Logs API by its request id.
	b.until(t, 30*time.Second, "the form shows the Event invocation's log",
		`document.querySelector('#invoke-log').innerText.includes("live line form-event") && document.querySelector('#invoke-log').dataset.stream`)
	tail := b.text(t, "#invoke-log")
	for _, want := range []string{"START RequestId:", "live line form-event from live-a", "REPORT RequestId:"} {
		if !strings.Contains(tail, want) {
			t.Errorf("the Event invocation's log %q lacks %q", tail, want)
		}
	}
	if strings.Contains(tail, "form-sync") {
		t.Errorf("the Event invocation's log holds another invocation's line: %q", tail)
	}
	b.screenshot(t, shots, "live-logs", "#live")
	checkLines(t, b, "#live-logs", "/aws/lambda/live-a", hows)

	// Every function's logs, on one page.
	b.run(t, "open every function's live logs", chromedp.Navigate(d.URL+"/#/logs"))
	b.until(t, 30*time.Second, "the page follows live-a's group", `document.querySelector('#all-logs').dataset.ready === "1" && document.querySelector('#all-logs-status').innerText.includes("1 log group")`)
	testkit.Call(t, c, "live-b", `{"how": "b-sync"}`) // its group is new: the page finds it
	b.until(t, 30*time.Second, "live-b's line lands", `document.querySelector('#all-logs').innerText.includes("live line b-sync from live-b") && document.querySelector('#all-logs-status').innerText.includes("2 log groups")`)
	checkLines(t, b, "#all-logs", "/aws/lambda/live-a", hows)
	checkLines(t, b, "#all-logs", "/aws/lambda/live-b", []string{"b-sync"})
	if got := b.text(t, `#all-logs .event[data-group="/aws/lambda/live-b"] .group`); got != "live-b" {
		t.Errorf("live-b's line is labelled %q", got)
	}
	b.screenshot(t, shots, "all-logs")

	// The logs are stored: after a restart they are there still. (The
	// first browser leaves for a page that polls nothing, so that it does
	// not poll a stopped lambdad.)
	b.run(t, "leave the live logs", chromedp.Navigate(d.URL+"/#/mappings"))
	b.until(t, 20*time.Second, "the mappings page shows", `document.querySelector('#mappings-table')`)
	d.Stop()
	d2 := servertest.StartLambdad(t, dir, tune)
	c2 := servertest.InvokeClient(d2)
	b2 := newBrowser(t, d2.URL)
	b2.run(t, "open every function's live logs after a restart", chromedp.Navigate(d2.URL+"/#/logs"))
	b2.until(t, 30*time.Second, "the page reads the stored logs", `document.querySelector('#all-logs').dataset.ready === "1"`)
	testkit.Call(t, c2, "live-a", `{"how": "after-restart"}`)
	b2.until(t, 60*time.Second, "a new invocation's line lands", `document.querySelector('#all-logs').innerText.includes("live line after-restart from live-a")`)
	checkLines(t, b2, "#all-logs", "/aws/lambda/live-a", append(hows, "after-restart"))
	b2.screenshot(t, shots, "all-logs-after-restart")
}

// checkLines checks that the view sel shows each how's line of group once,
// as an event of an AWS-named log stream.
func checkLines(t *testing.T, b *browser, sel, group string, hows []string) {
	t.Helper()
	for _, how := range hows {
		js := fmt.Sprintf(`(() => {
			const evs = [...document.querySelectorAll(%q + ' .event')].filter((e) => e.dataset.group === %q && e.innerText.includes("live line " + %q + " "));
			return JSON.stringify(evs.map((e) => [e.dataset.stream, e.querySelector('.stream').innerText, Number(e.dataset.timestamp)]));
		})()`, sel, group, how)
		got, err := evalAs[string](b, js)
		if err != nil {
			t.Fatal(err)
		}
		var rows [][3]any
		if err := json.Unmarshal([]byte(got), &rows); err != nil || len(rows) != 1 {
			t.Errorf("%s: the %s line of %s shows %d times (%s), want once", sel, how, group, len(rows), got)
			continue
		}
		stream, short := rows[0][0].(string), rows[0][1].(string)
		if !streamName.MatchString(stream) || !strings.HasPrefix(short, "[$LATEST]") || !strings.Contains(stream, strings.TrimSuffix(short, "…")) {
			t.Errorf("%s: the %s line's stream is %q, shown as %q", sel, how, stream, short)
		}
		if ts := int64(rows[0][2].(float64)); time.Since(time.UnixMilli(ts)) > 5*time.Minute || time.Until(time.UnixMilli(ts)) > time.Second {
			t.Errorf("%s: the %s line is stamped %v", sel, how, time.UnixMilli(ts))
		}
	}
}
