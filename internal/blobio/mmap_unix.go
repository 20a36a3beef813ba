//go:build unix

package blobio

import (
	"os"
	"syscall"
)

var mmapFile = func(f *os.File, offset int64, size int, populate bool) ([]byte, error) {
	flags := syscall.MAP_SHARED
	if populate {
		flags |= mapPopulate
	}
	return syscall.Mmap(int(f.Fd()), offset, size, syscall.PROT_READ, flags)
}

func munmapFile(b []byte) error { return syscall.Munmap(b) }
