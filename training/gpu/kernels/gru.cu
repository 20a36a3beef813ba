/* gru.cu: one time step of a GRU direction (PyTorch's gates r, z, n), forward and backward,
 * over a batch of B sequences of hidden width H; training/nn's fused GRU (gru_fused.go) in
 * kernel form. Buffers of the whole sequence are time-major: row t·B + b. */
#include "gpu.h"

/* gru_fwd_step computes step t: from xg (T·B, 3H), the input projections x·[Wir Wiz Win] of
 * every step (biases not added), and gh (B, 3H), h_prev·[Whr Whz Whn] of this step (not read
 * when first: the initial state is zero), it writes the gates r, z, n, ghn = h_prev·Whn + bhn
 * and the state hs = mask·(n + z·(h_prev − n)) at rows t·B + b of the (T·B, H) buffers.
 * hprev is the previous state (B, H), unread when first. One thread per (b, j). */
KERNEL(gru_fwd_step)(float* hs, float* r, float* z, float* n, float* ghn, const float* xg, const float* gh,
                     const float* hprev, const float* bir, const float* biz, const float* bin,
                     const float* bhr, const float* bhz, const float* bhn, const float* mask,
                     int t, int first, int B, int H) {
	THREADS {
		long long i = GID;
		if (i >= (long long)B * H) continue;
		int b = (int)(i / H), j = (int)(i % H);
		long long o = (long long)t * B * H + i;
		float m = mask[(long long)t * B + b];
		const float* xi = xg + ((long long)t * B + b) * 3 * H;
		float g0 = 0, g1 = 0, g2 = 0, hp = 0;
		if (!first) {
			const float* g = gh + (long long)b * 3 * H;
			g0 = g[j];
			g1 = g[H + j];
			g2 = g[2 * H + j];
			hp = hprev[i];
		}
		float rr = gsigmoid((xi[j] + bir[j]) + (g0 + bhr[j]));
		float zz = gsigmoid((xi[H + j] + biz[j]) + (g1 + bhz[j]));
		float hn = g2 + bhn[j];
		float nn = gtanh((xi[2 * H + j] + bin[j]) + rr * hn);
		r[o] = rr;
		z[o] = zz;
		n[o] = nn;
		ghn[o] = hn;
		hs[o] = m * (nn + zz * (hp - nn));
	}
}

/* gru_bwd_step is the backward of step t: with dH (T·B, H) the gradient of the states from
 * outside the recurrence and dh (B, H) the gradient flowing back from the step processed after
 * this one, it writes the gradients of the input projections (plus biases) dg and of the
 * recurrent ones dgh at row t·B + b of the (T·B, 3H) buffers, and replaces dh with the direct
 * part d·z of the gradient of h_prev (the caller adds dgh·Whcatᵀ). One thread per (b, j). */
KERNEL(gru_bwd_step)(float* dg, float* dgh, float* dh, const float* dH, const float* r, const float* z,
                     const float* n, const float* ghn, const float* hprev, const float* mask,
                     int t, int first, int B, int H) {
	THREADS {
		long long i = GID;
		if (i >= (long long)B * H) continue;
		int b = (int)(i / H), j = (int)(i % H);
		long long o = (long long)t * B * H + i;
		float m = mask[(long long)t * B + b];
		float d = (dH[o] + dh[i]) * m;
		float rr = r[o], zz = z[o], nn = n[o];
		float hp = first ? 0.0f : hprev[i];
		float dn = d * (1 - zz);
		float dz = d * (hp - nn);
		dh[i] = d * zz;
		float dan = dn * (1 - nn * nn);
		float dar = dan * ghn[o] * rr * (1 - rr);
		float daz = dz * zz * (1 - zz);
		float* gi = dg + ((long long)t * B + b) * 3 * H;
		float* gr = dgh + ((long long)t * B + b) * 3 * H;
		gi[j] = dar;
		gi[H + j] = daz;
		gi[2 * H + j] = dan;
		gr[j] = dar;
		gr[H + j] = daz;
		gr[2 * H + j] = dan * rr;
	}
}
