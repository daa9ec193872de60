package archive_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lambdad/lambdad/internal/archive"
	"github.com/lambdad/lambdad/internal/archive/archivetest"
)

// fuzzLimits keep each input cheap while still reaching every limit check.
var fuzzLimits = archive.Limits{MaxUnzipped: 1 << 20, MaxEntries: 64}

func seed(f *testing.F) {
	for _, tc := range cases(f) {
		if strings.Contains(tc.name, "bomb") || strings.Contains(tc.name, "zeros") {
			continue // large to build; small lies below cover the same paths
		}
		f.Add(tc.zip(f))
	}
	f.Add(archivetest.Zip(f, F{Name: "d/e/"}, F{Name: "d/l", Symlink: "../x"}, F{Name: "x", Body: "x", Mode: 0o755},
		F{Name: "d/e/m", Symlink: "../../d/l"}, F{Name: "y/z", Body: "z"}))
	f.Add(zeros(f, "z", 2<<20))
	f.Add(patchCentral(f, zeros(f, "z", 4<<20), "z", setDeclared(100)))
	f.Add(overlapping(f, false))
	f.Add(overlapping(f, true))
}

func FuzzInspect(f *testing.F) {
	seed(f)
	f.Fuzz(func(t *testing.T, z []byte) {
		info, err := archive.Inspect(bytes.NewReader(z), int64(len(z)), fuzzLimits)
		if err != nil {
			return
		}
		if info.UnzippedSize < 0 || info.UnzippedSize > fuzzLimits.MaxUnzipped || info.Files > fuzzLimits.MaxEntries {
			t.Fatalf("Inspect accepted %+v beyond %+v", info, fuzzLimits)
		}
	})
}

func FuzzExtract(f *testing.F) {
	seed(f)
	f.Fuzz(func(t *testing.T, z []byte) {
		base := t.TempDir()
		canary := filepath.Join(base, "canary")
		if err := os.WriteFile(canary, []byte("canary"), 0o644); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(base, "a", "out")
		info, err := archive.Extract(context.Background(), bytes.NewReader(z), int64(len(z)), out, fuzzLimits)

		// Nothing may appear or change outside out, whatever happened.
		var outside []string
		_ = filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
			if p == out {
				return filepath.SkipDir
			}
			if p != base {
				outside = append(outside, p[len(base)+1:])
			}
			return nil
		})
		if b, _ := os.ReadFile(canary); string(b) != "canary" || len(outside) > 3 {
			t.Fatalf("wrote outside the destination: %v", outside)
		}
		for _, p := range outside {
			if p != "canary" && p != "a" && p != filepath.Join("a", "out") {
				t.Fatalf("wrote outside the destination: %s", p)
			}
		}

		iinfo, ierr := archive.Inspect(bytes.NewReader(z), int64(len(z)), fuzzLimits)
		if (err == nil) != (ierr == nil) || info != iinfo {
			t.Fatalf("Extract = %+v, %v; Inspect = %+v, %v", info, err, iinfo, ierr)
		}
		if err != nil {
			return
		}
		checkConfined(t, out)
	})
}

// checkConfined walks an extracted tree: modes must be the normalised ones,
// and every symlink must resolve inside the tree.
func checkConfined(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		rel := filepath.ToSlash(strings.TrimPrefix(p, dir))
		switch m := fi.Mode(); {
		case m.IsDir():
			if m.Perm() != 0o755 {
				t.Errorf("%s: dir mode %v", rel, m)
			}
		case m.IsRegular():
			if m.Perm() != 0o444 && m.Perm() != 0o555 {
				t.Errorf("%s: file mode %v", rel, m)
			}
		case m&fs.ModeSymlink != 0:
			if _, err := resolveInside(dir, rel, 0); err != nil {
				t.Errorf("%s: %v", rel, err)
			}
		default:
			t.Errorf("%s: unexpected type %v", rel, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

var errEscapes = errors.New("symlink resolves outside the tree")

// resolveInside follows rel (slash-separated, relative to dir) through real
// symlinks on disk, one component at a time, and fails if any step leaves
// dir. Loops and dangling links are fine: they cannot reach outside.
func resolveInside(dir, rel string, hops int) (string, error) {
	if hops > 40 {
		return "", nil // a loop; the kernel would give ELOOP
	}
	cur := ""
	for c := range strings.SplitSeq(rel, "/") {
		switch c {
		case "", ".":
			continue
		case "..":
			if cur == "" {
				return "", errEscapes
			}
			cur = path.Dir(cur)
			if cur == "." {
				cur = ""
			}
			continue
		}
		next := path.Join(cur, c)
		target, err := os.Readlink(filepath.Join(dir, filepath.FromSlash(next)))
		if err != nil {
			cur = next // not a link (or absent): a plain step down
			continue
		}
		if path.IsAbs(target) {
			return "", errEscapes
		}
		cur, err = resolveInside(dir, cur+"/"+target, hops+1)
		if err != nil {
			return "", err
		}
	}
	return cur, nil
}
