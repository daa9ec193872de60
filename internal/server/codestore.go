package server

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lambdad/lambdad/internal/blobs"
)

// DefaultCodeCacheMB bounds the local cache of code kept in S3 (--blobs):
// archives and their unpacked trees.
const DefaultCodeCacheMB = 4096

// openBlobs opens the code store: <data dir>/blobs, or with --blobs an S3
// bucket with <data dir>/code-cache as its bounded cache. The cache is a
// directory of its own so that switching to S3 never evicts archives that
// only the filesystem store holds.
func openBlobs(cfg Config, log *slog.Logger) (*blobs.Store, error) {
	if cfg.Blobs == "" {
		return blobs.Open(filepath.Join(cfg.DataDir, "blobs"), log)
	}
	bucket, prefix, err := blobs.ParseS3URL(cfg.Blobs)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := codeS3Client(ctx, cfg.S3Endpoint)
	if err != nil {
		return nil, err
	}
	remote := blobs.NewS3(c, bucket, prefix)
	if err := remote.Check(ctx); err != nil {
		where := "AWS"
		if cfg.S3Endpoint != "" {
			where = cfg.S3Endpoint
		}
		return nil, fmt.Errorf("--blobs %s (at %s): %w", cfg.Blobs, where, err)
	}
	mb := cfg.CodeCacheMB
	if mb <= 0 {
		mb = DefaultCodeCacheMB
	}
	log.Info("code archives in S3", "blobs", remote.String(), "cache_mb", mb)
	return blobs.OpenConfig(blobs.Config{Dir: filepath.Join(cfg.DataDir, "code-cache"), Logger: log, Remote: remote, CacheBytes: int64(mb) << 20})
}

// codeS3Client is an S3 client with the standard AWS chain's credentials and
// region, at endpoint (path-style, for local servers) when it is set.
func codeS3Client(ctx context.Context, endpoint string) (*s3.Client, error) {
	var opts []func(*config.LoadOptions) error
	if endpoint != "" {
		// A local server: instance metadata would only stall the lookup.
		opts = append(opts, config.WithEC2IMDSClientEnableState(imds.ClientDisabled))
	}
	base, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("--blobs: AWS configuration: %w", err)
	}
	if base.Region == "" {
		base.Region = "us-east-1"
	}
	if endpoint != "" {
		// Local servers check no credentials; give them placeholders when
		// the chain has none, as for --s3-endpoint's code.
		if base.Credentials == nil {
			base.Credentials = credentials.NewStaticCredentialsProvider("test", "test", "")
		} else if _, err := base.Credentials.Retrieve(ctx); err != nil {
			base.Credentials = credentials.NewStaticCredentialsProvider("test", "test", "")
		}
	}
	return s3.NewFromConfig(base, func(o *s3.Options) {
		// Archives are checked against their SHA-256 when fetched: the
		// SDK's note that a response had no checksum is noise on stderr.
		o.DisableLogOutputChecksumValidationSkipped = true
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
			o.UsePathStyle = true
		}
	}), nil
}
