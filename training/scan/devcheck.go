package scan

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	gblas "gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/groundcap/groundcap/training/gpu"
	"github.com/groundcap/groundcap/training/nn"
	"github.com/groundcap/groundcap/training/optim"
)

// CheckLine is one line of CheckDevice's report: a kernel (or a product, or the training step)
// run on a device against the Go code it replaces.
type CheckLine struct {
	// Name is the kernel's name, "Gemm", "GemmStrided" or "step".
	Name string
	// Ref names what it was compared with.
	Ref string
	// Rel is the largest max-norm relative error (max|got − want| / max|want|) of the outputs
	// compared; Limit is its bound. For the step, Rel is the worst ratio of an error to its
	// limit and Limit is 1.
	Rel, Limit float64
	// Detail gives more figures (the step's).
	Detail string
	// Err is a failure to run the comparison.
	Err error
}

// OK reports whether the line passed.
func (l CheckLine) OK() bool { return l.Err == nil && l.Rel <= l.Limit }

// String formats the line for the terminal.
func (l CheckLine) String() string {
	status := "ok"
	if !l.OK() {
		status = "FAILED"
	}
	s := fmt.Sprintf("%-16s %-44s %8.2g  (limit %g)  %s", l.Name, l.Ref, l.Rel, l.Limit, status)
	if l.Detail != "" {
		s += ": " + l.Detail
	}
	if l.Err != nil {
		s += ": " + l.Err.Error()
	}
	return s
}

// CheckSizes size the kernel checks: I images of K regions of D features, J = I captions of
// L words (T slots), embedding E, word embedding W, vocabulary V.
type CheckSizes struct {
	I, K, T, L, E, W, D, V int
}

// DefaultCheckSizes are small sizes that still give every kernel grids of several blocks,
// rows longer than a reducing block (E 300 > 256) and a caption chunk of several partial sums.
func DefaultCheckSizes() CheckSizes {
	return CheckSizes{I: 6, K: 5, T: 4, L: 7, E: 300, W: 40, D: 70, V: 50}
}

// Limits of CheckDevice. Linear kernels differ from Go by summation order only; kernels with
// exp, log, tanh or divisions by norms also by their math library (the GPU's expf is within 2
// ulp); the step's gradients pass through λ-softmaxes and a recurrence, and its weights after
// three Adam steps differ most where tiny gradients of opposite signs met Adam's first updates.
const (
	linearLimit    = 1e-5
	nonlinearLimit = 1e-4
	stepLossLimit  = 1e-4
	stepGradLimit  = 1e-3
	stepParamLimit = 1e-2
)

// CheckDevice runs every kernel of training/gpu on d against the Go code it replaces (the nn,
// optim and scan ops, gonum for the products) at sizes s, then three POS-SCAN training steps
// on d against the gorgonia step. It returns one line per kernel (by name), one per product
// kind and one for the step; an error means the checks could not run at all.
func CheckDevice(ctx context.Context, d gpu.Device, s CheckSizes) ([]CheckLine, error) {
	lines, err := CheckKernels(ctx, d, s)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return append(lines, CheckStep(d, s)), nil
}

// CheckKernels is CheckDevice without the step: one line per kernel and per product kind.
func CheckKernels(ctx context.Context, d gpu.Device, s CheckSizes) ([]CheckLine, error) {
	src, err := gpu.Sources()
	if err != nil {
		return nil, err
	}
	c := &checker{d: d, o: gpu.NewOps(d), r: rand.New(rand.NewPCG(11, 13)), s: s, lines: map[string]*CheckLine{}}
	defer c.release()
	for _, check := range []func(){c.elementwise, c.rowsAndSums, c.gathers, c.l2norm, c.gru, c.attention, c.cosine,
		c.scores, c.hinge, c.optimiser, c.products} {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		check()
	}
	var out []CheckLine
	for _, k := range src.Names() {
		l, ok := c.lines[k]
		if !ok {
			l = &CheckLine{Name: k, Err: errors.New("no check covers this kernel")}
		}
		out = append(out, *l)
	}
	for _, k := range []string{"Gemm", "GemmStrided"} {
		out = append(out, *c.lines[k])
	}
	return out, nil
}

// checker runs the kernel checks on one device and collects their lines.
type checker struct {
	d     gpu.Device
	o     *gpu.Ops
	r     *rand.Rand
	s     CheckSizes
	lines map[string]*CheckLine
	bufs  []gpu.Buf
}

// release frees the checks' buffers.
func (c *checker) release() {
	for _, b := range c.bufs {
		_ = c.d.Free(b) // check buffers; a failure here changes no result
	}
	_ = c.o.WS.Free()
}

// record enters the outcome of one comparison for each of kernels, keeping a kernel's worst.
func (c *checker) record(ref string, rel, limit float64, err error, kernels ...string) {
	if err == nil {
		err = c.o.Err()
	}
	if math.IsNaN(rel) {
		rel = math.Inf(1)
	}
	for _, k := range kernels {
		l, ok := c.lines[k]
		if !ok {
			c.lines[k] = &CheckLine{Name: k, Ref: ref, Rel: rel, Limit: limit, Err: err}
			continue
		}
		if l.Err == nil && (err != nil || rel/limit > l.Rel/l.Limit) {
			*l = CheckLine{Name: k, Ref: ref, Rel: rel, Limit: limit, Err: err}
		}
	}
	c.o = &gpu.Ops{D: c.d, WS: c.o.WS} // a failed check does not fail the next
}

