/* cos.cu: SCAN's cosine R = cos(e, a) between word slot tj's embedding e and its attended
 * image vector a = Σ_k α[i,k,tj]·v[i,k] (training/nn's CosineAttended), without building a:
 *   e·a = Σ_k α·s;  |a|² = αᵀ G_i α with G_i = V_i V_iᵀ (ga = G_i·α, from a batched product);
 *   R = e·a / max(|e|·√(max(|a|², 0) + tiny), eps).
 * α, s and ga are (I, K, TJ); w12, aa and R are (I, TJ); w1 = |e| is (TJ). */
#include "gpu.h"

/* cos_fwd writes w12 = Σ_k α·s, aa = Σ_k α·ga (region order) and R. One thread per (i, tj). */
KERNEL(cos_fwd)(float* r, float* w12, float* aa, const float* alpha, const float* s, const float* ga,
                const float* w1, float eps, int I, int K, int TJ) {
	THREADS {
		long long x = GID;
		if (x >= (long long)I * TJ) continue;
		int i = (int)(x / TJ), tj = (int)(x % TJ);
		long long base = (long long)i * K * TJ + tj;
		float p = 0, q = 0;
		for (int k = 0; k < K; k++) {
			long long o = base + (long long)k * TJ;
			p += alpha[o] * s[o];
			q += alpha[o] * ga[o];
		}
		w12[x] = p;
		aa[x] = q;
		float w2 = gsqrt(gmaxf(q, 0) + SQRT_TINY);
		r[x] = p / gmaxf(w1[tj] * w2, eps);
	}
}

/* cos_bwd_a computes, from ∂R, the gradients of w12 (dw12), of aa (daa) and image i's part
 * of the gradient of |e| (dw1img, (I, TJ)); the clamp passes the gradient above eps only.
 * One thread per (i, tj). */
KERNEL(cos_bwd_a)(float* dw12, float* daa, float* dw1img, const float* dr, const float* w12,
                  const float* aa, const float* w1, float eps, int I, int TJ) {
	THREADS {
		long long x = GID;
		if (x >= (long long)I * TJ) continue;
		int tj = (int)(x % TJ);
		float q = aa[x];
		float w2 = gsqrt(gmaxf(q, 0) + SQRT_TINY);
		float xx = w1[tj] * w2;
		float den = gmaxf(xx, eps);
		float d = dr[x];
		float a = 0, b = 0;
		if (xx > eps) {
			float dden = -d * w12[x] / (den * den);
			b = dden * w2;
			if (q > 0) a = dden * w1[tj] / (2 * w2);
		}
		dw12[x] = d / den;
		daa[x] = a;
		dw1img[x] = b;
	}
}

/* cos_bwd_b writes ∂α = dw12·s + 2·daa·ga, the cosine's ∂s = dw12·α, and scaled = α·daa (the
 * caller gets ∂G_i = scaled_i·α_iᵀ and ∂V_i = 2·∂G_i·V_i from batched products). One thread per
 * (i, k, tj). */
KERNEL(cos_bwd_b)(float* dalpha, float* ds, float* scaled, const float* alpha, const float* s, const float* ga,
                  const float* dw12, const float* daa, int I, int K, int TJ) {
	THREADS {
		long long x = GID;
		if (x >= (long long)I * K * TJ) continue;
		long long itj = (x / ((long long)K * TJ)) * TJ + x % TJ;
		float a = alpha[x];
		dalpha[x] = dw12[itj] * s[x] + 2 * daa[itj] * ga[x];
		ds[x] = dw12[itj] * a;
		scaled[x] = a * daa[itj];
	}
}

/* cos_bwd_w1 writes f[tj] = (Σ_i dw1img[i, tj]) / w1[tj], summing the images in order: the
 * factor of e in the gradient through |e|. One thread per tj. */
KERNEL(cos_bwd_w1)(float* f, const float* dw1img, const float* w1, int I, int TJ) {
	THREADS {
		long long tj = GID;
		if (tj >= TJ) continue;
		float d = 0;
		for (int i = 0; i < I; i++) d += dw1img[(long long)i * TJ + tj];
		f[tj] = d / w1[tj];
	}
}
