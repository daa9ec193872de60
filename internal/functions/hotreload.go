package functions

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/lambdad/lambdad/internal/caller"
	"github.com/lambdad/lambdad/internal/fault"
)

// HotReload says where hot-reload code may come from.
type HotReload struct {
	// Roots are the directories hot-reload code may lie under, absolute
	// and with symlinks resolved. None: hot reload is off.
	Roots []string
	// DataDir is lambdad's data directory (resolved): never mounted.
	DataDir string
}

// NewHotReload resolves roots and the data directory.
func NewHotReload(roots []string, dataDir string) (HotReload, error) {
	var h HotReload
	for _, r := range roots {
		abs, err := filepath.Abs(r)
		if err != nil {
			return h, err
		}
		res, err := filepath.EvalSymlinks(abs)
		if err != nil {
			return h, fmt.Errorf("hot-reload root %s: %w", r, err)
		}
		h.Roots = append(h.Roots, res)
	}
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return h, err
	}
	if res, err := filepath.EvalSymlinks(abs); err == nil {
		abs = res
	}
	h.DataDir = abs
	return h, nil
}

// Check resolves dir and answers whether it may be mounted: under a root,
// neither holding nor inside the data directory. It returns the resolved
// directory, which is what must be mounted.
func (h HotReload) Check(dir string) (string, error) {
	if len(h.Roots) == 0 {
		return "", fault.InvalidParameterf("Hot reloading is turned off: lambdad runs with --hot-reload-roots none.")
	}
	res, err := filepath.EvalSymlinks(filepath.Clean(dir))
	if err != nil {
		if os.IsNotExist(err) {
			return "", fault.InvalidParameterf("The hot-reload directory %s does not exist.", dir)
		}
		return "", fault.InvalidParameterf("The hot-reload directory %s cannot be used: %v", dir, err)
	}
	under := false
	for _, r := range h.Roots {
		under = under || within(res, r)
	}
	if !under {
		return "", fault.InvalidParameterf("The hot-reload directory %s is not under the directories lambdad allows (--hot-reload-roots).", dir)
	}
	if within(res, h.DataDir) || within(h.DataDir, res) {
		return "", fault.InvalidParameterf("The hot-reload directory %s holds or lies inside lambdad's data directory; only directories under --hot-reload-roots, apart from the data directory, can be hot-reloaded.", dir)
	}
	return res, nil
}

// within reports whether p is root or lies under it (both clean and absolute).
func within(p, root string) bool {
	if p == root || root == "/" {
		return true
	}
	return strings.HasPrefix(p, root+string(filepath.Separator))
}

// CheckHotReload answers whether a stored hot-reload directory may still be
// run, and the resolved directory to run it from: the roots may have changed
// since it was stored, or a symlink on its path.
func (s *Service) CheckHotReload(dir string) (string, error) {
	return s.cfg.HotReload.Check(dir)
}

// RefuseHotReloadFromFunction refuses hot-reload code to a caller signed with
// a function's own credentials, whatever the path: a function must not
// choose host directories to mount, its own environments' included. It
// answers as AWS does when a policy denies an action.
func RefuseHotReloadFromFunction(id caller.Identity, op, functionName string, bucket *string) error {
	if id.Function == "" || bucket == nil || *bucket != HotReloadBucket {
		return nil
	}
	resource := functionName
	if !strings.HasPrefix(resource, "arn:") {
		resource = "arn:aws:lambda:" + id.Region + ":" + id.Account + ":function:" + functionName
	}
	return fault.AccessDeniedf("User: %s is not authorized to perform: lambda:%s on resource: %s because no identity-based policy allows the lambda:%s action with hot-reload code: functions' own credentials cannot use hot reload", id.Function, op, resource, op)
}
