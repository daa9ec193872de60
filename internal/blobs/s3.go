package blobs

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"net/url"
	"path"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
)

// S3 keeps archives in one bucket of an S3-compatible service, each under
// <prefix>/<hex[:2]>/<hex> (no leading slash; <hex[:2]>/<hex> without a
// prefix).
type S3 struct {
	c              *s3.Client
	bucket, prefix string
}

// ParseS3URL splits s3://bucket/prefix; the prefix may be empty.
func ParseS3URL(raw string) (bucket, prefix string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", fmt.Errorf("blobs: %q is not a URL: %w", raw, err)
	}
	if u.Scheme != "s3" {
		return "", "", fmt.Errorf("blobs: %q: the scheme must be s3 (s3://bucket/prefix)", raw)
	}
	if u.Host == "" {
		return "", "", fmt.Errorf("blobs: %q names no bucket (s3://bucket/prefix)", raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", "", fmt.Errorf("blobs: %q: only s3://bucket/prefix is accepted", raw)
	}
	return u.Host, strings.Trim(u.Path, "/"), nil
}

// NewS3 keeps archives in bucket under prefix through c.
func NewS3(c *s3.Client, bucket, prefix string) *S3 {
	return &S3{c: c, bucket: bucket, prefix: strings.Trim(prefix, "/")}
}

func (r *S3) key(h string) string { return path.Join(r.prefix, h[:2], h) }

// String names the bucket and prefix, for logs and errors.
func (r *S3) String() string { return "s3://" + path.Join(r.bucket, r.prefix) }

// Check fails unless the bucket can be reached with the client's
// credentials.
func (r *S3) Check(ctx context.Context) error {
	if _, err := r.c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &r.bucket}); err != nil {
		return fmt.Errorf("blobs: bucket %s is not reachable: %w", r.bucket, err)
	}
	return nil
}

// payloadHashKey carries an archive's hex SHA-256 to the signer, which
// would otherwise hash the body again for SigV4 over plain HTTP.
type payloadHashKey struct{}

// knownPayloadHash hands the signer the payload hash put in ctx.
func knownPayloadHash(st *middleware.Stack) error {
	return st.Finalize.Insert(middleware.FinalizeMiddlewareFunc("lambdadKnownPayloadHash",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			if h, ok := ctx.Value(payloadHashKey{}).(string); ok {
				ctx = v4.SetPayloadHash(ctx, h)
			}
			return next.HandleFinalize(ctx, in)
		}), "ComputePayloadHash", middleware.Before)
}

// Put uploads body (info.Size bytes) with its SHA-256, which S3 checks
// against what it received; it returns once S3 has the object.
func (r *S3) Put(ctx context.Context, info Info, body io.ReadSeeker) error {
	key := r.key(info.Hex)
	sent := &md5Reader{r: body, h: md5.New()}
	out, err := r.c.PutObject(context.WithValue(ctx, payloadHashKey{}, info.Hex), &s3.PutObjectInput{
		Bucket:         &r.bucket,
		Key:            &key,
		Body:           sent,
		ContentLength:  aws.Int64(info.Size),
		ChecksumSHA256: aws.String(info.Base64),
		ContentType:    aws.String("application/zip"),
	}, func(o *s3.Options) { o.APIOptions = append(o.APIOptions, knownPayloadHash) })
	if err != nil {
		return fmt.Errorf("blobs: put %s to %s: %w", info.Hex, r, err)
	}
	// S3 itself refuses a body whose SHA-256 is not ChecksumSHA256, but
	// not every S3-compatible server does: the ETag of a plain upload is
	// the MD5 of what arrived, compared with the MD5 of what was sent.
	if sum, ok := sent.sum(); ok && md5ETag(aws.ToString(out.ETag)) {
		if strings.Trim(aws.ToString(out.ETag), `"`) != sum {
			return fmt.Errorf("blobs: put %s to %s: S3 received other bytes (ETag %s, sent MD5 %s)", info.Hex, r, aws.ToString(out.ETag), sum)
		}
		return nil
	}
	if out.ChecksumSHA256 != nil {
		if *out.ChecksumSHA256 != info.Base64 {
			return fmt.Errorf("blobs: put %s to %s: S3 stored SHA-256 %s", info.Hex, r, *out.ChecksumSHA256)
		}
		return nil
	}
	// A server that does not echo the checksum: compare what it stored.
	head, err := r.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &r.bucket, Key: &key, ChecksumMode: types.ChecksumModeEnabled})
	if err != nil {
		return fmt.Errorf("blobs: put %s to %s: %w", info.Hex, r, err)
	}
	if aws.ToInt64(head.ContentLength) != info.Size || (head.ChecksumSHA256 != nil && *head.ChecksumSHA256 != info.Base64) {
		return fmt.Errorf("blobs: put %s to %s: S3 stored %d bytes, want %d", info.Hex, r, aws.ToInt64(head.ContentLength), info.Size)
	}
	return nil
}