// rnd returns n values uniform in [lo, hi).
func (c *checker) rnd(n int, lo, hi float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(lo + (hi-lo)*c.r.Float64())
	}
	return x
}

// mask returns n values of 1 with probability p, else 0, with index 0 of every group of size
// group set (each group keeps one valid entry).
func (c *checker) mask(n, group int, p float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		if c.r.Float64() < p || i%group == 0 {
			x[i] = 1
		}
	}
	return x
}

// up copies x to a new device buffer.
func (c *checker) up(x []float32) gpu.Buf {
	b, err := c.d.Alloc(len(x))
	if err != nil {
		c.o.Fail(err)
		return gpu.Buf{}
	}
	c.bufs = append(c.bufs, b)
	c.o.Fail(c.d.Write(b, x))
	return b
}

// upInts copies x to a new device buffer as int32 words.
func (c *checker) upInts(x []int) gpu.Buf {
	w := make([]float32, len(x))
	for i, v := range x {
		w[i] = math.Float32frombits(uint32(int32(v)))
	}
	return c.up(w)
}

// buf allocates n words (filled with NaN by the emulation, so that what a kernel leaves
// unwritten shows).
func (c *checker) buf(n int) gpu.Buf {
	b, err := c.d.Alloc(n)
	if err != nil {
		c.o.Fail(err)
		return gpu.Buf{}
	}
	c.bufs = append(c.bufs, b)
	return b
}

// down reads b.
func (c *checker) down(b gpu.Buf) []float32 {
	x := make([]float32, b.N)
	if c.o.Err() == nil {
		c.o.Fail(c.d.Read(x, b))
	}
	return x
}

// rel is the max-norm relative error of got against want, over pairs of slices.
func rel(pairs ...[]float32) float64 {
	var d, m float64
	for i := 0; i+1 < len(pairs); i += 2 {
		got, want := pairs[i], pairs[i+1]
		if len(got) != len(want) {
			return math.Inf(1)
		}
		for j := range want {
			d = math.Max(d, math.Abs(float64(got[j])-float64(want[j])))
			if math.IsNaN(float64(got[j])) != math.IsNaN(float64(want[j])) {
				return math.Inf(1)
			}
			m = math.Max(m, math.Abs(float64(want[j])))
		}
	}
	if m == 0 {
		return d
	}
	return d / m
}

// refIn is one input of a reference graph: float32 values, or ints (a tensor.Int vector).
type refIn struct {
	shape []int
	f     []float32
	ints  []int
}

// refRun builds an op with build on fresh nodes of the inputs and returns its output and the
// gradients, with respect to the inputs wrt, of Σ out⊙w (of out itself, a scalar, when w is
// nil), computed by gorgonia.
func refRun(ins []refIn, build func(n []*G.Node) *G.Node, w []float32, wrt ...int) (out []float32, grads [][]float32, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("scan: reference graph: %v", r)
		}
	}()
	g := G.NewGraph()
	nodes := make([]*G.Node, len(ins))
	for i, in := range ins {
		name := fmt.Sprintf("in%d", i)
		if in.ints != nil {
			v := tensor.New(tensor.WithShape(in.shape...), tensor.WithBacking(append([]int(nil), in.ints...)))
			nodes[i] = G.NewTensor(g, tensor.Int, len(in.shape), G.WithShape(in.shape...), G.WithName(name), G.WithValue(v))
			continue
		}
		v := tensor.New(tensor.WithShape(in.shape...), tensor.WithBacking(append([]float32(nil), in.f...)))
		nodes[i] = G.NewTensor(g, tensor.Float32, len(in.shape), G.WithShape(in.shape...), G.WithName(name), G.WithValue(v))
	}
	o := build(nodes)
	read := o
	if o.Dims() > 0 { // outputs are read through copies (see Model.build); a scalar needs none
		read = nn.Copy(o)
	}
	cost := o
	if w != nil {
		wv := tensor.New(tensor.WithShape(o.Shape().Clone()...), tensor.WithBacking(append([]float32(nil), w...)))
		wn := G.NewTensor(g, tensor.Float32, o.Dims(), G.WithShape(o.Shape().Clone()...), G.WithName("w"), G.WithValue(wv))
		cost = G.Must(G.Sum(G.Must(G.HadamardProd(o, wn))))
	}
	var gs G.Nodes
	if len(wrt) > 0 {
		wn := make(G.Nodes, len(wrt))
		for i, k := range wrt {
			wn[i] = nodes[k]
		}
		if gs, err = G.Grad(cost, wn...); err != nil {
			return nil, nil, err
		}
	}
	vm := nn.NewMachine(nn.Needed(g, append(G.Nodes{read}, gs...)...))
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		return nil, nil, err
	}
	out = values(read.Value())
	for _, gn := range gs {
		grads = append(grads, values(gn.Value()))
	}
	return out, grads, nil
}

// values copies a float32 value (tensor or scalar).
func values(v G.Value) []float32 {
	switch x := v.(type) {
	case *G.F32:
		return []float32{float32(*x)}
	}
	return append([]float32(nil), v.Data().([]float32)...)
}

