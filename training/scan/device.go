package scan

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/groundcap/groundcap/training/gpu"
	"github.com/groundcap/groundcap/training/optim"
)

// slotAlign is the alignment, in words, of each parameter inside the device's flat buffers
// (256 bytes, what cuBLAS prefers for its operands).
const slotAlign = 64

// devState is a Model's training state on a gpu.Device: the weights, their gradients and
// Adam's moments in four flat device buffers with the same layout (each parameter at an
// aligned offset, in parameter order, zeros between), the activations of the last pass in a
// workspace, and pinned host memory for the batch's features. The host's tensors and Adam
// state are copies brought up to date by syncHost.
type devState struct {
	d      gpu.Device
	o      *gpu.Ops
	slots  []devSlot
	byName map[string]int
	words  int
	// params, grads, m1 and m2 are the flat buffers; scalars holds the loss (word 0) and the
	// sum of the squared gradients (a float64 at words 2–3).
	params, grads, m1, m2, scalars gpu.Buf
	pinned                         []float32
	// hostStale is set when the device's weights or moments are newer than the host's.
	hostStale bool
}

// devSlot is one parameter's place in the flat buffers.
type devSlot struct {
	name   string
	off, n int
}

// UseDevice moves the model's weights and optimiser state to d: from then on TrainStep,
// Forward, Align and Scores run there, with everything but the batch resident on the device.
// Checkpoint, Save and Param read the state back (the checkpoint format is the CPU's, so a
// model trained on a device resumes on the CPU and the reverse). ReleaseDevice ends it.
func (m *Model) UseDevice(d gpu.Device) error {
	if m.dev != nil {
		return errors.New("scan: the model already uses a device")
	}
	names := m.ps.Names()
	params := make([][]float32, len(names))
	for i, n := range names {
		params[i] = m.ps.Tensor(n).Data().([]float32)
	}
	ds, err := newDevState(d, names, params, m.adam.State.M, m.adam.State.V)
	if err != nil {
		return fmt.Errorf("scan: moving the model to %s: %w", d.Info().Kind, err)
	}
	m.dev = ds
	return nil
}

// newDevState lays out the named parameters (and Adam's moments m1 and m2, nil for zeros) in
// flat buffers on d and copies them there.
func newDevState(d gpu.Device, names []string, params, m1, m2 [][]float32) (ds *devState, err error) {
	ds = &devState{d: d, o: gpu.NewOps(d), byName: map[string]int{}}
	off := 0
	for i, name := range names {
		n := len(params[i])
		ds.slots = append(ds.slots, devSlot{name: name, off: off, n: n})
		ds.byName[name] = i
		off += (n + slotAlign - 1) / slotAlign * slotAlign
	}
	ds.words = off
	defer func() {
		if err != nil {
			err = errors.Join(err, ds.free())
		}
	}()
	for _, b := range []*gpu.Buf{&ds.params, &ds.grads, &ds.m1, &ds.m2, &ds.scalars} {
		n := ds.words
		if b == &ds.scalars {
			n = 4
		}
		if *b, err = d.Alloc(n); err != nil {
			return nil, err
		}
	}
	if err := d.Zero(ds.grads); err != nil {
		return nil, err
	}
	flat := make([]float32, ds.words)
	for _, up := range []struct {
		dst gpu.Buf
		src [][]float32
	}{{ds.params, params}, {ds.m1, m1}, {ds.m2, m2}} {
		clear(flat)
		for i, s := range ds.slots {
			if up.src != nil {
				copy(flat[s.off:s.off+s.n], up.src[i])
			}
		}
		if err := d.Write(up.dst, flat); err != nil {
			return nil, err
		}
	}
	return ds, nil
}

// ReleaseDevice brings the host's weights and optimiser state up to date and frees the
// device's buffers; the model then runs on the CPU again. It does nothing without a device.
func (m *Model) ReleaseDevice() error {
	ds := m.dev
	if ds == nil {
		return nil
	}
	err := m.syncHost()
	m.feats = nil // may be the pinned buffer freed below
	m.dev = nil
	return errors.Join(err, ds.free())
}

