//go:build !linux

package blobs

import (
	"io/fs"
	"os"
	"path/filepath"
)

// syncTree makes a freshly written tree durable, one fsync per file and
// directory where there is no syncfs.
func syncTree(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink != 0 {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		err = f.Sync()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	})
}
