//go:build !unix

package captionxe

import (
	"fmt"
	"os"
)

// LockWork creates the work directory; on this platform it takes no lock (concurrent runs of
// one stage on one root must be avoided by the user).
func LockWork(dir string) (func(), error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("captionxe: work directory: %w", err)
	}
	return func() {}, nil
}
