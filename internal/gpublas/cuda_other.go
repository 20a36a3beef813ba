//go:build !linux

package gpublas

import "fmt"

// openCUDA reports that this build has no CUDA support.
func openCUDA(Options) (device, error) {
	return nil, fmt.Errorf("%w: the CUDA backend is built for linux only", ErrNoCUDA)
}
