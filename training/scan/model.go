// Package scan is the POS-SCAN / SCAN image–text matching model on gorgonia.
//
// Reference: Lee et al., "Stacked Cross Attention for Image-Text Matching",
// ECCV 2018 (SCAN, t2i variant), and Zhou et al., "More Grounded Image
// Captioning by Distilling Image-Text Matching Model", CVPR 2020 (POS-SCAN:
// only noun positions enter the attention normalisation, the score and the
// exported attention). Formulas: ../shared/reference/ALGORITHMS.md.
//
// # Overview
//
// New builds a model from a Config; Model.Forward scores a batch (every
// image against every caption), Model.TrainStep does one Adam step on a
// batch of matching pairs with the hinge triplet loss, Model.Align returns
// the word–region attention α and score S of matching pairs, Train runs the
// epoch loop over an abstract BatchSource with checkpoints, and
// Model.Save/Load write and read checkpoints (training/checkpoint).
//
// # Invariants
//
// One graph is built per batch shape (images, regions, captions, padded
// length) and cached; all graphs share the weights (nn.ParamSet). A Model is
// not safe for concurrent use. Captions are padded to a multiple of
// Config.LenBucket; images are padded to the largest region count of the
// batch with a region mask.
package scan

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/groundcap/groundcap/training/checkpoint"
	"github.com/groundcap/groundcap/training/nn"
	"github.com/groundcap/groundcap/training/optim"
)

// maxGraphs bounds the graph cache (each graph holds all its activations).
const maxGraphs = 4

// Caption is one tokenised caption.
type Caption struct {
	// IDs are the word ids (no padding; length ≥ 1).
	IDs []int32
	// Nouns marks noun positions (NN, NNS, NNP, NNPS, not UNK), same length
	// as IDs; nil means no nouns. Ignored with Config.PlainSCAN.
	Nouns []bool
}

// Batch is a set of images and captions. For training and alignment,
// caption j belongs to image j (TrainStep) or to image ImageOf[j] (Align).
type Batch struct {
	// Feats holds one image per entry: R×D float32 region features,
	// row-major, R ≥ 1 regions (R may differ between images).
	Feats [][]float32
	// Captions are the captions.
	Captions []Caption
}

// Model is a POS-SCAN / SCAN model with its optimiser and counters.
type Model struct {
	cfg    Config
	ps     *nn.ParamSet
	src    *rand.PCG
	adam   *optim.Adam
	graphs []*graph
	// feats is the image features of the last batch, laid out for the
	// graph; reused from batch to batch (a paper-sized batch holds 38 MB).
	feats []float32

	step    int64
	epoch   int
	dataPos int64
	meta    map[string]string
	// dev, when set, holds the training state on a GPU or its emulation (UseDevice); the
	// host's weights and moments are then copies that syncHost brings up to date.
	dev *devState
}

type graph struct {
	d     Dims
	train bool
	g     *G.ExprGraph
	vm    G.VM

	feats, regionMask, ids, wordValid, wordMask *G.Node
	slots                                       *G.Node // (T·J) rows of e that enter the attention
	scores, alpha, loss                         *G.Node
	params, grads                               G.Nodes
}

// New builds a model with freshly initialised weights (from cfg.Seed).
func New(cfg Config) (*Model, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	src := rand.NewPCG(cfg.Seed, 0x5ca7)
	m := &Model{cfg: cfg, src: src, ps: nn.NewParamSet(tensor.Float32, rand.New(src)), meta: map[string]string{}}
	// Build a tiny graph once so that every parameter exists in a fixed order.
	if _, err := m.graphFor(Dims{I: 1, K: 1, J: 1, L: 1, E: cfg.Embed, T: 1}, false); err != nil {
		return nil, err
	}
	sizes := make([]int, 0)
	for _, n := range m.ps.Names() {
		sizes = append(sizes, m.ps.Tensor(n).Shape().TotalSize())
	}
	adam, err := optim.NewAdam(optim.AdamConfig{}, sizes)
	if err != nil {
		return nil, err
	}
	m.adam = adam
	return m, nil
}

// Config returns the model's configuration.
func (m *Model) Config() Config { return m.cfg }

