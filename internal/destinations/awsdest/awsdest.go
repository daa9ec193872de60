// Package awsdest is the destinations.Transport that calls SQS, SNS,
// EventBridge and S3 through lambdad's own clients (awsconn).
package awsdest

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/lambdad/lambdad/internal/awsconn"
	"github.com/lambdad/lambdad/internal/destinations"
)

// Transport delivers through conn.
type Transport struct {
	conn *awsconn.Conn
}

// New makes the transport.
func New(conn *awsconn.Conn) *Transport { return &Transport{conn: conn} }

// service is the awsconn service of an ARN's service.
func service(arnService string) (awsconn.Service, bool) {
	switch arnService {
	case "sqs":
		return awsconn.SQS, true
	case "sns":
		return awsconn.SNS, true
	case "events":
		return awsconn.EventBridge, true
	case "s3":
		return awsconn.S3, true
	}
	return "", false
}

// Check reports whether lambdad can reach the service of target at all
// (awsconn's fault naming --aws-endpoint-url when it cannot).
func (t *Transport) Check(target string) error {
	a, err := awsconn.ParseARN(target)
	if err != nil {
		return err
	}
	svc, ok := service(a.Service)
	if !ok {
		return fmt.Errorf("awsdest: no destination of service %q", a.Service)
	}
	return t.conn.Check(svc)
}

// Send makes one attempt.
func (t *Transport) Send(ctx context.Context, m destinations.Message) error {
	a, err := awsconn.ParseARN(m.Target)
	if err != nil {
		return err
	}
	if err := t.Check(m.Target); err != nil {
		return err
	}
	switch a.Service {
	case "sqs":
		return t.sqs(ctx, a, m)
	case "sns":
		var attrs map[string]snstypes.MessageAttributeValue
		for k, v := range m.Attributes {
			if attrs == nil {
				attrs = map[string]snstypes.MessageAttributeValue{}
			}
			attrs[k] = snstypes.MessageAttributeValue{DataType: aws.String(v.Type), StringValue: aws.String(v.Value)}
		}
		_, err := t.conn.SNS(a.Region).Publish(ctx, &sns.PublishInput{TopicArn: aws.String(m.Target), Message: aws.String(string(m.Body)), MessageAttributes: attrs})
		return err
	case "events":
		out, err := t.conn.EventBridge(a.Region).PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
			EventBusName: aws.String(m.Target), Source: aws.String("lambda"), DetailType: aws.String(m.DetailType),
			Detail: aws.String(string(m.Body)), Resources: m.Resources,
		}}})
		if err != nil {
			return err
		}
		if out.FailedEntryCount > 0 && len(out.Entries) > 0 {
			e := out.Entries[0]
			return fmt.Errorf("awsdest: PutEvents to %s failed: %s: %s", m.Target, aws.ToString(e.ErrorCode), aws.ToString(e.ErrorMessage))
		}
		return nil
	case "s3":
		// An S3 bucket ARN has neither region nor account.
		_, err := t.conn.S3(a.Region).PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(a.Resource), Key: aws.String(m.Key),
			Body: bytes.NewReader(m.Body), ContentType: aws.String("application/json")})
		return err
	}
	return fmt.Errorf("awsdest: no destination of service %q", a.Service)
}

func (t *Transport) sqs(ctx context.Context, a awsconn.ARN, m destinations.Message) error {
	if strings.HasSuffix(a.Resource, ".fifo") {
		return fmt.Errorf("awsdest: %s is a FIFO queue, which AWS does not deliver records to", m.Target)
	}
	c := t.conn.SQS(a.Region)
	in := &sqs.GetQueueUrlInput{QueueName: aws.String(a.Resource)}
	if a.Account != "" {
		in.QueueOwnerAWSAccountId = aws.String(a.Account)
	}
	q, err := c.GetQueueUrl(ctx, in)
	if err != nil {
		return err
	}
	attrs := map[string]sqstypes.MessageAttributeValue{}
	for k, v := range m.Attributes {
		attrs[k] = sqstypes.MessageAttributeValue{DataType: aws.String(v.Type), StringValue: aws.String(v.Value)}
	}
	send := &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String(string(m.Body))}
	if len(attrs) > 0 {
		send.MessageAttributes = attrs
	}
	_, err = c.SendMessage(ctx, send)
	return err
}