// elementwise checks the kernels that map values one to one against Go loops.
func (c *checker) elementwise() {
	o, n := c.o, 1000+c.r.IntN(100)
	x, y := c.rnd(n, -1, 1), c.rnd(n, -1, 1)
	xb, yb, out := c.up(x), c.up(y), c.buf(n)
	want := make([]float32, n)
	o.Fill(out, 2.5)
	for i := range want {
		want[i] = 2.5
	}
	c.record("Go loop", rel(c.down(out), want), 0, nil, "fill")
	o.Scale(out, xb, -1.5, n)
	for i := range want {
		want[i] = -1.5 * x[i]
	}
	c.record("Go loop", rel(c.down(out), want), 0, nil, "scale")
	o.Mean2(out, xb, yb, n)
	for i := range want {
		want[i] = (x[i] + y[i]) * 0.5
	}
	c.record("nn.BiGRU's mean of the directions", rel(c.down(out), want), 0, nil, "mean2")
	rows, cols := 20, n/20
	f := c.rnd(rows, -2, 2)
	o.ScaleRows(out, xb, c.up(f), rows, cols)
	for i := 0; i < rows*cols; i++ {
		want[i] = f[i/cols] * x[i]
	}
	c.record("Go loop", rel(c.down(out)[:rows*cols], want[:rows*cols]), 0, nil, "scale_rows")
	// pack3 and unpack3: three (rows, h) matrices side by side and back.
	h := 17
	ms := [3][]float32{c.rnd(rows*h, -1, 1), c.rnd(rows*h, -1, 1), c.rnd(rows*h, -1, 1)}
	mb := [3]gpu.Buf{c.up(ms[0]), c.up(ms[1]), c.up(ms[2])}
	packed := c.buf(rows * 3 * h)
	o.Pack3(packed, mb[0].Ptr, mb[1].Ptr, mb[2].Ptr, rows, h)
	wp := make([]float32, rows*3*h)
	for g := 0; g < 3; g++ {
		for i := 0; i < rows; i++ {
			copy(wp[i*3*h+g*h:i*3*h+(g+1)*h], ms[g][i*h:(i+1)*h])
		}
	}
	c.record("nn's packGates", rel(c.down(packed), wp), 0, nil, "pack3")
	back := [3]gpu.Buf{c.buf(rows * h), c.buf(rows * h), c.buf(rows * h)}
	o.Unpack3(back[0].Ptr, back[1].Ptr, back[2].Ptr, packed, rows, h)
	c.record("Go loop (the GRU's weight gradients)", rel(c.down(back[0]), ms[0], c.down(back[1]), ms[1], c.down(back[2]), ms[2]), 0, nil, "unpack3")
	// row_norms: √(Σx² + tiny) per row, as the cosine's |e|.
	cols = c.s.E
	rows = n / cols
	nb := c.buf(rows)
	o.RowNorms(nb, xb, rows, cols)
	wn := make([]float32, rows)
	for r := range wn {
		var q float64
		for _, v := range x[r*cols : (r+1)*cols] {
			q += float64(v) * float64(v)
		}
		wn[r] = float32(math.Sqrt(q + nn.SqrtTiny))
	}
	c.record("nn.CosineAttended's |e| (float64 sum)", rel(c.down(nb), wn), linearLimit, nil, "row_norms")
	// pick_pairs: caption j's attention against its image and its score.
	I, K, T, J := 3, 4, 2, 5
	alpha, S := c.rnd(I*K*T*J, 0, 1), c.rnd(I*J, -1, 1)
	img := []int{2, 0, 0, 1, 2}
	pa, ps := c.buf(J*T*K), c.buf(J)
	o.Launch("pick_pairs", gpu.Blocks(J*T*K, 256), 256, pa, ps, c.up(alpha), c.up(S), c.upInts(img), K, T, J)
	wa, ws := make([]float32, J*T*K), make([]float32, J)
	for j, i := range img {
		ws[j] = S[i*J+j]
		for t := 0; t < T; t++ {
			for k := 0; k < K; k++ {
				wa[(j*T+t)*K+k] = alpha[((i*K+k)*T+t)*J+j]
			}
		}
	}
	c.record("Model.Align's picking (Go loop)", rel(c.down(pa), wa, c.down(ps), ws), 0, nil, "pick_pairs")
}

// rowsAndSums checks add_rows against nn.AddRows and the column sums against its bias
// gradient, plainly and split in three (a GRU's biases).
func (c *checker) rowsAndSums() {
	o := c.o
	rows, cols := 150, 3*31 // more rows than one chunk of the column sums
	x, b, w := c.rnd(rows*cols, -1, 1), c.rnd(cols, -1, 1), c.rnd(rows*cols, -1, 1)
	out, grads, err := refRun([]refIn{{shape: []int{rows, cols}, f: x}, {shape: []int{cols}, f: b}},
		func(n []*G.Node) *G.Node { return nn.AddRows(n[0], n[1]) }, w, 1)
	xb := c.up(x)
	o.AddRows(xb, c.up(b), rows, cols)
	c.record("nn.AddRows", rel(c.down(xb), out), linearLimit, err, "add_rows")
	if err != nil {
		c.record("nn.AddRows (bias gradient)", 0, linearLimit, err, "col_sums_part", "col_sums_fin")
		return
	}
	wb := c.up(w)
	sums := c.buf(cols)
	o.ColSums(sums.Ptr, wb, rows, cols, cols, 0)
	h, stride := cols/3, cols/3+5
	split := c.buf(3 * stride)
	o.ColSums(split.Ptr, wb, rows, cols, h, stride)
	got := c.down(split)
	var parts []float32
	for g := 0; g < 3; g++ {
		parts = append(parts, got[g*stride:g*stride+h]...)
	}
	c.record("nn.AddRows (bias gradient)", rel(c.down(sums), grads[0], parts, grads[0]), linearLimit, nil, "col_sums_part", "col_sums_fin")
}

