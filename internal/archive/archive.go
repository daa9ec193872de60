// Package archive inspects and unpacks function code zips without trusting
// anything the zip says about itself: names, sizes and symlinks are checked
// before anything is written, and sizes are enforced again while inflating.
package archive

import (
	"archive/zip"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/lambdad/lambdad/internal/limits"
)

// Sentinel errors; every returned error wraps one of them (or a context
// error, or an I/O error from Extract's destination) with detail.
var (
	// ErrNotZip: the data is not a zip this package can unpack.
	ErrNotZip = errors.New("archive: could not unzip")
	// ErrUnzippedTooLarge: the unzipped size exceeds Limits.MaxUnzipped.
	ErrUnzippedTooLarge = errors.New("archive: unzipped size too large")
	// ErrUnsafePath: an entry name could land outside the destination or
	// clashes with another entry.
	ErrUnsafePath = errors.New("archive: unsafe entry path")
	// ErrUnsafeSymlink: a symlink could point outside the archive, or an
	// entry would be written through a symlink.
	ErrUnsafeSymlink = errors.New("archive: unsafe symlink")
	// ErrTooManyEntries: the zip has more entries than Limits.MaxEntries.
	ErrTooManyEntries = errors.New("archive: too many entries")
	// ErrBomb: entries share compressed data (an overlapping-entries
	// bomb), or an entry inflates past the size its header declares.
	ErrBomb = errors.New("archive: compression bomb")
)

// Limits bound what an archive may expand to, and so the work of checking
// it: every byte inflated counts against MaxUnzipped, whatever the headers
// say. There is no compression-ratio limit: deflate reaches about 1,030:1
// on real data (a file of zeros), and the totals bound the work anyway.
// A zero field means its default.
type Limits struct {
	// MaxUnzipped caps the total uncompressed size of all entries.
	MaxUnzipped int64
	// MaxEntries caps the number of entries, directories included.
	MaxEntries int
}

const (
	defaultMaxUnzipped = limits.UnzippedCodeBytes
	defaultMaxEntries  = 100000

	maxLinkTarget = 4095 // PATH_MAX - 1
	maxNameLen    = 4095
	maxComponent  = 255 // NAME_MAX; longer names would fail Extract but pass Inspect
)

// DefaultLimits returns Lambda's limits.
func DefaultLimits() Limits {
	return Limits{MaxUnzipped: defaultMaxUnzipped, MaxEntries: defaultMaxEntries}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxUnzipped <= 0 {
		l.MaxUnzipped = d.MaxUnzipped
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = d.MaxEntries
	}
	return l
}

// Info describes a checked archive.
type Info struct {
	// UnzippedSize is the number of bytes actually inflated (file contents
	// and symlink targets).
	UnzippedSize int64
	// Files counts regular files and symlinks; directories are not counted.
	Files int
}

type kind uint8

const (
	kindDir kind = iota + 1
	kindFile
	kindLink
)

type entry struct {
	f    *zip.File
	name string // cleaned, slash-separated, no trailing slash
	kind kind
	exec bool
}

// plan is the validated central directory: what will be written, and the
// shape of the tree including implied parent directories.
type plan struct {
	lim     Limits
	entries []entry
	tree    map[string]kind
}

// Inspect checks a zip without writing anything and returns its unzipped
// size. Every entry is inflated (to nowhere) so that sizes are measured, not
// taken from headers.
func Inspect(r io.ReaderAt, size int64, lim Limits) (Info, error) {
	p, err := newPlan(r, size, lim)
	if err != nil {
		return Info{}, err
	}
	var info Info
	links := map[string]string{}
	buf := make([]byte, 64<<10)
	for _, e := range p.entries {
		if e.kind == kindDir {
			continue
		}
		budget := p.lim.MaxUnzipped - info.UnzippedSize
		var n int64
		if e.kind == kindLink {
			var target string
			target, n, err = readLink(e, budget, buf)
			links[e.name] = target
		} else {
			n, err = copyEntry(context.Background(), io.Discard, e, budget, buf)
		}
		if err != nil {
			return Info{}, err
		}
		info.UnzippedSize += n
		info.Files++
	}
	if err := checkLinks(links); err != nil {
		return Info{}, err
	}
	return info, nil
}

