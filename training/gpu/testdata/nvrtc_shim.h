/*
 * nvrtc_shim.h: what NVRTC declares built in, for checking with clang that the kernels'
 * NVRTC branch (__CUDACC_RTC__ in kernels/gpu.h) compiles as CUDA C++: the index variables, the
 * math functions and __int_as_float. Used only by the tests (clang -include); the PTX it makes
 * is not run.
 */
#define __CUDACC_RTC__ 1
#define __global__ __attribute__((global))
#define __device__ __attribute__((device))
#define __shared__ __attribute__((shared))
struct gpu_shim_dim3 { unsigned x, y, z; };
extern __device__ const gpu_shim_dim3 threadIdx, blockIdx, blockDim, gridDim;
extern "C" __device__ float expf(float);
extern "C" __device__ float logf(float);
extern "C" __device__ float sqrtf(float);
extern "C" __device__ double sqrt(double);
extern "C" __device__ float __int_as_float(int);