// gathers checks gather_rows against nn.Embedding (with padding) and nn.Gather, and
// embed_grad against the embedding's gradient.
func (c *checker) gathers() {
	o, s := c.o, c.s
	pad, n := 3, 4*s.L
	ids := make([]int, n)
	for i := range ids {
		ids[i] = c.r.IntN(s.V) // repeats and the padding id occur
	}
	ids[1], ids[2] = pad, ids[0]
	table := c.rnd(s.V*s.W, -1, 1)
	w := c.rnd(n*s.W, -1, 1)
	out, grads, err := refRun([]refIn{{shape: []int{s.V, s.W}, f: table}, {shape: []int{n}, ints: ids}},
		func(nd []*G.Node) *G.Node { return (&nn.Embedding{W: nd[0], Pad: pad}).Forward(nd[1]) }, w, 0)
	if err != nil {
		c.record("nn.Embedding", 0, 0, err, "gather_rows", "embed_grad")
		return
	}
	tb, idb := c.up(table), c.upInts(ids)
	y := c.buf(n * s.W)
	o.GatherRows(y, tb, idb, n, s.W, pad)
	fwd := c.down(y)
	// nn.Gather: rows picked twice and slots, no padding.
	slots := []int{5, 0, 5, 2}
	gout, _, gerr := refRun([]refIn{{shape: []int{s.V, s.W}, f: table}, {shape: []int{len(slots)}, ints: slots}},
		func(nd []*G.Node) *G.Node { return nn.Gather(nd[0], nd[1]) }, nil)
	gy := c.buf(len(slots) * s.W)
	o.GatherRows(gy, tb, c.upInts(slots), len(slots), s.W, -1)
	c.record("nn.Embedding and nn.Gather", rel(fwd, out, c.down(gy), gout), 0, gerr, "gather_rows")
	uniq, starts, order := groupRows(ids, pad)
	dw := c.buf(s.V * s.W)
	o.Zero(dw)
	o.EmbedGrad(dw, c.up(w), c.upInts(order), c.upInts(starts), c.upInts(uniq), len(uniq), s.W)
	c.record("nn.Embedding (gradient)", rel(c.down(dw), grads[0]), linearLimit, nil, "embed_grad")
}

// l2norm checks l2norm_rows and its gradient against nn.L2Norm, with an all-zero row (a
// padded word).
func (c *checker) l2norm() {
	o, s := c.o, c.s
	rows := 9
	x, w := c.rnd(rows*s.E, -1, 1), c.rnd(rows*s.E, -1, 1)
	clear(x[2*s.E : 3*s.E])
	out, grads, err := refRun([]refIn{{shape: []int{rows, s.E}, f: x}}, func(n []*G.Node) *G.Node { return nn.L2Norm(n[0], 1) }, w, 0)
	if err != nil {
		c.record("nn.L2Norm", 0, 0, err, "l2norm_rows", "l2norm_rows_grad")
		return
	}
	xb, y, dx := c.up(x), c.buf(rows*s.E), c.buf(rows*s.E)
	o.L2NormRows(y, xb, rows, s.E)
	o.L2NormRowsGrad(dx, xb, c.up(w), rows, s.E)
	c.record("nn.L2Norm", rel(c.down(y), out), linearLimit, nil, "l2norm_rows")
	c.record("nn.L2Norm (gradient)", rel(c.down(dx), grads[0]), nonlinearLimit, nil, "l2norm_rows_grad")
}

// gru checks the GRU step kernels, through the device's BiGRU, against nn.BiGRU: the output,
// and the gradients of the input and of all 24 weights and biases.
func (c *checker) gru() {
	s := c.s
	J, L := s.I, s.L
	ps := nn.NewParamSet(tensor.Float32, rand.New(rand.NewPCG(5, 5)))
	x, w := c.rnd(L*J*s.W, -1, 1), c.rnd(L*J*s.E, -1, 1)
	mask := make([]float32, L*J)
	for j := 0; j < J; j++ {
		n := L - j%3 // captions of three lengths: the last steps of some are padding
		for t := 0; t < n; t++ {
			mask[t*J+j] = 1
		}
	}
	var bi *nn.BiGRU
	out, grads, err := refRun([]refIn{{shape: []int{L * J, s.W}, f: x}, {shape: []int{L, J}, f: mask}},
		func(n []*G.Node) *G.Node {
			bi = nn.NewBiGRU(n[0].Graph(), ps, "txt.gru", s.W, s.E)
			return bi.Forward(n[0], n[1], L, J)
		}, w, 0)
	kernels := []string{"gru_fwd_step", "gru_bwd_step"}
	if err != nil {
		c.record("nn.BiGRU", 0, 0, err, kernels...)
		return
	}
	// The parameters' gradients: a second graph on the same ParamSet, differentiated with
	// respect to the weights.
	names := ps.Names()
	pg, err := paramGrads(ps, x, mask, w, L, J, s.W, s.E)
	if err != nil {
		c.record("nn.BiGRU", 0, 0, err, kernels...)
		return
	}
	params := make([][]float32, len(names))
	for i, n := range names {
		params[i] = ps.Tensor(n).Data().([]float32)
	}
	ds, err := newDevState(c.d, names, params, nil, nil)
	if err != nil {
		c.record("nn.BiGRU", 0, 0, err, kernels...)
		return
	}
	defer func() { _ = ds.free() }() // check state
	o := ds.o
	xb, mb := c.up(x), c.up(mask)
	var acts [2]gruActs
	for dir := range acts {
		acts[dir] = ds.gruForward(dir, xb, mb, L, J, s.W, s.E)
	}
	h := c.buf(L * J * s.E)
	o.Mean2(h, acts[0].hs, acts[1].hs, L*J*s.E)
	dH, dx := c.buf(L*J*s.E), c.buf(L*J*s.W)
	o.Scale(dH, c.up(w), 0.5, L*J*s.E)
	for dir := range acts {
		ds.gruBackward(acts[dir], xb, dH, dx, mb, dir == 1, L, J, s.W, s.E)
	}
	c.o.Fail(o.Err())
	fwd := c.down(h)
	c.record("nn.BiGRU", rel(fwd, out), nonlinearLimit, nil, "gru_fwd_step")
	got, err := ds.gradients()
	if err != nil {
		c.record("nn.BiGRU (gradients)", 0, 0, err, "gru_bwd_step")
		return
	}
	pairs := [][]float32{c.down(dx), grads[0]}
	for i := range names {
		pairs = append(pairs, got[i], pg[i])
	}
	// One max-norm over all the gradients would hide small tensors; take the worst tensor.
	worst := 0.0
	for i := 0; i < len(pairs); i += 2 {
		worst = math.Max(worst, rel(pairs[i], pairs[i+1]))
	}
	c.record("nn.BiGRU (gradients of x and the 24 weights)", worst, nonlinearLimit, nil, "gru_bwd_step")
}