// Extract unpacks the zip into dir, which must be empty or not yet exist.
// Everything Inspect checks is checked first, and sizes are enforced again
// while writing. Files end up 0444, or 0555 when any exec bit is set;
// directories 0755. Writes go through an os.Root with O_EXCL, so nothing can
// be written through a symlink or outside dir. On error dir may hold a
// partial tree; the caller removes it.
func Extract(ctx context.Context, r io.ReaderAt, size int64, dir string, lim Limits) (Info, error) {
	p, err := newPlan(r, size, lim)
	if err != nil {
		return Info{}, err
	}
	if err := prepareDir(dir); err != nil {
		return Info{}, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return Info{}, err
	}
	defer root.Close()

	var info Info
	links := map[string]string{}
	buf := make([]byte, 64<<10)
	for _, e := range p.entries {
		if err := ctx.Err(); err != nil {
			return Info{}, err
		}
		if e.kind == kindDir {
			if err := root.MkdirAll(filepath.FromSlash(e.name), 0o755); err != nil {
				return Info{}, err
			}
			continue
		}
		budget := p.lim.MaxUnzipped - info.UnzippedSize
		var n int64
		if e.kind == kindLink {
			// Links are created last, once all of them are known to be safe.
			var target string
			target, n, err = readLink(e, budget, buf)
			links[e.name] = target
		} else {
			n, err = writeFile(ctx, root, e, budget, buf)
		}
		if err != nil {
			return Info{}, err
		}
		info.UnzippedSize += n
		info.Files++
	}
	if err := checkLinks(links); err != nil {
		return Info{}, err
	}
	for _, name := range slices.Sorted(maps.Keys(links)) {
		if err := mkParent(root, name); err != nil {
			return Info{}, err
		}
		if err := root.Symlink(links[name], filepath.FromSlash(name)); err != nil {
			return Info{}, err
		}
	}
	// The umask may have narrowed MkdirAll's mode; environments running as
	// another user must still be able to read the tree.
	for name, k := range p.tree {
		if k == kindDir {
			if err := root.Chmod(filepath.FromSlash(name), 0o755); err != nil {
				return Info{}, err
			}
		}
	}
	return info, nil
}

func prepareDir(dir string) error {
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		return os.Chmod(dir, 0o755)
	}
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("archive: destination %s is not a directory", dir)
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	names, err := d.Readdirnames(1)
	if err != nil && err != io.EOF {
		return err
	}
	if len(names) > 0 {
		return fmt.Errorf("archive: destination %s is not empty", dir)
	}
	return nil
}

func mkParent(root *os.Root, name string) error {
	if parent := path.Dir(name); parent != "." {
		return root.MkdirAll(filepath.FromSlash(parent), 0o755)
	}
	return nil
}

func writeFile(ctx context.Context, root *os.Root, e entry, budget int64, buf []byte) (int64, error) {
	if err := mkParent(root, e.name); err != nil {
		return 0, err
	}
	perm := fs.FileMode(0o444)
	if e.exec {
		perm = 0o555
	}
	// O_EXCL: never reuse or follow whatever might already be at this name.
	f, err := root.OpenFile(filepath.FromSlash(e.name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return 0, err
	}
	n, err := copyEntry(ctx, f, e, budget, buf)
	if err == nil {
		err = f.Chmod(perm) // umask-independent final mode
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return n, err
}

// copyEntry inflates e into dst, counting bytes itself rather than trusting
// the header, and stops as soon as a limit is passed.
func copyEntry(ctx context.Context, dst io.Writer, e entry, budget int64, buf []byte) (int64, error) {
	rc, err := e.f.Open()
	if err != nil {
		return 0, fmt.Errorf("%w: entry %q: %v", ErrNotZip, e.f.Name, err)
	}
	defer rc.Close()
	declared := int64(e.f.UncompressedSize64) // newPlan bounded it by MaxUnzipped
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		m, rerr := rc.Read(buf)
		if m > 0 {
			n += int64(m)
			if n > declared {
				return n, fmt.Errorf("%w: entry %q inflates past its declared %d bytes", ErrBomb, e.f.Name, declared)
			}
			if n > budget {
				return n, fmt.Errorf("%w: entry %q", ErrUnzippedTooLarge, e.f.Name)
			}
			if _, werr := dst.Write(buf[:m]); werr != nil {
				return n, werr
			}
		}
		switch {
		case rerr == io.EOF:
			return n, nil
		case errors.Is(rerr, zip.ErrFormat):
			// archive/zip reports ErrFormat mid-stream only when the data
			// runs past the declared size, before handing us those bytes.
			return n, fmt.Errorf("%w: entry %q inflates past its declared %d bytes", ErrBomb, e.f.Name, declared)
		case rerr != nil:
			return n, fmt.Errorf("%w: entry %q: %v", ErrNotZip, e.f.Name, rerr)
		}
	}
}

func readLink(e entry, budget int64, buf []byte) (string, int64, error) {
	var sb strings.Builder
	n, err := copyEntry(context.Background(), &sb, e, budget, buf)
	if err != nil {
		return "", n, err
	}
	return sb.String(), n, nil
}

func openZip(r io.ReaderAt, size int64) (*zip.Reader, error) {
	if size < 0 {
		return nil, fmt.Errorf("%w: negative size", ErrNotZip)
	}
	zr, err := zip.NewReader(r, size)
	// ErrInsecurePath comes with a usable reader; our own name checks are
	// stricter, so carry on and let them report the entry.
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil, fmt.Errorf("%w: %v", ErrNotZip, err)
	}
	return zr, nil
}

