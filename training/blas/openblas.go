//go:build openblas

package blas

import (
	"gonum.org/v1/netlib/blas/netlib"
)

// init registers OpenBLAS (through gonum's netlib cgo wrapper) when the
// package is built with -tags openblas.
func init() {
	if err := Register(OpenBLAS, func() (Float32, error) { return netlib.Implementation{}, nil }); err != nil {
		panic(err)
	}
}
