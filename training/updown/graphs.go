package updown

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/groundcap/groundcap/training/nn"
)

// graphCacheSize is how many compiled graphs of each model are kept (batch
// shapes vary with the last batch of an epoch, adaptive box counts and
// caption lengths; each graph holds its activations).
const graphCacheSize = 8

// tfKey is the shape of a teacher-forced graph: nImg images padded to k
// regions, n captions, t steps; train adds dropout masks, grad the backward
// pass, kl the distillation term weighted by lambda in the cost.
type tfKey struct {
	nImg, n, k, t   int
	train, grad, kl bool
	lambda          float64
	outputs         bool // also copy out logp and betas (tests)
}

// tfNodes are the inputs and outputs of a teacher-forced graph.
type tfNodes struct {
	feats, fcIn, imgIdx, regMask *G.Node // (nImg·K, D), (nImg, D), (N) int, (N, K)
	tokens, target, w            *G.Node // (T·N) int inputs, (T·N) int targets, (T·N) weights
	attDrop, fcDrop              *G.Node // (nImg·K, rnn), (nImg, rnn); nil unless train
	wordDrop, outDrop            *G.Node // (T·N, E), (T·N, rnn); nil unless train
	alpha, klw                   *G.Node // (T·N, K), (T·N); nil unless kl
	xe, kl, cost                 *G.Node // scalars (kl nil unless kl)
	logp, betas                  *G.Node // (T·N, V+1), (T·N, K)
	xeOut, klOut                 *output // copies of xe and kl (klOut nil unless kl)
	logpOut, betasOut            *output // copies of logp and betas (nil unless key.outputs)
}

// buildTF builds the teacher-forced unrolled graph of TopDownModel on g:
// step t (0 ≤ t < T) of caption n reads token tokens[t·N+n] and its
// log-probabilities are row t·N+n of logp. The weighted NLL is
// xe = −Σ_r w[r]·logp[r, target[r]] and kl = Σ_r klw[r]·KL(alpha[r] ‖ betas[r]).
func buildTF(g *G.ExprGraph, l *layers, c Config, key tfKey, dt tensor.Dtype) *tfNodes {
	nImg, n, k, t := key.nImg, key.n, key.k, key.t
	rnn, e := c.RNNSize, c.InputEncoding
	in := func(name string, shape ...int) *G.Node { return nn.Input(g, dt, name, shape...) }
	ints := func(name string, size int) *G.Node {
		return G.NewTensor(g, tensor.Int, 1, G.WithShape(size), G.WithName(name))
	}
	x := &tfNodes{
		feats: in("feats", nImg*k, c.FeatDim), fcIn: in("fc_in", nImg, c.FeatDim),
		imgIdx: ints("img_idx", n), regMask: in("reg_mask", n, k),
		tokens: ints("tokens", t*n), target: ints("target", t*n), w: in("w", t*n),
	}
	if key.train {
		x.attDrop, x.fcDrop = in("att_drop", nImg*k, rnn), in("fc_drop", nImg, rnn)
		x.wordDrop, x.outDrop = in("word_drop", t*n, e), in("out_drop", t*n, rnn)
	}
	vI, pvI, fcI := l.prepare(x.feats, x.fcIn, x.attDrop, x.fcDrop, nImg, k)
	v, pv, fc := expand(vI, x.imgIdx), expand(pvI, x.imgIdx), expand(fcI, x.imgIdx) // (N,K,rnn), (N,K,A), (N,rnn)
	xs := dropout(must(G.Rectify(l.embed.Forward(x.tokens))), x.wordDrop)           // (T·N, E)
	// The T steps of l.step as one op (the decoder's step graph is its reference).
	hs, betas := nn.TopDownCore(l.attLSTM, l.langLSTM, l.att, xs, fc, v, pv, x.regMask, t, n)
	h := dropout(hs, x.outDrop)  // (T·N, rnn)
	logits := l.logit.Forward(h) // (T·N, V+1)
	x.xe = nn.WeightedNLL(logits, x.target, x.w)
	x.betas = betas // (T·N, K)
	if key.outputs {
		x.logp = nn.LogSoftmax(logits, 1) // (T·N, V+1)
	}
	x.cost = x.xe
	if key.kl {
		x.alpha, x.klw = in("alpha", t*n, k), in("klw", t*n)
		x.kl = must(G.Sum(must(G.HadamardProd(klRows(x.alpha, x.betas), x.klw))))
		if key.lambda != 0 {
			x.cost = must(G.Add(x.xe, must(G.Mul(x.kl, nn.Scalar(dt, key.lambda)))))
		}
		x.klOut = readOut(x.kl)
	}
	x.xeOut = readOut(x.xe)
	if key.outputs {
		x.logpOut, x.betasOut = readOut(x.logp), readOut(x.betas)
	}
	return x
}

