// Up-Down captioner (Anderson et al., "Bottom-Up and Top-Down Attention for
// Image Captioning and Visual Question Answering", CVPR 2018) as
// self-critical.pytorch's TopDownModel, trained with the attention
// distillation of Zhou et al., "More Grounded Image Captioning by Distilling
// Image-Text Matching Model", CVPR 2020.

package updown

import (
	"fmt"
	"math"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/groundcap/groundcap/training/checkpoint"
	"github.com/groundcap/groundcap/training/nn"
)

// Model is an Up-Down captioner: its resolved config, its weights and the
// compiled graphs that use them (one per batch shape, built on demand).
// A Model is not safe for concurrent use; give each goroutine its own (see
// Clone).
type Model struct {
	cfg   Config
	ps    *nn.ParamSet
	names []string
	cache *graphCache
}

// layers are a model's layers bound to one graph.
type layers struct {
	embed    *nn.Embedding // (V+1, E)
	fcEmbed  *nn.Linear    // D → rnn
	attEmbed *nn.Linear    // D → rnn
	attLSTM  *nn.LSTMCell  // [h², v̄, x] → rnn
	langLSTM *nn.LSTMCell  // [v̂, h¹] → rnn
	att      *nn.AdditiveAttention
	logit    *nn.Linear // rnn → V+1
}

// torchLinear is PyTorch's default Linear initialisation, U(±1/√fanIn), for
// both weight and bias.
func torchLinear(in int) nn.Init {
	k := 1 / math.Sqrt(float64(in))
	return nn.Uniform(-k, k)
}

// normalInit is PyTorch's default Embedding initialisation, N(0, 1).
func normalInit(r *rand.Rand, dt tensor.Dtype, shape ...int) *tensor.Dense {
	t := tensor.New(tensor.WithShape(shape...), tensor.Of(dt))
	switch d := t.Data().(type) {
	case []float32:
		for i := range d {
			d[i] = float32(r.NormFloat64())
		}
	case []float64:
		for i := range d {
			d[i] = r.NormFloat64()
		}
	}
	return t
}

// newLayers binds (creating on first use) the model's layers on g. The
// creation order here is the parameter order of optimisers and checkpoints.
func newLayers(g *G.ExprGraph, ps *nn.ParamSet, c Config) *layers {
	lin := func(name string, in, out int) *nn.Linear {
		return nn.NewLinear(g, ps, name, in, out, torchLinear(in), torchLinear(in))
	}
	return &layers{
		embed:    nn.NewEmbedding(g, ps, "embed", normalInit, c.VocabSize+1, c.InputEncoding, -1),
		fcEmbed:  lin("fc_embed", c.FeatDim, c.RNNSize),
		attEmbed: lin("att_embed", c.FeatDim, c.RNNSize),
		attLSTM:  nn.NewLSTMCell(g, ps, "att_lstm", c.InputEncoding+2*c.RNNSize, c.RNNSize),
		langLSTM: nn.NewLSTMCell(g, ps, "lang_lstm", 2*c.RNNSize, c.RNNSize),
		att:      nn.NewAdditiveAttention(g, ps, "attention", c.RNNSize, c.RNNSize, c.AttHid),
		logit:    lin("logit", c.RNNSize, c.VocabSize+1),
	}
}

// New returns a model with freshly initialised weights (from cfg.Seed).
func New(cfg Config) (*Model, error) {
	return newModel(cfg, tensor.Float32)
}

func newModel(cfg Config, dt tensor.Dtype) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ps := nn.NewParamSet(dt, rand.New(rand.NewPCG(cfg.Seed, 0x75700d0)))
	newLayers(G.NewGraph(), ps, cfg)
	return &Model{cfg: cfg, ps: ps, names: ps.Names(), cache: newGraphCache(graphCacheSize)}, nil
}

// Config returns the model's configuration.
func (m *Model) Config() Config { return m.cfg }

// ParamNames returns the parameter names in parameter order.
func (m *Model) ParamNames() []string { return append([]string(nil), m.names...) }

// Params returns the backing slices of the weights in parameter order
// (writing to them changes the model).
func (m *Model) Params() [][]float32 {
	out := make([][]float32, len(m.names))
	for i, n := range m.names {
		out[i] = m.ps.Tensor(n).Data().([]float32)
	}
	return out
}

// NumParams returns the number of scalar weights.
func (m *Model) NumParams() int {
	n := 0
	for _, p := range m.Params() {
		n += len(p)
	}
	return n
}

// Tensors returns copies of the weights as checkpoint tensors.
func (m *Model) Tensors() []checkpoint.Tensor {
	out := make([]checkpoint.Tensor, len(m.names))
	for i, n := range m.names {
		t := m.ps.Tensor(n)
		out[i] = checkpoint.Tensor{Name: n, Shape: append([]int(nil), t.Shape()...), Data: append([]float32(nil), t.Data().([]float32)...)}
	}
	return out
}

