// Package awsconn makes lambdad's own clients of the other AWS services it
// reads events from and delivers results to (SQS, SNS, Kinesis, DynamoDB
// Streams, EventBridge, S3, Secrets Manager for Kafka's credentials, and the MSK API for
// clusters' brokers).
// They go where the user says: --aws-endpoint-url (the URL functions get
// as AWS_ENDPOINT_URL), unless AWS's own
// AWS_ENDPOINT_URL_<SERVICE> variable names another for one service; and
// they are signed with the credentials of the standard AWS chain
// (environment, shared files, ...), read by aws-sdk-go-v2/config.
package awsconn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/kafka"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/lambdad/lambdad/internal/fault"
)

// Service names one of the services lambdad calls, as AWS's
// AWS_ENDPOINT_URL_<ID> variables spell it.
type Service string

// The services lambdad calls.
const (
	SQS             Service = "SQS"
	SNS             Service = "SNS"
	Kinesis         Service = "KINESIS"
	DynamoDBStreams Service = "DYNAMODB_STREAMS"
	EventBridge     Service = "EVENTBRIDGE"
	S3              Service = "S3"
	SecretsManager  Service = "SECRETS_MANAGER"
	Kafka           Service = "KAFKA"
)

// Config says where the services are.
type Config struct {
	// Endpoint is --aws-endpoint-url: every service's URL unless its own
	// AWS_ENDPOINT_URL_<SERVICE> is set. "" means AWS's own endpoints (or
	// AWS_ENDPOINT_URL from lambdad's environment).
	Endpoint string
	// Getenv reads the environment (os.Getenv when nil); tests pass
	// their own.
	Getenv func(string) string
	Logger *slog.Logger
}

// FlagHint names the settings that tell lambdad where the services are, for
// error messages.
const FlagHint = "--aws-endpoint-url (LAMBDAD_AWS_ENDPOINT_URL) or AWS_ENDPOINT_URL_<SERVICE>"

// Conn hands out clients, one per service and region, made once.
type Conn struct {
	cfg    Config
	base   aws.Config
	once   sync.Once
	anon   bool // no credentials in the chain: local servers get placeholders
	mu     sync.Mutex
	byKey  map[clientKey]any
	logger *slog.Logger
}

type clientKey struct {
	svc    Service
	region string
}

// New reads the standard AWS configuration chain (credentials are looked up
// later, on first need). Finding none is not an error: Check refuses, per
// service, what cannot work.
func New(ctx context.Context, cfg Config) (*Conn, error) {
	if cfg.Getenv == nil {
		cfg.Getenv = os.Getenv
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	var opts []func(*config.LoadOptions) error
	if cfg.Endpoint != "" {
		// Local servers check no credentials: the chain's last resort,
		// EC2 instance metadata, would only stall the first call (and
		// warn) on a machine without one.
		opts = append(opts, config.WithEC2IMDSClientEnableState(imds.ClientDisabled))
	}
	base, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("awsconn: AWS configuration: %w", err)
	}
	return &Conn{cfg: cfg, base: base, byKey: map[clientKey]any{}, logger: cfg.Logger}, nil
}

// resolve looks the credentials up once, on first need rather than at
// start: off EC2 the chain's instance metadata lookup can take a while.
func (c *Conn) resolve() {
	c.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if c.base.Credentials == nil {
			c.anon = true
		} else if _, err := c.base.Credentials.Retrieve(ctx); err != nil {
			c.anon = true
		}
		if c.anon {
			// Local servers (moto, LocalStack, ElasticMQ) check no
			// signature, but the SDK signs every request: placeholders
			// let it.
			c.base.Credentials = aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider("lambdad-local", "lambdad-local", ""))
			c.logger.Info("awsconn: no AWS credentials found; calls to local endpoints are signed with placeholders")
		}
	})
}

// Endpoint is the URL lambdad uses for svc, "" for AWS's own.
func (c *Conn) Endpoint(svc Service) string {
	if v := c.cfg.Getenv("AWS_ENDPOINT_URL_" + string(svc)); v != "" {
		return v
	}
	if c.cfg.Endpoint != "" {
		return c.cfg.Endpoint
	}
	return c.cfg.Getenv("AWS_ENDPOINT_URL")
}

// Check reports whether lambdad can call svc at all: it needs an endpoint
// of a local server, or AWS credentials for AWS's own. What it answers is
// an InvalidParameterValue fault that names the settings.
func (c *Conn) Check(svc Service) error {
	if c.Endpoint(svc) != "" {
		return nil
	}
	if c.resolve(); !c.anon {
		return nil
	}
	return fault.InvalidParameterf("lambdad cannot reach %s: it has no endpoint and no AWS credentials for it. Set %s to a local server, or give lambdad AWS credentials.", svc.display(), FlagHint)
}

func (s Service) display() string {
	switch s {
	case DynamoDBStreams:
		return "DynamoDB Streams"
	case EventBridge:
		return "EventBridge"
	case Kinesis:
		return "Kinesis"
	case SecretsManager:
		return "Secrets Manager"
	case Kafka:
		return "the Amazon MSK API"
	}
	return string(s)
}

