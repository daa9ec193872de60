package nsinit

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// DefaultPath is an environment's PATH unless the function sets one.
const DefaultPath = "/usr/local/bin:/usr/bin:/bin:/opt/bin"

// LookPath resolves argv0 with the function's PATH (environ), not lambdad's;
// a relative path with a slash is relative to dir.
func LookPath(argv0 string, environ []string, dir string) (string, error) {
	if strings.Contains(argv0, "/") {
		p := argv0
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		return p, checkExec(p)
	}
	path := DefaultPath
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	for _, d := range filepath.SplitList(path) {
		if d == "" {
			continue
		}
		p := filepath.Join(d, argv0)
		if checkExec(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: executable file not found in $PATH", argv0)
}

func checkExec(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("%s: permission denied", p)
	}
	return nil
}
