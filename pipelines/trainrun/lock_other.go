//go:build !unix

package trainrun

// lockFile is the lock file of a work directory (never created on this platform).
const lockFile = ".lock"

// lock takes no lock on this platform (concurrent runs of one stage on one root must be avoided
// by the user).
func lock(string) (func(), error) { return func() {}, nil }
