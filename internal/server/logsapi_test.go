package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/lambdad/lambdad/internal/server"
	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// pyLogs prints, logs through the logging module, prints a JSON record,
// and fails with a traceback when asked.
const pyLogs = `import json, logging
logger = logging.getLogger()
logger.setLevel(logging.INFO)

def handler(event, context):
    n = event.get("n")
    print("plain line", n)
    logger.info("info record %s", n)
    print(json.dumps({"level": "ERROR" if n == 2 else "INFO", "n": n, "fn": "py"}))
    if event.get("fail"):
        raise ValueError("boom " + str(n))
    return n
`

const nodeLogs = `exports.handler = async (event) => {
  console.log('node line', event.n);
  console.error('node multi\nline two');
  return event.n;
};
`

var streamName = regexp.MustCompile(`^\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}$`)

// logsEnv starts lambdad with a Python and a Node function that have run
// (Python three times, the third failing; Node once), and waits until
// their REPORT lines can be read.
func logsEnv(t *testing.T) (*servertest.Daemon, *lambda.Client, *cloudwatchlogs.Client) {
	t.Helper()
	d, c := servertest.InvokeEnv(t, nil)
	testkit.CreateActive(t, c, testkit.PyFunction(t, "py-logs", pyLogs))
	testkit.CreateActive(t, c, testkit.NodeFunction(t, "node-logs", "index.js", "index.handler", nodeLogs))
	for _, p := range []string{`{"n":1}`, `{"n":2}`, `{"n":3,"fail":true}`} {
		testkit.Call(t, c, "py-logs", p)
	}
	testkit.Call(t, c, "node-logs", `{"n":7}`)
	lc := d.Logs()
	for _, g := range []string{"/aws/lambda/py-logs", "/aws/lambda/node-logs"} {
		want := 3
		if strings.Contains(g, "node") {
			want = 1
		}
		testkit.Eventually(t, 5*time.Second, "the REPORT lines of "+g, func() bool {
			res, err := lc.FilterLogEvents(context.Background(), &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(g), FilterPattern: aws.String("REPORT")})
			return err == nil && len(res.Events) == want
		})
	}
	return d, c, lc
}

