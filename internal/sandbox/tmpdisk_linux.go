//go:build linux

package sandbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/lambdad/lambdad/internal/limits"
)

// An isolated environment's /tmp is an ext4 file system in a sparse image
// file of its own, attached to a loop device and mounted on the host, which
// nsinit binds to /tmp. A tmpfs would hold the files in memory charged to
// the function's memory cgroup, so a 128 MB function writing 100 MB to its
// /tmp was OOM-killed; AWS keeps EphemeralStorage apart from MemorySize.
// The page cache of a disk file system is reclaimable, so writing to /tmp
// no longer counts against the function's memory, and the file system's
// size caps /tmp at EphemeralStorage. Deleting files gives the space back
// to the host (mount -o discard punches holes in the image).
//
// mkfs.ext4 runs once per size, into a template under the work dir; each
// environment copies the template's few allocated blocks into a new sparse
// image, which costs far less than formatting. A small pool of mounted
// default-size disks takes even that off the cold start. Stopped
// environments' disks refill it, wiped (see recycle), as that is cheaper
// than unmounting one and making another; new ones are made in the
// background only when it runs low.

const (
	defaultTmpMB = limits.DefaultEphemeralStorageMB
	// tmpPoolSize is how many ready default-size disks are kept.
	tmpPoolSize = 4
	// maxSpareSizes bounds the other sizes a wiped disk is kept for.
	maxSpareSizes = 8
	// tmpMountOpts: discard returns freed space to the host; noinit_itable
	// keeps the kernel from zeroing the (lazily initialised) inode tables
	// in the background, which would write them all into every image.
	tmpMountOpts  = "discard,noinit_itable"
	tmpMountFlags = unix.MS_NOSUID | unix.MS_NODEV
)

// tmpDisks makes and recycles environments' /tmp disks.
type tmpDisks struct {
	dir  string // images and templates
	mnts string // mount points, below a mount of its own
	mkfs string
	warn func(string, ...any)
	seq  atomic.Uint64

	tplMu sync.Mutex
	tpls  map[int]*tmpTemplate

	pool chan *tmpDisk // ready disks of defaultTmpMB, nil without a pool
	// spare holds one wiped disk per other size, for the next cold start
	// of a function with that size; at most maxSpareSizes sizes.
	spare map[int]*tmpDisk // guarded by bgMu

	// Making and releasing disks runs in the background, concurrently:
	// both mostly wait (for RCU grace periods as loop devices and mounts
	// change, for the write-back of what a function left dirty), and one
	// at a time they fell behind back-to-back cold starts.
	bgMu    sync.Mutex
	closed  bool
	filling int // disks being made or wiped for the pool
	bg      sync.WaitGroup
}

type tmpTemplate struct {
	once sync.Once
	path string
	size int64
	err  error
}

// tmpDisk is one mounted /tmp.
type tmpDisk struct {
	img, mnt string
	mb       int
	// What a fresh disk's root and free space are, to check a wiped one
	// against before it is reused.
	flags        uint32
	bfree, ffree uint64
}