// paramGrads returns the gradients of Σ BiGRU(x)⊙w with respect to the weights of ps (the
// BiGRU named txt.gru), in ps's order.
func paramGrads(ps *nn.ParamSet, x, mask, w []float32, L, J, W, E int) (grads [][]float32, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("scan: reference graph: %v", r)
		}
	}()
	g := G.NewGraph()
	xn := nn.Input(g, tensor.Float32, "x", L*J, W)
	mn := nn.Input(g, tensor.Float32, "mask", L, J)
	wn := nn.Input(g, tensor.Float32, "w", L*J, E)
	for _, kv := range []struct {
		n *G.Node
		v []float32
	}{{xn, x}, {mn, mask}, {wn, w}} {
		if err := G.Let(kv.n, tensor.New(tensor.WithShape(kv.n.Shape().Clone()...), tensor.WithBacking(append([]float32(nil), kv.v...)))); err != nil {
			return nil, err
		}
	}
	out := nn.NewBiGRU(g, ps, "txt.gru", W, E).Forward(xn, mn, L, J)
	cost := G.Must(G.Sum(G.Must(G.HadamardProd(out, wn))))
	params, err := ps.Nodes(g)
	if err != nil {
		return nil, err
	}
	gs, err := G.Grad(cost, params...)
	if err != nil {
		return nil, err
	}
	vm := nn.NewMachine(nn.Needed(g, gs...))
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		return nil, err
	}
	for _, gn := range gs {
		grads = append(grads, values(gn.Value()))
	}
	return grads, nil
}

// attention checks the attention weights' kernels against nn.AttentionWeights: α and the
// gradient of the scores.
func (c *checker) attention() {
	o, s := c.o, c.s
	I, K, T, J := s.I, s.K, s.T, s.I
	n := I * K * T * J
	sc, wm, rm, w := c.rnd(n, -1, 1), c.mask(T*J, T*J, 0.7), c.mask(I*K, K, 0.7), c.rnd(n, -1, 1)
	lam := 9.0
	out, grads, err := refRun([]refIn{{shape: []int{I, K, T, J}, f: sc}, {shape: []int{T, J}, f: wm}, {shape: []int{I, K}, f: rm}},
		func(nd []*G.Node) *G.Node { return nn.AttentionWeights(nd[0], nd[1], nd[2], lam) }, w, 0)
	if err != nil {
		c.record("nn.AttentionWeights", 0, 0, err, "attn_norms", "attn_softmax", "attn_dot", "attn_grad")
		return
	}
	sb, wmb, rmb, wb := c.up(sc), c.up(wm), c.up(rm), c.up(w)
	nrm, sq, alpha := c.buf(I*K*J), c.buf(I*K*J), c.buf(n)
	o.Launch("attn_norms", gpu.Blocks(I*K*J, 256), 256, nrm, sq, sb, wmb, I, K, T, J)
	o.Launch("attn_softmax", gpu.Blocks(I*T*J, 256), 256, alpha, sb, nrm, rmb, float32(lam), I, K, T, J)
	c.record("nn.AttentionWeights", rel(c.down(alpha), out), nonlinearLimit, nil, "attn_norms", "attn_softmax")
	dot, ds := c.buf(I*T*J), c.buf(n)
	o.Zero(ds)
	o.Launch("attn_dot", gpu.Blocks(I*T*J, 256), 256, dot, alpha, wb, I, K, T, J)
	o.Launch("attn_grad", gpu.Blocks(I*K*J, 256), 256, ds, sb, wmb, alpha, wb, dot, nrm, sq, float32(lam), I, K, T, J)
	c.record("nn.AttentionWeights (gradient)", rel(c.down(ds), grads[0]), nonlinearLimit, nil, "attn_dot", "attn_grad")
}

