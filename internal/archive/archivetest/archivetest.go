// Package archivetest builds zips, including hostile ones, for tests.
package archivetest

import (
	"archive/zip"
	"bytes"
	"io/fs"
	"strings"
	"testing"
)

// File is one zip entry. A Name ending in "/" is a directory. A non-empty
// Symlink makes the entry a symlink with that target (Body is ignored).
// A zero Mode means 0644 for files and 0755 for directories.
type File struct {
	Name    string
	Body    string
	Mode    fs.FileMode
	Symlink string
}

// Zip returns a zip holding files in order. Names are written verbatim, so
// "../evil" or "/abs" produce exactly that entry.
func Zip(t testing.TB, files ...File) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for _, f := range files {
		h := &zip.FileHeader{Name: f.Name, Method: zip.Deflate}
		mode, body := f.Mode, f.Body
		switch {
		case f.Symlink != "":
			mode, body = fs.ModeSymlink|0o777, f.Symlink
		case strings.HasSuffix(f.Name, "/"):
			h.Method = zip.Store
			if mode == 0 {
				mode = fs.ModeDir | 0o755
			}
		case mode == 0:
			mode = 0o644
		}
		h.SetMode(mode)
		fw, err := w.CreateHeader(h)
		if err != nil {
			t.Fatalf("archivetest: entry %q: %v", f.Name, err)
		}
		if _, err := fw.Write([]byte(body)); err != nil {
			t.Fatalf("archivetest: entry %q: %v", f.Name, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatalf("archivetest: %v", err)
	}
	return buf.Bytes()
}