// TestLogsAPI reads function logs with aws-sdk-go-v2's cloudwatchlogs
// client: groups, streams, events with tokens, filter patterns, errors.
func TestLogsAPI(t *testing.T) {
	t.Parallel()
	d, _, lc := logsEnv(t)
	ctx := context.Background()
	py := aws.String("/aws/lambda/py-logs")

	groups, err := lc.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String("/aws/lambda/")})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range groups.LogGroups {
		names = append(names, aws.ToString(g.LogGroupName))
		if !strings.HasPrefix(aws.ToString(g.LogGroupArn), "arn:aws:logs:"+testkit.Region+":") || aws.ToInt64(g.CreationTime) == 0 {
			t.Errorf("log group %+v", g)
		}
	}
	if strings.Join(names, ",") != "/aws/lambda/node-logs,/aws/lambda/py-logs" {
		t.Errorf("log groups %v", names)
	}

	// One stream per environment, named as AWS names them.
	streams, err := lc.DescribeLogStreams(ctx, &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: py,
		OrderBy: cwtypes.OrderByLastEventTime, Descending: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if len(streams.LogStreams) != 1 {
		t.Fatalf("streams %+v", streams.LogStreams)
	}
	st := streams.LogStreams[0]
	if !streamName.MatchString(aws.ToString(st.LogStreamName)) || aws.ToInt64(st.FirstEventTimestamp) == 0 ||
		aws.ToInt64(st.LastEventTimestamp) < aws.ToInt64(st.FirstEventTimestamp) || aws.ToInt64(st.LastIngestionTime) == 0 {
		t.Errorf("stream %+v", st)
	}
	_, err = lc.DescribeLogStreams(ctx, &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: py,
		OrderBy: cwtypes.OrderByLastEventTime, LogStreamNamePrefix: aws.String("2")})
	testkit.APIErr(t, err, "InvalidParameterException", 400, "Cannot order by LastEventTime with a logStreamNamePrefix.")

	// GetLogEvents from the head, a page at a time, to the end.
	var msgs []string
	in := &cloudwatchlogs.GetLogEventsInput{LogGroupName: py, LogStreamName: st.LogStreamName, StartFromHead: aws.Bool(true), Limit: aws.Int32(4)}
	for range 20 {
		page, err := lc.GetLogEvents(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Events {
			msgs = append(msgs, aws.ToString(e.Message))
		}
		if aws.ToString(page.NextForwardToken) == aws.ToString(in.NextToken) {
			break
		}
		if !strings.HasPrefix(aws.ToString(page.NextForwardToken), "f/") || !strings.HasPrefix(aws.ToString(page.NextBackwardToken), "b/") {
			t.Fatalf("tokens %q %q", aws.ToString(page.NextForwardToken), aws.ToString(page.NextBackwardToken))
		}
		in.NextToken = page.NextForwardToken
	}
	all := strings.Join(msgs, "")
	// A cold start opens the stream with INIT_START, as on AWS.
	if !strings.HasPrefix(msgs[0], "INIT_START Runtime Version: ") || strings.Count(all, "START RequestId: ") != 3 || strings.Count(all, "plain line") != 3 || strings.Count(all, "REPORT RequestId") != 3 {
		t.Errorf("GetLogEvents read:\n%s", all)
	}
	// The traceback is one event of many lines, as on AWS.
	var tb string
	for _, m := range msgs {
		if strings.Contains(m, "boom 3") {
			tb = m
		}
	}
	if !strings.HasPrefix(tb, "[ERROR] ValueError: boom 3\nTraceback (most recent call last):\n") || strings.Contains(tb, "\r") {
		t.Errorf("traceback event %q", tb)
	}

	filter := func(pattern string) []cwtypes.FilteredLogEvent {
		t.Helper()
		res, err := lc.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: py, FilterPattern: aws.String(pattern)})
		if err != nil {
			t.Fatalf("%s: %v", pattern, err)
		}
		return res.Events
	}
	if evs := filter(`{ $.level = "ERROR" && $.n = 2 }`); len(evs) != 1 || !strings.Contains(aws.ToString(evs[0].Message), `"n": 2`) {
		t.Errorf("JSON selector: %+v", evs)
	}
	if evs := filter(`"plain line" -2 -3`); len(evs) != 1 || aws.ToString(evs[0].Message) != "plain line 1\n" {
		t.Errorf("phrase and exclusions: %+v", evs)
	}
	if evs := filter(`?boom ?"info record 1"`); len(evs) != 2 {
		t.Errorf("optional terms: %+v", evs)
	}
	for _, e := range filter("REPORT") {
		if len(aws.ToString(e.EventId)) != 56 || aws.ToString(e.LogStreamName) != aws.ToString(st.LogStreamName) {
			t.Errorf("filtered event %+v", e)
		}
	}
	// Time bounds: nothing after now, everything since the stream began.
	now := time.Now().Add(time.Second).UnixMilli()
	res, err := lc.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: py, StartTime: aws.Int64(now)})
	if err != nil || len(res.Events) != 0 {
		t.Errorf("events after now: %v, %v", res, err)
	}
	res, err = lc.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: py, StartTime: st.FirstEventTimestamp, EndTime: aws.Int64(now), Limit: aws.Int32(5)})
	if err != nil || len(res.Events) != 5 || res.NextToken == nil {
		t.Fatalf("first page: %v, %v", res, err)
	}
	// Paginated, interleaved in time order.
	var got []cwtypes.FilteredLogEvent
	p := cloudwatchlogs.NewFilterLogEventsPaginator(lc, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: py, Limit: aws.Int32(3)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page.Events...)
	}
	if len(got) != len(msgs) {
		t.Errorf("FilterLogEvents paged %d events, GetLogEvents %d", len(got), len(msgs))
	}
	for i := 1; i < len(got); i++ {
		if aws.ToInt64(got[i].Timestamp) < aws.ToInt64(got[i-1].Timestamp) {
			t.Errorf("event %d out of time order", i)
		}
	}

	// The Node function's multi-line console.error is one event.
	node, err := lc.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("/aws/lambda/node-logs"), FilterPattern: aws.String(`"node multi"`)})
	if err != nil || len(node.Events) != 1 || !strings.HasSuffix(aws.ToString(node.Events[0].Message), "\tERROR\tnode multi\nline two\n") {
		t.Errorf("node multi-line record: %+v, %v", node, err)
	}

	// Log groups are an account's and a region's own.
	for _, other := range []*cloudwatchlogs.Client{
		testkit.LogsClient(d.URL, "111111111111", "secret", testkit.Region),
		testkit.LogsClient(d.URL, testkit.InvokeKey, "secret", "eu-west-1"),
	} {
		res, err := other.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{})
		if err != nil || len(res.LogGroups) != 0 {
			t.Errorf("another account or region sees %+v, %v", res, err)
		}
		_, err = other.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: py})
		testkit.APIErr(t, err, "ResourceNotFoundException", 400, "The specified log group does not exist.")
	}

	// Errors, in AWS's words.
	_, err = lc.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("/aws/lambda/nope")})
	testkit.APIErr(t, err, "ResourceNotFoundException", 400, "The specified log group does not exist.")
	_, err = lc.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: py, LogStreamName: aws.String("nope")})
	testkit.APIErr(t, err, "ResourceNotFoundException", 400, "The specified log stream does not exist.")
	_, err = lc.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: py})
	testkit.APIErr(t, err, "ResourceAlreadyExistsException", 400, "The specified log group already exists")
	_, err = lc.PutRetentionPolicy(ctx, &cloudwatchlogs.PutRetentionPolicyInput{LogGroupName: py, RetentionInDays: aws.Int32(2)})
	testkit.APIErrPrefix(t, err, "InvalidParameterException", 400, "")
	_, err = lc.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: py, LogStreamName: st.LogStreamName, NextToken: aws.String("invalid-token")})
	testkit.APIErr(t, err, "InvalidParameterException", 400, "The specified nextToken is invalid.")
	_, err = lc.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: py, LogStreamNames: []string{aws.ToString(st.LogStreamName)}, Limit: aws.Int32(20), NextToken: aws.String("invalid-token")})
	testkit.APIErr(t, err, "InvalidParameterException", 400, "The specified nextToken is invalid.")
	tooMany := "1 validation error detected: Value '10001' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 10000"
	_, err = lc.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: py, LogStreamName: st.LogStreamName, Limit: aws.Int32(10001)})
	testkit.APIErr(t, err, "InvalidParameterException", 400, tooMany)
	_, err = lc.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: py, Limit: aws.Int32(10001)})
	testkit.APIErr(t, err, "InvalidParameterException", 400, tooMany)
}

