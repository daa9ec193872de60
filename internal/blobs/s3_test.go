package blobs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lambdad/lambdad/internal/archive/archivetest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// backendSuite is the store's behaviour that holds whatever keeps the
// archives: TestS3Backend runs it against S3 (each test also runs alone
// against the filesystem).
var backendSuite = []struct {
	name string
	fn   func(*testing.T, opener)
}{
	{"PutRoundTrip", testPutRoundTrip},
	{"LambdaCodeSha256", testLambdaCodeSha256},
	{"Deduplicates", testDeduplicates},
	{"ConcurrentPutSameBytes", testConcurrentPutSameBytes},
	{"PutFailureLeavesNothing", testPutFailureLeavesNothing},
	{"UnpackedConcurrent", testUnpackedConcurrent},
	{"UnpackedErrors", testUnpackedErrors},
	{"Delete", testDelete},
	{"DeleteWhileUnpacking", testDeleteWhileUnpacking},
	{"InvalidHexRejected", testInvalidHexRejected},
	{"Writer", testWriter},
	{"HoldDefersDelete", testHoldDefersDelete},
	{"HoldRacesDelete", testHoldRacesDelete},
}

// motoS3 is a client of a real moto_server started for the test.
func motoS3(t testing.TB) *s3.Client {
	t.Helper()
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(testkit.Moto(t)),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
}

// s3Backend opens stores over c, each with a new bucket and directory.
func s3Backend(c *s3.Client, cacheBytes int64) opener {
	var n atomic.Int64
	return func(t testing.TB) (*Store, *countHandler, string) {
		t.Helper()
		bucket := fmt.Sprintf("code-%d", n.Add(1))
		if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		h := &countHandler{n: map[string]int{}}
		s, err := OpenConfig(Config{Dir: dir, Logger: slog.New(h), Remote: NewS3(c, bucket, "lambdad/code"), CacheBytes: cacheBytes})
		if err != nil {
			t.Fatal(err)
		}
		return s, h, dir
	}
}

func TestS3Backend(t *testing.T) {
	c := motoS3(t)
	for _, tc := range backendSuite {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, s3Backend(c, 0)) })
	}
	// The same with a cache far too small for anything to stay: every
	// read goes to S3, nothing held is lost.
	for _, tc := range backendSuite {
		switch tc.name {
		case "PutRoundTrip", "Deduplicates", "ConcurrentPutSameBytes", "UnpackedConcurrent", "Delete", "Writer":
			continue // they look for what must be in the local directory
		}
		t.Run("TinyCache/"+tc.name, func(t *testing.T) { tc.fn(t, s3Backend(c, 1)) })
	}
}

// remoteKeys lists the keys in the store's bucket.
func remoteKeys(t *testing.T, s *Store) []string {
	t.Helper()
	r := s.remote.(*S3)
	out, err := r.c.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: &r.bucket})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, *o.Key)
	}
	return keys
}

// TestS3Layout: an archive is acknowledged once it is in S3 under
// <prefix>/<hex[:2]>/<hex>, List reads S3, and Delete removes it there.
func TestS3Layout(t *testing.T) {
	s, _, _ := s3Backend(motoS3(t), 0)(t)
	ctx := context.Background()
	info, err := s.PutBytes(ctx, []byte("layout"))
	must(t, err)
	want := "lambdad/code/" + info.Hex[:2] + "/" + info.Hex
	if keys := remoteKeys(t, s); len(keys) != 1 || keys[0] != want {
		t.Fatalf("keys = %v, want [%s]", keys, want)
	}
	// A failed Put leaves nothing in S3 either.
	if _, err := s.Put(ctx, io.MultiReader(strings.NewReader("partial"), errReader{errors.New("boom")})); err == nil {
		t.Fatal("failing reader accepted")
	}
	if list, err := s.List(); err != nil || len(list) != 1 || list[0].Hex != info.Hex {
		t.Fatalf("List = %v, %v", list, err)
	}
	must(t, s.Delete(info.Hex))
	if keys := remoteKeys(t, s); len(keys) != 0 {
		t.Fatalf("keys after Delete = %v", keys)
	}
}

