//go:build linux

package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// Each isolated environment runs as a host user of its own, so that the
// kernel can tell environments apart: the Runtime API checks the owner of
// every connection (peer.go), and one environment's processes cannot
// signal, trace or read the files of another's.
//
// The users are uids (and gids of the same number) from
// 2,000,000,000 to 2,004,194,303: 64 blocks of 65,536. Nothing else on a
// host normally uses them (distributions allocate users below 60,000, and
// subordinate ids for user namespaces from 100,000 upwards in blocks of
// 65,536); they stay below 2^31 for tools that read uids as signed. A
// lambdad instance claims one block for its life by holding an flock on
// <lockdir>/uids-<n>.lock (lockdir is /run/lambdad, else $TMPDIR/lambdad),
// so two instances on one host never share a uid, and a dead instance's
// block is free again at once (the kernel drops its lock). Within the
// block, a uid belongs to one live environment at a time and is handed
// out round-robin, so a stopped environment's uid is reused as late as
// possible.
const (
	envUIDBase      = 2_000_000_000
	envUIDBlockSize = 1 << 16
	envUIDBlocks    = 64
)

// uidBlock is the block of environment uids this Manager owns.
type uidBlock struct {
	lock  *os.File // holds the flock; closing it frees the block
	first int

	mu   sync.Mutex
	used map[int]bool
	next int // offset tried first by the next take
}

func uidLockDir() string {
	if fi, err := os.Stat("/run"); err == nil && fi.IsDir() {
		return "/run/lambdad"
	}
	return filepath.Join(os.TempDir(), "lambdad")
}

// claimUIDBlock takes the first block no other running lambdad holds.
func claimUIDBlock(dir string) (*uidBlock, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	for n := range envUIDBlocks {
		f, err := os.OpenFile(filepath.Join(dir, "uids-"+strconv.Itoa(n)+".lock"), os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, err
		}
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return &uidBlock{lock: f, first: envUIDBase + n*envUIDBlockSize, used: map[int]bool{}}, nil
		}
		f.Close()
		if !errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
		}
	}
	return nil, fmt.Errorf("all %d blocks of environment uids are held by other lambdad instances (locks in %s)", envUIDBlocks, dir)
}

// last is the highest uid of the block.
func (b *uidBlock) last() int { return b.first + envUIDBlockSize - 1 }

// take hands out a uid no live environment of this Manager has.
func (b *uidBlock) take() (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.used) >= envUIDBlockSize {
		return 0, errors.New("sandbox: every environment uid of this instance is in use")
	}
	for b.used[b.first+b.next] {
		b.next = (b.next + 1) % envUIDBlockSize
	}
	uid := b.first + b.next
	b.used[uid] = true
	b.next = (b.next + 1) % envUIDBlockSize
	return uid, nil
}

// put returns uid once its environment's processes are gone.
func (b *uidBlock) put(uid int) {
	b.mu.Lock()
	delete(b.used, uid)
	b.mu.Unlock()
}

func (b *uidBlock) close() { b.lock.Close() }