// cosine checks the cosine's kernels (with the batched Gram products) against
// nn.CosineAttended: R and the gradients of α, s, v and e.
func (c *checker) cosine() {
	o, s := c.o, c.s
	I, K, T, J, E := s.I, s.K, s.T, s.I, s.E
	TJ := T * J
	alpha, sc := c.rnd(I*K*TJ, 0, 1), c.rnd(I*K*TJ, -1, 1)
	v, e, w := c.rnd(I*K*E, -1, 1), c.rnd(TJ*E, -1, 1), c.rnd(I*TJ, -1, 1)
	out, grads, err := refRun([]refIn{{shape: []int{I, K, T, J}, f: alpha}, {shape: []int{I, K, T, J}, f: sc},
		{shape: []int{I * K, E}, f: v}, {shape: []int{TJ, E}, f: e}},
		func(nd []*G.Node) *G.Node { return nn.CosineAttended(nd[0], nd[1], nd[2], nd[3], cosEps) }, w, 0, 1, 2, 3)
	if err != nil {
		c.record("nn.CosineAttended", 0, 0, err, "cos_fwd", "cos_bwd_a", "cos_bwd_b", "cos_bwd_w1")
		return
	}
	ab, sb, vb, eb := c.up(alpha), c.up(sc), c.up(v), c.up(e)
	w1, gram, ga := c.buf(TJ), c.buf(I*K*K), c.buf(I*K*TJ)
	r, w12, aa := c.buf(I*TJ), c.buf(I*TJ), c.buf(I*TJ)
	o.RowNorms(w1, eb, TJ, E)
	o.GemmStrided(false, true, K, K, E, 1, vb.Ptr, E, K*E, vb.Ptr, E, K*E, 0, gram.Ptr, K, K*K, I)
	o.GemmStrided(false, false, K, TJ, K, 1, gram.Ptr, K, K*K, ab.Ptr, TJ, K*TJ, 0, ga.Ptr, TJ, K*TJ, I)
	o.Launch("cos_fwd", gpu.Blocks(I*TJ, 256), 256, r, w12, aa, ab, sb, ga, w1, float32(cosEps), I, K, TJ)
	c.record("nn.CosineAttended", rel(c.down(r), out), nonlinearLimit, nil, "cos_fwd")
	dw12, daa, dw1img := c.buf(I*TJ), c.buf(I*TJ), c.buf(I*TJ)
	o.Launch("cos_bwd_a", gpu.Blocks(I*TJ, 256), 256, dw12, daa, dw1img, c.up(w), w12, aa, w1, float32(cosEps), I, TJ)
	dAlpha, ds, scaled := c.buf(I*K*TJ), c.buf(I*K*TJ), c.buf(I*K*TJ)
	o.Launch("cos_bwd_b", gpu.Blocks(I*K*TJ, 256), 256, dAlpha, ds, scaled, ab, sb, ga, dw12, daa, I, K, TJ)
	dG, dv, f, de := c.buf(I*K*K), c.buf(I*K*E), c.buf(TJ), c.buf(TJ*E)
	o.GemmStrided(false, true, K, K, TJ, 1, scaled.Ptr, TJ, K*TJ, ab.Ptr, TJ, K*TJ, 0, dG.Ptr, K, K*K, I)
	o.GemmStrided(false, false, K, E, K, 2, dG.Ptr, K, K*K, vb.Ptr, E, K*E, 0, dv.Ptr, E, K*E, I)
	o.Launch("cos_bwd_w1", gpu.Blocks(TJ, 256), 256, f, dw1img, w1, I, TJ)
	o.ScaleRows(de, eb, f, TJ, E)
	gotDA, gotDS, gotDV, gotDE := c.down(dAlpha), c.down(ds), c.down(dv), c.down(de)
	c.record("nn.CosineAttended (gradients of α, s, v)", math.Max(rel(gotDA, grads[0], gotDS, grads[1]), rel(gotDV, grads[2])), nonlinearLimit, nil, "cos_bwd_a", "cos_bwd_b")
	c.record("nn.CosineAttended (gradient of e)", rel(gotDE, grads[3]), nonlinearLimit, nil, "cos_bwd_w1")
}

// scores checks the LSE and average scores and their gradients against ScoreLSE and
// ScoreAVG.
func (c *checker) scores() {
	o, s := c.o, c.s
	I, T, J := s.I, s.T, s.I
	r, wm, w := c.rnd(I*T*J, -1, 1), c.mask(T*J, T*J, 0.6), c.rnd(I*J, -1, 1)
	for j := 0; j < J; j++ { // every caption has a valid slot
		wm[j] = 1
	}
	rb, wmb, wb := c.up(r), c.up(wm), c.up(w)
	ins := []refIn{{shape: []int{I, T, J}, f: r}, {shape: []int{T, J}, f: wm}}
	lam := 6.0
	out, grads, err := refRun(ins, func(nd []*G.Node) *G.Node { return ScoreLSE(nd[0], nd[1], lam) }, w, 0)
	S, dR := c.buf(I*J), c.buf(I*T*J)
	if err == nil {
		o.Launch("score_lse", gpu.Blocks(I*J, 256), 256, S, rb, wmb, float32(lam), float32(1/lam), I, T, J)
		o.Launch("score_lse_grad", gpu.Blocks(I*J, 256), 256, dR, wb, rb, wmb, float32(lam), I, T, J)
		c.record("scan.ScoreLSE", rel(c.down(S), out), nonlinearLimit, nil, "score_lse")
		c.record("scan.ScoreLSE (gradient)", rel(c.down(dR), grads[0]), nonlinearLimit, nil, "score_lse_grad")
	} else {
		c.record("scan.ScoreLSE", 0, 0, err, "score_lse", "score_lse_grad")
	}
	out, grads, err = refRun(ins, func(nd []*G.Node) *G.Node { return ScoreAVG(nd[0], nd[1]) }, w, 0)
	if err != nil {
		c.record("scan.ScoreAVG", 0, 0, err, "score_avg", "score_avg_grad")
		return
	}
	o.Launch("score_avg", gpu.Blocks(I*J, 256), 256, S, rb, wmb, I, T, J)
	o.Launch("score_avg_grad", gpu.Blocks(I*J, 256), 256, dR, wb, wmb, I, T, J)
	c.record("scan.ScoreAVG", rel(c.down(S), out), linearLimit, nil, "score_avg")
	c.record("scan.ScoreAVG (gradient)", rel(c.down(dR), grads[0]), linearLimit, nil, "score_avg_grad")
}