// tfGraph is a compiled teacher-forced graph.
type tfGraph struct {
	*tfNodes
	vm    G.VM
	grads G.Nodes // the gradients of the parameters (parameter order); nil unless key.grad
}

func (tg *tfGraph) close() { tg.vm.Close() }

// gradients returns the parameters' gradients of the last run (valid until the next run).
func (tg *tfGraph) gradients() ([][]float32, error) {
	out := make([][]float32, len(tg.grads))
	for i, n := range tg.grads {
		v := n.Value()
		if v == nil {
			return nil, fmt.Errorf("updown: no gradient value for %s", n.Name())
		}
		d, ok := v.Data().([]float32)
		if !ok {
			return nil, fmt.Errorf("updown: gradient %s holds %T, want []float32", n.Name(), v.Data())
		}
		out[i] = d
	}
	return out, nil
}

func (m *Model) tfGraph(key tfKey) (*tfGraph, error) {
	if gr, ok := m.cache.get(key); ok {
		return gr.(*tfGraph), nil
	}
	g := G.NewGraph()
	l := newLayers(g, m.ps, m.cfg)
	x := buildTF(g, l, m.cfg, key, m.ps.Dtype)
	tg := &tfGraph{tfNodes: x}
	if key.grad {
		params, err := m.ps.Nodes(g)
		if err != nil {
			return nil, err
		}
		if tg.grads, err = G.Grad(x.cost, params...); err != nil {
			return nil, fmt.Errorf("updown: gradient of the training graph: %w", err)
		}
		// Only what the outputs and gradients need, and no dual values: the
		// gradients are read from their nodes (gorgonia would add each into
		// its parameter's dual value, a copy of every gradient).
		roots := append(G.Nodes{x.cost}, tg.grads...)
		for _, o := range []*output{x.xeOut, x.klOut, x.logpOut, x.betasOut} {
			if o != nil {
				roots = append(roots, o.n)
			}
		}
		tg.vm = nn.NewMachine(nn.Needed(g, roots...))
	} else {
		tg.vm = G.NewTapeMachine(g)
	}
	m.cache.put(key, tg)
	return tg, nil
}

// stepKey is the shape of a one-step decoding graph: n rows, k regions.
type stepKey struct {
	n, k  int
	train bool
}

// stepGraph is a compiled single decoding step.
type stepGraph struct {
	vm                   G.VM
	tok, v, pv, fc, mask *G.Node // (N) int, (N,K,rnn), (N,K,A), (N,rnn), (N,K)
	in                   state   // inputs, each (N, rnn)
	wordDrop, outDrop    *G.Node // (N,E), (N,rnn); nil unless train
	logp, beta           *G.Node // (N, V+1), (N, K)
	out                  state
	logpOut, betaOut     *output
	stateOut             [4]*output // h1, c1, h2, c2
}

func (sg *stepGraph) close() { sg.vm.Close() }

func (m *Model) stepGraph(key stepKey) (*stepGraph, error) {
	if gr, ok := m.cache.get(key); ok {
		return gr.(*stepGraph), nil
	}
	c, dt := m.cfg, m.ps.Dtype
	g := G.NewGraph()
	l := newLayers(g, m.ps, c)
	in := func(name string, shape ...int) *G.Node { return nn.Input(g, dt, name, shape...) }
	n, k, rnn := key.n, key.k, c.RNNSize
	sg := &stepGraph{
		tok: G.NewTensor(g, tensor.Int, 1, G.WithShape(n), G.WithName("tok")),
		v:   in("v", n, k, rnn), pv: in("pv", n, k, c.AttHid), fc: in("fc", n, rnn), mask: in("mask", n, k),
		in: state{in("h1", n, rnn), in("c1", n, rnn), in("h2", n, rnn), in("c2", n, rnn)},
	}
	if key.train {
		sg.wordDrop, sg.outDrop = in("word_drop", n, c.InputEncoding), in("out_drop", n, rnn)
	}
	xt := dropout(must(G.Rectify(l.embed.Forward(sg.tok))), sg.wordDrop) // (N, E)
	sg.out, sg.beta = l.step(xt, sg.fc, sg.v, sg.pv, sg.mask, sg.in)
	sg.logp = nn.LogSoftmax(l.logit.Forward(dropout(sg.out.h2, sg.outDrop)), 1) // (N, V+1)
	sg.logpOut, sg.betaOut = readOut(sg.logp), readOut(sg.beta)
	sg.stateOut = [4]*output{readOut(sg.out.h1), readOut(sg.out.c1), readOut(sg.out.h2), readOut(sg.out.c2)}
	sg.vm = G.NewTapeMachine(g)
	m.cache.put(key, sg)
	return sg, nil
}