// Get writes the archive h to w. The error wraps fs.ErrNotExist when S3
// does not have it.
func (r *S3) Get(ctx context.Context, h string, w io.Writer) error {
	key := r.key(h)
	out, err := r.c.GetObject(ctx, &s3.GetObjectInput{Bucket: &r.bucket, Key: &key})
	if err != nil {
		if notFound(err) {
			return fmt.Errorf("blobs: get %s from %s: %w", h, r, fs.ErrNotExist)
		}
		return fmt.Errorf("blobs: get %s from %s: %w", h, r, err)
	}
	defer out.Body.Close()
	if _, err := io.Copy(w, out.Body); err != nil {
		return fmt.Errorf("blobs: get %s from %s: %w", h, r, err)
	}
	return nil
}

// Exists reports whether S3 has the archive h.
func (r *S3) Exists(ctx context.Context, h string) (bool, error) {
	key := r.key(h)
	_, err := r.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &r.bucket, Key: &key})
	if err == nil {
		return true, nil
	}
	if notFound(err) {
		return false, nil
	}
	return false, fmt.Errorf("blobs: head %s in %s: %w", h, r, err)
}

// Delete removes the archive h; removing what is not there succeeds.
func (r *S3) Delete(ctx context.Context, h string) error {
	key := r.key(h)
	if _, err := r.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &r.bucket, Key: &key}); err != nil && !notFound(err) {
		return fmt.Errorf("blobs: delete %s from %s: %w", h, r, err)
	}
	return nil
}

// List returns every archive under the prefix, with when it was stored.
func (r *S3) List(ctx context.Context) ([]Listed, error) {
	var prefix *string
	if r.prefix != "" {
		prefix = aws.String(r.prefix + "/")
	}
	var out []Listed
	p := s3.NewListObjectsV2Paginator(r.c, &s3.ListObjectsV2Input{Bucket: &r.bucket, Prefix: prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("blobs: list %s: %w", r, err)
		}
		for _, o := range page.Contents {
			k := aws.ToString(o.Key)
			if h := path.Base(k); validHex(h) && k == r.key(h) {
				out = append(out, Listed{Hex: h, Modified: aws.ToTime(o.LastModified)})
			}
		}
	}
	return out, nil
}

// md5Reader hashes what the SDK reads of a body, from its start (a retry
// seeks back and starts over).
type md5Reader struct {
	r  io.ReadSeeker
	mu sync.Mutex // the transport may read on a goroutine of its own
	h  hash.Hash
	ok bool // reads so far started at the beginning
}

func (m *md5Reader) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	m.mu.Lock()
	m.h.Write(p[:n])
	m.mu.Unlock()
	return n, err
}

func (m *md5Reader) Seek(off int64, whence int) (int64, error) {
	pos, err := m.r.Seek(off, whence)
	m.mu.Lock()
	m.h.Reset()
	m.ok = err == nil && pos == 0
	m.mu.Unlock()
	return pos, err
}

func (m *md5Reader) sum() (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return hex.EncodeToString(m.h.Sum(nil)), m.ok
}

// md5ETag tells an ETag that is an MD5 (a plain upload without SSE-KMS)
// from others (multipart: "<md5>-<parts>").
func md5ETag(etag string) bool {
	e := strings.Trim(etag, `"`)
	if len(e) != 32 {
		return false
	}
	_, err := hex.DecodeString(e)
	return err == nil
}

func notFound(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchKey", "NotFound":
			return true
		}
	}
	return false
}
