//go:build !unix

package blobio

import "os"

// No mmap here: OpenMapped returns nil and callers read through NewRangeReader.
var mmapFile func(f *os.File, offset int64, size int, populate bool) ([]byte, error)

func munmapFile([]byte) error { return nil }

func populate([]byte) {}
