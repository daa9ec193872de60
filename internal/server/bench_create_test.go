package server_test

import (
	"archive/zip"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lambdad/lambdad/internal/server"
	"github.com/lambdad/lambdad/internal/testkit"
)

// zip50MB is a zip of 50 MB of incompressible data (stored), just under
// AWS's direct-upload limit.
func zip50MB(b *testing.B) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateHeader(&zip.FileHeader{Name: "blob.bin", Method: zip.Store})
	if err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 50<<20-1024)
	rand.Read(data)
	w.Write(data)
	zw.Close()
	return buf.Bytes()
}

// BenchmarkCreateFunction50MB is the whole CreateFunction of a 50 MB zip on
// disk-backed storage (decode, inspect, hash, fsynced write, commit). Each
// round also times the floor, sha256 plus an fsynced write of the same zip
// on the same disk, and reports the ratio of the sums (x-floor), so that
// the disk's moods weigh on both sides alike.
func BenchmarkCreateFunction50MB(b *testing.B) {
	dir := b.TempDir()
	srv, err := server.New(server.Config{DataDir: dir, Transition: time.Millisecond, RuntimeFallback: true})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	h := srv.Handler()
	floorDir := b.TempDir()
	var create, floor time.Duration
	b.SetBytes(50 << 20)
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		// A new zip every round: no deduplication shortcut.
		zip := zip50MB(b)
		enc := base64.StdEncoding.EncodeToString(zip)
		body := fmt.Appendf(nil, `{"FunctionName":"big-%d","Role":%q,"Runtime":"python3.12","Handler":"h.h","Code":{"ZipFile":%q}}`, i, testkit.Role, enc)
		req := apiRequest("POST", "/2015-03-31/functions", body)
		w := httptest.NewRecorder()
		timeFloor := func() {
			start := time.Now()
			sha256AndFsync(b, zip, filepath.Join(floorDir, fmt.Sprint(i)))
			floor += time.Since(start)
		}
		if i%2 == 0 { // alternate which goes first
			timeFloor()
		}
		b.StartTimer()
		start := time.Now()
		h.ServeHTTP(w, req)
		create += time.Since(start)
		b.StopTimer()
		if i%2 == 1 {
			timeFloor()
		}
		b.StartTimer()
		if w.Code != http.StatusCreated {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
	b.ReportMetric(float64(create)/float64(floor), "x-floor")
}

// BenchmarkBaselineSHA256AndFsync50MBServer is the floor alone: hash the
// same bytes and write them to a new file with fsync.
func BenchmarkBaselineSHA256AndFsync50MBServer(b *testing.B) {
	z := zip50MB(b)
	dir := b.TempDir()
	b.SetBytes(int64(len(z)))
	b.ResetTimer()
	for i := range b.N {
		sha256AndFsync(b, z, filepath.Join(dir, fmt.Sprint(i)))
	}
}

func sha256AndFsync(b *testing.B, z []byte, path string) {
	sha256.Sum256(z)
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := f.Write(z); err != nil {
		b.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	f.Close()
}
