package blobs

import (
	"os"

	"golang.org/x/sys/unix"
)

// syncTree makes a freshly written tree durable. One syncfs flushes the whole
// filesystem, which is far cheaper than an fsync per file for trees of
// thousands of files.
func syncTree(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return unix.Syncfs(int(d.Fd()))
}
