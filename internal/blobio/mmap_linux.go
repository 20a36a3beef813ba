package blobio

import "syscall"

const mapPopulate = syscall.MAP_POPULATE

// madvPopulateRead is MADV_POPULATE_READ (Linux 5.14); older kernels answer EINVAL.
const madvPopulateRead = 22

func populate(b []byte) { _ = syscall.Madvise(b, madvPopulateRead) }
