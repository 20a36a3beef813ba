package scan

import (
	"context"
	"fmt"

	"github.com/groundcap/groundcap/training/gpu"
)

// ScoreOptions control Model.Scores. The zero value takes the defaults.
type ScoreOptions struct {
	// Images and Captions size the blocks of image × caption pairs scored at once. On the CPU
	// (defaults 8 and 128) they bound memory. On a device Captions is the captions encoded at
	// once (default 256) and Images the images attended at once (default: as many as keep a
	// block's attention tensors within 64 M values).
	Images, Captions int
	// Progress, if set, is called after each block with the pairs scored so far and in all.
	Progress func(done, total int64)
}

// Defaults of ScoreOptions.
const (
	cpuScoreImages     = 8
	cpuScoreCaptions   = 128
	devScoreCaptions   = 256
	devScoreBlockWords = 64 << 20
)

// Scores returns S(image i, caption j) for every image of feats (R×D region features each)
// and every caption of caps, row-major (len(feats)×len(caps)): what validation's retrieval
// ranks. On a device the images and captions are each encoded once and the pairs scored in
// blocks on the device; on the CPU it runs Forward on blocks of pairs. It checks ctx between
// blocks and returns ctx's error (wrapped) once ctx is done: validation is quadratic in the
// split's size and must stop promptly on SIGINT or SIGTERM.
func (m *Model) Scores(ctx context.Context, feats [][]float32, caps []Caption, opts ScoreOptions) ([]float32, error) {
	if len(feats) == 0 || len(caps) == 0 {
		return nil, nil
	}
	if m.dev != nil {
		return m.dev.scores(ctx, m, feats, caps, opts)
	}
	bi, bj := opts.Images, opts.Captions
	if bi <= 0 {
		bi = cpuScoreImages
	}
	if bj <= 0 {
		bj = cpuScoreCaptions
	}
	ni, nj := len(feats), len(caps)
	out := make([]float32, ni*nj)
	total, done := int64(ni)*int64(nj), int64(0)
	for i0 := 0; i0 < ni; i0 += bi {
		i1 := min(i0+bi, ni)
		for j0 := 0; j0 < nj; j0 += bj {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("scan: scoring stopped after %d of %d pairs: %w", done, total, err)
			}
			j1 := min(j0+bj, nj)
			s, err := m.Forward(Batch{Feats: feats[i0:i1], Captions: caps[j0:j1]})
			if err != nil {
				return nil, err
			}
			w := j1 - j0
			for i := i0; i < i1; i++ {
				copy(out[i*nj+j0:i*nj+j1], s[(i-i0)*w:(i-i0+1)*w])
			}
			done += int64(i1-i0) * int64(w)
			if opts.Progress != nil {
				opts.Progress(done, total)
			}
		}
	}
	return out, nil
}

// forwardScores is Forward on the device.
func (ds *devState) forwardScores(m *Model, b Batch) ([]float32, error) {
	db, err := ds.upload(m, b, nil)
	if err != nil {
		return nil, err
	}
	a := ds.forward(m, db)
	out := make([]float32, db.d.I*db.d.J)
	if err := ds.o.Read(out, a.scores); err != nil {
		return nil, fmt.Errorf("scan: forward on %s: %w", ds.d.Info().Kind, err)
	}
	return out, nil
}

// align is Align on the device: the batch's all-pairs attention, of which only each caption's
// own image's α and score are copied back.
func (ds *devState) align(m *Model, b Batch, imageOf []int) ([]Alignment, error) {
	db, err := ds.upload(m, b, imageOf)
	if err != nil {
		return nil, err
	}
	a := ds.forward(m, db)
	d := db.d
	pa, ps := ds.o.Scratch("align.alpha", d.J*d.T*d.K), ds.o.Scratch("align.score", d.J)
	ds.o.Launch("pick_pairs", gpu.Blocks(d.J*d.T*d.K, 256), 256, pa, ps, a.alpha, a.scores, db.img, d.K, d.T, d.J)
	alpha, score := make([]float32, pa.N), make([]float32, ps.N)
	if err := ds.o.Read(alpha, pa); err != nil {
		return nil, fmt.Errorf("scan: align on %s: %w", ds.d.Info().Kind, err)
	}
	if err := ds.o.Read(score, ps); err != nil {
		return nil, err
	}
	out := make([]Alignment, d.J)
	for j, i := range imageOf {
		regions := len(b.Feats[i]) / m.cfg.ImgDim
		al := Alignment{Regions: regions, Score: score[j], Attention: make([]float32, 0, len(db.nouns[j])*regions)}
		for s, t := range db.nouns[j] {
			al.Positions = append(al.Positions, int32(t))
			al.Attention = append(al.Attention, alpha[(j*d.T+s)*d.K:(j*d.T+s)*d.K+regions]...)
		}
		out[j] = al
	}
	return out, nil
}

