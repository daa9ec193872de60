package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// TestLongLogGroup: a LoggingConfig.LogGroup of 512 characters (the model's
// limit, past the 255-byte file name limit) keeps its function's logs, and
// its real name can be read back beside them.
func TestLongLogGroup(t *testing.T) {
	t.Parallel()
	d, c := servertest.InvokeEnv(t, nil)
	group := "/custom/" + strings.Repeat("a-b_c.d#e/", 50) + "tail"
	if len(group) != 512 {
		t.Fatalf("group has %d characters", len(group))
	}
	in := testkit.PyFunction(t, "long-group", "def handler(e, c):\n    print('logged to a long group')\n    return 1\n")
	in.LoggingConfig = &types.LoggingConfig{LogGroup: aws.String(group)}
	testkit.CreateActive(t, c, in)
	out := testkit.Call(t, c, "long-group", `{}`)
	id, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
	lc := d.Logs()
	var text string
	testkit.Eventually(t, 5*time.Second, "the invoke's log never reached the log group", func() bool {
		res, err := lc.FilterLogEvents(context.Background(), &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(group)})
		if err != nil {
			return false
		}
		text = ""
		for _, e := range res.Events {
			text += aws.ToString(e.Message)
		}
		return strings.Contains(text, "START RequestId: "+id) && strings.Contains(text, "logged to a long group")
	})
	groups, err := lc.DescribeLogGroups(context.Background(), &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String("/custom/")})
	if err != nil || len(groups.LogGroups) != 1 || aws.ToString(groups.LogGroups[0].LogGroupName) != group {
		t.Errorf("DescribeLogGroups: %+v, %v; want the 512-character group", groups, err)
	}
}
