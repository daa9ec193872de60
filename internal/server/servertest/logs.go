package servertest

import (
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"

	"github.com/lambdad/lambdad/internal/testkit"
)

// Logs is a CloudWatch Logs client of the daemon (default account).
func (d *Daemon) Logs() *cloudwatchlogs.Client {
	return testkit.LogsClient(d.URL, testkit.InvokeKey, "secret", testkit.Region)
}