// Device returns the device the model runs on, or nil.
func (m *Model) Device() gpu.Device {
	if m.dev == nil {
		return nil
	}
	return m.dev.d
}

// free releases the device buffers and pinned memory.
func (ds *devState) free() error {
	var errs []error
	for _, b := range []gpu.Buf{ds.params, ds.grads, ds.m1, ds.m2, ds.scalars} {
		if b.N > 0 {
			errs = append(errs, ds.d.Free(b))
		}
	}
	errs = append(errs, ds.o.WS.Free())
	if ds.pinned != nil {
		errs = append(errs, ds.d.HostFree(ds.pinned))
		ds.pinned = nil
	}
	return errors.Join(errs...)
}

// syncHost copies the device's weights and Adam moments into the host's tensors when they
// are newer.
func (m *Model) syncHost() error {
	ds := m.dev
	if ds == nil || !ds.hostStale {
		return nil
	}
	flat := make([]float32, ds.words)
	for _, down := range []struct {
		src gpu.Buf
		dst func(i int, s devSlot) []float32
	}{
		{ds.params, func(_ int, s devSlot) []float32 { return m.ps.Tensor(s.name).Data().([]float32) }},
		{ds.m1, func(i int, _ devSlot) []float32 { return m.adam.State.M[i] }},
		{ds.m2, func(i int, _ devSlot) []float32 { return m.adam.State.V[i] }},
	} {
		if err := ds.d.Read(flat, down.src); err != nil {
			return fmt.Errorf("scan: reading the model back from the device: %w", err)
		}
		for i, s := range ds.slots {
			copy(down.dst(i, s), flat[s.off:s.off+s.n])
		}
	}
	ds.hostStale = false
	return nil
}

// p and g return the device addresses of a parameter and of its gradient.
func (ds *devState) p(name string) gpu.Ptr { return ds.params.At(ds.slots[ds.byName[name]].off) }
func (ds *devState) g(name string) gpu.Ptr { return ds.grads.At(ds.slots[ds.byName[name]].off) }

// gradients reads the gradients of the last pass, one slice per parameter.
func (ds *devState) gradients() ([][]float32, error) {
	flat := make([]float32, ds.words)
	if err := ds.d.Read(flat, ds.grads); err != nil {
		return nil, err
	}
	out := make([][]float32, len(ds.slots))
	for i, s := range ds.slots {
		out[i] = flat[s.off : s.off+s.n]
	}
	return out, nil
}

// devBatch is a prepared batch on the device: the features, masks and index arrays of
// Model.prepare, plus the inverse of the slot map and the embedding gradient's grouping.
type devBatch struct {
	d Dims
	// feats (I·K, D); rmask (I, K); valid (L, J); wm (T, J).
	feats, rmask, valid, wm gpu.Buf
	// ids (L·J) and slots (T·J) as Model.prepare lays them out; inv (L·J) the slot of each
	// word row, −1 for none (the gradient of the gathered rows, scattered back as a gather).
	ids, slots, inv gpu.Buf
	// The word rows of each distinct non-padding id, for the embedding's gradient: uniq
	// (nuniq ids, ascending), starts (nuniq+1) into order (the rows, ascending per id).
	uniq, starts, order gpu.Buf
	nuniq               int
	// img (J) is the image of each caption of an alignment batch.
	img gpu.Buf
	// nouns are the word positions of each caption's slots.
	nouns [][]int
}

// upload prepares b on the host (with the features in pinned memory) and copies it to the
// device: the features in one copy, every other array in a second one. imageOf (alignment
// batches; nil otherwise) gives each caption's image.
func (ds *devState) upload(m *Model, b Batch, imageOf []int) (*devBatch, error) {
	p, err := m.prepareWords(b)
	if err != nil {
		return nil, err
	}
	feats, rmask, err := ds.layFeats(m, b.Feats, p.d.K)
	if err != nil {
		return nil, err
	}
	db, err := ds.uploadCaptions(m, p, rmask, imageOf)
	if err != nil {
		return nil, err
	}
	db.feats = ds.o.Scratch("batch.feats", len(feats))
	if err := ds.o.Err(); err != nil {
		return nil, err
	}
	if err := ds.d.Write(db.feats, feats); err != nil {
		return nil, ds.o.Fail(err)
	}
	return db, nil
}

