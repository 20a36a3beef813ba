//go:build !linux

package gpu

import "fmt"

// openCUDA reports that this build has no CUDA support.
func openCUDA(CUDAOptions) (Device, error) {
	return nil, fmt.Errorf("%w: the CUDA device is built for linux only", ErrNoDevice)
}

// openEmulator reports that this build has no emulation.
func openEmulator(EmulatorOptions) (Device, error) {
	return nil, fmt.Errorf("%w: the emulation is built for linux only", ErrNoCompiler)
}
