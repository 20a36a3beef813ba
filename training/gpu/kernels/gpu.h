/*
 * gpu.h: the portability layer of groundcap's kernels (training/gpu).
 *
 * Every kernel file compiles three ways from the same text:
 *   - NVRTC (CUDA C++, __CUDACC_RTC__): at run time on the GPU machine;
 *   - clang --cuda-device-only -nocudainc -nocudalib (__CUDA__): PTX embedded in the binary
 *     for machines without NVRTC (go generate), and the compile check of the tests;
 *   - the system C compiler (C11, neither macro): the CPU emulation, one C call per block.
 *
 * Kernel style (what makes the C emulation exact):
 *   - KERNEL(name)(params) declares a kernel; FN a device helper function.
 *   - Blocks are one-dimensional (TID, NTID); grids have x and y (BID, BIDY, NBID).
 *   - Work of the threads goes inside THREADS { ... }: on the GPU every thread runs the braces
 *     once; in C the braces run once per thread of the block, in order. Inside THREADS, use
 *     `continue` to skip a thread (never `return` or a `break` out of the braces).
 *   - SYNC is a block barrier between two THREADS phases (never inside one). Values that cross
 *     a barrier live in SHARED arrays; a thread's locals do not survive its phase.
 *   - Code outside THREADS runs on every thread on the GPU and once in C: it may only compute
 *     values that are the same for the whole block (from BID, NTID, parameters), never write
 *     memory.
 *   - Sums run in a fixed order (sequential loops, fixed-shape trees over SHARED arrays), never
 *     with atomics, so two runs give the same bits.
 */
#ifndef GROUNDCAP_GPU_H
#define GROUNDCAP_GPU_H

#if defined(__CUDACC_RTC__)
#define GPU_NVRTC 1
#define GPU_DEVICE 1
#elif defined(__CUDA__)
#define GPU_CLANG 1
#define GPU_DEVICE 1
#endif

#ifdef GPU_DEVICE

#ifdef GPU_CLANG
#define __global__ __attribute__((global))
#define __device__ __attribute__((device))
#define __shared__ __attribute__((shared))
#define TID ((int)__nvvm_read_ptx_sreg_tid_x())
#define NTID ((int)__nvvm_read_ptx_sreg_ntid_x())
#define BID ((int)__nvvm_read_ptx_sreg_ctaid_x())
#define BIDY ((int)__nvvm_read_ptx_sreg_ctaid_y())
#define NBID ((int)__nvvm_read_ptx_sreg_nctaid_x())
#else
#define TID ((int)threadIdx.x)
#define NTID ((int)blockDim.x)
#define BID ((int)blockIdx.x)
#define BIDY ((int)blockIdx.y)
#define NBID ((int)gridDim.x)
#endif

#define KERNEL(name) extern "C" __global__ void name
#define FN static __device__ inline
#define SHARED __shared__
#define THREADS for (int gpu_once_ = 1; gpu_once_; gpu_once_ = 0)
#define SYNC __syncthreads();

#ifdef GPU_CLANG
#define NEG_INF (-__builtin_inff())
#else
#define NEG_INF __int_as_float(0xff800000)
#endif

#ifdef GPU_CLANG
/* No libdevice: exp and log from the PTX approximations (relative error about 2^-22). */
FN float gexp(float x) { return __nvvm_ex2_approx_f(x * 1.4426950408889634f); }
FN float glog(float x) { return __nvvm_lg2_approx_f(x) * 0.6931471805599453f; }
FN float gsqrt(float x) { return __builtin_sqrtf(x); }
FN double gsqrtd(double x) { return __builtin_sqrt(x); }
#else
FN float gexp(float x) { return expf(x); }
FN float glog(float x) { return logf(x); }
FN float gsqrt(float x) { return sqrtf(x); }
FN double gsqrtd(double x) { return sqrt(x); }
#endif

#else /* the C emulation */

#include <math.h>

typedef struct { unsigned x, y; } gpu_dim_;
/* The thread and block indices of the block being run on this OS thread; set by the launch
 * wrappers the emulation generates. */
static _Thread_local gpu_dim_ gpu_tid_, gpu_bid_, gpu_ntid_, gpu_nbid_;
#define TID ((int)gpu_tid_.x)
#define NTID ((int)gpu_ntid_.x)
#define BID ((int)gpu_bid_.x)
#define BIDY ((int)gpu_bid_.y)
#define NBID ((int)gpu_nbid_.x)

#define KERNEL(name) static void name
#define FN static inline
#define SHARED
#define THREADS for (gpu_tid_.x = 0; gpu_tid_.x < gpu_ntid_.x; gpu_tid_.x++)
#define SYNC
#define NEG_INF (-INFINITY)

FN float gexp(float x) { return expf(x); }
FN float glog(float x) { return logf(x); }
FN float gsqrt(float x) { return sqrtf(x); }
FN double gsqrtd(double x) { return sqrt(x); }

#endif

/* GID is the global index of the thread along x, as a 64-bit value. */
#define GID ((long long)BID * NTID + TID)

/* RED is the block size of the kernels that reduce inside a block. */
#define RED 256

/* BLOCK_SUM sums the RED values of the SHARED array p into p[0] in a fixed tree order; it
 * must follow a SYNC and is followed by one. */
#define BLOCK_SUM(p)                                              \
	for (int w_ = RED / 2; w_ > 0; w_ >>= 1) {                \
		THREADS {                                         \
			if (TID < w_) p[TID] += p[TID + w_];      \
		}                                                 \
		SYNC                                              \
	}

/* SQRT_TINY and L2_EPS are training/nn's SqrtTiny and L2Eps. */
#define SQRT_TINY 1e-30f
#define L2_EPS 1e-8f

FN float gmaxf(float a, float b) { return a > b ? a : b; }

/* leaky is LeakyReLU with slope 0.1 (x > 0: x; otherwise 0.1·x, so -0 stays -0). */
FN float leaky(float x) { return x > 0 ? x : 0.1f * x; }

/* leaky_grad is g times LeakyReLU's derivative at x (0.1·g at x = ±0). */
FN float leaky_grad(float x, float g) { return x > 0 ? g : g * 0.1f; }

/* gsigmoid is 1/(1 + e^-x). */
FN float gsigmoid(float x) { return 1.0f / (1.0f + gexp(-x)); }

/* gtanh is training/nn's tanh32: x(1 - x²/3) below 1e-3, ±1 above 20, else
 * 1 - 2/(e^{2|x|} + 1) with the sign of x. */
FN float gtanh(float x) {
	float a = x < 0 ? -x : x;
	if (a < 1e-3f) return x * (1.0f - x * x / 3.0f);
	if (a > 20.0f) return x < 0 ? -1.0f : 1.0f;
	float t = 1.0f - 2.0f / (gexp(2.0f * a) + 1.0f);
	return x < 0 ? -t : t;
}

#endif