// layFeats is Model.layFeats into the pinned host buffer (allocated or grown as needed).
func (ds *devState) layFeats(m *Model, feats [][]float32, k int) ([]float32, []float32, error) {
	if need := len(feats) * k * m.cfg.ImgDim; cap(m.feats) < need || !ds.usesPinned(m.feats) {
		if ds.pinned != nil {
			m.feats = nil
			if err := ds.d.HostFree(ds.pinned); err != nil {
				return nil, nil, err
			}
			ds.pinned = nil
		}
		h, err := ds.d.HostAlloc(need + need/4)
		if err != nil {
			return nil, nil, err
		}
		ds.pinned = h
		m.feats = h[:0]
	}
	f, rmask := m.layFeats(feats, k)
	return f, rmask, nil
}

// uploadCaptions copies the prepared captions p (with the region mask rmask and the images of
// the captions, each possibly empty) to the device in one copy, and derives the inverse slot
// map and the embedding gradient's grouping of word rows by id.
func (ds *devState) uploadCaptions(m *Model, p *prepared, rmask []float32, imageOf []int) (*devBatch, error) {
	d, c := p.d, m.cfg
	// The integer arrays travel as the bits of float32 words.
	ints := func(v []int) []float32 {
		out := make([]float32, len(v))
		for i, x := range v {
			out[i] = math.Float32frombits(uint32(int32(x)))
		}
		return out
	}
	ids, slots := p.ids.Ints(), p.slots.Ints()
	wm := p.wordM.Data().([]float32)
	inv := make([]int, d.L*d.J)
	for i := range inv {
		inv[i] = -1
	}
	for s, row := range slots {
		if wm[s] != 0 {
			inv[row] = s
		}
	}
	uniq, starts, rows := groupRows(ids, c.Pad)
	parts := [][]float32{rmask, p.wordValid.Data().([]float32), wm,
		ints(ids), ints(slots), ints(inv), ints(uniq), ints(starts), ints(rows), ints(imageOf)}
	total := 0
	for _, x := range parts {
		total += len(x)
	}
	meta := make([]float32, 0, total)
	for _, x := range parts {
		meta = append(meta, x...)
	}
	mb := ds.o.Scratch("batch.meta", total)
	if err := ds.o.Err(); err != nil {
		return nil, err
	}
	if err := ds.d.Write(mb, meta); err != nil {
		return nil, ds.o.Fail(err)
	}
	db := &devBatch{d: d, nuniq: len(uniq), nouns: p.nouns}
	off := 0
	for i, dst := range []*gpu.Buf{&db.rmask, &db.valid, &db.wm, &db.ids, &db.slots, &db.inv, &db.uniq, &db.starts, &db.order, &db.img} {
		*dst = mb.Slice(off, off+len(parts[i]))
		off += len(parts[i])
	}
	return db, nil
}

// groupRows groups the positions of ids by id for the embedding's gradient, leaving out the
// padding id: the distinct ids in ascending order, where each one's positions start in rows
// (one more entry: the end), and the positions, ascending within each id.
func groupRows(ids []int, pad int) (uniq, starts, rows []int) {
	for n, id := range ids {
		if id != pad {
			rows = append(rows, n)
		}
	}
	sort.SliceStable(rows, func(a, b int) bool { return ids[rows[a]] < ids[rows[b]] })
	for i, n := range rows {
		if i == 0 || ids[n] != ids[rows[i-1]] {
			uniq = append(uniq, ids[n])
			starts = append(starts, i)
		}
	}
	return uniq, append(starts, len(rows)), rows
}

// usesPinned reports whether buf is the pinned buffer.
func (ds *devState) usesPinned(buf []float32) bool {
	return ds.pinned != nil && cap(buf) > 0 && &buf[:1][0] == &ds.pinned[:1][0]
}

