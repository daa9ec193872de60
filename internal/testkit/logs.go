package testkit

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// LogsClient is a CloudWatch Logs client for the lambdad at url (its Logs
// API shares the Lambda API's endpoint), without retries.
func LogsClient(url, accessKey, secret, region string) *cloudwatchlogs.Client {
	cfg := aws.Config{
		Region:      region,
		Credentials: credentials.NewStaticCredentialsProvider(accessKey, secret, ""),
		Retryer:     func() aws.Retryer { return aws.NopRetryer{} },
	}
	return cloudwatchlogs.NewFromConfig(cfg, func(o *cloudwatchlogs.Options) {
		o.BaseEndpoint = aws.String(url)
		o.APIOptions = append(o.APIOptions, noHostPrefix)
	})
}

// noHostPrefix keeps StartLiveTail on the endpoint: the SDK would call
// "stream-<host>", which does not resolve for an IP or localhost.
func noHostPrefix(st *middleware.Stack) error {
	return st.Initialize.Add(middleware.InitializeMiddlewareFunc("lambdadNoHostPrefix",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			return next.HandleInitialize(smithyhttp.DisableEndpointHostPrefix(ctx, true), in)
		}), middleware.Before)
}

// LogText is the messages of every event of every log group, joined: per
// group in time order, through the Logs API (FilterLogEvents, every page).
func LogText(t testing.TB, c *cloudwatchlogs.Client) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	groups, err := c.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups.LogGroups {
		p := cloudwatchlogs.NewFilterLogEventsPaginator(c, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: g.LogGroupName})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range page.Events {
				b.WriteString(aws.ToString(e.Message))
			}
		}
	}
	return b.String()
}