// TestLogsAPIGroups: CreateLogGroup, retention policies, DeleteLogGroup.
func TestLogsAPIGroups(t *testing.T) {
	t.Parallel()
	d, _ := servertest.InvokeEnv(t, nil)
	lc := d.Logs()
	ctx := context.Background()
	g := aws.String("/my/app")
	if _, err := lc.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: g}); err != nil {
		t.Fatal(err)
	}
	if _, err := lc.PutRetentionPolicy(ctx, &cloudwatchlogs.PutRetentionPolicyInput{LogGroupName: g, RetentionInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	res, err := lc.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePattern: aws.String("APP")})
	if err != nil || len(res.LogGroups) != 1 || aws.ToInt32(res.LogGroups[0].RetentionInDays) != 7 {
		t.Fatalf("after PutRetentionPolicy: %+v, %v", res, err)
	}
	if _, err := lc.DeleteRetentionPolicy(ctx, &cloudwatchlogs.DeleteRetentionPolicyInput{LogGroupName: g}); err != nil {
		t.Fatal(err)
	}
	res, _ = lc.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: g})
	if len(res.LogGroups) != 1 || res.LogGroups[0].RetentionInDays != nil {
		t.Errorf("after DeleteRetentionPolicy: %+v", res.LogGroups)
	}
	streams, err := lc.DescribeLogStreams(ctx, &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: g})
	if err != nil || len(streams.LogStreams) != 0 {
		t.Errorf("streams of a new group: %+v, %v", streams, err)
	}
	if _, err := lc.DeleteLogGroup(ctx, &cloudwatchlogs.DeleteLogGroupInput{LogGroupName: g}); err != nil {
		t.Fatal(err)
	}
	_, err = lc.DeleteLogGroup(ctx, &cloudwatchlogs.DeleteLogGroupInput{LogGroupName: g})
	testkit.APIErr(t, err, "ResourceNotFoundException", 400, "The specified log group does not exist.")
	_, err = lc.PutRetentionPolicy(ctx, &cloudwatchlogs.PutRetentionPolicyInput{LogGroupName: g, RetentionInDays: aws.Int32(1)})
	testkit.APIErr(t, err, "ResourceNotFoundException", 400, "The specified log group does not exist.")
	_, err = lc.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("bad name!")})
	testkit.APIErrPrefix(t, err, "InvalidParameterException", 400, "1 validation error detected")
	// AWS's answers, as LocalStack's snapshots of real AWS record them.
	_, err = lc.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(strings.Repeat("a", 513))})
	testkit.APIErr(t, err, "InvalidParameterException", 400, "Invalid LogGroup or LogStream, both must have length less than or equal to 512.")
	_, err = lc.DescribeLogStreams(ctx, &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: g, LogGroupIdentifier: g})
	testkit.APIErr(t, err, "ValidationException", 400, "LogGroup name and LogGroup ARN are mutually exclusive parameters.")
	_, err = lc.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: g, LogGroupNamePattern: g})
	testkit.APIErr(t, err, "InvalidParameterException", 400, "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.")
	long := strings.Repeat("X", 1025)
	_, err = lc.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: g, FilterPattern: aws.String(long)})
	testkit.APIErr(t, err, "InvalidParameterException", 400, "1 validation error detected: Value '"+long+"' at 'filterPattern' failed to satisfy constraint: Member must have length less than or equal to 1024")
	// What lambdad would keep without acting on it is refused, and
	// creates nothing.
	for _, in := range []*cloudwatchlogs.CreateLogGroupInput{
		{LogGroupName: aws.String("/refused"), KmsKeyId: aws.String("arn:aws:kms:us-east-1:000000000000:key/k")},
		{LogGroupName: aws.String("/refused"), Tags: map[string]string{"team": "a"}},
		{LogGroupName: aws.String("/refused"), DeletionProtectionEnabled: aws.Bool(true)},
	} {
		_, err = lc.CreateLogGroup(ctx, in)
		testkit.APIErrPrefix(t, err, "NotImplementedException", 501, "CreateLogGroup's ")
	}
	if _, err := lc.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("/unprotected"), DeletionProtectionEnabled: aws.Bool(false)}); err != nil {
		t.Fatal(err)
	}
	res, err = lc.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String("/")})
	if err != nil || len(res.LogGroups) != 1 || aws.ToString(res.LogGroups[0].LogGroupName) != "/unprotected" || res.LogGroups[0].DeletionProtectionEnabled == nil || *res.LogGroups[0].DeletionProtectionEnabled {
		t.Errorf("groups after the refusals: %+v, %v", res, err)
	}

	// On the wire: JSON 1.1's error body, unsigned as lambdad allows
	// without --credentials.
	for _, c := range []struct{ target, body, want string }{
		{"Logs_20140328.DescribeLogStreams", `{"logGroupName":"/nope"}`, `{"__type":"ResourceNotFoundException","message":"The specified log group does not exist."}`},
		{"Logs_20140328.DescribeLogStreams", `{"logGroupName":5}`, `{"__type":"SerializationException"`},
		{"Logs_20140328.NoSuchOperation", `{}`, `{"__type":"UnknownOperationException"}`},
	} {
		req, _ := http.NewRequest("POST", d.URL+"/", strings.NewReader(c.body))
		req.Header.Set("X-Amz-Target", c.target)
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.HasPrefix(string(body), c.want) || resp.Header.Get("Content-Type") != "application/x-amz-json-1.1" {
			t.Errorf("%s %s: %d %s %q", c.target, c.body, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	}
}

// TestLogsLiveTail: StartLiveTail's event stream, read by the SDK, carries
// the session's start and then the events of an invoke made after it.
func TestLogsLiveTail(t *testing.T) {
	t.Parallel()
	d, c := servertest.InvokeEnv(t, nil)
	testkit.CreateActive(t, c, testkit.PyFunction(t, "py-tail", "def handler(e, c):\n    print('tailed', e['n'])\n    return 1\n"))
	testkit.Call(t, c, "py-tail", `{"n":0}`) // the group exists from the first log on
	lc := d.Logs()
	arn := "arn:aws:logs:" + testkit.Region + ":" + testkit.InvokeAccount + ":log-group:/aws/lambda/py-tail"
	testkit.Eventually(t, 5*time.Second, "the log group", func() bool {
		res, err := lc.DescribeLogGroups(context.Background(), &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String("/aws/lambda/py-tail")})
		return err == nil && len(res.LogGroups) == 1
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := lc.StartLiveTail(ctx, &cloudwatchlogs.StartLiveTailInput{LogGroupIdentifiers: []string{arn}, LogEventFilterPattern: aws.String("tailed")})
	if err != nil {
		t.Fatal(err)
	}
	stream := out.GetStream()
	defer stream.Close()
	started, updates := false, 0
	go testkit.Call(t, c, "py-tail", `{"n":42}`)
	for ev := range stream.Events() {
		switch v := ev.(type) {
		case *cwtypes.StartLiveTailResponseStreamMemberSessionStart:
			started = len(v.Value.LogGroupIdentifiers) == 1 && aws.ToString(v.Value.SessionId) != ""
		case *cwtypes.StartLiveTailResponseStreamMemberSessionUpdate:
			updates++
			for _, r := range v.Value.SessionResults {
				if aws.ToString(r.Message) == "tailed 42\n" && aws.ToString(r.LogGroupIdentifier) == arn && streamName.MatchString(aws.ToString(r.LogStreamName)) {
					if !started {
						t.Error("no sessionStart before the first sessionUpdate")
					}
					return
				}
				t.Errorf("live tail result %+v", r)
			}
		}
	}
	t.Fatalf("the stream ended after %d updates without the invoke's line: %v", updates, stream.Err())
}

// TestLogsAPICredentials: with --credentials, the Logs API checks SigV4 as
// the Lambda API does, scoped to "logs".
func TestLogsAPICredentials(t *testing.T) {
	t.Parallel()
	d := servertest.StartLambdad(t, t.TempDir(), func(c *server.Config) {
		c.Credentials = map[string]string{"AKIDLOGS": "logs-secret"}
	})
	ctx := context.Background()
	good := testkit.LogsClient(d.URL, "AKIDLOGS", "logs-secret", testkit.Region)
	if _, err := good.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{}); err != nil {
		t.Fatalf("a known key: %v", err)
	}
	_, err := testkit.LogsClient(d.URL, "AKIDLOGS", "wrong", testkit.Region).DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{})
	testkit.APIErrPrefix(t, err, "InvalidSignatureException", 403, "The request signature we calculated does not match")
	_, err = testkit.LogsClient(d.URL, "AKIDOTHER", "x", testkit.Region).DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{})
	testkit.APIErr(t, err, "UnrecognizedClientException", 403, "The security token included in the request is invalid.")
}