// newTmpDisks checks that this host can make disk-backed /tmp's: mkfs.ext4
// and the loop driver. poolSize 0 disables the pool.
func newTmpDisks(workDir string, poolSize int, warn func(string, ...any)) (*tmpDisks, error) {
	mkfs, err := exec.LookPath("mkfs.ext4")
	if err != nil {
		for _, p := range []string{"/usr/sbin/mkfs.ext4", "/sbin/mkfs.ext4"} {
			if _, serr := os.Stat(p); serr == nil {
				mkfs, err = p, nil
				break
			}
		}
	}
	if err != nil {
		return nil, errors.New("mkfs.ext4 not found (install e2fsprogs)")
	}
	ctl, err := os.OpenFile("/dev/loop-control", os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("no loop devices: %w", err)
	}
	ctl.Close()
	dir, mnts := filepath.Join(workDir, "tmpdisk"), filepath.Join(workDir, "tmpmnt")
	for _, d := range []string{dir, mnts} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	// The disks are mounted below one mount of their own: a new
	// environment's namespace gets copies of every mount under the work
	// dir and detaches them (see nsinit's hide), and one detach of their
	// parent costs one RCU grace period where one per disk would cost as
	// many. Private, so that nothing mounted below propagates elsewhere.
	if err := unix.Mount(mnts, mnts, "", unix.MS_BIND, ""); err != nil {
		return nil, fmt.Errorf("bind %s: %w", mnts, err)
	}
	if err := unix.Mount("", mnts, "", unix.MS_PRIVATE, ""); err != nil {
		_ = unix.Unmount(mnts, unix.MNT_DETACH)
		return nil, fmt.Errorf("make %s private: %w", mnts, err)
	}
	td := &tmpDisks{dir: dir, mnts: mnts, mkfs: mkfs, warn: warn, tpls: make(map[int]*tmpTemplate), spare: make(map[int]*tmpDisk)}
	// Make sure the whole chain works here before relying on it.
	d, err := td.make(defaultTmpMB)
	if err != nil {
		_ = unix.Unmount(mnts, unix.MNT_DETACH)
		return nil, err
	}
	if poolSize > 0 {
		td.pool = make(chan *tmpDisk, poolSize)
		td.pool <- d
		td.topUp()
	} else {
		td.release(d)
	}
	return td, nil
}

// get returns a mounted, empty /tmp of mb megabytes.
func (td *tmpDisks) get(mb int) (*tmpDisk, error) {
	if mb == defaultTmpMB && td.pool != nil {
		select {
		case d := <-td.pool:
			td.topUp()
			return d, nil
		default:
			td.topUp()
		}
	}
	td.bgMu.Lock()
	d := td.spare[mb]
	delete(td.spare, mb)
	td.bgMu.Unlock()
	if d != nil {
		return d, nil
	}
	return td.make(mb)
}

// topUp starts making the disks the pool lacks, once it runs low: until
// then the disks of stopped environments, wiped, refill it at less cost.
func (td *tmpDisks) topUp() {
	td.bgMu.Lock()
	defer td.bgMu.Unlock()
	if len(td.pool)+td.filling >= (cap(td.pool)+1)/2 {
		return
	}
	for ; !td.closed && len(td.pool)+td.filling < cap(td.pool); td.filling++ {
		td.bg.Go(func() {
			d, err := td.make(defaultTmpMB)
			td.bgMu.Lock()
			td.filling--
			td.bgMu.Unlock()
			if err != nil {
				td.warn("sandbox: preparing a /tmp disk failed", "err", err.Error())
				return
			}
			select {
			case td.pool <- d:
			default: // closing: the pool was drained
				releaseDisk(d)
			}
		})
	}
}

// release frees the disk in the background.
func (td *tmpDisks) release(d *tmpDisk) {
	td.recycle(d, false)
}

// recycle wipes the disk and returns it to the pool when reuse is allowed
// (no process of its environment is left) and the pool has room, and
// releases it otherwise; in the background.
//
// A wiped disk goes to an environment of any function. That is safe
// because nothing of the old one can remain: files are removed and the
// checks in wipe fail on anything they cannot account for; freed blocks
// are discarded from the image (and ext4 never shows a new file stale
// blocks anyway); nobody else can reach the disk meanwhile.
func (td *tmpDisks) recycle(d *tmpDisk, reuse bool) {
	td.bgMu.Lock()
	defer td.bgMu.Unlock()
	switch {
	case td.closed: // close has drained the pool and waits no more
		td.bgMu.Unlock()
		releaseDisk(d)
		td.bgMu.Lock()
		return
	case reuse && d.mb != defaultTmpMB && td.pool != nil:
		if _, ok := td.spare[d.mb]; !ok && len(td.spare) < maxSpareSizes {
			td.spare[d.mb] = nil // the place is d's once wiped, unless get empties it
			td.bg.Go(func() {
				err := d.wipe()
				td.bgMu.Lock()
				sp, ok := td.spare[d.mb]
				keep := ok && sp == nil && err == nil && !td.closed
				switch {
				case keep:
					td.spare[d.mb] = d
				case ok && sp == nil:
					delete(td.spare, d.mb)
				}
				td.bgMu.Unlock()
				if !keep {
					releaseDisk(d)
				}
			})
			return
		}
		td.bg.Go(func() { releaseDisk(d) })
		return
	case !reuse || d.mb != defaultTmpMB || td.pool == nil || len(td.pool)+td.filling >= cap(td.pool):
		td.bg.Go(func() { releaseDisk(d) })
		return
	}
	td.filling++
	td.bg.Go(func() {
		err := d.wipe()
		td.bgMu.Lock()
		td.filling--
		td.bgMu.Unlock()
		if err == nil { // else a function left what wipe cannot undo: not worth a log line
			select {
			case td.pool <- d:
				return
			default:
			}
		}
		releaseDisk(d)
	})
}