// Step returns the number of training steps done.
func (m *Model) Step() int64 { return m.step }

// Epoch returns the current epoch (0-based) and DataPos the batches of it
// already consumed (what a resumed run skips).
func (m *Model) Epoch() int { return m.epoch }

// DataPos returns the number of batches of the current epoch consumed.
func (m *Model) DataPos() int64 { return m.dataPos }

// SetMeta records provenance (git SHA, input URIs, BLAS backend) stored with
// checkpoints.
func (m *Model) SetMeta(key, value string) { m.meta[key] = value }

// Meta returns the meta value recorded under key (SetMeta, or read from a checkpoint).
func (m *Model) Meta(key string) (string, bool) {
	v, ok := m.meta[key]
	return v, ok
}

// ParamNames returns the parameter names in order.
func (m *Model) ParamNames() []string { return m.ps.Names() }

// Param returns the float32 values of the named parameter (shared; do not
// modify while training), or nil. On a device it reads the weights back first (nil when that
// fails).
func (m *Model) Param(name string) []float32 {
	if m.syncHost() != nil {
		return nil
	}
	t := m.ps.Tensor(name)
	if t == nil {
		return nil
	}
	return t.Data().([]float32)
}

func (m *Model) graphFor(d Dims, train bool) (*graph, error) {
	for i, gr := range m.graphs {
		if gr.d == d && gr.train == train {
			// move to front (LRU)
			copy(m.graphs[1:i+1], m.graphs[:i])
			m.graphs[0] = gr
			return gr, nil
		}
	}
	gr, err := m.build(d, train)
	if err != nil {
		return nil, err
	}
	if len(m.graphs) == maxGraphs {
		old := m.graphs[maxGraphs-1]
		old.vm.Close()
		m.graphs = m.graphs[:maxGraphs-1]
	}
	m.graphs = append([]*graph{gr}, m.graphs...)
	return gr, nil
}

func (m *Model) build(d Dims, train bool) (gr *graph, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("scan: building graph %+v: %v", d, r)
		}
	}()
	c := m.cfg
	g := G.NewGraph()
	f32 := tensor.Float32
	gr = &graph{d: d, train: train, g: g}
	gr.feats = nn.Input(g, f32, "feats", d.I*d.K, c.ImgDim)
	gr.regionMask = nn.Input(g, f32, "region_mask", d.I, d.K)
	gr.ids = G.NewTensor(g, tensor.Int, 1, G.WithShape(d.L*d.J), G.WithName("ids"))
	gr.wordValid = nn.Input(g, f32, "word_valid", d.L, d.J)
	gr.slots = G.NewTensor(g, tensor.Int, 1, G.WithShape(d.T*d.J), G.WithName("slots"))
	gr.wordMask = nn.Input(g, f32, "word_mask", d.T, d.J)

	// Image encoder: FC D→E (Xavier, bias 0), l2 norm per region.
	fc := nn.NewLinear(g, m.ps, "img.fc", c.ImgDim, c.Embed, nn.Xavier(c.ImgDim, c.Embed), nn.Zeros)
	v := nn.L2Norm(fc.Forward(gr.feats), 1) // (I·K, E)
	// Text encoder: embedding U(−0.1, 0.1), bi-GRU averaged, l2 norm per word.
	emb := nn.NewEmbedding(g, m.ps, "txt.embed", nn.Uniform(-0.1, 0.1), c.Vocab, c.WordDim, c.Pad)
	gru := nn.NewBiGRU(g, m.ps, "txt.gru", c.WordDim, c.Embed)
	x := emb.Forward(gr.ids)                                  // (L·J, WordDim), time-major
	e := nn.L2Norm(gru.Forward(x, gr.wordValid, d.L, d.J), 1) // (L·J, E)
	// Only the words of T′ enter the attention, the score and the exported α
	// (POS-SCAN: the nouns), so only they are attended: slot s of caption j
	// is row slots[s·J+j] of e. This shrinks every (I, K, ·, J) tensor from L
	// to T word positions; the masked slots of short captions are ignored.
	et := nn.Gather(e, gr.slots)
	da := d
	da.L = d.T
	var alpha, r *G.Node // (I,K,T,J), (I,T,J)
	if train {
		r = XAttnT2IR(v, et, gr.regionMask, gr.wordMask, da, c.LambdaSoftmax)
	} else {
		alpha, r = XAttnT2I(v, et, gr.regionMask, gr.wordMask, da, c.LambdaSoftmax)
	}
	var s *G.Node
	if c.Agg == AggAVG {
		s = ScoreAVG(r, gr.wordMask)
	} else {
		s = ScoreLSE(r, gr.wordMask, c.LambdaLSE)
	}
	// Outputs are read through copies: values consumed by later ops may be
	// overwritten in place by gorgonia's tape machine.
	gr.scores = nn.Copy(s) // (I, J)
	if !train {
		gr.alpha = nn.Copy(alpha)
	}
	gr.params, err = m.ps.Nodes(g)
	if err != nil {
		return nil, err
	}
	if train {
		if d.I != d.J {
			return nil, fmt.Errorf("scan: training graph needs as many images as captions, got %d and %d", d.I, d.J)
		}
		gr.loss = nn.HingeTriplet(s, c.Margin, !c.AllViolations)
		if gr.grads, err = G.Grad(gr.loss, gr.params...); err != nil {
			return nil, fmt.Errorf("scan: gradient: %w", err)
		}
		roots := append(G.Nodes{gr.loss, gr.scores}, gr.grads...)
		gr.vm = nn.NewMachine(nn.Needed(g, roots...)) // gradients are read from gr.grads
	} else {
		gr.vm = nn.NewMachine(nn.Needed(g, gr.scores, gr.alpha))
	}
	return gr, nil
}