// awsCLI runs the AWS CLI against d, returning its JSON output.
func awsCLI(t *testing.T, d *servertest.Daemon, args ...string) []byte {
	t.Helper()
	home := t.TempDir()
	cmd := exec.Command("aws", append(args, "--endpoint-url", d.URL, "--region", testkit.Region, "--output", "json")...)
	cmd.Env = append(os.Environ(), "HOME="+home, "AWS_ACCESS_KEY_ID="+testkit.InvokeKey, "AWS_SECRET_ACCESS_KEY=secret",
		"AWS_CONFIG_FILE="+filepath.Join(home, "none"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "none"))
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("aws %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr)
	}
	return out
}

// TestLogsAWSCLIAndBoto3: `aws logs` and boto3's logs client read the
// functions' logs unchanged.
func TestLogsAWSCLIAndBoto3(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("aws"); err != nil {
		t.Skip("aws CLI not installed")
	}
	d, _, _ := logsEnv(t)
	var filtered struct {
		Events []struct{ LogStreamName, Message, EventId string }
	}
	json.Unmarshal(awsCLI(t, d, "logs", "filter-log-events", "--log-group-name", "/aws/lambda/py-logs", "--filter-pattern", "plain"), &filtered)
	if len(filtered.Events) != 3 || !strings.HasPrefix(filtered.Events[0].Message, "plain line 1") {
		t.Errorf("aws logs filter-log-events: %+v", filtered)
	}
	var streams struct {
		LogStreams []struct{ LogStreamName string }
	}
	json.Unmarshal(awsCLI(t, d, "logs", "describe-log-streams", "--log-group-name", "/aws/lambda/py-logs", "--order-by", "LastEventTime", "--descending"), &streams)
	if len(streams.LogStreams) != 1 || !streamName.MatchString(streams.LogStreams[0].LogStreamName) {
		t.Fatalf("aws logs describe-log-streams: %+v", streams)
	}
	var events struct {
		Events            []struct{ Message string }
		NextForwardToken  string
		NextBackwardToken string
	}
	json.Unmarshal(awsCLI(t, d, "logs", "get-log-events", "--log-group-name", "/aws/lambda/py-logs", "--log-stream-name", streams.LogStreams[0].LogStreamName, "--start-from-head"), &events)
	if len(events.Events) < 10 || !strings.HasPrefix(events.Events[0].Message, "INIT_START Runtime Version: ") || !strings.HasPrefix(events.Events[1].Message, "START RequestId: ") || !strings.HasPrefix(events.NextForwardToken, "f/") {
		t.Errorf("aws logs get-log-events: %+v", events)
	}

	script := `import boto3, sys
from botocore.config import Config
c = boto3.client("logs", endpoint_url=sys.argv[1], region_name="us-east-1", config=Config(retries={"max_attempts": 1}))
groups = [g["logGroupName"] for g in c.describe_log_groups(logGroupNamePrefix="/aws/lambda/")["logGroups"]]
assert groups == ["/aws/lambda/node-logs", "/aws/lambda/py-logs"], groups
events = [e for p in c.get_paginator("filter_log_events").paginate(logGroupName="/aws/lambda/py-logs", filterPattern="ERROR") for e in p["events"]]
assert any(e["message"].startswith("[ERROR] ValueError: boom 3\nTraceback") for e in events), events
try:
    c.get_log_events(logGroupName="/aws/lambda/none", logStreamName="x")
    raise SystemExit("no error for a missing group")
except c.exceptions.ResourceNotFoundException as e:
    assert e.response["Error"]["Message"] == "The specified log group does not exist.", e.response
print("boto3 ok", len(events))
`
	cmd := exec.Command("python3", "-c", script, d.URL)
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+testkit.InvokeKey, "AWS_SECRET_ACCESS_KEY=secret", "AWS_CONFIG_FILE=/nonexistent", "AWS_SHARED_CREDENTIALS_FILE=/nonexistent")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "boto3 ok") {
		if strings.Contains(string(out), "No module named 'boto3'") {
			t.Skip("boto3 not installed")
		}
		t.Errorf("boto3: %v\n%s", err, out)
	}
}