// close releases the pool, waits for the background work, and makes later
// releases synchronous.
func (td *tmpDisks) close() {
	td.bgMu.Lock()
	td.closed = true
	td.bgMu.Unlock()
	td.bg.Wait()
	for _, d := range td.spare {
		if d != nil {
			releaseDisk(d)
		}
	}
	clear(td.spare)
	for drained := td.pool == nil; !drained; {
		select {
		case d := <-td.pool:
			releaseDisk(d)
		default:
			drained = true
		}
	}
	if unix.Unmount(td.mnts, 0) != nil {
		_ = unix.Unmount(td.mnts, unix.MNT_DETACH)
	}
	_ = os.Remove(td.mnts)
	_ = os.RemoveAll(td.dir) // templates; images are gone with their disks
}

// make creates, attaches and mounts a new disk.
func (td *tmpDisks) make(mb int) (*tmpDisk, error) {
	t, err := td.template(mb)
	if err != nil {
		return nil, err
	}
	n := strconv.FormatUint(td.seq.Add(1), 10)
	d := &tmpDisk{img: filepath.Join(td.dir, n+".img"), mnt: filepath.Join(td.mnts, n)}
	if err := copySparse(t.path, d.img, t.size); err != nil {
		_ = os.Remove(d.img)
		return nil, fmt.Errorf("tmp image: %w", err)
	}
	if err := os.Mkdir(d.mnt, 0o755); err != nil {
		_ = os.Remove(d.img)
		return nil, err
	}
	if err := mountImage(d.img, d.mnt); err != nil {
		_ = os.Remove(d.img)
		_ = os.Remove(d.mnt)
		return nil, err
	}
	d.mb = mb
	if err := d.state(&d.flags, &d.bfree, &d.ffree); err != nil {
		releaseDisk(d)
		return nil, err
	}
	return d, nil
}

// state reads the root's inode flags and the free blocks and inodes.
func (d *tmpDisk) state(flags *uint32, bfree, ffree *uint64) error {
	fd, err := unix.Open(d.mnt, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if *flags, err = unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS); err != nil {
		return err
	}
	var st unix.Statfs_t
	if err := unix.Fstatfs(fd, &st); err != nil {
		return err
	}
	*bfree, *ffree = st.Bfree, st.Ffree
	return nil
}

// wipe empties a used disk and checks that it is as made: same free
// blocks and inodes (nothing left, open or hidden), root owned by root,
// mode 1777, no extended attributes (ACLs included), same inode flags.
// Anything else and the disk is not reused.
func (d *tmpDisk) wipe() error {
	root, err := os.Open(d.mnt)
	if err != nil {
		return err
	}
	defer root.Close()
	names, err := root.Readdirnames(-1)
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := os.RemoveAll(filepath.Join(d.mnt, n)); err != nil {
			return err
		}
	}
	fd := int(root.Fd())
	if err := unix.Fchown(fd, 0, 0); err != nil {
		return err
	}
	if err := unix.Fchmod(fd, 0o1777); err != nil {
		return err
	}
	if n, err := unix.Flistxattr(fd, nil); err != nil || n != 0 {
		return fmt.Errorf("/tmp root has extended attributes (%d bytes, %v)", n, err)
	}
	var flags uint32
	var bfree, ffree uint64
	if err := d.state(&flags, &bfree, &ffree); err != nil {
		return err
	}
	if flags != d.flags || bfree != d.bfree || ffree != d.ffree {
		return fmt.Errorf("/tmp not as made: flags %#x/%#x, free blocks %d/%d, inodes %d/%d", flags, d.flags, bfree, d.bfree, ffree, d.ffree)
	}
	return nil
}