// devActs are the activations of one pass that backward reads.
type devActs struct {
	fcpre, v           gpu.Buf // (I·K, E): the image FC's output with bias, and its l2 norm
	x                  gpu.Buf // (L·J, W): word embeddings
	gru                [2]gruActs
	epre, e, et        gpu.Buf // (L·J, E) BiGRU mean and its norm; (T·J, E) the gathered slots
	s, nrm, sq, alpha  gpu.Buf // (I, K, T, J) scores; (I, K, J) norms; α
	w1, gram, ga       gpu.Buf // (T·J) |e|; (I, K, K) Gram matrices; (I, K, T·J) G·α
	r, w12, aa, scores gpu.Buf // (I, T·J) cosine and its parts; (I, J) scores
}

// gruActs are one GRU direction's packed weights and saved states.
type gruActs struct {
	wicat, whcat     gpu.Buf // (W, 3E), (E, 3E)
	xg               gpu.Buf // (L·J, 3E)
	hs, r, z, n, ghn gpu.Buf // (L·J, E)
	reverse          bool
	prefix           string
}

// gruDirs are the parameter prefixes of the two directions.
var gruDirs = [2]string{"txt.gru.fwd.", "txt.gru.bwd."}

// forward runs the encoders, the cross attention and the score on the device for batch db,
// all images against all captions, and returns the activations (scores in a.scores, (I, J)).
func (ds *devState) forward(m *Model, db *devBatch) *devActs {
	d := db.d
	a := &devActs{}
	rows := d.I * d.K
	a.fcpre, a.v = ds.o.Scratch("img.fc", rows*m.cfg.Embed), ds.o.Scratch("img.v", rows*m.cfg.Embed)
	ds.encodeImages(m, db.feats, rows, a.fcpre, a.v)
	ds.encodeText(m, a, db)
	ds.attend(m, a, db.rmask, db.wm, d.I, d.K, d.T, d.J)
	return a
}

// encodeImages runs the image encoder on feats (rows, D): the FC's output with bias into
// fcpre (rows, E) and its l2 norm into v (rows, E).
func (ds *devState) encodeImages(m *Model, feats gpu.Buf, rows int, fcpre, v gpu.Buf) {
	o, c := ds.o, m.cfg
	E, D := c.Embed, c.ImgDim
	o.Gemm(false, false, rows, E, D, 1, feats.Ptr, D, ds.p("img.fc.w"), E, 0, fcpre.Ptr, E)
	o.AddRows(fcpre, gpu.Buf{Ptr: ds.p("img.fc.b"), N: E}, rows, E)
	o.L2NormRows(v, fcpre, rows, E)
}

// encodeText runs the text encoder on the captions of db: embeddings (L·J, W), both GRU
// directions, their mean and its l2 norm per word (L·J, E), and the word slots et (T·J, E).
func (ds *devState) encodeText(m *Model, a *devActs, db *devBatch) {
	o, c, d := ds.o, m.cfg, db.d
	J, L, T, E, W := d.J, d.L, d.T, c.Embed, c.WordDim
	a.x = o.Scratch("txt.x", L*J*W)
	o.GatherRows(a.x, gpu.Buf{Ptr: ds.p("txt.embed"), N: c.Vocab * W}, db.ids, L*J, W, c.Pad)
	for dir := range a.gru {
		a.gru[dir] = ds.gruForward(dir, a.x, db.valid, L, J, W, E)
	}
	a.epre, a.e = o.Scratch("txt.epre", L*J*E), o.Scratch("txt.e", L*J*E)
	o.Mean2(a.epre, a.gru[0].hs, a.gru[1].hs, L*J*E)
	o.L2NormRows(a.e, a.epre, L*J, E)
	a.et = o.Scratch("txt.et", T*J*E)
	o.GatherRows(a.et, a.e, db.slots, T*J, E, -1)
}

