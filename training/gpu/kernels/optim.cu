/* optim.cu: the global gradient norm (sums of squares in double, in a fixed order) and Adam
 * (training/optim's Adam.ClipAndUpdate, the same float32 operations). */
#include "gpu.h"

/* sumsq_part writes part[b] = Σ x² (in double) over x[b·chunk, min((b+1)·chunk, n)): each
 * thread sums a strided subset in order, then a fixed tree. One block of RED threads per chunk. */
KERNEL(sumsq_part)(double* part, const float* x, long long n, int chunk) {
	SHARED double p[RED];
	long long lo = (long long)BID * chunk;
	long long hi = lo + chunk < n ? lo + chunk : n;
	THREADS {
		double s = 0;
		for (long long k = lo + TID; k < hi; k += RED) s += (double)x[k] * (double)x[k];
		p[TID] = s;
	}
	SYNC
	BLOCK_SUM(p)
	THREADS {
		if (TID == 0) part[BID] = p[0];
	}
}

/* sumsq_fin writes out[0] = Σ part[0..nparts) in a fixed order. One block of RED threads. */
KERNEL(sumsq_fin)(double* out, const double* part, int nparts) {
	SHARED double p[RED];
	THREADS {
		double s = 0;
		for (int k = TID; k < nparts; k += RED) s += part[k];
		p[TID] = s;
	}
	SYNC
	BLOCK_SUM(p)
	THREADS {
		if (TID == 0) out[0] = p[0];
	}
}

/* adam applies one Adam step to n values, each gradient scaled by scale (1: unscaled):
 * m = b1·m + (1−b1)·g; v = b2·v + (1−b2)·g²; p −= step·m/(√v·invbc2 + eps). */
KERNEL(adam)(float* p, float* m, float* v, const float* g, long long n, float scale, float b1, float b2,
             float step, float invbc2, float eps) {
	THREADS {
		long long i = GID;
		if (i >= n) continue;
		float gj = g[i];
		if (scale != 1) gj *= scale;
		float mj = b1 * m[i] + (1 - b1) * gj;
		float vj = b2 * v[i] + (1 - b2) * gj * gj;
		m[i] = mj;
		v[i] = vj;
		float den = gsqrt(vj) * invbc2 + eps;
		p[i] -= step * mj / den;
	}
}
