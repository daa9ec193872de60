package functions

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lambdad/lambdad/internal/archive/archivetest"
	"github.com/lambdad/lambdad/internal/blobs"
	"github.com/lambdad/lambdad/internal/caller"
	"github.com/lambdad/lambdad/internal/spec"
	"github.com/lambdad/lambdad/internal/store"
)

// stagedZip stands for a zip the API layer wrote while reading the request:
// Commit stores it, and counts that it was asked to.
type stagedZip struct {
	blobs   *blobs.Store
	zip     []byte
	commits int
}

func (z *stagedZip) Commit() (blobs.Info, error) {
	z.commits++
	return z.blobs.PutBytes(context.Background(), z.zip)
}

// TestStagedZipIsCommitted: code handed in staged is committed, not written
// again; a dry run commits nothing; a staged upload that is not a zip is
// refused and its blob dropped.
func TestStagedZipIsCommitted(t *testing.T) {
	dir := t.TempDir()
	db, err := store.OpenBolt(filepath.Join(dir, "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	bs, err := blobs.Open(filepath.Join(dir, "blobs"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	s := New(Config{Store: db, Blobs: bs})
	ctx := context.Background()
	id := caller.Identity{Account: "123456789012", Region: "us-east-1"}
	sha := func(b []byte) string { sum := sha256.Sum256(b); return base64.StdEncoding.EncodeToString(sum[:]) }
	str := func(s string) *string { return &s }
	create := func(name string, z *stagedZip) (*spec.FunctionConfiguration, error) {
		return s.Create(ctx, id, &spec.CreateFunctionRequest{FunctionName: str(name), Role: str("arn:aws:iam::123456789012:role/r"),
			Runtime: str("python3.12"), Handler: str("h.handler"), Code: &spec.FunctionCode{ZipFile: z.zip}}, z)
	}

	zip := archivetest.Zip(t, archivetest.File{Name: "h.py", Body: "def handler(e, c):\n    return 1\n"})
	staged := &stagedZip{blobs: bs, zip: zip}
	out, err := create("staged", staged)
	if err != nil {
		t.Fatal(err)
	}
	if staged.commits != 1 || *out.CodeSha256 != sha(zip) || *out.CodeSize != int64(len(zip)) {
		t.Errorf("create: %d commits, CodeSha256 %s size %d", staged.commits, *out.CodeSha256, *out.CodeSize)
	}

	zip2 := archivetest.Zip(t, archivetest.File{Name: "h.py", Body: "def handler(e, c):\n    return 2\n"})
	dry := &stagedZip{blobs: bs, zip: zip2}
	yes := true
	ref, _ := ParseRef(id, "staged", nil)
	up, err := s.UpdateCode(ctx, ref, &spec.UpdateFunctionCodeRequest{FunctionName: str("staged"), ZipFile: zip2, DryRun: &yes}, dry)
	if err != nil {
		t.Fatal(err)
	}
	if dry.commits != 0 || *up.CodeSha256 != sha(zip2) {
		t.Errorf("dry run: %d commits, CodeSha256 %s", dry.commits, *up.CodeSha256)
	}

	junk := &stagedZip{blobs: bs, zip: []byte(strings.Repeat("not a zip", 100))}
	if _, err := create("junk", junk); err == nil || !strings.Contains(err.Error(), "Could not unzip uploaded file") {
		t.Fatalf("a staged upload that is not a zip: %v", err)
	}
	sum := sha256.Sum256(junk.zip)
	if f, err := bs.Open(hex.EncodeToString(sum[:])); err == nil {
		f.Close()
		t.Error("the refused upload's blob was kept")
	}
}