// attend runs the cross attention, cosine and score of images a.v (I·K, E) against word slots
// a.et (T·J, E): s, α, R and the scores (I, J). The images' Gram matrices are computed unless
// a.gram holds them already.
func (ds *devState) attend(m *Model, a *devActs, rmask, wm gpu.Buf, I, K, T, J int) {
	o, c := ds.o, m.cfg
	E, TJ := c.Embed, T*J
	sc := func(name string, n int) gpu.Buf { return o.Scratch(name, n) }
	a.s, a.alpha = sc("att.s", I*K*TJ), sc("att.alpha", I*K*TJ)
	a.nrm, a.sq = sc("att.nrm", I*K*J), sc("att.sq", I*K*J)
	o.Gemm(false, true, I*K, TJ, E, 1, a.v.Ptr, E, a.et.Ptr, E, 0, a.s.Ptr, TJ) // (I·K, T·J) = (I, K, T, J)
	o.Launch("attn_norms", gpu.Blocks(I*K*J, 256), 256, a.nrm, a.sq, a.s, wm, I, K, T, J)
	o.Launch("attn_softmax", gpu.Blocks(I*TJ, 256), 256, a.alpha, a.s, a.nrm, rmask, float32(c.LambdaSoftmax), I, K, T, J)
	// Cosine: |e| per slot, Gram matrices G_i = V_i V_iᵀ (I, K, K), ga = G_i·α_i (I, K, T·J).
	a.w1, a.ga = sc("cos.w1", TJ), sc("cos.ga", I*K*TJ)
	o.RowNorms(a.w1, a.et, TJ, E)
	if a.gram.N == 0 {
		a.gram = sc("cos.gram", I*K*K)
		o.GemmStrided(false, true, K, K, E, 1, a.v.Ptr, E, K*E, a.v.Ptr, E, K*E, 0, a.gram.Ptr, K, K*K, I)
	}
	o.GemmStrided(false, false, K, TJ, K, 1, a.gram.Ptr, K, K*K, a.alpha.Ptr, TJ, K*TJ, 0, a.ga.Ptr, TJ, K*TJ, I)
	a.r, a.w12, a.aa = sc("cos.r", I*TJ), sc("cos.w12", I*TJ), sc("cos.aa", I*TJ)
	o.Launch("cos_fwd", gpu.Blocks(I*TJ, 256), 256, a.r, a.w12, a.aa, a.alpha, a.s, a.ga, a.w1, float32(cosEps), I, K, TJ)
	a.scores = sc("score.s", I*J)
	if c.Agg == AggAVG {
		o.Launch("score_avg", gpu.Blocks(I*J, 256), 256, a.scores, a.r, wm, I, T, J)
	} else {
		o.Launch("score_lse", gpu.Blocks(I*J, 256), 256, a.scores, a.r, wm, float32(c.LambdaLSE), float32(1/c.LambdaLSE), I, T, J)
	}
}

// gruForward runs GRU direction dir over x (L·J, W) with mask (L, J), keeping its states.
func (ds *devState) gruForward(dir int, x, mask gpu.Buf, L, J, W, E int) gruActs {
	o := ds.o
	pre := gruDirs[dir]
	g := gruActs{reverse: dir == 1, prefix: pre}
	sc := func(name string, n int) gpu.Buf { return o.Scratch(pre+name, n) }
	g.wicat, g.whcat = sc("wicat", W*3*E), sc("whcat", E*3*E)
	o.Pack3(g.wicat, ds.p(pre+"wir"), ds.p(pre+"wiz"), ds.p(pre+"win"), W, E)
	o.Pack3(g.whcat, ds.p(pre+"whr"), ds.p(pre+"whz"), ds.p(pre+"whn"), E, E)
	g.xg = sc("xg", L*J*3*E)
	o.Gemm(false, false, L*J, 3*E, W, 1, x.Ptr, W, g.wicat.Ptr, 3*E, 0, g.xg.Ptr, 3*E)
	g.hs, g.r, g.z, g.n, g.ghn = sc("hs", L*J*E), sc("r", L*J*E), sc("z", L*J*E), sc("n", L*J*E), sc("ghn", L*J*E)
	gh := sc("gh", J*3*E)
	for i := 0; i < L; i++ {
		t, prev := g.step(i, L)
		hprev := g.hs.Ptr
		if i > 0 {
			hprev = g.hs.At(prev * J * E)
			o.Gemm(false, false, J, 3*E, E, 1, hprev, E, g.whcat.Ptr, 3*E, 0, gh.Ptr, 3*E)
		}
		o.Launch("gru_fwd_step", gpu.Blocks(J*E, 256), 256, g.hs, g.r, g.z, g.n, g.ghn, g.xg, gh, hprev,
			ds.p(pre+"bir"), ds.p(pre+"biz"), ds.p(pre+"bin"), ds.p(pre+"bhr"), ds.p(pre+"bhz"), ds.p(pre+"bhn"),
			mask, t, b2i(i == 0), J, E)
	}
	return g
}

