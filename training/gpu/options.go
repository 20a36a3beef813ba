package gpu

import (
	"fmt"

	gblas "gonum.org/v1/gonum/blas"
)

// EmulatorOptions configure OpenEmulator. The zero value is valid.
type EmulatorOptions struct {
	// CC is the C compiler (default: $CC, else cc).
	CC string
	// CacheDir holds the compiled kernel libraries (default: the user cache directory's
	// groundcap/gpu-emu; when it cannot be created, a temporary directory).
	CacheDir string
	// BLAS computes the products (default: gonum's pure-Go BLAS).
	BLAS gblas.Float32
	// Workers bounds the goroutines that run a launch's blocks (0: GOMAXPROCS).
	Workers int
}

// Kernel sources of OpenCUDA (CUDAOptions.Kernels).
const (
	// KernelsAuto uses PTX cached from an earlier NVRTC compile, else compiles with NVRTC,
	// else uses the embedded PTX (the empty string means auto).
	KernelsAuto = "auto"
	// KernelsNVRTC compiles with NVRTC (or takes its cached PTX) and fails without it.
	KernelsNVRTC = "nvrtc"
	// KernelsEmbedded uses the PTX built with clang and embedded in the binary.
	KernelsEmbedded = "embedded"
)

// CUDAOptions configure OpenCUDA. The zero value is valid.
type CUDAOptions struct {
	// LibDir lists directories (':'-separated) searched for the CUDA libraries before the
	// system library path (gpublas's search; the NVIDIA pip wheels put them in
	// site-packages/nvidia/cu13/lib). NVRTC is searched in cuBLAS's directory first.
	LibDir string
	// Device is the CUDA device ordinal.
	Device int
	// Kernels chooses where the kernels come from: KernelsAuto (""), KernelsNVRTC or
	// KernelsEmbedded.
	Kernels string
	// CacheDir holds PTX compiled by NVRTC (default: the user cache directory's
	// groundcap/gpu-ptx; no cache when it cannot be created).
	CacheDir string
	// Pedantic runs cuBLAS in CUBLAS_PEDANTIC_MATH instead of CUBLAS_DEFAULT_MATH (neither
	// uses TF32).
	Pedantic bool
}

// Validate reports the first bad field.
func (o CUDAOptions) Validate() error {
	switch o.Kernels {
	case "", KernelsAuto, KernelsNVRTC, KernelsEmbedded:
	default:
		return fmt.Errorf("gpu: CUDAOptions.Kernels = %q, want %q, %q or %q", o.Kernels, KernelsAuto, KernelsNVRTC, KernelsEmbedded)
	}
	if o.Device < 0 {
		return fmt.Errorf("gpu: CUDAOptions.Device = %d, want ≥ 0", o.Device)
	}
	return nil
}

// OpenCUDA opens GPU opts.Device: it loads the driver and cuBLAS (gpublas's search), makes the
// device's primary context current, creates a stream and a cuBLAS handle on it, and loads the
// kernels as opts.Kernels says. Errors wrap ErrNoDevice when CUDA is unusable here, ErrNoNVRTC
// when NVRTC is needed and missing; a failed compile is a *CompileError with NVRTC's log.
func OpenCUDA(opts CUDAOptions) (Device, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	return openCUDA(opts)
}

// OpenEmulator compiles the kernels with the C compiler (or finds them in the cache) and
// returns the CPU emulation of a Device. The error wraps ErrNoCompiler when there is no C
// compiler, and is a *CompileError when the kernels do not compile.
func OpenEmulator(opts EmulatorOptions) (Device, error) { return openEmulator(opts) }
