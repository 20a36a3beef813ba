//go:build unix

package trainrun

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockFile is the lock file of a work directory.
const lockFile = ".lock"

// lock takes an exclusive lock on the work directory dir, so that two
// runs of one stage on one root never share a trainer's checkpoints; the operating system drops
// the lock when the process dies, so a killed run never blocks its rerun. It fails at once when
// another process holds the lock. Call the returned function to release it.
func lock(dir string) (func(), error) {
	path := filepath.Join(dir, lockFile)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("trainrun: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("trainrun: %s is locked by another run of this stage (%v); wait for it to finish", dir, err)
	}
	return func() { f.Close() }, nil
}
