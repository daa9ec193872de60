package awsconn

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/testkit"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// noCredentials empties the standard chain for the test.
func noCredentials(t *testing.T) {
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

func TestEndpointPrecedence(t *testing.T) {
	noCredentials(t)
	c, err := New(context.Background(), Config{Endpoint: "http://flag", Getenv: env(map[string]string{"AWS_ENDPOINT_URL_SQS": "http://sqs-only", "AWS_ENDPOINT_URL": "http://env"})})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Endpoint(SQS); got != "http://sqs-only" {
		t.Errorf("SQS endpoint = %q, want the service's own variable", got)
	}
	if got := c.Endpoint(SNS); got != "http://flag" {
		t.Errorf("SNS endpoint = %q, want the flag", got)
	}
	c, _ = New(context.Background(), Config{Getenv: env(map[string]string{"AWS_ENDPOINT_URL": "http://env"})})
	if got := c.Endpoint(Kinesis); got != "http://env" {
		t.Errorf("Kinesis endpoint = %q, want AWS_ENDPOINT_URL", got)
	}
}

// Without an endpoint and without credentials, Check refuses and names the
// flag; with either, it lets the call through.
func TestCheckNamesTheFlag(t *testing.T) {
	noCredentials(t)
	c, err := New(context.Background(), Config{Getenv: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Check(SQS)
	if !fault.Is(err, fault.InvalidParameter) || !strings.Contains(err.Error(), "--aws-endpoint-url (LAMBDAD_AWS_ENDPOINT_URL)") {
		t.Fatalf("Check = %v, want an InvalidParameter naming the flag", err)
	}
	c, _ = New(context.Background(), Config{Endpoint: "http://127.0.0.1:1", Getenv: env(nil)})
	if err := c.Check(SQS); err != nil {
		t.Errorf("with an endpoint, Check = %v", err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	c, _ = New(context.Background(), Config{Getenv: env(nil)})
	if err := c.Check(SNS); err != nil {
		t.Errorf("with credentials, Check = %v", err)
	}
}

// The clients reach a real local server through the flag's endpoint.
func TestClientsReachMoto(t *testing.T) {
	url := testkit.Moto(t)
	noCredentials(t)
	c, err := New(context.Background(), Config{Endpoint: url, Getenv: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	q, err := c.SQS("eu-west-1").CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("awsconn")})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(*q.QueueUrl, "awsconn") {
		t.Errorf("queue URL %q", *q.QueueUrl)
	}
	if _, err := c.SQS("eu-west-1").SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String("hi")}); err != nil {
		t.Fatal(err)
	}
	got, err := c.SQS("eu-west-1").ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl})
	if err != nil || len(got.Messages) != 1 || *got.Messages[0].Body != "hi" {
		t.Fatalf("received %+v, %v", got, err)
	}
}

func TestParseARN(t *testing.T) {
	a, err := ParseARN("arn:aws:sqs:us-east-1:123456789012:q:with:colons")
	if err != nil || a.Service != "sqs" || a.Region != "us-east-1" || a.Account != "123456789012" || a.Resource != "q:with:colons" {
		t.Errorf("ParseARN = %+v, %v", a, err)
	}
	for _, bad := range []string{"", "arn:aws:sqs", "notarn:aws:sqs:r:a:q", "arn:aws:sqs:r:a:"} {
		if _, err := ParseARN(bad); err == nil {
			t.Errorf("ParseARN(%q) accepted", bad)
		}
	}
}
