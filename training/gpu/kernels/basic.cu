/* basic.cu: element-wise, copy, gather and reduction kernels. */
#include "gpu.h"

/* fill sets y[0..n) to v. One thread per value. */
KERNEL(fill)(float* y, float v, int n) {
	THREADS {
		long long i = GID;
		if (i < n) y[i] = v;
	}
}

/* scale sets y = a·x over n values (y may be x). */
KERNEL(scale)(float* y, const float* x, float a, int n) {
	THREADS {
		long long i = GID;
		if (i < n) y[i] = a * x[i];
	}
}

/* mean2 sets y = (a + b)·0.5 over n values: the bidirectional GRU's output. */
KERNEL(mean2)(float* y, const float* a, const float* b, int n) {
	THREADS {
		long long i = GID;
		if (i < n) y[i] = (a[i] + b[i]) * 0.5f;
	}
}

/* add_rows adds b (cols) to every row of x (rows, cols) in place. */
KERNEL(add_rows)(float* x, const float* b, int rows, int cols) {
	THREADS {
		long long i = GID;
		if (i < (long long)rows * cols) x[i] += b[i % cols];
	}
}

/* scale_rows sets y[r,c] = f[r]·x[r,c] for x (rows, cols). */
KERNEL(scale_rows)(float* y, const float* x, const float* f, int rows, int cols) {
	THREADS {
		long long i = GID;
		if (i < (long long)rows * cols) y[i] = f[i / cols] * x[i];
	}
}

/* col_sums_part sums the rows of x (rows, cols) chunk by chunk: part[ch, c] is the sum of
 * x[r, c] over the rows r of chunk ch = BIDY (rows [ch·chunk, (ch+1)·chunk)), in row order.
 * Grid (ceil(cols/NTID), chunks). */
KERNEL(col_sums_part)(float* part, const float* x, int rows, int cols, int chunk) {
	THREADS {
		long long c = GID;
		if (c >= cols) continue;
		int r0 = BIDY * chunk;
		int r1 = r0 + chunk < rows ? r0 + chunk : rows;
		float s = 0;
		for (int r = r0; r < r1; r++) s += x[(long long)r * cols + c];
		part[(long long)BIDY * cols + c] = s;
	}
}

/* col_sums_fin adds the chunks' sums of col_sums_part in chunk order and writes column c to
 * out[(c / h)·stride + c % h]: with h = cols the plain column sums, with h = cols/3 the three
 * gates of a GRU's bias gradient into three tensors stride values apart. */
KERNEL(col_sums_fin)(float* out, const float* part, int chunks, int cols, int h, int stride) {
	THREADS {
		long long c = GID;
		if (c >= cols) continue;
		float s = 0;
		for (int ch = 0; ch < chunks; ch++) s += part[(long long)ch * cols + c];
		out[(c / h) * (long long)stride + c % h] = s;
	}
}

/* pack3 copies the three (rows, h) matrices a, b, c side by side into dst (rows, 3h). */
KERNEL(pack3)(float* dst, const float* a, const float* b, const float* c, int rows, int h) {
	THREADS {
		long long i = GID;
		if (i >= (long long)rows * 3 * h) continue;
		long long r = i / (3 * h);
		int col = (int)(i % (3 * h));
		int g = col / h, j = col % h;
		const float* w = g == 0 ? a : (g == 1 ? b : c);
		dst[i] = w[r * h + j];
	}
}

/* unpack3 copies the three column blocks of src (rows, 3h) into the (rows, h) matrices a, b, c. */
KERNEL(unpack3)(float* a, float* b, float* c, const float* src, int rows, int h) {
	THREADS {
		long long i = GID;
		if (i >= (long long)rows * 3 * h) continue;
		long long r = i / (3 * h);
		int col = (int)(i % (3 * h));
		int g = col / h, j = col % h;
		float* w = g == 0 ? a : (g == 1 ? b : c);
		w[r * h + j] = src[i];
	}
}

