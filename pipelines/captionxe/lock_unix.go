//go:build unix

package captionxe

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// LockWork takes an exclusive lock on the work directory dir (created if needed), so that two
// runs of one stage on one root never share a trainer's checkpoints; the operating system drops
// the lock when the process dies, so a killed run never blocks its rerun. It fails at once when
// another process holds the lock. Call the returned function to release it.
func LockWork(dir string) (func(), error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("captionxe: work directory: %w", err)
	}
	path := filepath.Join(dir, ".lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("captionxe: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("captionxe: %s is locked by another run of this stage (%v); wait for it to finish", dir, err)
	}
	return func() { f.Close() }, nil
}