func newPlan(r io.ReaderAt, size int64, lim Limits) (*plan, error) {
	zr, err := openZip(r, size)
	if err != nil {
		return nil, err
	}
	lim = lim.withDefaults()
	if len(zr.File) > lim.MaxEntries {
		return nil, fmt.Errorf("%w: %d entries, limit %d", ErrTooManyEntries, len(zr.File), lim.MaxEntries)
	}
	p := &plan{lim: lim, tree: map[string]kind{}}
	for _, f := range zr.File {
		e, err := p.add(f)
		if err != nil {
			return nil, err
		}
		if e.name != "." {
			p.entries = append(p.entries, e)
		}
	}
	// Sizes are checked only after the whole directory so that an oversized
	// archive is always reported as too large (what Lambda says), whichever
	// entry happens to come first.
	var total uint64
	for _, e := range p.entries {
		if e.kind == kindDir {
			continue // never inflated
		}
		total += e.f.UncompressedSize64
		if e.f.UncompressedSize64 > uint64(lim.MaxUnzipped) || total > uint64(lim.MaxUnzipped) {
			return nil, fmt.Errorf("%w: declared sizes exceed %d bytes", ErrUnzippedTooLarge, lim.MaxUnzipped)
		}
	}
	if err := checkOverlap(p.entries, size); err != nil {
		return nil, err
	}
	return p, nil
}

// checkOverlap refuses entries whose compressed data overlap: the
// overlapping-entries bomb makes many entries of one deflate stream (or of
// streams nested inside each other's data), so that a small archive
// inflates its data many times over. Real archives never share bytes.
func checkOverlap(entries []entry, size int64) error {
	type span struct {
		from, to int64
		name     string
	}
	spans := make([]span, 0, len(entries))
	for _, e := range entries {
		if e.kind == kindDir {
			continue
		}
		off, err := e.f.DataOffset()
		if err != nil {
			return fmt.Errorf("%w: entry %q: %v", ErrNotZip, e.f.Name, err)
		}
		c := e.f.CompressedSize64
		if off < 0 || c > uint64(size) || off > size-int64(c) {
			return fmt.Errorf("%w: entry %q lies past the end of the archive", ErrNotZip, e.f.Name)
		}
		if c > 0 {
			spans = append(spans, span{off, off + int64(c), e.f.Name})
		}
	}
	slices.SortFunc(spans, func(a, b span) int { return cmp.Compare(a.from, b.from) })
	for i := 1; i < len(spans); i++ {
		if spans[i].from < spans[i-1].to {
			return fmt.Errorf("%w: entries %q and %q share compressed data", ErrBomb, spans[i-1].name, spans[i].name)
		}
	}
	return nil
}

