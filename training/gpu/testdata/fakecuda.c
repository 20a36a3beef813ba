/*
 * fakecuda.c: CPU stand-ins for the parts of libcuda (driver API), libcublas and libnvrtc that
 * training/gpu calls, used only by its tests to run the real purego bindings of the CUDA device
 * (symbols, argument order and types, kernelParams, the row-major mapping of the products) on a
 * machine without a GPU. "Device" memory is host memory; cuLaunchKernel runs the kernel's
 * emulation wrapper (gpu_emu_<name>) from the library FAKE_CUDA_EMU_LIB names, which the tests
 * build from the same sources; the fake NVRTC "compiles" to a PTX stub that lists the kernels.
 *
 * Built once per library with -DFAKE_DRIVER, -DFAKE_RUNTIME, -DFAKE_CUBLASLT, -DFAKE_CUBLAS or
 * -DFAKE_NVRTC. Environment knobs, read at each call:
 *   FAKE_CUDA_DEVICES     number of devices (default 1)
 *   FAKE_CUDA_MEM_LIMIT   cuMemAlloc_v2 of more bytes fails with CUDA_ERROR_OUT_OF_MEMORY
 *   FAKE_CUDA_JIT_FAIL    cuModuleLoadDataEx fails with CUDA_ERROR_INVALID_PTX and a log
 *   FAKE_CUDA_EMU_LIB     the emulation library that runs launched kernels
 *   FAKE_NVRTC_FAIL       nvrtcCompileProgram fails with NVRTC_ERROR_COMPILATION and a log
 */
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <stddef.h>

#ifdef FAKE_DRIVER
#include <dlfcn.h>

static int stream_token;
static int context_token;
static int devices(void) {
	const char *s = getenv("FAKE_CUDA_DEVICES");
	return s ? atoi(s) : 1;
}
int cuInit(unsigned flags) { return flags == 0 ? 0 : 1; }
int cuDriverGetVersion(int *v) { *v = 13000; return 0; }
int cuDeviceGetCount(int *n) { *n = devices(); return 0; }
int cuDeviceGet(int *d, int ordinal) {
	if (ordinal < 0 || ordinal >= devices()) return 101; /* CUDA_ERROR_INVALID_DEVICE */
	*d = ordinal;
	return 0;
}
int cuDeviceGetName(char *name, int len, int dev) {
	snprintf(name, (size_t)len, "Fake CUDA Device %d (CPU)", dev);
	return 0;
}
int cuDeviceGetAttribute(int *v, int attr, int dev) {
	if (attr == 75) { *v = 9; return 0; }
	if (attr == 76) { *v = 0; return 0; }
	return 1;
}
int cuDeviceTotalMem_v2(size_t *b, int dev) { *b = (size_t)80 << 30; return 0; }
int cuDevicePrimaryCtxRetain(void **ctx, int dev) { *ctx = &context_token; return 0; }
int cuDevicePrimaryCtxRelease_v2(int dev) { return 0; }
int cuCtxSetCurrent(void *ctx) { return ctx == &context_token ? 0 : 201; /* CUDA_ERROR_INVALID_CONTEXT */ }
int cuStreamCreate(void **s, unsigned flags) { *s = &stream_token; return 0; }
int cuStreamDestroy_v2(void *s) { return s == &stream_token ? 0 : 400; }
int cuStreamSynchronize(void *s) { return s == &stream_token ? 0 : 400; /* CUDA_ERROR_INVALID_HANDLE */ }
int cuMemAlloc_v2(void **p, size_t n) {
	const char *lim = getenv("FAKE_CUDA_MEM_LIMIT");
	if (lim && n > (size_t)atoll(lim)) return 2; /* CUDA_ERROR_OUT_OF_MEMORY */
	*p = malloc(n);
	return *p ? 0 : 2;
}
int cuMemFree_v2(void *p) { free(p); return 0; }
int cuMemGetInfo_v2(size_t *free_, size_t *total) { *free_ = (size_t)70 << 30; *total = (size_t)80 << 30; return 0; }
int cuMemAllocHost_v2(void **p, size_t n) { *p = malloc(n); return *p ? 0 : 2; }
int cuMemFreeHost(void *p) { free(p); return 0; }
int cuMemcpyHtoDAsync_v2(void *dst, const void *src, size_t n, void *s) {
	if (s != &stream_token) return 400;
	memcpy(dst, src, n);
	return 0;
}
int cuMemcpyDtoHAsync_v2(void *dst, const void *src, size_t n, void *s) {
	if (s != &stream_token) return 400;
	memcpy(dst, src, n);
	return 0;
}
int cuMemsetD32Async(unsigned *dst, unsigned v, size_t n, void *s) {
	if (s != &stream_token) return 400;
	for (size_t i = 0; i < n; i++) dst[i] = v;
	return 0;
}