// prepared is a batch laid out for a graph.
type prepared struct {
	d                                   Dims
	feats, regionMask, wordValid, wordM *tensor.Dense
	ids, slots                          *tensor.Dense
	nouns                               [][]int // T′ positions per caption
}

func (m *Model) prepare(b Batch) (*prepared, error) {
	p, err := m.prepareWords(b)
	if err != nil {
		return nil, err
	}
	k := p.d.K
	feats, rmask := m.layFeats(b.Feats, k)
	p.feats = tensor.New(tensor.WithShape(p.d.I*k, m.cfg.ImgDim), tensor.WithBacking(feats))
	p.regionMask = tensor.New(tensor.WithShape(p.d.I, k), tensor.WithBacking(rmask))
	return p, nil
}

// prepareWords checks b and lays out its captions (prepareCaptions), with the batch's image
// count and most regions in the sizes; the features are left to the caller.
func (m *Model) prepareWords(b Batch) (*prepared, error) {
	if len(b.Feats) == 0 || len(b.Captions) == 0 {
		return nil, errors.New("scan: empty batch")
	}
	k, err := m.regions(b.Feats)
	if err != nil {
		return nil, err
	}
	p, err := m.prepareCaptions(b.Captions)
	if err != nil {
		return nil, err
	}
	p.d.I, p.d.K = len(b.Feats), k
	return p, nil
}

// regions checks the images' features and returns the most regions of one image.
func (m *Model) regions(feats [][]float32) (int, error) {
	k := 0
	for i, f := range feats {
		if len(f) == 0 || len(f)%m.cfg.ImgDim != 0 {
			return 0, fmt.Errorf("scan: image %d of the batch has %d feature values, want a positive multiple of D=%d", i, len(f), m.cfg.ImgDim)
		}
		k = max(k, len(f)/m.cfg.ImgDim)
	}
	return k, nil
}

// layFeats copies the images into m.feats, image i in rows i·k … of a (len(feats)·k, D)
// matrix padded with zeros, and returns it with the region mask (len(feats), k).
func (m *Model) layFeats(feats [][]float32, k int) ([]float32, []float32) {
	D := m.cfg.ImgDim
	if n := len(feats) * k * D; cap(m.feats) >= n {
		m.feats = m.feats[:n]
	} else {
		m.feats = make([]float32, n)
	}
	out := m.feats
	rmask := make([]float32, len(feats)*k)
	for i, f := range feats {
		for r := 0; r < len(f)/D; r++ {
			rmask[i*k+r] = 1
		}
	}
	// Copy each image into its K·D block and clear what it leaves (the buffer is reused), on all
	// CPUs: at the paper's size this is 38 MB a step.
	nn.ParallelFor(len(feats), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			block := out[i*k*D : (i+1)*k*D]
			clear(block[copy(block, feats[i]):])
		}
	})
	return out, rmask
}