// TestLogsStreamPerEnvironment: two invokes at once run in two
// environments, and each has its own log stream, named in its
// AWS_LAMBDA_LOG_STREAM_NAME (context.log_stream_name), as on AWS.
func TestLogsStreamPerEnvironment(t *testing.T) {
	t.Parallel()
	d, c := servertest.InvokeEnv(t, nil)
	testkit.CreateActive(t, c, testkit.PyFunction(t, "py-envs", "import time\ndef handler(e, c):\n    time.sleep(1)\n    print('my stream', c.log_stream_name)\n    return c.log_stream_name\n"))
	done := make(chan string, 2)
	for range 2 {
		go func() { done <- string(testkit.Call(t, c, "py-envs", `{}`).Payload) }()
	}
	a, b := <-done, <-done
	if a == b {
		t.Fatalf("two environments share the stream %s", a)
	}
	lc := d.Logs()
	for _, s := range []string{a, b} {
		name := strings.Trim(s, `"`)
		if !streamName.MatchString(name) {
			t.Errorf("stream %q is not named as AWS names it", name)
		}
		testkit.Eventually(t, 5*time.Second, "the log of stream "+name, func() bool {
			res, err := lc.GetLogEvents(context.Background(), &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String("/aws/lambda/py-envs"), LogStreamName: aws.String(name), StartFromHead: aws.Bool(true)})
			if err != nil {
				return false
			}
			var text string
			for _, e := range res.Events {
				text += aws.ToString(e.Message)
			}
			return strings.Count(text, "START RequestId") == 1 && strings.Contains(text, "my stream "+name+"\n")
		})
	}
}

// TestLogsLiveTailShutdown: a live tail in progress does not hold lambdad's
// shutdown for its grace period: the session ends at once.
func TestLogsLiveTailShutdown(t *testing.T) {
	t.Parallel()
	d, _ := servertest.InvokeEnv(t, nil)
	lc := d.Logs()
	ctx := context.Background()
	if _, err := lc.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("/tailed")}); err != nil {
		t.Fatal(err)
	}
	out, err := lc.StartLiveTail(ctx, &cloudwatchlogs.StartLiveTailInput{LogGroupIdentifiers: []string{"/tailed"}})
	if err != nil {
		t.Fatal(err)
	}
	stream := out.GetStream()
	defer stream.Close()
	if _, ok := (<-stream.Events()).(*cwtypes.StartLiveTailResponseStreamMemberSessionStart); !ok {
		t.Fatal("no sessionStart")
	}
	start := time.Now()
	d.Stop()
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("lambdad took %v to stop with a live tail open", el)
	}
	for range stream.Events() {
	}
}
