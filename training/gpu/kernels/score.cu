/* score.cu: SCAN's image–caption score from the word similarities R (I, T, J) over the word
 * slots with wm[t, j] = 1 (training/scan's ScoreLSE and ScoreAVG), and the hinge triplet loss
 * on a square score matrix (training/nn's HingeTriplet). */
#include "gpu.h"

/* score_lse writes S[i, j] = (1/λ)·log Σ_t exp(λ·R) over the valid slots, as the graph does:
 * x = λR, masked slots pushed down by 1e9, max subtracted. One thread per (i, j). */
/* lse_logit is slot t's logit in the LSE of pair (i, j): λR, pushed down by 1e9 when masked. */
FN float lse_logit(const float* R, const float* wm, float lam, long long i, int t, int j, int T, int J) {
	return R[(i * T + t) * J + j] * lam + (wm[t * J + j] - 1) * 1e9f;
}

/* lse_stats sets *mx to the largest logit of pair (i, j) and *sum to Σ exp(logit − mx) over
 * the valid slots, in slot order. */
FN void lse_stats(const float* R, const float* wm, float lam, long long i, int j, int T, int J, float* mx, float* sum) {
	float m = NEG_INF, s = 0;
	for (int t = 0; t < T; t++) {
		float xm = lse_logit(R, wm, lam, i, t, j, T, J);
		if (xm > m) m = xm;
	}
	for (int t = 0; t < T; t++) s += gexp(lse_logit(R, wm, lam, i, t, j, T, J) - m) * wm[t * J + j];
	*mx = m;
	*sum = s;
}

KERNEL(score_lse)(float* S, const float* R, const float* wm, float lam, float inv, int I, int T, int J) {
	THREADS {
		long long x = GID;
		if (x >= (long long)I * J) continue;
		float mx, sum;
		lse_stats(R, wm, lam, x / J, (int)(x % J), T, J, &mx, &sum);
		S[x] = (glog(sum) + mx) * inv;
	}
}

/* score_lse_grad writes ∂R[i, t, j] = ∂S[i, j]·p_t with p the softmax over the valid slots of
 * λR (0 at the others). One thread per (i, j). */
KERNEL(score_lse_grad)(float* dR, const float* dS, const float* R, const float* wm, float lam, int I, int T, int J) {
	THREADS {
		long long x = GID;
		if (x >= (long long)I * J) continue;
		long long i = x / J;
		int j = (int)(x % J);
		float mx, sum;
		lse_stats(R, wm, lam, i, j, T, J, &mx, &sum);
		float d = dS[x];
		for (int t = 0; t < T; t++)
			dR[(i * T + t) * J + j] = d * (gexp(lse_logit(R, wm, lam, i, t, j, T, J) - mx) * wm[t * J + j] / sum);
	}
}

/* score_avg writes S[i, j] = Σ_t wm·R / Σ_t wm. One thread per (i, j). */
KERNEL(score_avg)(float* S, const float* R, const float* wm, int I, int T, int J) {
	THREADS {
		long long x = GID;
		if (x >= (long long)I * J) continue;
		int i = (int)(x / J), j = (int)(x % J);
		float num = 0, den = 0;
		for (int t = 0; t < T; t++) {
			num += R[((long long)i * T + t) * J + j] * wm[t * J + j];
			den += wm[t * J + j];
		}
		S[x] = num / den;
	}
}

/* score_avg_grad writes ∂R = ∂S·wm/Σ_t wm. One thread per (i, j). */
KERNEL(score_avg_grad)(float* dR, const float* dS, const float* wm, int I, int T, int J) {
	THREADS {
		long long x = GID;
		if (x >= (long long)I * J) continue;
		int i = (int)(x / J), j = (int)(x % J);
		float den = 0;
		for (int t = 0; t < T; t++) den += wm[t * J + j];
		float d = dS[x] / den;
		for (int t = 0; t < T; t++) dR[((long long)i * T + t) * J + j] = d * wm[t * J + j];
	}
}

/* hinge_rows computes, for index i of the (B, B) scores S (S[i, j]: image i, caption j, pairs
 * on the diagonal), the caption-negative cost of row i, cost_s[i, j] = [m + S[i, j] − S[i, i]]₊,
 * and the image-negative cost of column i, cost_im[j, i] = [m + S[j, i] − S[i, i]]₊ (j ≠ i):
 * with maxv their maxima (0 included: the diagonal's cost), else their sums (in order), into
 * rowv and colv, and how many entries get a gradient (the positive costs equal to the maximum,
 * or all positive ones) into rowc and colc. One thread per i. */
KERNEL(hinge_rows)(float* rowv, float* colv, float* rowc, float* colc, const float* S, float m, int maxv, int B) {
	THREADS {
		long long i = GID;
		if (i >= B) continue;
		float d = S[i * B + i];
		float rv = 0, cv = 0;
		for (int j = 0; j < B; j++) {
			if (j == i) continue;
			float cs = (S[i * B + j] + m) - d;
			float ci = (S[(long long)j * B + i] + m) - d;
			cs = cs > 0 ? cs : 0;
			ci = ci > 0 ? ci : 0;
			if (maxv) {
				rv = cs > rv ? cs : rv;
				cv = ci > cv ? ci : cv;
			} else {
				rv += cs;
				cv += ci;
			}
		}
		float rc = 0, cc = 0;
		for (int j = 0; j < B; j++) {
			if (j == i) continue;
			float cs = (S[i * B + j] + m) - d;
			float ci = (S[(long long)j * B + i] + m) - d;
			if (cs > 0 && (!maxv || cs == rv)) rc += 1;
			if (ci > 0 && (!maxv || ci == cv)) cc += 1;
		}
		rowv[i] = rv;
		colv[i] = cv;
		rowc[i] = rc;
		colc[i] = cc;
	}
}

/* hinge_loss writes out[0] = Σ_i rowv[i] + Σ_i colv[i], each sum in order. One thread. */
KERNEL(hinge_loss)(float* out, const float* rowv, const float* colv, int B) {
	THREADS {
		if (GID != 0) continue;
		float a = 0, b = 0;
		for (int i = 0; i < B; i++) a += rowv[i];
		for (int i = 0; i < B; i++) b += colv[i];
		out[0] = a + b;
	}
}

/* hinge_grad writes ∂loss/∂S: off the diagonal one per cost term of S[i, j] that gets a
 * gradient (row i's and column j's), on it minus the counts of row i and column i. One thread
 * per (i, j). */
KERNEL(hinge_grad)(float* dS, const float* S, const float* rowv, const float* colv, const float* rowc,
                   const float* colc, float m, int maxv, int B) {
	THREADS {
		long long x = GID;
		if (x >= (long long)B * B) continue;
		int i = (int)(x / B), j = (int)(x % B);
		if (i == j) {
			dS[x] = -(rowc[i] + colc[i]);
			continue;
		}
		float v = S[x] + m;
		float cs = v - S[(long long)i * B + i];
		float ci = v - S[(long long)j * B + j];
		float g = 0;
		if (cs > 0 && (!maxv || cs == rowv[i])) g += 1;
		if (ci > 0 && (!maxv || ci == colv[j])) g += 1;
		dS[x] = g;
	}
}
