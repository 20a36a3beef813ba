//go:build !amd64 || purego

package sgemm

// kernels lists the kernels this CPU runs: the portable one.
func kernels() []kernel { return []kernel{generic} }