// SetTensors copies weights into the model; names and shapes must match
// the model's parameters in order.
func (m *Model) SetTensors(ts []checkpoint.Tensor) error {
	if len(ts) != len(m.names) {
		return fmt.Errorf("updown: %d tensors given, model has %d parameters", len(ts), len(m.names))
	}
	for i, n := range m.names {
		t := m.ps.Tensor(n)
		if ts[i].Name != n || !t.Shape().Eq(tensor.Shape(ts[i].Shape)) {
			return fmt.Errorf("updown: tensor %d is %s %v, model wants %s %v", i, ts[i].Name, ts[i].Shape, n, t.Shape())
		}
	}
	for i, n := range m.names {
		copy(m.ps.Tensor(n).Data().([]float32), ts[i].Data)
	}
	return nil
}

// Clone returns a model with the same config and a copy of the weights.
func (m *Model) Clone() *Model {
	c, err := New(m.cfg)
	if err != nil {
		panic(fmt.Sprintf("updown: Clone of a valid model: %v", err))
	}
	if err := c.SetTensors(m.Tensors()); err != nil {
		panic(fmt.Sprintf("updown: Clone: %v", err))
	}
	return c
}

func must(n *G.Node, err error) *G.Node {
	if err != nil {
		panic(fmt.Errorf("updown: building graph: %w", err))
	}
	return n
}

// gather returns the rows ids of x, a 2-D node (rows, cols) → (len(ids), cols),
// with a scatter-add gradient (nn.Embedding's op on an arbitrary table).
func gather(x, ids *G.Node) *G.Node {
	return (&nn.Embedding{W: x, Pad: -1}).Forward(ids)
}

// expand gathers the rows of x (nImg, ...) for each caption's image: ids (N)
// → (N, ...).
func expand(x, ids *G.Node) *G.Node {
	s := x.Shape()
	rest := 1
	for _, d := range s[1:] {
		rest *= d
	}
	flat := must(G.Reshape(x, tensor.Shape{s[0], rest})) // (nImg, Π rest)
	out := gather(flat, ids)                             // (N, Π rest)
	shape := append(tensor.Shape{ids.Shape()[0]}, s[1:]...)
	if len(shape) == 2 {
		return out
	}
	return must(G.Reshape(out, shape)) // (N, ...)
}

// dropout multiplies x by mask, or returns x when mask is nil (evaluation).
func dropout(x, mask *G.Node) *G.Node {
	if mask == nil {
		return x
	}
	return nn.Dropout(x, mask)
}

// prepare embeds the regions and the mean feature:
// feats (nImg·K, D) → v (nImg, K, rnn) = dropout(ReLU(att_embed feats)),
// pv (nImg, K, A) = W_v v (cached for every step), fc (nImg, rnn) =
// dropout(ReLU(fc_embed fcIn)). attDrop (nImg·K, rnn) and fcDrop (nImg, rnn)
// are dropout masks (nil: none).
func (l *layers) prepare(feats, fcIn, attDrop, fcDrop *G.Node, nImg, k int) (v, pv, fc *G.Node) {
	rnn := l.attEmbed.Out
	e := dropout(must(G.Rectify(l.attEmbed.Forward(feats))), attDrop) // (nImg·K, rnn)
	v = must(G.Reshape(e, tensor.Shape{nImg, k, rnn}))                // (nImg, K, rnn)
	pv = l.att.ProjectRegions(v)                                      // (nImg, K, A)
	fc = dropout(must(G.Rectify(l.fcEmbed.Forward(fcIn))), fcDrop)    // (nImg, rnn)
	return v, pv, fc
}

// state is the two LSTMs' hidden and cell states, each (N, rnn).
type state struct{ h1, c1, h2, c2 *G.Node }

// step is one TopDownCore step: the attention LSTM on [h²_{t−1}, v̄, x_t],
// additive attention with query h¹_t over v (N, K, rnn) (pv its projection,
// mask (N, K)), the language LSTM on [v̂_t, h¹_t]. It returns the new state
// and β_t (N, K).
func (l *layers) step(xt, fc, v, pv, mask *G.Node, s state) (state, *G.Node) {
	in1 := must(G.Concat(1, s.h2, fc, xt)) // (N, 2·rnn + E)
	h1, c1 := l.attLSTM.Step(in1, s.h1, s.c1)
	beta, ctx := l.att.ForwardProjected(v, pv, h1, mask) // (N, K), (N, rnn)
	in2 := must(G.Concat(1, ctx, h1))                    // (N, 2·rnn)
	h2, c2 := l.langLSTM.Step(in2, s.h2, s.c2)
	return state{h1, c1, h2, c2}, beta
}

// klRows returns per row n of alpha and beta (N, K) the KL divergence
// Σ_k α (log α − log β) with both clamped ≥ nn.KLClamp (N).
func klRows(alpha, beta *G.Node) *G.Node {
	a := nn.Clamp(alpha, nn.KLClamp)
	b := nn.Clamp(beta, nn.KLClamp)
	d := must(G.Sub(must(G.Log(a)), must(G.Log(b))))
	return must(G.Sum(must(G.HadamardProd(a, d)), 1)) // (N)
}
