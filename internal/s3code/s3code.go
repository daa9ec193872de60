// Package s3code fetches function code from an S3-compatible endpoint with
// the AWS SDK's S3 client.
package s3code

import (
	"context"
	"errors"
	"io"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// Client reads objects from one endpoint, path-style (as local S3 servers need).
type Client struct {
	s3 *s3.Client
}

// New makes a client for endpoint. Credentials come from AWS_ACCESS_KEY_ID /
// AWS_SECRET_ACCESS_KEY when set, else fixed test credentials.
func New(endpoint, region string) *Client {
	key, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	if key == "" {
		key, secret = "test", "test"
	}
	c := s3.New(s3.Options{
		Region:       region,
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(key, secret, os.Getenv("AWS_SESSION_TOKEN")),
	})
	return &Client{s3: c}
}

// GetObject streams one object (one version, when version is not "").
func (c *Client) GetObject(ctx context.Context, bucket, key, version string) (io.ReadCloser, error) {
	in := &s3.GetObjectInput{Bucket: &bucket, Key: &key}
	if version != "" {
		in.VersionId = &version
	}
	out, err := c.s3.GetObject(ctx, in)
	if err != nil {
		return nil, &Error{err: err}
	}
	return out.Body, nil
}

// Error carries S3's error code (NoSuchKey, NoSuchBucket, ...).
type Error struct{ err error }

func (e *Error) Error() string {
	var ae smithy.APIError
	if errors.As(e.err, &ae) {
		return ae.ErrorMessage()
	}
	return e.err.Error()
}

// ErrorCode is S3's code for the failure.
func (e *Error) ErrorCode() string {
	var ae smithy.APIError
	if errors.As(e.err, &ae) {
		return ae.ErrorCode()
	}
	return "InternalError"
}

func (e *Error) Unwrap() error { return e.err }
