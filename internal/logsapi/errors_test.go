package logsapi

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lambdad/lambdad/internal/awsproto"
	"github.com/lambdad/lambdad/internal/logs"
	ls "github.com/lambdad/lambdad/internal/spec/logsspec"
)

// TestErrorsAsAWS: the errors whose code, status and message AWS's
// recorded responses give (LocalStack's snapshots of real AWS, named at
// each error in the code).
func TestErrorsAsAWS(t *testing.T) {
	st, err := logs.Open(logs.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(context.Background())
	id := awsproto.Identity{Account: "000000000000", Region: "us-east-1"}
	st.AppendSince(logs.Key(id.Account, id.Region, "/g"), "s", []byte(time.Now().UTC().Format("2006-01-02T15:04:05.000Z")+"\tr\tx\n"), time.Now().Add(-time.Minute))
	h := New(logs.Files(st), awsproto.NewService(nil), nil)
	ctx := context.Background()
	long := strings.Repeat("X", 1025)
	for _, c := range []struct {
		name     string
		call     func() error
		typ, msg string
		status   int
	}{
		{"DescribeLogGroups prefix and pattern", func() error {
			_, err := h.describeLogGroups(ctx, id, &ls.DescribeLogGroupsRequest{LogGroupNamePrefix: ptr("/g"), LogGroupNamePattern: ptr("g")})
			return err
		}, "InvalidParameterException", "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.", 400},
		{"DescribeLogStreams name and identifier", func() error {
			_, err := h.describeLogStreams(ctx, id, &ls.DescribeLogStreamsRequest{LogGroupName: ptr("/g"), LogGroupIdentifier: ptr("/g")})
			return err
		}, "ValidationException", "LogGroup name and LogGroup ARN are mutually exclusive parameters.", 400},
		{"CreateLogGroup 513 characters", func() error {
			_, err := h.createLogGroup(ctx, id, &ls.CreateLogGroupRequest{LogGroupName: ptr(strings.Repeat("a", 513))})
			return err
		}, "InvalidParameterException", "Invalid LogGroup or LogStream, both must have length less than or equal to 512.", 400},
		{"GetLogEvents limit 10001", func() error {
			_, err := h.getLogEvents(ctx, id, &ls.GetLogEventsRequest{LogGroupName: ptr("/g"), LogStreamName: ptr("s"), Limit: ptr(int32(10001))})
			return err
		}, "InvalidParameterException", "1 validation error detected: Value '10001' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 10000", 400},
		{"FilterLogEvents limit 10001", func() error {
			_, err := h.filterLogEvents(ctx, id, &ls.FilterLogEventsRequest{LogGroupName: ptr("/g"), Limit: ptr(int32(10001))})
			return err
		}, "InvalidParameterException", "1 validation error detected: Value '10001' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 10000", 400},
		{"GetLogEvents invalid token", func() error {
			_, err := h.getLogEvents(ctx, id, &ls.GetLogEventsRequest{LogGroupName: ptr("/g"), LogStreamName: ptr("s"), NextToken: ptr("invalid-token")})
			return err
		}, "InvalidParameterException", "The specified nextToken is invalid.", 400},
		{"FilterLogEvents invalid token", func() error {
			_, err := h.filterLogEvents(ctx, id, &ls.FilterLogEventsRequest{LogGroupName: ptr("/g"), LogStreamNames: []string{"s"}, Limit: ptr(int32(20)), NextToken: ptr("invalid-token")})
			return err
		}, "InvalidParameterException", "The specified nextToken is invalid.", 400},
		{"FilterLogEvents filterPattern of 1025 characters", func() error {
			_, err := h.filterLogEvents(ctx, id, &ls.FilterLogEventsRequest{LogGroupName: ptr("/g"), FilterPattern: ptr(long)})
			return err
		}, "InvalidParameterException", "1 validation error detected: Value '" + long + "' at 'filterPattern' failed to satisfy constraint: Member must have length less than or equal to 1024", 400},
	} {
		var e *Error
		if err := c.call(); !errors.As(err, &e) || e.Type != c.typ || e.Status != c.status || e.Message != c.msg {
			t.Errorf("%s: %v, want %s (%d): %s", c.name, err, c.typ, c.status, c.msg)
		}
	}
}