// step returns the time index of the i-th step processed and of the one before it.
func (g gruActs) step(i, L int) (t, prev int) {
	if g.reverse {
		return L - 1 - i, L - i
	}
	return i, i - 1
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// lossAndGrads runs forward and backward for training batch db (caption j matches image j)
// and leaves the gradients in ds.grads; it returns the loss and the sum of squared gradients.
func (ds *devState) lossAndGrads(m *Model, db *devBatch) (float64, float64, error) {
	o, c, d := ds.o, m.cfg, db.d
	o.Zero(ds.grads)
	a := ds.forward(m, db)
	I, K, J, L, T, E, W, D := d.I, d.K, d.J, d.L, d.T, c.Embed, c.WordDim, c.ImgDim
	TJ := T * J
	sc := func(name string, n int) gpu.Buf { return o.Scratch(name, n) }
	// The hinge triplet loss on the (I, I) scores and its gradient.
	rowv, colv, rowc, colc := sc("loss.rowv", I), sc("loss.colv", I), sc("loss.rowc", I), sc("loss.colc", I)
	maxv := b2i(!c.AllViolations)
	o.Launch("hinge_rows", gpu.Blocks(I, 256), 256, rowv, colv, rowc, colc, a.scores, float32(c.Margin), maxv, I)
	o.Launch("hinge_loss", gpu.Grid{X: 1}, 32, ds.scalars, rowv, colv, I)
	dS := sc("loss.ds", I*J)
	o.Launch("hinge_grad", gpu.Blocks(I*J, 256), 256, dS, a.scores, rowv, colv, rowc, colc, float32(c.Margin), maxv, I)
	// Score → R.
	dR := sc("score.dr", I*TJ)
	if c.Agg == AggAVG {
		o.Launch("score_avg_grad", gpu.Blocks(I*J, 256), 256, dR, dS, db.wm, I, T, J)
	} else {
		o.Launch("score_lse_grad", gpu.Blocks(I*J, 256), 256, dR, dS, a.r, db.wm, float32(c.LambdaLSE), I, T, J)
	}
	// Cosine → α, s, v (through |a|), e (through |e|).
	dw12, daa, dw1img := sc("cos.dw12", I*TJ), sc("cos.daa", I*TJ), sc("cos.dw1img", I*TJ)
	o.Launch("cos_bwd_a", gpu.Blocks(I*TJ, 256), 256, dw12, daa, dw1img, dR, a.w12, a.aa, a.w1, float32(cosEps), I, TJ)
	dAlpha, ds_, scaled := sc("cos.dalpha", I*K*TJ), sc("cos.ds", I*K*TJ), sc("cos.scaled", I*K*TJ)
	o.Launch("cos_bwd_b", gpu.Blocks(I*K*TJ, 256), 256, dAlpha, ds_, scaled, a.alpha, a.s, a.ga, dw12, daa, I, K, TJ)
	dG, dv := sc("cos.dgram", I*K*K), sc("img.dv", I*K*E)
	o.GemmStrided(false, true, K, K, TJ, 1, scaled.Ptr, TJ, K*TJ, a.alpha.Ptr, TJ, K*TJ, 0, dG.Ptr, K, K*K, I) // ∂G_i = scaled_i·α_iᵀ
	o.GemmStrided(false, false, K, E, K, 2, dG.Ptr, K, K*K, a.v.Ptr, E, K*E, 0, dv.Ptr, E, K*E, I)             // ∂V_i = 2∂G_i·V_i
	f, det := sc("cos.f", TJ), sc("txt.det", TJ*E)
	o.Launch("cos_bwd_w1", gpu.Blocks(TJ, 256), 256, f, dw1img, a.w1, I, TJ)
	o.ScaleRows(det, a.et, f, TJ, E)
	// Attention → s (added to the cosine's ∂s), then s = v·etᵀ → v and et.
	dot := sc("att.dot", I*TJ)
	o.Launch("attn_dot", gpu.Blocks(I*TJ, 256), 256, dot, a.alpha, dAlpha, I, K, T, J)
	o.Launch("attn_grad", gpu.Blocks(I*K*J, 256), 256, ds_, a.s, db.wm, a.alpha, dAlpha, dot, a.nrm, a.sq, float32(c.LambdaSoftmax), I, K, T, J)
	o.Gemm(false, false, I*K, E, TJ, 1, ds_.Ptr, TJ, a.et.Ptr, E, 1, dv.Ptr, E)
	o.Gemm(true, false, TJ, E, I*K, 1, ds_.Ptr, TJ, a.v.Ptr, E, 1, det.Ptr, E)
	// Image encoder: through the l2 norm, then the FC's weight and bias.
	dfc := sc("img.dfc", I*K*E)
	o.L2NormRowsGrad(dfc, a.fcpre, dv, I*K, E)
	o.Gemm(true, false, D, E, I*K, 1, db.feats.Ptr, D, dfc.Ptr, E, 0, ds.g("img.fc.w"), E)
	o.ColSums(ds.g("img.fc.b"), dfc, I*K, E, E, 0)
	// Text encoder: slots back to word rows, through the l2 norm and the mean, both GRUs.
	de, depre, dH := sc("txt.de", L*J*E), sc("txt.depre", L*J*E), sc("txt.dh", L*J*E)
	o.GatherRows(de, det, db.inv, L*J, E, -1)
	o.L2NormRowsGrad(depre, a.epre, de, L*J, E)
	o.Scale(dH, depre, 0.5, L*J*E)
	dx := sc("txt.dx", L*J*W)
	for dir := range a.gru {
		ds.gruBackward(a.gru[dir], a.x, dH, dx, db.valid, dir == 1, L, J, W, E)
	}
	o.EmbedGrad(gpu.Buf{Ptr: ds.g("txt.embed"), N: c.Vocab * W}, dx, db.order, db.starts, db.uniq, db.nuniq, W)
	o.SumSquares(ds.scalars.At(2), ds.grads, int64(ds.words))
	out := make([]float32, 4)
	if err := o.Read(out, ds.scalars); err != nil {
		return 0, 0, err
	}
	sumsq := math.Float64frombits(uint64(math.Float32bits(out[2])) | uint64(math.Float32bits(out[3]))<<32)
	return float64(out[0]), sumsq, nil
}

// gruBackward is the backward pass of GRU direction g given dH (L·J, E), the gradient of its
// states; it writes the direction's weight and bias gradients and adds (accumulate) or writes
// the gradient of the inputs x into dx (L·J, W).
func (ds *devState) gruBackward(g gruActs, x, dH, dx, mask gpu.Buf, accumulate bool, L, J, W, E int) {
	o, pre := ds.o, g.prefix
	sc := func(name string, n int) gpu.Buf { return o.Scratch(pre+name, n) }
	dg, dgh, dh := sc("dg", L*J*3*E), sc("dgh", L*J*3*E), sc("dhcarry", J*E)
	o.Zero(dh)
	for i := L - 1; i >= 0; i-- {
		t, prev := g.step(i, L)
		hprev := g.hs.Ptr
		if i > 0 {
			hprev = g.hs.At(prev * J * E)
		}
		o.Launch("gru_bwd_step", gpu.Blocks(J*E, 256), 256, dg, dgh, dh, dH, g.r, g.z, g.n, g.ghn, hprev, mask, t, b2i(i == 0), J, E)
		if i > 0 { // dh += dgh_t·Whcatᵀ: (J, 3E)·(3E, E)
			o.Gemm(false, true, J, E, 3*E, 1, dgh.At(t*J*3*E), 3*E, g.whcat.Ptr, 3*E, 1, dh.Ptr, E)
		}
	}
	beta := float32(0)
	if accumulate {
		beta = 1
	}
	o.Gemm(false, true, L*J, W, 3*E, 1, dg.Ptr, 3*E, g.wicat.Ptr, 3*E, beta, dx.Ptr, W) // dx (+)= dg·Wicatᵀ
	dwi, dwh := sc("dwicat", W*3*E), sc("dwhcat", E*3*E)
	o.Gemm(true, false, W, 3*E, L*J, 1, x.Ptr, W, dg.Ptr, 3*E, 0, dwi.Ptr, 3*E) // xᵀ·dg
	// hprevᵀ·dgh over the steps with a previous state: the states shifted by one step.
	if L > 1 {
		hsFrom, dghFrom := 0, J*3*E // forward: h_{t−1} with dgh_t
		if g.reverse {
			hsFrom, dghFrom = J*E, 0 // reverse: h_{t+1} with dgh_t
		}
		o.Gemm(true, false, E, 3*E, (L-1)*J, 1, g.hs.At(hsFrom), E, dgh.At(dghFrom), 3*E, 0, dwh.Ptr, 3*E)
	} else {
		o.Zero(dwh)
	}
	o.Unpack3(ds.g(pre+"wir"), ds.g(pre+"wiz"), ds.g(pre+"win"), dwi, W, E)
	o.Unpack3(ds.g(pre+"whr"), ds.g(pre+"whz"), ds.g(pre+"whn"), dwh, E, E)
	o.ColSums(ds.g(pre+"bir"), dg, L*J, 3*E, E, ds.stride(pre+"bir", pre+"biz", pre+"bin"))
	o.ColSums(ds.g(pre+"bhr"), dgh, L*J, 3*E, E, ds.stride(pre+"bhr", pre+"bhz", pre+"bhn"))
}

// stride returns the distance in words between the three named parameters' slots, which
// must be evenly spaced (the gates' biases are consecutive parameters of one size).
func (ds *devState) stride(a, b, c string) int {
	oa, ob, oc := ds.slots[ds.byName[a]].off, ds.slots[ds.byName[b]].off, ds.slots[ds.byName[c]].off
	if ob-oa != oc-ob {
		ds.o.Fail(fmt.Errorf("scan: parameters %s, %s, %s are not evenly spaced on the device", a, b, c))
	}
	return ob - oa
}

// trainStep is TrainStep on the device.
func (ds *devState) trainStep(m *Model, b Batch) (StepResult, error) {
	db, err := ds.upload(m, b, nil)
	if err != nil {
		return StepResult{}, err
	}
	loss, sumsq, err := ds.lossAndGrads(m, db)
	if err != nil {
		return StepResult{}, fmt.Errorf("scan: step %d on %s: %w", m.step, ds.d.Info().Kind, err)
	}
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return StepResult{}, fmt.Errorf("scan: step %d: loss is %v: %w", m.step, loss, optim.ErrNonFinite)
	}
	norm := math.Sqrt(sumsq)
	if math.IsNaN(norm) || math.IsInf(norm, 0) {
		return StepResult{}, fmt.Errorf("scan: step %d: gradient norm is %v: %w", m.step, norm, optim.ErrNonFinite)
	}
	lr := m.LR(m.epoch)
	k := m.adam.Advance(lr)
	ds.o.Adam(ds.params, ds.m1, ds.m2, ds.grads, int64(ds.words), optim.ClipScale(norm, m.cfg.GradClip), k.Beta1, k.Beta2, k.StepSize, k.InvSqrtBC2, k.Eps)
	if err := ds.o.Err(); err != nil {
		return StepResult{}, fmt.Errorf("scan: step %d: %w", m.step, err)
	}
	ds.hostStale = true
	m.step++
	m.dataPos++
	return StepResult{Loss: loss, GradNorm: norm, LR: lr}, nil
}
