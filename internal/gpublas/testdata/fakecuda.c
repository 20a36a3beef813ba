/*
 * fakecuda.c: a CPU stand-in for the parts of libcuda, libcudart and
 * libcublas that gpublas calls, used only by gpublas's tests to exercise the
 * real purego bindings (symbol names, argument order and types, 14-argument
 * cublasSgemm_v2 with stack arguments) on a machine without a GPU. It says
 * nothing about GPU results. "Device" memory is host memory.
 *
 * Built once per library with -DFAKE_DRIVER, -DFAKE_RUNTIME, -DFAKE_CUBLASLT
 * or -DFAKE_CUBLAS. Environment knobs, read at each call:
 *   FAKE_CUDA_DEVICES     number of devices (default 1)
 *   FAKE_CUDA_MALLOC_FAIL if set, cudaMalloc fails with cudaErrorMemoryAllocation
 */
#include <stdlib.h>
#include <string.h>

#ifdef FAKE_DRIVER
int cuInit(unsigned int flags) { return flags == 0 ? 0 : 1; }
int cuDeviceGet(int *dev, int ordinal) { *dev = ordinal; return 0; }
int cuDeviceGetName(char *name, int len, int dev) {
	const char *n = "Fake CUDA Device (CPU)";
	if (len <= 0) return 1;
	strncpy(name, n, (size_t)len - 1);
	name[len - 1] = 0;
	return 0;
}
int cuDeviceTotalMem_v2(size_t *bytes, int dev) { *bytes = (size_t)80 << 30; return 0; }
#endif

#ifdef FAKE_RUNTIME
static int stream_token;
static int devices(void) {
	const char *s = getenv("FAKE_CUDA_DEVICES");
	return s ? atoi(s) : 1;
}
int cudaGetDeviceCount(int *n) {
	*n = devices();
	return *n == 0 ? 100 : 0; /* cudaErrorNoDevice */
}
int cudaSetDevice(int d) { return d >= 0 && d < devices() ? 0 : 101; /* cudaErrorInvalidDevice */ }
int cudaMalloc(void **p, size_t n) {
	if (getenv("FAKE_CUDA_MALLOC_FAIL")) return 2; /* cudaErrorMemoryAllocation */
	*p = malloc(n);
	return *p ? 0 : 2;
}
int cudaFree(void *p) { free(p); return 0; }
int cudaMallocHost(void **p, size_t n) { *p = malloc(n); return *p ? 0 : 2; }
int cudaFreeHost(void *p) { free(p); return 0; }
int cudaMemcpyAsync(void *dst, const void *src, size_t n, int kind, void *stream) {
	if ((kind != 1 && kind != 2) || stream != &stream_token) return 1; /* cudaErrorInvalidValue */
	memcpy(dst, src, n);
	return 0;
}
int cudaStreamCreate(void **s) { *s = &stream_token; return 0; }
int cudaStreamDestroy(void *s) { return s == &stream_token ? 0 : 400; }
int cudaStreamSynchronize(void *s) { return s == &stream_token ? 0 : 400; /* cudaErrorInvalidResourceHandle */ }
const char *cudaGetErrorString(int e) {
	switch (e) {
	case 0: return "no error";
	case 1: return "invalid argument";
	case 2: return "out of memory";
	case 100: return "no CUDA-capable device is detected";
	case 101: return "invalid device ordinal";
	default: return "unknown error";
	}
}
int cudaRuntimeGetVersion(int *v) { *v = 13000; return 0; }
int cudaDriverGetVersion(int *v) { *v = 13010; return 0; }
int cudaMemGetInfo(size_t *free_, size_t *total) { *free_ = (size_t)70 << 30; *total = (size_t)80 << 30; return 0; }
int cudaDeviceGetAttribute(int *v, int attr, int dev) {
	if (attr == 75) { *v = 9; return 0; }
	if (attr == 76) { *v = 0; return 0; }
	return 1;
}
#endif

#ifdef FAKE_CUBLASLT
int cublasLtGetVersion(void) { return 130001; }
#endif

#ifdef FAKE_CUBLAS
typedef struct { void *stream; int mode; } handle_t;
int cublasCreate_v2(handle_t **h) { *h = calloc(1, sizeof(handle_t)); return *h ? 0 : 3; }
int cublasDestroy_v2(handle_t *h) { free(h); return 0; }
int cublasSetStream_v2(handle_t *h, void *s) { h->stream = s; return 0; }
int cublasSetMathMode(handle_t *h, int mode) { h->mode = mode; return 0; }
int cublasGetVersion_v2(handle_t *h, int *v) { *v = 130001; return 0; }
/* Column-major reference sgemm with cuBLAS's argument checks. */
int cublasSgemm_v2(handle_t *h, int ta, int tb, int m, int n, int k, const float *alpha,
		const float *a, int lda, const float *b, int ldb, const float *beta, float *c, int ldc) {
	if (h == NULL || h->stream == NULL) return 1; /* NOT_INITIALIZED */
	if (h->mode != 0 && h->mode != 2) return 15; /* NOT_SUPPORTED: TF32 or other modes are never asked for */
	if ((ta != 0 && ta != 1) || (tb != 0 && tb != 1) || m < 0 || n < 0 || k < 0) return 7;
	int arows = ta ? k : m, brows = tb ? n : k;
	if (lda < (arows > 1 ? arows : 1) || ldb < (brows > 1 ? brows : 1) || ldc < (m > 1 ? m : 1)) return 7;
	for (int j = 0; j < n; j++) {
		for (int i = 0; i < m; i++) {
			double s = 0;
			for (int l = 0; l < k; l++) {
				double x = ta ? a[l + (size_t)i * lda] : a[i + (size_t)l * lda];
				double y = tb ? b[j + (size_t)l * ldb] : b[l + (size_t)j * ldb];
				s += x * y;
			}
			double v = (double)*alpha * s;
			if (*beta != 0) v += (double)*beta * c[i + (size_t)j * ldc];
			c[i + (size_t)j * ldc] = (float)v;
		}
	}
	return 0;
}
#endif
