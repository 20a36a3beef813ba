//go:build unix

package blobio

import (
	"os"
	"syscall"
)

var mmapFile = func(f *os.File, offset int64, size int) ([]byte, error) {
	return syscall.Mmap(int(f.Fd()), offset, size, syscall.PROT_READ, syscall.MAP_SHARED|syscall.MAP_POPULATE)
}

func munmapFile(b []byte) error { return syscall.Munmap(b) }