// releaseDisk unmounts the disk (the loop device detaches itself once the
// last mount of it is gone) and removes its image.
func releaseDisk(d *tmpDisk) {
	if err := unix.Unmount(d.mnt, 0); err != nil && !errors.Is(err, unix.EINVAL) {
		_ = unix.Unmount(d.mnt, unix.MNT_DETACH)
	}
	_ = os.Remove(d.mnt)
	_ = os.Remove(d.img)
}

// template returns the formatted image for mb, making it on first use.
func (td *tmpDisks) template(mb int) (*tmpTemplate, error) {
	td.tplMu.Lock()
	t := td.tpls[mb]
	if t == nil {
		t = &tmpTemplate{path: filepath.Join(td.dir, "template-"+strconv.Itoa(mb)+".img")}
		td.tpls[mb] = t
	}
	td.tplMu.Unlock()
	t.once.Do(func() { t.size, t.err = td.format(t.path, mb) })
	return t, t.err
}

// format makes an ext4 image at path with at least mb MB free for files
// and little more, its root 1777 and empty, as /tmp is; it returns the
// image's size. ext4's own metadata takes a few percent, so the image is
// grown by what the first try fell short.
func (td *tmpDisks) format(path string, mb int) (int64, error) {
	want := uint64(mb) << 20
	size := int64(want)
	for try := 0; ; try++ {
		if err := os.Truncate(path, 0); err != nil && !errors.Is(err, os.ErrNotExist) {
			return 0, err
		}
		f, err := os.Create(path)
		if err != nil {
			return 0, err
		}
		err = f.Truncate(size)
		f.Close()
		if err != nil {
			return 0, err
		}
		// No journal (nothing in /tmp outlives the environment), no room
		// reserved for root, no growing, nothing zeroed or discarded now.
		out, err := exec.Command(td.mkfs, "-q", "-F", "-m", "0", "-O", "^has_journal,^resize_inode",
			"-E", "lazy_itable_init=1,nodiscard,root_owner=0:0", path).CombinedOutput()
		if err != nil {
			return 0, fmt.Errorf("mkfs.ext4: %v: %s", err, strings.TrimSpace(string(out)))
		}
		free, err := td.prepareRoot(path, filepath.Join(td.mnts, filepath.Base(path)))
		if err != nil {
			return 0, err
		}
		if free >= want || try == 3 {
			return size, nil
		}
		size += int64(want-free+(1<<20)-1) &^ (1<<20 - 1)
	}
}

// prepareRoot mounts a fresh image once to make its root what /tmp must be
// and to learn the room it has for files.
func (td *tmpDisks) prepareRoot(img, mnt string) (uint64, error) {
	if err := os.Mkdir(mnt, 0o700); err != nil {
		return 0, err
	}
	defer os.Remove(mnt)
	if err := mountImage(img, mnt); err != nil {
		return 0, err
	}
	defer func() { _ = unix.Unmount(mnt, 0) }()
	if err := os.Remove(filepath.Join(mnt, "lost+found")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return 0, err
	}
	// Sticky and world-writable: environments run as an unprivileged uid.
	if err := unix.Chmod(mnt, 0o1777); err != nil {
		return 0, err
	}
	var st unix.Statfs_t
	if err := unix.Statfs(mnt, &st); err != nil {
		return 0, err
	}
	return st.Bavail * uint64(st.Bsize), nil
}