// prepareCaptions lays out the captions' words (time-major, padded to a multiple of
// LenBucket), their masks and the word slots of the attention; the image fields and sizes of
// the result are left zero.
func (m *Model) prepareCaptions(caps []Caption) (*prepared, error) {
	c := m.cfg
	l := 0
	for j, cp := range caps {
		if len(cp.IDs) == 0 {
			return nil, fmt.Errorf("scan: caption %d of the batch is empty", j)
		}
		if cp.Nouns != nil && len(cp.Nouns) != len(cp.IDs) {
			return nil, fmt.Errorf("scan: caption %d has %d ids but %d noun flags", j, len(cp.IDs), len(cp.Nouns))
		}
		l = max(l, len(cp.IDs))
	}
	if c.LenBucket > 1 {
		l = (l + c.LenBucket - 1) / c.LenBucket * c.LenBucket
	}
	d := Dims{J: len(caps), L: l, E: c.Embed}
	p := &prepared{}
	ids := make([]int, d.L*d.J)
	valid := make([]float32, d.L*d.J)
	for j, cp := range caps {
		var pos []int
		for t, id := range cp.IDs {
			if id < 0 || int(id) >= c.Vocab {
				return nil, fmt.Errorf("scan: caption %d word %d: id %d outside vocabulary [0,%d)", j, t, id, c.Vocab)
			}
			ids[t*d.J+j] = int(id)
			valid[t*d.J+j] = 1
			if !c.PlainSCAN && cp.Nouns != nil && cp.Nouns[t] {
				pos = append(pos, t)
			}
		}
		for t := len(cp.IDs); t < d.L; t++ {
			ids[t*d.J+j] = c.Pad
		}
		if len(pos) == 0 { // SCAN, or a caption without nouns: all words
			for t := range cp.IDs {
				pos = append(pos, t)
			}
		}
		d.T = max(d.T, len(pos))
		p.nouns = append(p.nouns, pos)
	}
	if c.LenBucket > 1 {
		d.T = min((d.T+c.LenBucket-1)/c.LenBucket*c.LenBucket, d.L)
	}
	slots := make([]int, d.T*d.J)
	wm := make([]float32, d.T*d.J)
	for j, pos := range p.nouns {
		for s := range d.T {
			if s < len(pos) {
				slots[s*d.J+j], wm[s*d.J+j] = pos[s]*d.J+j, 1
			} else {
				slots[s*d.J+j] = j // word 0 of caption j, masked
			}
		}
	}
	p.d = d
	p.slots = tensor.New(tensor.WithShape(d.T*d.J), tensor.WithBacking(slots))
	p.ids = tensor.New(tensor.WithShape(d.L*d.J), tensor.WithBacking(ids))
	p.wordValid = tensor.New(tensor.WithShape(d.L, d.J), tensor.WithBacking(valid))
	p.wordM = tensor.New(tensor.WithShape(d.T, d.J), tensor.WithBacking(wm))
	return p, nil
}

func (m *Model) run(p *prepared, train bool) (*graph, error) {
	gr, err := m.graphFor(p.d, train)
	if err != nil {
		return nil, err
	}
	for _, kv := range []struct {
		n *G.Node
		v *tensor.Dense
	}{{gr.feats, p.feats}, {gr.regionMask, p.regionMask}, {gr.ids, p.ids}, {gr.wordValid, p.wordValid}, {gr.slots, p.slots}, {gr.wordMask, p.wordM}} {
		if err := G.Let(kv.n, kv.v); err != nil {
			return nil, fmt.Errorf("scan: feeding %s: %w", kv.n.Name(), err)
		}
	}
	gr.vm.Reset()
	if err := gr.vm.RunAll(); err != nil {
		return nil, fmt.Errorf("scan: running graph %+v: %w", p.d, err)
	}
	return gr, nil
}

