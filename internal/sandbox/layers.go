package sandbox

import (
	"io/fs"
	"os"
	"path/filepath"
)

// mergeLayers returns a host directory presenting layers merged in order,
// later layers winning, for unconfined environments (isolated ones use an
// overlay mount instead). Many layers become a tree of symlinks so nothing
// is copied.
func mergeLayers(dst string, layers []string) (string, error) {
	switch len(layers) {
	case 0:
		return dst, os.MkdirAll(dst, 0o755)
	case 1:
		return layers[0], nil
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return "", err
	}
	for i := len(layers) - 1; i >= 0; i-- {
		src, err := filepath.Abs(layers[i])
		if err != nil {
			return "", err
		}
		err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(src, p)
			if err != nil || rel == "." {
				return err
			}
			target := filepath.Join(dst, rel)
			fi, lerr := os.Lstat(target)
			if d.IsDir() {
				if lerr == nil {
					if fi.IsDir() {
						return nil
					}
					return fs.SkipDir // a later layer's file shadows this dir
				}
				return os.Mkdir(target, 0o755)
			}
			if lerr == nil {
				return nil
			}
			return os.Symlink(p, target)
		})
		if err != nil {
			return "", err
		}
	}
	return dst, nil
}