// TestS3SecondNode: a store with an empty cache over the same bucket runs
// what another stored: it fetches once however many ask at once.
func TestS3SecondNode(t *testing.T) {
	c := motoS3(t)
	a, _, _ := s3Backend(c, 0)(t)
	bucket := a.remote.(*S3).bucket
	h := &countHandler{n: map[string]int{}}
	b, err := OpenConfig(Config{Dir: t.TempDir(), Logger: slog.New(h), Remote: NewS3(c, bucket, "lambdad/code")})
	must(t, err)
	ctx := context.Background()
	z := archivetest.Zip(t, archivetest.File{Name: "bootstrap", Body: "#!/bin/sh\n", Mode: 0o755}, archivetest.File{Name: "x/y", Body: "y"})
	info, err := a.PutBytes(ctx, z)
	must(t, err)

	if !b.Has(info.Hex) {
		t.Fatal("second node: Has = false")
	}
	l, ok := b.Lease(info.Hex)
	if !ok {
		t.Fatal("second node: Lease failed")
	}
	defer l.Release()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if i%2 == 0 {
				dir, err := b.Unpacked(ctx, info.Hex)
				if err != nil {
					t.Error(err)
					return
				}
				if got, err := os.ReadFile(filepath.Join(dir, "x", "y")); err != nil || string(got) != "y" {
					t.Errorf("x/y = %q, %v", got, err)
				}
				return
			}
			f, err := b.OpenContext(ctx, info.Hex)
			if err != nil {
				t.Error(err)
				return
			}
			defer f.Close()
			if got, _ := io.ReadAll(f); !bytes.Equal(got, z) {
				t.Error("second node read other bytes")
			}
		})
	}
	wg.Wait()
	if n := h.count("fetched code archive"); n != 1 {
		t.Errorf("fetched %d times, want once", n)
	}
	if n := h.count("unpacked code archive"); n != 1 {
		t.Errorf("unpacked %d times, want once", n)
	}

	// Deleted by the first node: gone from S3, so a third node cannot
	// have it.
	must(t, a.Delete(info.Hex))
	third, err := OpenConfig(Config{Dir: t.TempDir(), Remote: NewS3(c, bucket, "lambdad/code")})
	must(t, err)
	if third.Has(info.Hex) {
		t.Error("third node: Has after Delete")
	}
	if _, err := third.Open(info.Hex); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("third node: Open after Delete: %v", err)
	}
	if _, ok := third.Lease(info.Hex); ok {
		t.Error("third node: Lease after Delete succeeded")
	}
}

