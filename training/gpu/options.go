package gpu

import (
	"fmt"
	"os"

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

// Device kinds of Open, the values of the stages' device setting.
const (
	// KindCPU is no device: the models run on the CPU (gorgonia); Open refuses it.
	KindCPU = "cpu"
	// KindCUDA is an NVIDIA GPU (OpenCUDA).
	KindCUDA = "cuda"
	// KindEmulate is the CPU emulation of the kernels (OpenEmulator): the device-resident code
	// path without a GPU, for tests and checks (slow).
	KindEmulate = "emulate"
)

// EnvLibDir is the environment variable that names the CUDA library directories for Open,
// the same as the cuda BLAS backend's (gpublas.EnvLibDir).
const EnvLibDir = "GROUNDCAP_CUDA_LIB_DIR"

// ValidKind reports whether kind is a device setting: "" or cpu (no device), cuda or emulate.
func ValidKind(kind string) bool {
	return kind == "" || kind == KindCPU || kind == KindCUDA || kind == KindEmulate
}

// UsesDevice reports whether the device setting kind asks for a device.
func UsesDevice(kind string) bool { return kind == KindCUDA || kind == KindEmulate }

// Open opens the device of a stage's device setting: KindCUDA is OpenCUDA on device 0 with the
// library directories of $GROUNDCAP_CUDA_LIB_DIR (as the cuda BLAS backend), KindEmulate is
// OpenEmulator with defaults. Other kinds are an error.
func Open(kind string) (Device, error) {
	switch kind {
	case KindCUDA:
		return OpenCUDA(CUDAOptions{LibDir: os.Getenv(EnvLibDir)})
	case KindEmulate:
		return OpenEmulator(EmulatorOptions{})
	}
	return nil, fmt.Errorf("gpu: device %q: want %s or %s", kind, KindCUDA, KindEmulate)
}