typedef struct { char *image; } module_t;
typedef struct { char name[128]; void (*fn)(unsigned, unsigned, unsigned, long long, long long, void **); } function_t;

int cuModuleLoadDataEx(module_t **m, const char *image, unsigned nopts, int *opts, void **vals) {
	if (getenv("FAKE_CUDA_JIT_FAIL")) {
		for (unsigned i = 0; i < nopts; i++) {
			if (opts[i] == 5) { /* CU_JIT_ERROR_LOG_BUFFER: the next option gives its size */
				size_t size = 0;
				for (unsigned j = 0; j < nopts; j++)
					if (opts[j] == 6) size = (size_t)vals[j];
				if (size > 0) snprintf((char *)vals[i], size, "ptxas fatal   : fake JIT failure");
			}
		}
		return 218; /* CUDA_ERROR_INVALID_PTX */
	}
	*m = calloc(1, sizeof(module_t));
	(*m)->image = strdup(image);
	return 0;
}
int cuModuleUnload(module_t *m) {
	free(m->image);
	free(m);
	return 0;
}
int cuModuleGetFunction(function_t **f, module_t *m, const char *name) {
	char entry[160];
	snprintf(entry, sizeof entry, ".entry %s(", name);
	if (strstr(m->image, entry) == NULL) return 500; /* CUDA_ERROR_NOT_FOUND */
	*f = calloc(1, sizeof(function_t));
	snprintf((*f)->name, sizeof (*f)->name, "%s", name);
	return 0;
}
int cuLaunchKernel(function_t *f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
		unsigned shared, void *s, void **params, void **extra) {
	static void *lib;
	if (s != &stream_token || gz != 1 || by != 1 || bz != 1 || shared != 0 || extra != NULL) return 1; /* INVALID_VALUE */
	if (f->fn == NULL) {
		const char *path = getenv("FAKE_CUDA_EMU_LIB");
		if (path == NULL) return 1;
		if (lib == NULL) lib = dlopen(path, RTLD_NOW);
		if (lib == NULL) return 1;
		char sym[160];
		snprintf(sym, sizeof sym, "gpu_emu_%s", f->name);
		f->fn = (void (*)(unsigned, unsigned, unsigned, long long, long long, void **))dlsym(lib, sym);
		if (f->fn == NULL) return 500;
	}
	f->fn(gx, gy, bx, 0, (long long)gx * gy, params);
	return 0;
}
int cuGetErrorName(int e, const char **s) {
	switch (e) {
	case 0: *s = "CUDA_SUCCESS"; break;
	case 1: *s = "CUDA_ERROR_INVALID_VALUE"; break;
	case 2: *s = "CUDA_ERROR_OUT_OF_MEMORY"; break;
	case 101: *s = "CUDA_ERROR_INVALID_DEVICE"; break;
	case 218: *s = "CUDA_ERROR_INVALID_PTX"; break;
	case 500: *s = "CUDA_ERROR_NOT_FOUND"; break;
	default: *s = "CUDA_ERROR_UNKNOWN"; return 1;
	}
	return 0;
}
int cuGetErrorString(int e, const char **s) {
	switch (e) {
	case 2: *s = "out of memory"; break;
	case 218: *s = "a PTX JIT compilation failed"; break;
	case 500: *s = "named symbol not found"; break;
	default: *s = "fake error"; break;
	}
	return 0;
}
#endif

#ifdef FAKE_RUNTIME
int cudaRuntimeGetVersion(int *v) { *v = 13000; return 0; }
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

