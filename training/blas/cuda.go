package blas

import (
	"cmp"
	"os"

	"github.com/groundcap/groundcap/internal/gpublas"
)

// newCUDA is the factory of the cuda backend: cuBLAS through internal/gpublas
// with its default threshold, libraries searched in o.CUDALibDir, else in
// $GROUNDCAP_CUDA_LIB_DIR, then on the system library path. It is registered
// here, with the other backends, so that every caller of Select, not only the
// command line, can ask for cuda. Errors wrap gpublas.ErrNoCUDA when the
// machine has no usable CUDA.
func newCUDA(o Options) (Float32, error) {
	return gpublas.New(gpublas.Options{LibDir: o.CUDADir(), Device: o.CUDADevice})
}

// CUDADir is the library directory the cuda backend searches: o.CUDALibDir,
// else $GROUNDCAP_CUDA_LIB_DIR; empty means the system library path only.
func (o Options) CUDADir() string {
	return cmp.Or(o.CUDALibDir, os.Getenv(gpublas.EnvLibDir))
}