// copySparse copies src's data (not its holes) to a new file dst of size.
func copySparse(src, dst string, size int64) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	fd := int(in.Fd())
	var off int64
	for off < size {
		data, err := unix.Seek(fd, off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			break // only a hole is left
		}
		if err != nil {
			out.Close()
			return err
		}
		hole, err := unix.Seek(fd, data, unix.SEEK_HOLE)
		if err != nil {
			out.Close()
			return err
		}
		if _, err := io.Copy(io.NewOffsetWriter(out, data), io.NewSectionReader(in, data, hole-data)); err != nil {
			out.Close()
			return err
		}
		off = hole
	}
	if err := out.Truncate(size); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// mountImage attaches img to a free loop device, with autoclear so that the
// device detaches itself when the file system is unmounted (or, should we
// die before mounting it, when our descriptor closes), and mounts it at mnt.
func mountImage(img, mnt string) error {
	f, err := os.OpenFile(img, os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	ctl, err := os.OpenFile("/dev/loop-control", os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer ctl.Close()
	for try := 0; ; try++ {
		n, err := unix.IoctlRetInt(int(ctl.Fd()), unix.LOOP_CTL_GET_FREE)
		if err != nil {
			return fmt.Errorf("loop: get free device: %w", err)
		}
		dev := "/dev/loop" + strconv.Itoa(n)
		lfd, err := openLoop(dev, n)
		if err != nil {
			return err
		}
		cfg := unix.LoopConfig{Fd: uint32(f.Fd())}
		cfg.Info.Flags = unix.LO_FLAGS_AUTOCLEAR | unix.LO_FLAGS_DIRECT_IO
		err = unix.IoctlLoopConfigure(lfd, &cfg)
		if errors.Is(err, unix.EINVAL) {
			// Direct I/O (no second copy of /tmp's pages in the image
			// file's page cache) is not possible on every backing fs.
			cfg.Info.Flags &^= unix.LO_FLAGS_DIRECT_IO
			err = unix.IoctlLoopConfigure(lfd, &cfg)
		}
		if errors.Is(err, unix.EBUSY) && try < 20 {
			unix.Close(lfd) // another attach took this device first
			continue
		}
		if err != nil {
			unix.Close(lfd)
			return fmt.Errorf("loop: attach %s: %w", dev, err)
		}
		err = unix.Mount(dev, mnt, "ext4", tmpMountFlags, tmpMountOpts)
		unix.Close(lfd) // the mount holds the device now; autoclear after it
		if err != nil {
			return fmt.Errorf("mount %s: %w", dev, err)
		}
		return nil
	}
}

// openLoop opens loop device n, making its node where /dev is no devtmpfs.
func openLoop(dev string, n int) (int, error) {
	fd, err := unix.Open(dev, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		_ = unix.Mknod(dev, unix.S_IFBLK|0o600, int(unix.Mkdev(7, uint32(n))))
		fd, err = unix.Open(dev, unix.O_RDWR|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return -1, fmt.Errorf("loop: open %s: %w", dev, err)
	}
	return fd, nil
}

// detachLoopsUnder detaches the loop devices whose backing file lies under
// dir: those of a lambdad that was killed before it could unmount. A device
// still mounted somewhere only gets autoclear and goes with its last mount.
func detachLoopsUnder(dir string) {
	for _, name := range loopsUnder(dir) {
		fd, err := unix.Open("/dev/"+name, unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			continue
		}
		_ = unix.IoctlSetInt(fd, unix.LOOP_CLR_FD, 0)
		unix.Close(fd)
	}
}

// loopsUnder lists the loop devices (loopN) backed by files under dir,
// deleted ones included.
func loopsUnder(dir string) []string {
	var out []string
	devs, _ := filepath.Glob("/sys/block/loop*/loop/backing_file")
	for _, p := range devs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if strings.HasPrefix(strings.TrimSpace(string(b)), dir+"/") {
			out = append(out, filepath.Base(filepath.Dir(filepath.Dir(p))))
		}
	}
	return out
}