// hinge checks the triplet loss and its gradient against nn.HingeTriplet, with the hardest
// negatives and with all of them.
func (c *checker) hinge() {
	B := 2 * c.s.I
	S := c.rnd(B*B, -0.3, 0.3)
	S[1] = S[0] + 0.1 // a tie for row 0's hardest negative
	S[2] = S[1]
	for _, maxv := range []bool{true, false} {
		o := c.o
		out, grads, err := refRun([]refIn{{shape: []int{B, B}, f: S}},
			func(nd []*G.Node) *G.Node { return nn.HingeTriplet(nd[0], 0.2, maxv) }, nil, 0)
		if err != nil {
			c.record("nn.HingeTriplet", 0, 0, err, "hinge_rows", "hinge_loss", "hinge_grad")
			return
		}
		sb := c.up(S)
		rowv, colv, rowc, colc, loss, dS := c.buf(B), c.buf(B), c.buf(B), c.buf(B), c.buf(1), c.buf(B*B)
		o.Launch("hinge_rows", gpu.Blocks(B, 256), 256, rowv, colv, rowc, colc, sb, float32(0.2), b2i(maxv), B)
		o.Launch("hinge_loss", gpu.Grid{X: 1}, 32, loss, rowv, colv, B)
		o.Launch("hinge_grad", gpu.Blocks(B*B, 256), 256, dS, sb, rowv, colv, rowc, colc, float32(0.2), b2i(maxv), B)
		ref := fmt.Sprintf("nn.HingeTriplet (max violation %v)", maxv)
		c.record(ref, rel(c.down(loss), out), linearLimit, nil, "hinge_rows", "hinge_loss")
		c.record(ref+" gradient", rel(c.down(dS), grads[0]), 0, nil, "hinge_grad")
	}
}

// optimiser checks the global norm against optim.GlobalNorm and Adam against
// optim.Adam.ClipAndUpdate (two clipped steps): weights and moments.
func (c *checker) optimiser() {
	o := c.o
	sizes := []int{70000, 3, 90001} // several blocks of the sum of squares
	var grads, params [][]float32
	var flatG, flatP []float32
	for _, n := range sizes {
		g, p := c.rnd(n, -1, 1), c.rnd(n, -1, 1)
		grads, params = append(grads, g), append(params, p)
		flatG, flatP = append(flatG, g...), append(flatP, p...)
	}
	want := optim.GlobalNorm(grads)
	gb, pb := c.up(flatG), c.up(flatP)
	out := c.buf(2)
	o.SumSquares(out.Ptr, gb, int64(len(flatG)))
	var got []float64
	if o.Err() == nil {
		got = make([]float64, 1)
		o.Fail(c.d.ReadFloat64(got, out))
	}
	r := math.Inf(1)
	if got != nil {
		r = math.Abs(math.Sqrt(got[0])-want) / want
	}
	c.record("optim.GlobalNorm", r, 1e-12, nil, "sumsq_part", "sumsq_fin")
	adam, err := optim.NewAdam(optim.AdamConfig{}, sizes)
	if err != nil {
		c.record("optim.Adam", 0, 0, err, "adam")
		return
	}
	consts, _ := optim.NewAdam(optim.AdamConfig{}, sizes)
	m1, m2 := c.buf(len(flatP)), c.buf(len(flatP))
	o.Zero(m1)
	o.Zero(m2)
	for step := 0; step < 2; step++ {
		n, err := adam.ClipAndUpdate(1e-3, 10, params, grads)
		if err != nil {
			c.record("optim.Adam", 0, 0, err, "adam")
			return
		}
		k := consts.Advance(1e-3)
		o.Adam(pb, m1, m2, gb, int64(len(flatP)), optim.ClipScale(n, 10), k.Beta1, k.Beta2, k.StepSize, k.InvSqrtBC2, k.Eps)
	}
	var wm, wv, wp []float32
	for i := range sizes {
		wp, wm, wv = append(wp, params[i]...), append(wm, adam.State.M[i]...), append(wv, adam.State.V[i]...)
	}
	c.record("optim.Adam.ClipAndUpdate (weights, moments)", rel(c.down(pb), wp, c.down(m1), wm, c.down(m2), wv), 1e-6, nil, "adam")
}