/* gather_rows sets row r of y (rows, cols) to row idx[r] of x, or to zeros when idx[r] < 0
 * or idx[r] == skip: the embedding lookup (skip: the padding id), the attention's word slots
 * (skip -1) and the slots' gradient through the inverse map (-1: no slot). */
KERNEL(gather_rows)(float* y, const float* x, const int* idx, int rows, int cols, int skip) {
	THREADS {
		long long i = GID;
		if (i >= (long long)rows * cols) continue;
		long long r = i / cols;
		int id = idx[r];
		y[i] = (id < 0 || id == skip) ? 0.0f : x[(long long)id * cols + i % cols];
	}
}

/* embed_grad adds up the gradient rows g[p] of the positions p of each distinct id: for
 * u < nuniq, dw[uniq[u], c] = Σ g[order[k], c] over k in [starts[u], starts[u+1]), in the order
 * given (the positions' order). Rows of dw of ids that do not occur are left alone. */
KERNEL(embed_grad)(float* dw, const float* g, const int* order, const int* starts, const int* uniq, int nuniq, int cols) {
	THREADS {
		long long i = GID;
		if (i >= (long long)nuniq * cols) continue;
		int u = (int)(i / cols), c = (int)(i % cols);
		float s = 0;
		for (int k = starts[u]; k < starts[u + 1]; k++) s += g[(long long)order[k] * cols + c];
		dw[(long long)uniq[u] * cols + c] = s;
	}
}

/* l2norm_rows sets row BID of y to row BID of x divided by √(Σx² + SQRT_TINY) + L2_EPS.
 * One block of RED threads per row. */
KERNEL(l2norm_rows)(float* y, const float* x, int cols) {
	SHARED float part[RED];
	const float* xr = x + (long long)BID * cols;
	float* yr = y + (long long)BID * cols;
	THREADS {
		float s = 0;
		for (int c = TID; c < cols; c += RED) s += xr[c] * xr[c];
		part[TID] = s;
	}
	SYNC
	BLOCK_SUM(part)
	THREADS {
		float n = gsqrt(part[0] + SQRT_TINY) + L2_EPS;
		for (int c = TID; c < cols; c += RED) yr[c] = xr[c] / n;
	}
}

/* l2norm_rows_grad is l2norm_rows's gradient: with sq = √(Σx² + tiny) and n = sq + eps,
 * dx = dy/n − x·(Σ dy·x)/(n²·sq). One block of RED threads per row. */
KERNEL(l2norm_rows_grad)(float* dx, const float* x, const float* dy, int cols) {
	SHARED float pq[RED];
	SHARED float pd[RED];
	long long off = (long long)BID * cols;
	THREADS {
		float q = 0, d = 0;
		for (int c = TID; c < cols; c += RED) {
			float v = x[off + c];
			q += v * v;
			d += dy[off + c] * v;
		}
		pq[TID] = q;
		pd[TID] = d;
	}
	SYNC
	BLOCK_SUM(pq)
	BLOCK_SUM(pd)
	THREADS {
		float sq = gsqrt(pq[0] + SQRT_TINY);
		float n = sq + L2_EPS;
		float f = pd[0] / (n * n * sq);
		for (int c = TID; c < cols; c += RED) dx[off + c] = dy[off + c] / n - x[off + c] * f;
	}
}

/* row_norms sets out[BID] = √(Σ_c x[BID, c]² + SQRT_TINY). One block of RED threads per row. */
KERNEL(row_norms)(float* out, const float* x, int cols) {
	SHARED float part[RED];
	const float* xr = x + (long long)BID * cols;
	THREADS {
		float s = 0;
		for (int c = TID; c < cols; c += RED) s += xr[c] * xr[c];
		part[TID] = s;
	}
	SYNC
	BLOCK_SUM(part)
	THREADS {
		if (TID == 0) out[BID] = gsqrt(part[0] + SQRT_TINY);
	}
}