// prepKey is the shape of a feature-preparation graph.
type prepKey struct {
	nImg, k int
	train   bool
}

// prepGraph embeds the regions and mean feature of a batch once.
type prepGraph struct {
	vm              G.VM
	feats, fcIn     *G.Node // (nImg·K, D), (nImg, D)
	attDrop, fcDrop *G.Node // nil unless train
	v, pv, fc       *G.Node // (nImg,K,rnn), (nImg,K,A), (nImg,rnn)
	vOut, pvOut     *output
	fcOut           *output
}

func (pg *prepGraph) close() { pg.vm.Close() }

func (m *Model) prepGraph(key prepKey) (*prepGraph, error) {
	if gr, ok := m.cache.get(key); ok {
		return gr.(*prepGraph), nil
	}
	c, dt := m.cfg, m.ps.Dtype
	g := G.NewGraph()
	l := newLayers(g, m.ps, c)
	in := func(name string, shape ...int) *G.Node { return nn.Input(g, dt, name, shape...) }
	pg := &prepGraph{feats: in("feats", key.nImg*key.k, c.FeatDim), fcIn: in("fc_in", key.nImg, c.FeatDim)}
	if key.train {
		pg.attDrop, pg.fcDrop = in("att_drop", key.nImg*key.k, c.RNNSize), in("fc_drop", key.nImg, c.RNNSize)
	}
	pg.v, pg.pv, pg.fc = l.prepare(pg.feats, pg.fcIn, pg.attDrop, pg.fcDrop, key.nImg, key.k)
	pg.vOut, pg.pvOut, pg.fcOut = readOut(pg.v), readOut(pg.pv), readOut(pg.fc)
	pg.vm = G.NewTapeMachine(g)
	m.cache.put(key, pg)
	return pg, nil
}

// graphCache keeps the most recently used compiled graphs.
type graphCache struct {
	cap   int
	order []any
	m     map[any]interface{ close() }
}

func newGraphCache(cap int) *graphCache {
	return &graphCache{cap: cap, m: map[any]interface{ close() }{}}
}

func (c *graphCache) get(key any) (interface{ close() }, bool) {
	v, ok := c.m[key]
	if ok {
		c.touch(key)
	}
	return v, ok
}

func (c *graphCache) touch(key any) {
	for i, k := range c.order {
		if k == key {
			c.order = append(append(c.order[:i:i], c.order[i+1:]...), key)
			return
		}
	}
}

func (c *graphCache) put(key any, v interface{ close() }) {
	if len(c.order) >= c.cap {
		old := c.order[0]
		c.order = c.order[1:]
		c.m[old].close()
		delete(c.m, old)
	}
	c.m[key] = v
	c.order = append(c.order, key)
}

// run executes vm after binding inputs (node → value pairs).
func run(vm G.VM, binds ...bind) error {
	vm.Reset()
	for _, b := range binds {
		if b.n == nil {
			continue
		}
		if err := G.Let(b.n, b.v); err != nil {
			return fmt.Errorf("updown: binding %s: %w", b.n.Name(), err)
		}
	}
	if err := vm.RunAll(); err != nil {
		return fmt.Errorf("updown: running graph: %w", err)
	}
	return nil
}

// bind pairs an input node with its value.
type bind struct {
	n *G.Node
	v G.Value
}

func f32(data []float32, shape ...int) *tensor.Dense {
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data))
}

func intsT(data []int) *tensor.Dense {
	return tensor.New(tensor.WithShape(len(data)), tensor.WithBacking(data))
}

// output is a copy of a node's value taken when the node is computed
// (gorgonia.Read). Node values cannot be read after a run: the tape machine
// reuses a node's memory for later nodes once its last consumer has run.
type output struct {
	v G.Value
	n *G.Node // the read node
}

// readOut adds a read of n to n's graph (before the graph is compiled).
func readOut(n *G.Node) *output {
	o := &output{}
	o.n = G.Read(n, &o.v)
	return o
}

// f32 returns the copied data (valid until the graph runs again).
func (o *output) f32() []float32 { return o.v.Data().([]float32) }

// scalar returns a copied scalar.
func (o *output) scalar() float64 {
	switch d := o.v.Data().(type) {
	case float32:
		return float64(d)
	case float64:
		return d
	case []float32:
		return float64(d[0])
	case []float64:
		return d[0]
	}
	panic(fmt.Sprintf("updown: scalar of %T", o.v.Data()))
}