// TestS3CacheEvicts: beyond its limit the cache drops the least recently
// used archives and trees nothing holds, never a held one; what was
// dropped comes back from S3, and a tree dropped under a kept path is
// restored by the next Lease.
func TestS3CacheEvicts(t *testing.T) {
	c := motoS3(t)
	ctx := context.Background()
	zips := make([][]byte, 6)
	for i := range zips {
		zips[i] = archivetest.Zip(t, archivetest.File{Name: "f", Body: strings.Repeat(string(rune('a'+i)), 10_000)})
	}
	// Room for about two digests (archive and tree).
	const limit = 2*10_000 + 2*200 + 1000
	s, logs, dir := s3Backend(c, limit)(t)
	infos := make([]Info, len(zips))
	for i, z := range zips {
		var err error
		infos[i], err = s.PutBytes(ctx, z)
		must(t, err)
	}
	held, ok := s.Lease(infos[0].Hex)
	if !ok {
		t.Fatal("Lease failed")
	}
	heldDir, err := s.Unpacked(ctx, infos[0].Hex)
	must(t, err)
	var lastDir string
	for _, info := range infos[1:] {
		lastDir, err = s.Unpacked(ctx, info.Hex)
		must(t, err)
		if bytes, _ := s.cacheCounts(); bytes > limit+10_000+300 {
			t.Fatalf("cache holds %d bytes, limit %d (+ one held digest)", bytes, limit)
		}
	}
	if !isDir(heldDir) || !s.hasLocal(infos[0].Hex) {
		t.Fatal("a held digest was evicted")
	}
	if !isDir(lastDir) {
		t.Fatal("the most recently used tree was evicted")
	}
	firstDir := filepath.Join(dir, "unpacked", infos[1].Hex)
	if isDir(firstDir) || s.hasLocal(infos[1].Hex) {
		t.Fatal("the least recently used digest is still cached")
	}
	// Read back from S3 after eviction.
	f, err := s.Open(infos[1].Hex)
	must(t, err)
	got, _ := io.ReadAll(f)
	f.Close()
	if !bytes.Equal(got, zips[1]) {
		t.Fatal("evicted archive read back wrong")
	}
	// Someone kept the evicted tree's path: a Lease brings it back.
	l, ok := s.Lease(infos[2].Hex)
	if !ok {
		t.Fatal("Lease of an evicted digest failed")
	}
	if b, err := os.ReadFile(filepath.Join(dir, "unpacked", infos[2].Hex, "f")); err != nil || len(b) != 10_000 {
		t.Fatalf("after Lease, the evicted tree: %d bytes, %v", len(b), err)
	}
	l.Release()
	held.Release()
	if n := logs.count("fetched code archive"); n < 2 {
		t.Errorf("fetched %d times, want at least 2", n)
	}

	// A restart counts what the cache holds and trims it to the limit.
	bytesBefore, _ := s.cacheCounts()
	s2, err := OpenConfig(Config{Dir: dir, Remote: s.remote, CacheBytes: limit})
	must(t, err)
	if b, n := s2.cacheCounts(); b == 0 || b > limit || n == 0 {
		t.Fatalf("after restart the cache counts %d bytes in %d digests (was %d; limit %d)", b, n, bytesBefore, limit)
	}
	for _, info := range infos {
		if _, err := s2.Unpacked(ctx, info.Hex); err != nil {
			t.Fatal(err)
		}
	}
}

func TestParseS3URL(t *testing.T) {
	for _, tc := range []struct {
		in             string
		bucket, prefix string
		ok             bool
	}{
		{"s3://b", "b", "", true},
		{"s3://b/", "b", "", true},
		{"s3://my-bucket/a/b/", "my-bucket", "a/b", true},
		{"http://b/p", "", "", false},
		{"s3:///p", "", "", false},
		{"b/p", "", "", false},
		{"s3://b/p?x=1", "", "", false},
		{"", "", "", false},
	} {
		b, p, err := ParseS3URL(tc.in)
		if (err == nil) != tc.ok || b != tc.bucket || p != tc.prefix {
			t.Errorf("ParseS3URL(%q) = %q, %q, %v", tc.in, b, p, err)
		}
	}
}

func TestMD5ETag(t *testing.T) {
	for etag, want := range map[string]bool{
		`"9e107d9d372bb6826bd81d3542a419d6"`:   true,
		"9e107d9d372bb6826bd81d3542a419d6":     true,
		`"9e107d9d372bb6826bd81d3542a419d6-2"`: false,
		`"not-hex-not-hex-not-hex-not-hex!"`:   false,
		"":                                     false,
	} {
		if got := md5ETag(etag); got != want {
			t.Errorf("md5ETag(%s) = %v", etag, got)
		}
	}
}