func (c *Conn) config(region string) aws.Config {
	c.resolve()
	cfg := c.base.Copy()
	if region != "" {
		cfg.Region = region
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	return cfg
}

// client makes (once per service and region) the client of svc; endpoint
// is the URL it must use, "" for AWS's own.
func client[T any](c *Conn, svc Service, region string, make func(cfg aws.Config, endpoint *string) T) T {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := clientKey{svc, region}
	if v, ok := c.byKey[k]; ok {
		return v.(T)
	}
	var ep *string
	if e := c.Endpoint(svc); e != "" {
		ep = aws.String(e)
	}
	v := make(c.config(region), ep)
	c.byKey[k] = v
	return v
}

// setEndpoint keeps what the SDK resolved itself (a shared config file's
// endpoint_url) unless lambdad has an endpoint to give.
func setEndpoint(dst **string, ep *string) {
	if ep != nil {
		*dst = ep
	}
}

// SQS is the SQS client for region.
func (c *Conn) SQS(region string) *sqs.Client {
	return client(c, SQS, region, func(cfg aws.Config, ep *string) *sqs.Client {
		return sqs.NewFromConfig(cfg, func(o *sqs.Options) { setEndpoint(&o.BaseEndpoint, ep) })
	})
}

// SNS is the SNS client for region.
func (c *Conn) SNS(region string) *sns.Client {
	return client(c, SNS, region, func(cfg aws.Config, ep *string) *sns.Client {
		return sns.NewFromConfig(cfg, func(o *sns.Options) { setEndpoint(&o.BaseEndpoint, ep) })
	})
}

// Kinesis is the Kinesis client for region.
func (c *Conn) Kinesis(region string) *kinesis.Client {
	return client(c, Kinesis, region, func(cfg aws.Config, ep *string) *kinesis.Client {
		return kinesis.NewFromConfig(cfg, func(o *kinesis.Options) { setEndpoint(&o.BaseEndpoint, ep) })
	})
}

// DynamoDBStreams is the DynamoDB Streams client for region.
func (c *Conn) DynamoDBStreams(region string) *dynamodbstreams.Client {
	return client(c, DynamoDBStreams, region, func(cfg aws.Config, ep *string) *dynamodbstreams.Client {
		return dynamodbstreams.NewFromConfig(cfg, func(o *dynamodbstreams.Options) { setEndpoint(&o.BaseEndpoint, ep) })
	})
}

// EventBridge is the EventBridge client for region.
func (c *Conn) EventBridge(region string) *eventbridge.Client {
	return client(c, EventBridge, region, func(cfg aws.Config, ep *string) *eventbridge.Client {
		return eventbridge.NewFromConfig(cfg, func(o *eventbridge.Options) { setEndpoint(&o.BaseEndpoint, ep) })
	})
}

// S3 is the S3 client for region; local servers are addressed by path.
func (c *Conn) S3(region string) *s3.Client {
	return client(c, S3, region, func(cfg aws.Config, ep *string) *s3.Client {
		return s3.NewFromConfig(cfg, func(o *s3.Options) { setEndpoint(&o.BaseEndpoint, ep); o.UsePathStyle = ep != nil })
	})
}

// SecretsManager is the Secrets Manager client for region (Kafka mappings
// read their credentials and certificates there).
func (c *Conn) SecretsManager(region string) *secretsmanager.Client {
	return client(c, SecretsManager, region, func(cfg aws.Config, ep *string) *secretsmanager.Client {
		return secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) { setEndpoint(&o.BaseEndpoint, ep) })
	})
}

// Kafka is the Amazon MSK API's client for region (MSK mappings ask it for
// their cluster's bootstrap brokers).
func (c *Conn) Kafka(region string) *kafka.Client {
	return client(c, Kafka, region, func(cfg aws.Config, ep *string) *kafka.Client {
		return kafka.NewFromConfig(cfg, func(o *kafka.Options) { setEndpoint(&o.BaseEndpoint, ep) })
	})
}

// ARN is an AWS ARN's parts, for the region and account a call goes to.
type ARN struct {
	Partition, Service, Region, Account, Resource string
}

// ParseARN splits an ARN; it checks the shape only.
func ParseARN(s string) (ARN, error) {
	p := strings.SplitN(s, ":", 6)
	if len(p) != 6 || p[0] != "arn" || p[1] == "" || p[2] == "" || p[5] == "" {
		return ARN{}, errors.New("awsconn: not an ARN: " + s)
	}
	return ARN{Partition: p[1], Service: p[2], Region: p[3], Account: p[4], Resource: p[5]}, nil
}

// Credentials are lambdad's own AWS credentials (placeholders when the
// chain has none), for what signs with them outside an SDK client: MSK's
// IAM authentication.
func (c *Conn) Credentials(ctx context.Context) (aws.Credentials, error) {
	c.resolve()
	return c.base.Credentials.Retrieve(ctx)
}