// products checks Gemm (every transpose combination, padded leading dimensions, β = 0 and
// ≠ 0) and GemmStrided (a repeated operand, outputs side by side) against gonum.
func (c *checker) products() {
	impl := gonum.Implementation{}
	worst := 0.0
	for _, ta := range []bool{false, true} {
		for _, tb := range []bool{false, true} {
			for _, beta := range []float32{0, 0.5} {
				m, n, k := 37, 29, 300
				aRows, aCols := m, k
				if ta {
					aRows, aCols = k, m
				}
				bRows, bCols := k, n
				if tb {
					bRows, bCols = n, k
				}
				lda, ldb, ldc := aCols+3, bCols+1, n+2
				a, b, cc := c.rnd(aRows*lda, -1, 1), c.rnd(bRows*ldb, -1, 1), c.rnd(m*ldc, -1, 1)
				cb := c.up(cc)
				c.o.Gemm(ta, tb, m, n, k, 1.5, c.up(a).Ptr, lda, c.up(b).Ptr, ldb, beta, cb.Ptr, ldc)
				impl.Sgemm(trans(ta), trans(tb), m, n, k, 1.5, a, lda, b, ldb, beta, cc, ldc)
				worst = math.Max(worst, rel(c.down(cb), cc))
			}
		}
	}
	c.record("gonum Sgemm (4 transposes, padded, β 0 and ½)", worst, linearLimit, nil, "Gemm")
	// Three products A·B_p, A shared (stride 0), the outputs side by side in one matrix.
	m, n, k, batch := 13, 11, 300, 3
	a, b := c.rnd(m*k, -1, 1), c.rnd(batch*k*n, -1, 1)
	cb := c.buf(m * n * batch)
	c.o.GemmStrided(false, false, m, n, k, 1, c.up(a).Ptr, k, 0, c.up(b).Ptr, n, k*n, 0, cb.Ptr, n*batch, n, batch)
	want := make([]float32, m*n*batch)
	for p := 0; p < batch; p++ {
		impl.Sgemm(gblas.NoTrans, gblas.NoTrans, m, n, k, 1, a, k, b[p*k*n:], n, 0, want[p*n:], n*batch)
	}
	c.record("gonum Sgemm per product (A shared)", rel(c.down(cb), want), linearLimit, nil, "GemmStrided")
}

func trans(t bool) gblas.Transpose {
	if t {
		return gblas.Trans
	}
	return gblas.NoTrans
}

// CheckStep trains three POS-SCAN steps on the CPU and on d from the same weights, at sizes s
// (I captions per batch), and compares the losses, the first step's gradients and the weights
// at the end.
func CheckStep(d gpu.Device, s CheckSizes) CheckLine {
	line := CheckLine{Name: "step", Ref: "scan.Model.TrainStep on gorgonia, 3 steps", Limit: 1}
	cfg := DefaultConfig()
	cfg.Vocab, cfg.ImgDim, cfg.Embed, cfg.WordDim, cfg.Seed = s.V, s.D, s.E, s.W, 3
	cpu, err := New(cfg)
	if err != nil {
		line.Err = err
		return line
	}
	dev, err := New(cfg)
	if err == nil {
		err = dev.UseDevice(d)
	}
	if err != nil {
		line.Err = err
		return line
	}
	defer func() { _ = dev.ReleaseDevice() }() // check model
	r := rand.New(rand.NewPCG(21, 22))
	var lossErr, gradErr float64
	for step := 0; step < 3; step++ {
		b := checkBatch(r, s, cfg)
		if step == 0 {
			_, want, err := cpu.lossAndGrads(b)
			if err != nil {
				line.Err = err
				return line
			}
			want = cloneAll(want)
			db, err := dev.dev.upload(dev, b, nil)
			if err == nil {
				_, _, err = dev.dev.lossAndGrads(dev, db)
			}
			var got [][]float32
			if err == nil {
				got, err = dev.dev.gradients()
			}
			if err != nil {
				line.Err = err
				return line
			}
			for i := range want {
				gradErr = math.Max(gradErr, rel(got[i], want[i]))
			}
		}
		rc, err := cpu.TrainStep(b)
		if err != nil {
			line.Err = err
			return line
		}
		rd, err := dev.TrainStep(b)
		if err != nil {
			line.Err = err
			return line
		}
		lossErr = math.Max(lossErr, math.Abs(rd.Loss-rc.Loss)/math.Abs(rc.Loss))
	}
	var paramErr float64
	for _, n := range cpu.ParamNames() {
		paramErr = math.Max(paramErr, rel(dev.Param(n), cpu.Param(n)))
	}
	line.Rel = math.Max(lossErr/stepLossLimit, math.Max(gradErr/stepGradLimit, paramErr/stepParamLimit))
	if math.IsNaN(line.Rel) {
		line.Rel = math.Inf(1)
	}
	line.Detail = fmt.Sprintf("loss rel %.2g (limit %g), first-step gradients %.2g (limit %g), weights after 3 steps %.2g (limit %g)",
		lossErr, stepLossLimit, gradErr, stepGradLimit, paramErr, stepParamLimit)
	return line
}

// checkBatch draws a batch of s.I images (ragged region counts) and captions (ragged lengths,
// about a third of the words nouns).
func checkBatch(r *rand.Rand, s CheckSizes, cfg Config) Batch {
	var b Batch
	for i := 0; i < s.I; i++ {
		regions := s.K - i%2
		f := make([]float32, regions*s.D)
		for k := range f {
			f[k] = float32(r.NormFloat64())
		}
		b.Feats = append(b.Feats, f)
		n := 2 + r.IntN(s.L-1)
		cp := Caption{IDs: make([]int32, n), Nouns: make([]bool, n)}
		for t := range cp.IDs {
			cp.IDs[t] = int32(1 + r.IntN(cfg.Vocab-1))
			cp.Nouns[t] = r.IntN(3) == 0
		}
		b.Captions = append(b.Captions, cp)
	}
	return b
}

func cloneAll(x [][]float32) [][]float32 {
	out := make([][]float32, len(x))
	for i, v := range x {
		out[i] = append([]float32(nil), v...)
	}
	return out
}

// CheckReport formats lines as CheckDevice's report and says whether all passed.
func CheckReport(lines []CheckLine) (string, bool) {
	var b strings.Builder
	ok := true
	for _, l := range lines {
		fmt.Fprintln(&b, "  "+l.String())
		ok = ok && l.OK()
	}
	return b.String(), ok
}
