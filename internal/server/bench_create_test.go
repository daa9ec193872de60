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
// disk-backed storage (decode, inspect, hash, fsynced write, commit).
// Compare with BenchmarkBaselineSHA256AndFsync50MBServer.
func BenchmarkCreateFunction50MB(b *testing.B) {
	dir := b.TempDir()
	srv, err := server.New(server.Config{DataDir: dir, Transition: time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	h := srv.Handler()
	b.SetBytes(50 << 20)
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		// A new zip every round: no deduplication shortcut.
		enc := base64.StdEncoding.EncodeToString(zip50MB(b))
		body := fmt.Appendf(nil, `{"FunctionName":"big-%d","Role":%q,"Runtime":"python3.12","Handler":"h.h","Code":{"ZipFile":%q}}`, i, testRole, enc)
		req := apiRequest("POST", "/2015-03-31/functions", body)
		w := httptest.NewRecorder()
		b.StartTimer()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusCreated {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

// BenchmarkBaselineSHA256AndFsync50MBServer is the floor: hash the same
// bytes and write them to a new file with fsync.
func BenchmarkBaselineSHA256AndFsync50MBServer(b *testing.B) {
	z := zip50MB(b)
	dir := b.TempDir()
	b.SetBytes(int64(len(z)))
	b.ResetTimer()
	for i := range b.N {
		sha256.Sum256(z)
		f, err := os.Create(filepath.Join(dir, fmt.Sprint(i)))
		if err != nil {
			b.Fatal(err)
		}
		f.Write(z)
		f.Sync()
		f.Close()
	}
}