// scores is Scores on the device: every image encoded once (in chunks), every block of
// captions encoded once, then attended by blocks of images.
func (ds *devState) scores(ctx context.Context, m *Model, feats [][]float32, caps []Caption, opts ScoreOptions) ([]float32, error) {
	c, o := m.cfg, ds.o
	k, err := m.regions(feats)
	if err != nil {
		return nil, err
	}
	N, M, E, D := len(feats), len(caps), c.Embed, c.ImgDim
	// Images: v (N·k, E), the region mask (N, k) and the Gram matrices (N, k, k).
	v, gram, rmask := o.Scratch("eval.v", N*k*E), o.Scratch("eval.gram", N*k*k), o.Scratch("eval.rmask", N*k)
	chunk := max(1, min(N, devScoreBlockWords/(k*max(D, E))))
	mask := make([]float32, 0, N*k)
	for i0 := 0; i0 < N; i0 += chunk {
		i1 := min(i0+chunk, N)
		f, rm, err := ds.layFeats(m, feats[i0:i1], k)
		if err != nil {
			return nil, err
		}
		mask = append(mask, rm...)
		fb, fc := o.Scratch("batch.feats", len(f)), o.Scratch("img.fc", (i1-i0)*k*E)
		if err := o.Err(); err != nil {
			return nil, err
		}
		if err := ds.d.Write(fb, f); err != nil {
			return nil, o.Fail(err)
		}
		ds.encodeImages(m, fb, (i1-i0)*k, fc, v.Slice(i0*k*E, i1*k*E))
	}
	if err := o.Err(); err != nil {
		return nil, err
	}
	if err := ds.d.Write(rmask, mask); err != nil {
		return nil, o.Fail(err)
	}
	o.GemmStrided(false, true, k, k, E, 1, v.Ptr, E, k*E, v.Ptr, E, k*E, 0, gram.Ptr, k, k*k, N)
	// Captions, block by block.
	bj := opts.Captions
	if bj <= 0 {
		bj = devScoreCaptions
	}
	out := make([]float32, N*M)
	total, done := int64(N)*int64(M), int64(0)
	for j0 := 0; j0 < M; j0 += bj {
		j1 := min(j0+bj, M)
		J := j1 - j0
		p, err := m.prepareCaptions(caps[j0:j1])
		if err != nil {
			return nil, fmt.Errorf("scan: captions %d–%d: %w", j0, j1-1, err)
		}
		db, err := ds.uploadCaptions(m, p, nil, nil)
		if err != nil {
			return nil, err
		}
		a := &devActs{}
		ds.encodeText(m, a, db)
		T := p.d.T
		bi := opts.Images
		if bi <= 0 {
			bi = max(1, devScoreBlockWords/(k*T*J))
		}
		block := make([]float32, min(bi, N)*J)
		for i0 := 0; i0 < N; i0 += bi {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("scan: scoring stopped after %d of %d pairs: %w", done, total, err)
			}
			i1 := min(i0+bi, N)
			a.v, a.gram = v.Slice(i0*k*E, i1*k*E), gram.Slice(i0*k*k, i1*k*k)
			ds.attend(m, a, rmask.Slice(i0*k, i1*k), db.wm, i1-i0, k, T, J)
			s := block[:(i1-i0)*J]
			if err := o.Read(s, a.scores); err != nil {
				return nil, fmt.Errorf("scan: scoring on %s: %w", ds.d.Info().Kind, err)
			}
			for i := i0; i < i1; i++ {
				copy(out[i*M+j0:i*M+j1], s[(i-i0)*J:(i-i0+1)*J])
			}
			done += int64(i1-i0) * int64(J)
			if opts.Progress != nil {
				opts.Progress(done, total)
			}
		}
	}
	return out, nil
}
