package logsapi

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/lambdad/lambdad/internal/awsproto"
	"github.com/lambdad/lambdad/internal/logs"
	ls "github.com/lambdad/lambdad/internal/spec/logsspec"
)

// DescribeLogStreams pages through every stream once, by name or by last
// event time, either way round.
func TestDescribeLogStreamsPages(t *testing.T) {
	st, err := logs.Open(logs.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(context.Background())
	id := awsproto.Identity{Account: "000000000000", Region: "us-east-1"}
	key := logs.Key(id.Account, id.Region, "/g")
	base := time.Now().Add(-time.Minute)
	// Stream names and last event times in opposite orders.
	for i := range 5 {
		at := base.Add(time.Duration(5-i) * time.Second)
		st.AppendSince(key, fmt.Sprintf("s%d", i), []byte(at.UTC().Format("2006-01-02T15:04:05.000Z")+"\tr\tx\n"), base)
	}
	h := New(logs.Files(st), awsproto.NewService(nil), nil)
	for _, c := range []struct {
		order string
		desc  bool
		want  string
	}{
		{ls.OrderByLogStreamName, false, "s0s1s2s3s4"},
		{ls.OrderByLogStreamName, true, "s4s3s2s1s0"},
		{ls.OrderByLastEventTime, false, "s4s3s2s1s0"},
		{ls.OrderByLastEventTime, true, "s0s1s2s3s4"},
	} {
		in := &ls.DescribeLogStreamsRequest{LogGroupName: ptr("/g"), OrderBy: ptr(c.order), Descending: ptr(c.desc), Limit: ptr(int32(2))}
		got := ""
		for pages := 0; pages < 5; pages++ {
			out, err := h.describeLogStreams(context.Background(), id, in)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range out.LogStreams {
				got += *s.LogStreamName
			}
			if out.NextToken == nil {
				break
			}
			in.NextToken = out.NextToken
		}
		if got != c.want {
			t.Errorf("orderBy %s descending %v: %s, want %s", c.order, c.desc, got, c.want)
		}
	}
}
