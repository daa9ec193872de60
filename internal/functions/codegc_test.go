package functions

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lambdad/lambdad/internal/blobs"
	"github.com/lambdad/lambdad/internal/caller"
	"github.com/lambdad/lambdad/internal/store"
	"github.com/lambdad/lambdad/internal/store/storetest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// TestCollectRacesIntake: two nodes share a store and an S3 bucket (a real
// moto_server). Node B takes in the zip node A's only function uses, and
// finds it in S3 already (no upload); before B's transaction references
// it, A deletes its function and collects the zip from S3. B's transaction
// sees the collection, puts the zip back from its own copy and commits:
// B's function's code is in S3, and a third node reads it from there.
func TestCollectRacesIntake(t *testing.T) {
	ctx := context.Background()
	endpoint := testkit.Moto(t)
	c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("gc-race")}); err != nil {
		t.Fatal(err)
	}
	st := storetest.Open(t, "memory")
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	node := func() (*Service, *blobs.Store) {
		bl, err := blobs.OpenConfig(blobs.Config{Dir: t.TempDir(), Remote: blobs.NewS3(c, "gc-race", "code")})
		if err != nil {
			t.Fatal(err)
		}
		return New(Config{Store: st, Blobs: bl, Transition: time.Nanosecond, Now: func() time.Time { return now }}), bl
	}
	a, _ := node()
	b, _ := node()
	id := caller.Identity{Account: "123456789012", Region: "us-east-1"}
	ref := func(name string) Ref { return Ref{Account: id.Account, Region: id.Region, Name: name} }
	if _, err := a.Create(ctx, id, createReq(t, "first"), nil); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Second)
	raced := false
	b.beforeCodeCommit = func() {
		if raced {
			return
		}
		raced = true
		if err := a.Delete(ctx, ref("first")); err != nil {
			t.Fatal(err)
		}
	}
	out, err := b.Create(ctx, id, createReq(t, "second"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !raced {
		t.Fatal("the hook never ran")
	}
	raw, err := base64.StdEncoding.DecodeString(*out.CodeSha256)
	if err != nil {
		t.Fatal(err)
	}
	h := hex.EncodeToString(raw)
	// A third node, with an empty cache, reads it from S3.
	_, cl := node()
	f, err := cl.OpenContext(ctx, h)
	if err != nil {
		t.Fatalf("the second function's code is not in S3: %v", err)
	}
	f.Close()
	// The collection's record went with the restore.
	st.View(ctx, func(tx store.Tx) error {
		if tx.Get(bCodeGC, h) != nil {
			t.Error("the collection record is left")
		}
		return nil
	})
}

// TestCollectUnreferencedAge: two nodes share a store and one blobs
// directory. Collecting at start leaves an archive nothing refers to while
// it is younger than the age given (another node's commit may be about to
// refer to it), collects it once older, and counts a Put of the same bytes
// as storing it anew. What a function refers to stays, whatever its age.
func TestCollectUnreferencedAge(t *testing.T) {
	ctx := context.Background()
	st := storetest.Open(t, "memory")
	dir := t.TempDir()
	node := func() (*Service, *blobs.Store) {
		bl, err := blobs.Open(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		return New(Config{Store: st, Blobs: bl, Transition: time.Nanosecond}), bl
	}
	a, abl := node()
	b, bbl := node()
	id := caller.Identity{Account: "123456789012", Region: "us-east-1"}
	if _, err := a.Create(ctx, id, createReq(t, "kept"), nil); err != nil {
		t.Fatal(err)
	}
	age := func(h string, d time.Duration) {
		t.Helper()
		at := time.Now().Add(-d)
		if err := os.Chtimes(filepath.Join(dir, "objects", h[:2], h), at, at); err != nil {
			t.Fatal(err)
		}
	}
	all, err := bbl.List()
	if err != nil || len(all) != 1 {
		t.Fatalf("List = %v, %v", all, err)
	}
	kept := all[0].Hex
	age(kept, 3*time.Hour)
	orphan, err := abl.PutBytes(ctx, []byte("an upload whose commit never came"))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.CollectUnreferenced(ctx, time.Hour); err != nil {
		t.Fatal(err)
	}
	if !bbl.Has(orphan.Hex) || !bbl.Has(kept) {
		t.Fatal("collected an archive younger than the age, or one a function refers to")
	}
	// Stored again by a's intake just before b looks: young again.
	age(orphan.Hex, 2*time.Hour)
	if _, err := abl.PutBytes(ctx, []byte("an upload whose commit never came")); err != nil {
		t.Fatal(err)
	}
	if err := b.CollectUnreferenced(ctx, time.Hour); err != nil {
		t.Fatal(err)
	}
	if !bbl.Has(orphan.Hex) {
		t.Fatal("collected an archive just stored again")
	}
	age(orphan.Hex, 2*time.Hour)
	if err := b.CollectUnreferenced(ctx, time.Hour); err != nil {
		t.Fatal(err)
	}
	if bbl.Has(orphan.Hex) || !bbl.Has(kept) {
		t.Fatalf("after collecting: orphan stored %v, function's archive stored %v; want false, true", bbl.Has(orphan.Hex), bbl.Has(kept))
	}
}
