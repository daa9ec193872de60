package server_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"

	"github.com/lambdad/lambdad/internal/testkit"
)

// TestPostgresSharedLogs: on a PostgreSQL store, a function invoked on
// node A has its logs read through node B's Logs API, live tail included.
func TestPostgresSharedLogs(t *testing.T) {
	ctx := context.Background()
	url := testkit.Postgres(t)
	blobs := filepath.Join(t.TempDir(), "blobs")
	_, a := pgNode(t, url, blobs, nil)
	db, _ := pgNode(t, url, blobs, nil)
	lb := db.Logs()
	testkit.CreateActive(t, a, testkit.PyFunction(t, "py-shared", "def handler(e, c):\n    print('ran on A', e['n'])\n    return 1\n"))
	testkit.Call(t, a, "py-shared", `{"n":1}`)
	group := aws.String("/aws/lambda/py-shared")

	var events []cwtypes.FilteredLogEvent
	testkit.Eventually(t, 5*time.Second, "A's log events through B", func() bool {
		out, err := lb.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: group})
		if err != nil {
			return false
		}
		events = out.Events
		return len(events) > 0 && strings.HasPrefix(aws.ToString(events[len(events)-1].Message), "REPORT RequestId: ")
	})
	var text []string
	for _, e := range events {
		text = append(text, aws.ToString(e.Message))
	}
	if n := len(events); n < 4 || text[n-3] != "ran on A 1\n" {
		t.Fatalf("events %q", text)
	}
	last := events[len(events)-1]
	streams, err := lb.DescribeLogStreams(ctx, &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: group})
	if err != nil {
		t.Fatal(err)
	}
	if len(streams.LogStreams) != 1 || aws.ToString(streams.LogStreams[0].LogStreamName) != aws.ToString(events[0].LogStreamName) ||
		aws.ToInt64(streams.LogStreams[0].LastEventTimestamp) != aws.ToInt64(last.Timestamp) {
		t.Fatalf("streams %+v", streams.LogStreams)
	}
	got, err := lb.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: group, LogStreamName: events[0].LogStreamName,
		StartFromHead: aws.Bool(true), Limit: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Events) != 2 || aws.ToString(got.Events[0].Message) != text[0] || aws.ToString(got.Events[1].Message) != text[1] {
		t.Fatalf("GetLogEvents %+v", got.Events)
	}
	// The rest, read backward from the end.
	back, err := lb.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: group, LogStreamName: events[0].LogStreamName,
		Limit: aws.Int32(int32(len(events) - 2))})
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Events) != len(events)-2 || aws.ToString(back.Events[0].Message) != text[2] {
		t.Fatalf("GetLogEvents from the end %+v", back.Events)
	}
	prev, err := lb.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: group, LogStreamName: events[0].LogStreamName,
		NextToken: back.NextBackwardToken})
	if err != nil {
		t.Fatal(err)
	}
	if len(prev.Events) != 2 || aws.ToString(prev.Events[1].Message) != text[1] {
		t.Fatalf("GetLogEvents' page before %+v", prev.Events)
	}

	// A live tail on B sees an invoke on A.
	tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	tail, err := lb.StartLiveTail(tctx, &cloudwatchlogs.StartLiveTailInput{LogGroupIdentifiers: []string{*group}, LogEventFilterPattern: aws.String("ran")})
	if err != nil {
		t.Fatal(err)
	}
	stream := tail.GetStream()
	defer stream.Close()
	for ev := range stream.Events() {
		switch v := ev.(type) {
		case *cwtypes.StartLiveTailResponseStreamMemberSessionStart:
			go testkit.Call(t, a, "py-shared", `{"n":2}`)
		case *cwtypes.StartLiveTailResponseStreamMemberSessionUpdate:
			for _, r := range v.Value.SessionResults {
				if aws.ToString(r.Message) == "ran on A 2\n" {
					return
				}
				t.Errorf("live tail result %+v", r)
			}
		}
	}
	t.Fatalf("B's live tail ended without A's line: %v", stream.Err())
}