/* gemm is the column-major reference product with cuBLAS's argument checks. */
static int gemm(handle_t *h, int ta, int tb, int m, int n, int k, const float *alpha, const float *a, int lda,
		const float *b, int ldb, const float *beta, float *c, int ldc) {
	if (h == NULL || h->stream == NULL) return 1; /* NOT_INITIALIZED */
	if (h->mode != 0 && h->mode != 2) return 15;
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
int cublasSgemm_v2(handle_t *h, int ta, int tb, int m, int n, int k, const float *alpha, const float *a, int lda,
		const float *b, int ldb, const float *beta, float *c, int ldc) {
	return gemm(h, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
int cublasSgemmStridedBatched(handle_t *h, int ta, int tb, int m, int n, int k, const float *alpha,
		const float *a, int lda, long long sa, const float *b, int ldb, long long sb, const float *beta,
		float *c, int ldc, long long sc, int batch) {
	if (batch < 0) return 7;
	for (int p = 0; p < batch; p++) {
		int s = gemm(h, ta, tb, m, n, k, alpha, a + p * sa, lda, b + p * sb, ldb, beta, c + p * sc, ldc);
		if (s != 0) return s;
	}
	return 0;
}
#endif

#ifdef FAKE_NVRTC
typedef struct { char *src; char *ptx; char *log; } program_t;
int nvrtcVersion(int *major, int *minor) { *major = 13; *minor = 0; return 0; }
const char *nvrtcGetErrorString(int r) {
	switch (r) {
	case 0: return "NVRTC_SUCCESS";
	case 6: return "NVRTC_ERROR_COMPILATION";
	default: return "NVRTC_ERROR_INVALID_INPUT";
	}
}
int nvrtcCreateProgram(program_t **p, const char *src, const char *name, int nheaders, const char **headers,
		const char **names) {
	/* The kernels include gpu.h: it must be given as a header. */
	if (nheaders != 1 || strcmp(names[0], "gpu.h") != 0 || strstr(headers[0], "GROUNDCAP_GPU_H") == NULL) return 3;
	*p = calloc(1, sizeof(program_t));
	(*p)->src = strdup(src);
	return 0;
}
int nvrtcCompileProgram(program_t *p, int nopts, const char **opts) {
	int arch = 0, fmad = 0;
	for (int i = 0; i < nopts; i++) {
		if (strcmp(opts[i], "--gpu-architecture=compute_90") == 0) arch = 1;
		if (strcmp(opts[i], "--fmad=false") == 0) fmad = 1;
	}
	if (getenv("FAKE_NVRTC_FAIL") || !arch || !fmad) {
		p->log = strdup("groundcap_kernels.cu(7): error: fake compile failure (or options other than compute_90 and --fmad=false)");
		return 6;
	}
	size_t cap = 64, len = 0;
	char *ptx = malloc(cap);
	len = (size_t)snprintf(ptx, cap, "// fake PTX\n");
	for (const char *q = strstr(p->src, "KERNEL("); q != NULL; q = strstr(q + 1, "KERNEL(")) {
		const char *name = q + 7, *end = strchr(name, ')');
		if (end == NULL) break;
		size_t need = len + (size_t)(end - name) + 16;
		if (need > cap) {
			cap = 2 * need;
			ptx = realloc(ptx, cap);
		}
		len += (size_t)sprintf(ptx + len, ".entry %.*s(\n", (int)(end - name), name);
	}
	p->ptx = ptx;
	p->log = strdup("");
	return 0;
}
int nvrtcGetPTXSize(program_t *p, size_t *n) { *n = strlen(p->ptx) + 1; return 0; }
int nvrtcGetPTX(program_t *p, char *out) { memcpy(out, p->ptx, strlen(p->ptx) + 1); return 0; }
int nvrtcGetProgramLogSize(program_t *p, size_t *n) { *n = p->log ? strlen(p->log) + 1 : 1; return 0; }
int nvrtcGetProgramLog(program_t *p, char *out) {
	const char *l = p->log ? p->log : "";
	memcpy(out, l, strlen(l) + 1);
	return 0;
}
int nvrtcDestroyProgram(program_t **p) {
	free((*p)->src);
	free((*p)->ptx);
	free((*p)->log);
	free(*p);
	*p = NULL;
	return 0;
}
#endif