func (p *plan) add(f *zip.File) (entry, error) {
	if f.Flags&0x1 != 0 {
		return entry{}, fmt.Errorf("%w: entry %q is encrypted", ErrNotZip, f.Name)
	}
	if f.Method != zip.Store && f.Method != zip.Deflate {
		return entry{}, fmt.Errorf("%w: entry %q uses unsupported compression method %d", ErrNotZip, f.Name, f.Method)
	}
	name, isDir, err := cleanName(f.Name)
	if err != nil {
		return entry{}, err
	}
	mode := f.Mode()
	e := entry{f: f, name: name, kind: kindFile, exec: mode&0o111 != 0}
	switch {
	case isDir || mode.IsDir():
		e.kind = kindDir
	case mode&fs.ModeSymlink != 0:
		e.kind = kindLink
		if f.UncompressedSize64 > maxLinkTarget {
			return entry{}, fmt.Errorf("%w: %q: target too long", ErrUnsafeSymlink, f.Name)
		}
	case !mode.IsRegular():
		return entry{}, fmt.Errorf("%w: %q: unsupported file type %v", ErrUnsafePath, f.Name, mode.Type())
	}
	if name == "." {
		if e.kind != kindDir {
			return entry{}, fmt.Errorf("%w: %q", ErrUnsafePath, f.Name)
		}
		return e, nil
	}
	// Every ancestor must be a directory: a file there is a clash, a symlink
	// there would let this entry be written through it.
	for i := 0; i < len(name); i++ {
		if name[i] != '/' {
			continue
		}
		anc := name[:i]
		switch p.tree[anc] {
		case kindFile:
			return entry{}, fmt.Errorf("%w: %q lies under file %q", ErrUnsafePath, f.Name, anc)
		case kindLink:
			return entry{}, fmt.Errorf("%w: %q lies under symlink %q", ErrUnsafeSymlink, f.Name, anc)
		}
		p.tree[anc] = kindDir
	}
	if prev, ok := p.tree[name]; ok && !(prev == kindDir && e.kind == kindDir) {
		return entry{}, fmt.Errorf("%w: %q duplicates or clashes with another entry", ErrUnsafePath, f.Name)
	}
	p.tree[name] = e.kind
	return e, nil
}

// cleanName accepts only names that stay inside the destination on every
// platform, and returns the cleaned name and whether it names a directory.
func cleanName(raw string) (string, bool, error) {
	bad := func(why string) (string, bool, error) {
		return "", false, fmt.Errorf("%w: %q: %s", ErrUnsafePath, raw, why)
	}
	switch {
	case raw == "":
		return bad("empty name")
	case len(raw) > maxNameLen:
		return bad("name too long")
	case strings.IndexByte(raw, 0) >= 0:
		return bad("NUL in name")
	case strings.IndexByte(raw, '\\') >= 0:
		return bad("backslash in name")
	case raw[0] == '/':
		return bad("absolute path")
	case hasDrive(raw):
		return bad("drive letter")
	}
	for c := range strings.SplitSeq(raw, "/") {
		if c == ".." {
			return bad("parent directory reference")
		}
		if len(c) > maxComponent {
			return bad("path component too long")
		}
	}
	return path.Clean(raw), strings.HasSuffix(raw, "/"), nil
}

func hasDrive(s string) bool {
	if len(s) < 2 || s[1] != ':' {
		return false
	}
	c := s[0] | 0x20
	return c >= 'a' && c <= 'z'
}

// checkLinks rejects any symlink that could resolve outside the archive.
// A target may climb with leading ".." no higher than the link's own
// directory (whose ancestors are all real directories, see plan.add), then
// only descend. Descending can pass through other links, but each of those
// is held to the same rule, so no chain of links can climb out; a ".." after
// a name is refused because that name might itself be a link.
func checkLinks(links map[string]string) error {
	for name, target := range links {
		bad := func(why string) error {
			return fmt.Errorf("%w: %q -> %q: %s", ErrUnsafeSymlink, name, target, why)
		}
		switch {
		case target == "":
			return bad("empty target")
		case strings.IndexByte(target, 0) >= 0:
			return bad("NUL in target")
		case strings.IndexByte(target, '\\') >= 0:
			return bad("backslash in target")
		case target[0] == '/':
			return bad("absolute target")
		case hasDrive(target):
			return bad("drive letter")
		}
		depth := strings.Count(name, "/") // depth of the link's directory
		ups, descended := 0, false
		for c := range strings.SplitSeq(target, "/") {
			switch c {
			case "", ".":
			case "..":
				if descended {
					return bad("parent reference after a name")
				}
				ups++
				if ups > depth {
					return bad("escapes the archive")
				}
			default:
				descended = true
			}
		}
	}
	return nil
}