// BenchmarkPutBytes1MB stores fresh 1 MB archives in the filesystem store
// and in the S3-backed one (moto_server), next to the floor of the latter:
// one plain PutObject of the same bytes with the same client.
func BenchmarkPutBytes1MB(b *testing.B) {
	c := motoS3(b)
	data := make([]byte, 1<<20)
	ctx := context.Background()
	run := func(b *testing.B, put func(i int) error) {
		b.SetBytes(int64(len(data)))
		for i := 0; i < b.N; i++ {
			data[0], data[1], data[2] = byte(i), byte(i>>8), byte(i>>16) // new content
			if err := put(i); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("filesystem", func(b *testing.B) {
		s, _, _ := open(b)
		run(b, func(int) error { _, err := s.PutBytes(ctx, data); return err })
	})
	b.Run("s3", func(b *testing.B) {
		s, _, _ := s3Backend(c, 0)(b)
		run(b, func(int) error { _, err := s.PutBytes(ctx, data); return err })
	})
	b.Run("s3-remote-put", func(b *testing.B) {
		s, _, _ := s3Backend(c, 0)(b)
		run(b, func(int) error {
			return s.remote.Put(ctx, newInfo(sha256.Sum256(data), int64(len(data))), bytes.NewReader(data))
		})
	})
	b.Run("s3-floor", func(b *testing.B) {
		s, _, _ := s3Backend(c, 0)(b)
		bucket := s.remote.(*S3).bucket
		run(b, func(i int) error {
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String(fmt.Sprint(i)), Body: bytes.NewReader(data)})
			return err
		})
	})
}

// TestS3DamagedCache: the cache is not fsynced, so an archive a crash tore
// is found on its first use by the next run and fetched again.
func TestS3DamagedCache(t *testing.T) {
	s, _, dir := s3Backend(motoS3(t), 0)(t)
	ctx := context.Background()
	z := archivetest.Zip(t, archivetest.File{Name: "f", Body: "whole"})
	info, err := s.PutBytes(ctx, z)
	must(t, err)
	p := filepath.Join(dir, "objects", info.Hex[:2], info.Hex)
	must(t, os.Chmod(p, 0o644))
	must(t, os.WriteFile(p, z[:len(z)/2], 0o444))
	for _, use := range []string{"Open", "Unpacked"} {
		h := &countHandler{n: map[string]int{}}
		s2, err := OpenConfig(Config{Dir: dir, Logger: slog.New(h), Remote: s.remote})
		must(t, err)
		if use == "Open" {
			if got := readObject(t, s2, info.Hex); !bytes.Equal(got, z) {
				t.Fatal("Open returned a torn archive")
			}
		} else {
			d, err := s2.Unpacked(ctx, info.Hex)
			must(t, err)
			if b, err := os.ReadFile(filepath.Join(d, "f")); err != nil || string(b) != "whole" {
				t.Fatalf("f = %q, %v", b, err)
			}
		}
		if n := h.count("dropping a damaged cached code archive"); n != 1 {
			t.Errorf("%s: %d damaged archives found, want 1", use, n)
		}
		// Damage it again for the next round.
		must(t, os.Chmod(p, 0o644))
		must(t, os.WriteFile(p, z[:len(z)/2], 0o444))
	}
}

// TestS3StoreAgainAfterRemoteDelete: a node that still caches an archive
// another node deleted from S3 uploads it again when it is stored again,
// rather than trusting its copy.
func TestS3StoreAgainAfterRemoteDelete(t *testing.T) {
	c := motoS3(t)
	a, _, _ := s3Backend(c, 0)(t)
	b, err := OpenConfig(Config{Dir: t.TempDir(), Remote: a.remote})
	must(t, err)
	ctx := context.Background()
	z := []byte("stored, deleted elsewhere, stored again")
	info, err := a.PutBytes(ctx, z)
	must(t, err)
	readObject(t, b, info.Hex) // now cached by b
	before, _ := b.cacheCounts()
	must(t, a.Delete(info.Hex))
	if _, err := b.PutBytes(ctx, z); err != nil {
		t.Fatal(err)
	}
	if ok, err := a.remote.Exists(ctx, info.Hex); err != nil || !ok {
		t.Fatalf("stored again, but not in S3: %v %v", ok, err)
	}
	if after, _ := b.cacheCounts(); after != before {
		t.Errorf("cache counts %d bytes after storing a cached archive again, %d before", after, before)
	}
}