// Forward scores every image of b against every caption and returns the
// I×J score matrix, row-major (scores[i*J+j] = S(image i, caption j)).
func (m *Model) Forward(b Batch) ([]float32, error) {
	if m.dev != nil {
		return m.dev.forwardScores(m, b)
	}
	p, err := m.prepare(b)
	if err != nil {
		return nil, err
	}
	gr, err := m.run(p, false)
	if err != nil {
		return nil, err
	}
	return append([]float32(nil), gr.scores.Value().Data().([]float32)...), nil
}

// StepResult reports one training step.
type StepResult struct {
	// Loss is the hinge triplet loss of the batch (a sum, as SCAN).
	Loss float64
	// GradNorm is the global gradient norm before clipping.
	GradNorm float64
	// LR is the learning rate used.
	LR float64
}

// LR returns the learning rate of epoch under the config's schedule.
func (m *Model) LR(epoch int) float64 {
	return optim.StepLR{Base: m.cfg.LR, Gamma: m.cfg.LRGamma, Every: m.cfg.LRUpdate}.LR(epoch)
}

// TrainStep does one Adam step on b, whose caption j matches image j, at
// the learning rate of the model's current epoch. A NaN or Inf loss or
// gradient is an error (wrapping optim.ErrNonFinite) and leaves the weights
// unchanged.
func (m *Model) TrainStep(b Batch) (StepResult, error) {
	if len(b.Feats) != len(b.Captions) {
		return StepResult{}, fmt.Errorf("scan: TrainStep needs one caption per image, got %d images and %d captions", len(b.Feats), len(b.Captions))
	}
	if m.dev != nil {
		return m.dev.trainStep(m, b)
	}
	loss, grads, err := m.lossAndGrads(b)
	if err != nil {
		return StepResult{}, err
	}
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return StepResult{}, fmt.Errorf("scan: step %d: loss is %v: %w", m.step, loss, optim.ErrNonFinite)
	}
	params := make([][]float32, len(grads))
	for i, name := range m.ps.Names() {
		params[i] = m.ps.Tensor(name).Data().([]float32)
	}
	lr := m.LR(m.epoch)
	norm, err := m.adam.ClipAndUpdate(lr, m.cfg.GradClip, params, grads)
	if errors.Is(err, optim.ErrNonFinite) {
		return StepResult{}, fmt.Errorf("scan: step %d: gradient norm is %v: %w", m.step, norm, err)
	} else if err != nil {
		return StepResult{}, fmt.Errorf("scan: step %d: %w", m.step, err)
	}
	m.step++
	m.dataPos++
	return StepResult{Loss: loss, GradNorm: norm, LR: lr}, nil
}

// lossAndGrads runs the training graph on b and returns the loss and the gradients of the
// parameters in parameter order (the graph's buffers: valid until its next run).
func (m *Model) lossAndGrads(b Batch) (float64, [][]float32, error) {
	p, err := m.prepare(b)
	if err != nil {
		return 0, nil, err
	}
	gr, err := m.run(p, true)
	if err != nil {
		return 0, nil, err
	}
	grads := make([][]float32, len(gr.grads))
	for i, gn := range gr.grads {
		grads[i] = gn.Value().Data().([]float32)
	}
	return float64(gr.loss.Value().Data().(float32)), grads, nil
}

// Alignment is the attention and score of one matching (image, caption) pair.
type Alignment struct {
	// Positions are the word positions in T′ (nouns; all words when the
	// caption has none or with PlainSCAN).
	Positions []int32
	// Attention is α, len(Positions)×R row-major over the image's R regions.
	Attention []float32
	// Regions is R.
	Regions int
	// Score is S(image, caption).
	Score float32
}

