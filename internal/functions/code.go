package functions

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"path/filepath"

	"github.com/lambdad/lambdad/internal/archive"
	"github.com/lambdad/lambdad/internal/blobs"
	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/limits"
)

// HotReloadBucket is the S3 bucket name that means "run the code straight
// from the local directory named by the key", as LocalStack does.
const HotReloadBucket = "hot-reload"

// hotReloadSha is the CodeSha256 of hot-reload code: it has no fixed bytes.
const hotReloadSha = "hot-reloading-hash-not-available"

// StagedZip is an uploaded zip that the API layer already wrote to the blob
// store while it read the request: committing it stores the zip without
// writing it a second time. One nobody commits is dropped by whoever staged
// it, once the request is answered.
type StagedZip interface {
	// Commit makes the written zip the stored object and returns its
	// digest and size.
	Commit() (blobs.Info, error)
}

// codeInput is the code part of CreateFunction or UpdateFunctionCode.
type codeInput struct {
	Zip []byte
	// Staged, when not nil, holds exactly the bytes of Zip, already written.
	Staged                     StagedZip
	S3Bucket, S3Key, S3Version *string
	ImageURI                   *string
}

func (c codeInput) empty() bool {
	return c.Zip == nil && c.S3Bucket == nil && c.S3Key == nil && c.ImageURI == nil
}

// intake checks code and stores it (unless dryRun), returning its reference.
func (s *Service) intake(ctx context.Context, in codeInput, dryRun bool) (Code, error) {
	switch {
	case in.ImageURI != nil:
		return Code{ImageURI: *in.ImageURI}, nil
	case in.S3Bucket != nil && *in.S3Bucket == HotReloadBucket:
		if in.S3Key == nil || !filepath.IsAbs(*in.S3Key) {
			return Code{}, fault.InvalidParameterf("When using hot reloading, the S3Key must be an absolute path to a local directory.")
		}
		if _, err := s.cfg.HotReload.Check(*in.S3Key); err != nil {
			return Code{}, err
		}
		return Code{HotReloadDir: filepath.Clean(*in.S3Key)}, nil
	case in.S3Bucket != nil || in.S3Key != nil:
		if in.S3Bucket == nil || in.S3Key == nil {
			return Code{}, fault.InvalidParameterf("Please provide a source for function code: S3Bucket and S3Key are both required.")
		}
		return s.intakeS3(ctx, in, dryRun)
	case in.Zip != nil:
		if in.Staged != nil && !dryRun {
			return s.intakeStaged(in.Staged, in.Zip)
		}
		info, err := archive.Inspect(bytes.NewReader(in.Zip), int64(len(in.Zip)), archive.DefaultLimits())
		if err != nil {
			return Code{}, zipError(err)
		}
		if dryRun {
			sum := sha256.Sum256(in.Zip)
			return Code{SHA256Hex: hex.EncodeToString(sum[:]), Size: int64(len(in.Zip)), Unzipped: info.UnzippedSize}, nil
		}
		bi, err := s.cfg.Blobs.PutBytes(ctx, in.Zip)
		if err != nil {
			return Code{}, err
		}
		return Code{SHA256Hex: bi.Hex, Size: bi.Size, Unzipped: info.UnzippedSize}, nil
	}
	return Code{}, fault.InvalidParameterf("Please provide a source for function code.")
}

// intakeStaged commits a zip that was written while the request was read,
// inspecting it meanwhile. A zip refused by the inspection is stored but
// unreferenced, and dropped by the caller as for S3.
func (s *Service) intakeStaged(w StagedZip, zip []byte) (Code, error) {
	var info archive.Info
	var ierr error
	inspected := make(chan struct{})
	go func() {
		defer close(inspected)
		info, ierr = archive.Inspect(bytes.NewReader(zip), int64(len(zip)), archive.DefaultLimits())
	}()
	bi, err := w.Commit()
	<-inspected
	if err != nil {
		return Code{}, err
	}
	code := Code{SHA256Hex: bi.Hex, Size: bi.Size, Unzipped: info.UnzippedSize}
	if ierr != nil {
		return code, zipError(ierr)
	}
	return code, nil
}

func (s *Service) intakeS3(ctx context.Context, in codeInput, dryRun bool) (Code, error) {
	if s.cfg.S3 == nil {
		return Code{}, fault.InvalidParameterf("Code in S3 (bucket %s) cannot be fetched: lambdad has no S3 endpoint. Start it with --s3-endpoint or LAMBDAD_S3_ENDPOINT.", *in.S3Bucket)
	}
	ver := ""
	if in.S3Version != nil {
		ver = *in.S3Version
	}
	body, err := s.cfg.S3.GetObject(ctx, *in.S3Bucket, *in.S3Key, ver)
	if err != nil {
		return Code{}, fault.InvalidParameterf("Error occurred while GetObject. S3 Error Code: %s. S3 Error Message: %s", s3Code(err), err.Error())
	}
	defer body.Close()
	bi, err := s.cfg.Blobs.Put(ctx, body)
	if err != nil {
		return Code{}, err
	}
	f, err := s.cfg.Blobs.Open(bi.Hex)
	if err != nil {
		return Code{}, err
	}
	info, err := archive.Inspect(f, bi.Size, archive.DefaultLimits())
	f.Close()
	code := Code{SHA256Hex: bi.Hex, Size: bi.Size, Unzipped: info.UnzippedSize}
	if err != nil {
		// Stored but refused: the caller drops it once it holds no lock.
		return code, zipError(err)
	}
	return code, nil
}

// S3ErrorCoder is implemented by S3 errors that carry AWS's error code.
type S3ErrorCoder interface{ ErrorCode() string }

func s3Code(err error) string {
	var c S3ErrorCoder
	if errors.As(err, &c) {
		return c.ErrorCode()
	}
	return "InternalError"
}

func zipError(err error) error {
	switch {
	case errors.Is(err, archive.ErrUnzippedTooLarge):
		return fault.InvalidParameterf("Unzipped size must be smaller than %d bytes", limits.UnzippedCodeBytes)
	case errors.Is(err, archive.ErrNotZip):
		return fault.InvalidParameterf("Could not unzip uploaded file. Please check your file, then try to upload again.")
	}
	return fault.InvalidParameterf("Could not unzip uploaded file. Please check your file, then try to upload again. (%v)", err)
}

// codeSha is the CodeSha256 the API shows for code.
func codeSha(c Code) string {
	switch {
	case c.HotReloadDir != "":
		return hotReloadSha
	case c.SHA256Hex != "":
		raw, _ := hex.DecodeString(c.SHA256Hex)
		return base64.StdEncoding.EncodeToString(raw)
	}
	return ""
}

// dropIfUnused deletes a blob nothing references (after a failed intake).
func (s *Service) dropIfUnused(sha string) { s.collect([]string{sha}) }
