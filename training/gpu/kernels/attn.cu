/* attn.cu: SCAN's text-to-image attention weights (training/nn's AttentionWeights) for scores
 * s (I, K, T, J) of image i's region k against word slot t of caption j:
 *   y = LeakyReLU(s, 0.1); ŝ = y / (√(Σ_t wordMask·y² + tiny) + eps); α = softmax_k(λ·ŝ) over
 *   the regions with regionMask 1 (0 elsewhere). */
#include "gpu.h"

/* attn_norms writes, for every (i, k, j), sq = √(Σ_t wm[t,j]·y² + tiny) and nrm = sq + eps,
 * (I, K, J) each, summing over t in order. One thread per (i, k, j). */
KERNEL(attn_norms)(float* nrm, float* sq, const float* s, const float* wm, int I, int K, int T, int J) {
	THREADS {
		long long x = GID;
		if (x >= (long long)I * K * J) continue;
		long long ik = x / J;
		int j = (int)(x % J);
		float q = 0;
		for (int t = 0; t < T; t++) {
			float y = leaky(s[(ik * T + t) * J + j]);
			q += wm[t * J + j] * y * y;
		}
		float v = gsqrt(q + SQRT_TINY);
		sq[x] = v;
		nrm[x] = v + L2_EPS;
	}
}

/* attn_softmax writes α (I, K, T, J): the softmax over the valid regions k (rm[i, k] ≠ 0) of
 * λ·leaky(s)/nrm, 0 at the others. One thread per (i, t, j). */
KERNEL(attn_softmax)(float* alpha, const float* s, const float* nrm, const float* rm, float lam, int I, int K, int T, int J) {
	THREADS {
		long long x = GID;
		if (x >= (long long)I * T * J) continue;
		int i = (int)(x / ((long long)T * J));
		int tj = (int)(x % ((long long)T * J));
		int j = tj % J;
		long long base = (long long)i * K * T * J + tj;
		float mx = NEG_INF;
		for (int k = 0; k < K; k++) {
			long long o = base + (long long)k * T * J;
			float l = lam * leaky(s[o]) / nrm[((long long)i * K + k) * J + j];
			alpha[o] = l;
			if (rm[(long long)i * K + k] != 0 && l > mx) mx = l;
		}
		float zs = 0;
		for (int k = 0; k < K; k++) {
			long long o = base + (long long)k * T * J;
			if (rm[(long long)i * K + k] == 0) {
				alpha[o] = 0;
				continue;
			}
			float e = gexp(alpha[o] - mx);
			alpha[o] = e;
			zs += e;
		}
		for (int k = 0; k < K; k++) {
			long long o = base + (long long)k * T * J;
			alpha[o] /= zs;
		}
	}
}

/* attn_dot writes dot[i, t, j] = Σ_k α·∂α, in region order. One thread per (i, t, j). */
KERNEL(attn_dot)(float* dot, const float* alpha, const float* dalpha, int I, int K, int T, int J) {
	THREADS {
		long long x = GID;
		if (x >= (long long)I * T * J) continue;
		int i = (int)(x / ((long long)T * J));
		int tj = (int)(x % ((long long)T * J));
		long long base = (long long)i * K * T * J + tj;
		float d = 0;
		for (int k = 0; k < K; k++) {
			long long o = base + (long long)k * T * J;
			d += alpha[o] * dalpha[o];
		}
		dot[x] = d;
	}
}

/* attn_grad adds the attention's gradient ∂s to ds: with g = λ·α·(∂α − dot) the gradient of
 * ŝ, ∂s = leaky'(s)·(g/nrm − wm·y·(Σ_t g·y)/(nrm²·sq)). One thread per (i, k, j). */
KERNEL(attn_grad)(float* ds, const float* s, const float* wm, const float* alpha, const float* dalpha,
                  const float* dot, const float* nrm, const float* sq, float lam, int I, int K, int T, int J) {
	THREADS {
		long long x = GID;
		if (x >= (long long)I * K * J) continue;
		long long ik = x / J;
		int i = (int)(ik / K);
		int j = (int)(x % J);
		float dsy = 0;
		for (int t = 0; t < T; t++) {
			long long o = (ik * T + t) * J + j;
			float g = lam * alpha[o] * (dalpha[o] - dot[((long long)i * T + t) * J + j]);
			dsy += g * leaky(s[o]);
		}
		float n = nrm[x], q = sq[x];
		for (int t = 0; t < T; t++) {
			long long o = (ik * T + t) * J + j;
			float g = lam * alpha[o] * (dalpha[o] - dot[((long long)i * T + t) * J + j]);
			float y = leaky(s[o]);
			ds[o] = ds[o] + leaky_grad(s[o], g / n - wm[t * J + j] * y * dsy / (n * n * q));
		}
	}
}

/* pick_pairs copies, for each caption j and its image img[j], the attention α[img[j], k, t, j]
 * into a (J, T, K) and the score S[img[j], j] into sc (J): what an alignment keeps of the
 * all-pairs attention of a batch. One thread per (j, t, k). */
KERNEL(pick_pairs)(float* a, float* sc, const float* alpha, const float* S, const int* img, int K, int T, int J) {
	THREADS {
		long long x = GID;
		if (x >= (long long)J * T * K) continue;
		int j = (int)(x / ((long long)T * K));
		int t = (int)(x / K % T), k = (int)(x % K);
		long long i = img[j];
		a[x] = alpha[((i * K + k) * T + t) * J + j];
		if (t == 0 && k == 0) sc[j] = S[i * J + j];
	}
}