// Align computes, for each caption j of b, α and S against image
// imageOf[j] of b. Batching a few images with all their captions amortises
// the encoders (all image×caption pairs of the batch are computed).
func (m *Model) Align(b Batch, imageOf []int) ([]Alignment, error) {
	if len(imageOf) != len(b.Captions) {
		return nil, fmt.Errorf("scan: Align: %d captions but %d image indices", len(b.Captions), len(imageOf))
	}
	for j, i := range imageOf {
		if i < 0 || i >= len(b.Feats) {
			return nil, fmt.Errorf("scan: Align: caption %d refers to image %d of %d", j, i, len(b.Feats))
		}
	}
	if m.dev != nil {
		return m.dev.align(m, b, imageOf)
	}
	p, err := m.prepare(b)
	if err != nil {
		return nil, err
	}
	gr, err := m.run(p, false)
	if err != nil {
		return nil, err
	}
	d := p.d
	a := gr.alpha.Value().Data().([]float32)  // (I, K, T, J)
	s := gr.scores.Value().Data().([]float32) // (I, J)
	out := make([]Alignment, len(b.Captions))
	for j, i := range imageOf {
		regions := len(b.Feats[i]) / m.cfg.ImgDim
		al := Alignment{Regions: regions, Score: s[i*d.J+j], Attention: make([]float32, 0, len(p.nouns[j])*regions)}
		for s, t := range p.nouns[j] {
			al.Positions = append(al.Positions, int32(t))
			for k := 0; k < regions; k++ {
				al.Attention = append(al.Attention, a[((i*d.K+k)*d.T+s)*d.J+j])
			}
		}
		out[j] = al
	}
	return out, nil
}

// Checkpoint returns the model's full training state.
func (m *Model) Checkpoint() (*checkpoint.Checkpoint, error) {
	if err := m.syncHost(); err != nil {
		return nil, err
	}
	cfg, err := json.Marshal(m.cfg)
	if err != nil {
		return nil, fmt.Errorf("scan: encoding config: %w", err)
	}
	rng, err := m.src.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("scan: encoding RNG: %w", err)
	}
	c := &checkpoint.Checkpoint{OptimStep: m.adam.State.Step, M: m.adam.State.M, V: m.adam.State.V,
		Step: m.step, Epoch: m.epoch, DataPos: m.dataPos, RNG: rng, Config: cfg, Meta: map[string]string{"model": "scan"}}
	for k, v := range m.meta {
		c.Meta[k] = v
	}
	for _, n := range m.ps.Names() {
		t := m.ps.Tensor(n)
		c.Params = append(c.Params, checkpoint.Tensor{Name: n, Shape: append([]int(nil), t.Shape()...), Data: t.Data().([]float32)})
	}
	return c, nil
}

// Save writes the model's checkpoint to path atomically.
func (m *Model) Save(path string) error {
	c, err := m.Checkpoint()
	if err != nil {
		return err
	}
	return checkpoint.Save(path, c)
}

// Load reads a checkpoint written by Save and rebuilds the model, its
// optimiser state, counters and RNG state (the config comes from the file).
func Load(path string) (*Model, error) {
	c, err := checkpoint.Load(path)
	if err != nil {
		return nil, err
	}
	return FromCheckpoint(c)
}

// FromCheckpoint rebuilds a model from a decoded checkpoint.
func FromCheckpoint(c *checkpoint.Checkpoint) (*Model, error) {
	cfg, err := ParseConfig(c.Config)
	if err != nil {
		return nil, fmt.Errorf("scan: checkpoint config: %w", err)
	}
	m, err := New(cfg)
	if err != nil {
		return nil, err
	}
	names := m.ps.Names()
	if len(c.Params) != len(names) {
		return nil, fmt.Errorf("scan: checkpoint has %d parameters, model %d", len(c.Params), len(names))
	}
	for i, p := range c.Params {
		t := m.ps.Tensor(names[i])
		if p.Name != names[i] || !t.Shape().Eq(tensor.Shape(p.Shape)) {
			return nil, fmt.Errorf("scan: checkpoint parameter %d is %s%v, model expects %s%v", i, p.Name, p.Shape, names[i], t.Shape())
		}
		copy(t.Data().([]float32), p.Data)
	}
	if c.M != nil {
		m.adam.State = optim.AdamState{Step: c.OptimStep, M: c.M, V: c.V}
	}
	if err := m.src.UnmarshalBinary(c.RNG); err != nil {
		return nil, fmt.Errorf("scan: checkpoint RNG: %w", err)
	}
	m.step, m.epoch, m.dataPos = c.Step, c.Epoch, c.DataPos
	for k, v := range c.Meta {
		m.meta[k] = v
	}
	return m, nil
}
