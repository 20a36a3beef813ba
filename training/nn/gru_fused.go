package nn

import (
	"errors"
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	gblas "gonum.org/v1/gonum/blas"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// gruSeqOp runs a GRU over a whole time-major sequence as one graph op: its inputs are the
// sequence x (T·B, In), the input weights Wir, Wiz, Win (In, H) and biases bir, biz, bin (H), the
// recurrent weights Whr, Whz, Whn (H, H) and biases Bhr, Bhz, Bhn (H) and the mask (T, B); its
// output is the hidden states (T·B, H). The input projections of all steps and gates are one
// (T·B, In)×(In, 3H) product; the three recurrent products of a step are one (B, H)×(H, 3H)
// product; backward gets the weight gradients of all steps from one (In, T·B)×(T·B, 3H) and one
// (H, T·B)×(T·B, 3H) product and the input's from one (T·B, 3H)×(3H, In) product, instead of
// the per-gate and per-step products and accumulations of the graph of ops it replaces (see
// forwardNodes in the tests, the reference it is checked against).
//
// Backward state (gates and states of every step) lives in st, shared with the gradient ops;
// gorgonia runs the forward op before the gradient ops in every pass.
type gruSeqOp struct {
	gruDir
	id int64 // unique (opIDs): keeps gorgonia from merging two GRUs' ops
}

// biGRUOp is both directions of a bidirectional GRU and the mean of their outputs as one op:
// inputs x, the twelve weights and biases of the forward direction (in gruSeqOp's order), the
// twelve of the backward direction, the mask; output (fwd + bwd)/2. With a BLAS that can limit
// its threads (OpenBLAS), the two directions run side by side on half the CPUs each: the
// products of a step, (128, 1024)×(1024, 3072) at the paper's size, gain little from a second
// thread, and neither do the step's element-wise work and the wake-ups between them.
type biGRUOp struct {
	fwd, bwd gruDir
	id       int64
	st       *passGrads
}

// gruDir is the size and direction of one GRU and what its forward pass saves for backward.
type gruDir struct {
	steps, batch, in, hidden int
	reverse                  bool
	st                       *gruState
}

// gruParams is the number of weights and biases of one GRU direction.
const gruParams = 12

// gruInputs is the number of inputs of a gruSeqOp; all but the last (the mask) have gradients.
const gruInputs = gruParams + 2

// gruState is what forward saves for backward, in float64 or float32 ([]F), and the buffers
// both reuse from pass to pass.
type gruState struct {
	passGrads
	hprev        any // (T·B, H): the state entering each step (row t·B+b)
	r, z, n, ghn any // (T·B, H) gates and h·Whn + bhn of each step
	mask         any // (T·B)
	wicat, whcat any // (In, 3H): [Wir Wiz Win]; (H, 3H): [Whr Whz Whn]
	xg           any // (T·B, 3H): x·[Wir Wiz Win], biases not added
	dg, dgh      any // backward: (T·B, 3H) gradients of the input and recurrent projections
	hs           any // biGRUOp: (T·B, H) this direction's output
}

// reuse returns *buf as a []F of length n, allocating when it is missing, of another type or
// too short; the contents are not cleared.
func reuse[F float](buf *any, n int) []F {
	if b, ok := (*buf).([]F); ok && cap(b) >= n {
		return b[:n]
	}
	b := make([]F, n)
	*buf = b
	return b
}

// gruTypes are the types of one direction's inputs: x, weights and biases, mask.
func gruTypes(a hm.TypeVariable) []hm.Type {
	t1, t2 := G.TensorType{Dims: 1, Of: a}, G.TensorType{Dims: 2, Of: a}
	return []hm.Type{t2, t2, t2, t2, t1, t1, t1, t2, t2, t2, t1, t1, t1, t2}
}

// biGRUTypes are the types of a biGRUOp's inputs.
func biGRUTypes(a hm.TypeVariable) []hm.Type {
	d := gruTypes(a)
	return append(append(append([]hm.Type{}, d[:gruParams+1]...), d[1:gruParams+1]...), d[gruParams+1])
}

// dirInputs returns the inputs of direction dir (0 forward, 1 backward) of a biGRUOp in a
// gruSeqOp's order.
func dirInputs(in []G.Value, dir int) []G.Value {
	out := make([]G.Value, 0, gruInputs)
	out = append(out, in[0])
	out = append(out, in[1+dir*gruParams:1+(dir+1)*gruParams]...)
	return append(out, in[len(in)-1])
}

func (op gruSeqOp) Arity() int    { return gruInputs }
func (op gruSeqOp) Type() hm.Type { return fusedType(op) }
func (op gruSeqOp) types(a hm.TypeVariable) ([]hm.Type, hm.Type) {
	return gruTypes(a), G.TensorType{Dims: 2, Of: a}
}
func (op gruSeqOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.steps * op.batch, op.hidden}, nil
}
func (op gruSeqOp) ReturnsPtr() bool     { return false }
func (op gruSeqOp) CallsExtern() bool    { return false }
func (op gruSeqOp) OverwritesInput() int { return -1 }
func (op gruSeqOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "GRUSeq{%d,%d,%d,%d,%v,%d}", op.steps, op.batch, op.in, op.hidden, op.reverse, op.id)
}
func (op gruSeqOp) Hashcode() uint32 { return hashOf(op) }
func (op gruSeqOp) String() string {
	return fmt.Sprintf("GRUSeq{T=%d,B=%d,In=%d,H=%d,reverse=%v}", op.steps, op.batch, op.in, op.hidden, op.reverse)
}
func (op gruSeqOp) DiffWRT(n int) []bool { return allButLast(n) }

// allButLast is DiffWRT of ops whose last input (a mask) has no gradient.
func allButLast(n int) []bool {
	d := make([]bool, n)
	for i := range n - 1 {
		d[i] = true
	}
	return d
}

func (op gruSeqOp) Do(in ...G.Value) (G.Value, error) {
	out := tensor.New(tensor.WithShape(op.steps*op.batch, op.hidden), tensor.Of(in[0].Dtype()))
	switch in[0].Dtype() {
	case tensor.Float32:
		gruForward(op.gruDir, in, out.Data().([]float32), parallelRows)
	case tensor.Float64:
		gruForward(op.gruDir, in, out.Data().([]float64), parallelRows)
	default:
		return nil, fmt.Errorf("nn: GRU: unsupported dtype %v", in[0].Dtype())
	}
	op.st.forward()
	return out, nil
}

func (op gruSeqOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	return fusedSymDiff(op, len(inputs)-1, inputs, output, grad) // the mask has none
}

func (op gruSeqOp) grads() *passGrads { return &op.st.passGrads }

func (op gruSeqOp) backward(in []G.Value) error {
	var err error
	switch in[0].Dtype() {
	case tensor.Float32:
		op.st.grads, err = gruBackward(op.gruDir, in[0], data[float32](in[gruInputs+1]), parallelRows)
	case tensor.Float64:
		op.st.grads, err = gruBackward(op.gruDir, in[0], data[float64](in[gruInputs+1]), parallelRows)
	default:
		err = fmt.Errorf("nn: GRU: unsupported dtype %v", in[0].Dtype())
	}
	return err
}

func (op biGRUOp) Arity() int    { return 2*gruParams + 2 }
func (op biGRUOp) Type() hm.Type { return fusedType(op) }
func (op biGRUOp) types(a hm.TypeVariable) ([]hm.Type, hm.Type) {
	return biGRUTypes(a), G.TensorType{Dims: 2, Of: a}
}
func (op biGRUOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.fwd.steps * op.fwd.batch, op.fwd.hidden}, nil
}
func (op biGRUOp) ReturnsPtr() bool     { return false }
func (op biGRUOp) CallsExtern() bool    { return false }
func (op biGRUOp) OverwritesInput() int { return -1 }
func (op biGRUOp) WriteHash(h hash.Hash) {
	d := op.fwd
	fmt.Fprintf(h, "BiGRU{%d,%d,%d,%d,%d}", d.steps, d.batch, d.in, d.hidden, op.id)
}
func (op biGRUOp) Hashcode() uint32 { return hashOf(op) }
func (op biGRUOp) String() string {
	d := op.fwd
	return fmt.Sprintf("BiGRU{T=%d,B=%d,In=%d,H=%d}", d.steps, d.batch, d.in, d.hidden)
}
func (op biGRUOp) DiffWRT(n int) []bool { return allButLast(n) }

func (op biGRUOp) Do(in ...G.Value) (G.Value, error) {
	switch in[0].Dtype() {
	case tensor.Float32:
		return biGRUForward[float32](op, in), nil
	case tensor.Float64:
		return biGRUForward[float64](op, in), nil
	}
	return nil, fmt.Errorf("nn: GRU: unsupported dtype %v", in[0].Dtype())
}

func biGRUForward[F float](op biGRUOp, in []G.Value) G.Value {
	d := op.fwd
	out := tensor.New(tensor.WithShape(d.steps*d.batch, d.hidden), tensor.Of(in[0].Dtype()))
	hf := reuse[F](&op.fwd.st.hs, d.steps*d.batch*d.hidden)
	hb := reuse[F](&op.bwd.st.hs, d.steps*d.batch*d.hidden)
	sideBySide(
		func(rows rowsFunc) { gruForward(op.fwd, dirInputs(in, 0), hf, rows) },
		func(rows rowsFunc) { gruForward(op.bwd, dirInputs(in, 1), hb, rows) })
	// (fwd + bwd)/2, rounded as the graph of an add and a scaling it replaces.
	hs := out.Data().([]F)
	parallelRows(len(hs)/d.hidden, d.hidden, func(lo, hi int) {
		for i := lo * d.hidden; i < hi*d.hidden; i++ {
			hs[i] = (hf[i] + hb[i]) * 0.5
		}
	})
	op.st.forward()
	return out
}

func (op biGRUOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	return fusedSymDiff(op, len(inputs)-1, inputs, output, grad) // the mask has none
}

func (op biGRUOp) grads() *passGrads { return op.st }

func (op biGRUOp) backward(in []G.Value) error {
	switch in[0].Dtype() {
	case tensor.Float32:
		return biGRUBackward[float32](op, in)
	case tensor.Float64:
		return biGRUBackward[float64](op, in)
	}
	return fmt.Errorf("nn: GRU: unsupported dtype %v", in[0].Dtype())
}

func biGRUBackward[F float](op biGRUOp, in []G.Value) error {
	dOut := data[F](in[len(in)-1])
	// Both directions get half the output's gradient, as through the add and scaling.
	dH := make([]F, len(dOut))
	H := op.fwd.hidden
	parallelRows(len(dOut)/H, H, func(lo, hi int) {
		for i := lo * H; i < hi*H; i++ {
			dH[i] = dOut[i] * 0.5
		}
	})
	var gf, gb []*tensor.Dense
	var ef, eb error
	sideBySide(
		func(rows rowsFunc) { gf, ef = gruBackward(op.fwd, in[0], dH, rows) },
		func(rows rowsFunc) { gb, eb = gruBackward(op.bwd, in[0], dH, rows) })
	if err := errors.Join(ef, eb); err != nil {
		return err
	}
	dx, dxb := gf[0].Data().([]F), gb[0].Data().([]F)
	In := op.fwd.in
	parallelRows(len(dx)/In, In, func(lo, hi int) {
		for i := lo * In; i < hi*In; i++ {
			dx[i] += dxb[i]
		}
	})
	op.st.grads = append(append([]*tensor.Dense{gf[0]}, gf[1:]...), gb[1:]...)
	return nil
}

type float interface{ float32 | float64 }

func data[F float](v G.Value) []F { return v.Data().([]F) }

// gemm is C = alpha·op(A)·op(B) + beta·C, row-major, through the installed BLAS.
func gemm[F float](tA, tB bool, m, n, k int, alpha F, a []F, lda int, b []F, ldb int, beta F, c []F, ldc int) {
	ta, tb := gblas.NoTrans, gblas.NoTrans
	if tA {
		ta = gblas.Trans
	}
	if tB {
		tb = gblas.Trans
	}
	switch a := any(a).(type) {
	case []float32:
		tensor.WhichBLAS().Sgemm(ta, tb, m, n, k, float32(alpha), a, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
	case []float64:
		tensor.WhichBLAS().Dgemm(ta, tb, m, n, k, float64(alpha), a, lda, any(b).([]float64), ldb, float64(beta), any(c).([]float64), ldc)
	}
}

// columnSums adds the rows of the (rows, cols) matrix m into sum (cols), each column's rows in
// order whatever the number of goroutines.
func columnSums[F float](sum, m []F, rows, cols int, spread rowsFunc) {
	spread(cols, rows, func(lo, hi int) {
		s := sum[lo:hi]
		for r := 0; r < rows; r++ {
			for j, v := range m[r*cols+lo : r*cols+hi] {
				s[j] += v
			}
		}
	})
}

// packGates copies the three (rows, H) matrices of in[first:first+3] side by side into dst
// (rows, 3H).
func packGates[F float](dst []F, in []G.Value, first, rows, H int) {
	for g := 0; g < 3; g++ {
		w := data[F](in[first+g])
		for i := 0; i < rows; i++ {
			copy(dst[i*3*H+g*H:i*3*H+(g+1)*H], w[i*H:(i+1)*H])
		}
	}
}

// gruForward runs direction d over in (x, the twelve weights and biases, the mask) and writes
// the hidden states into hs (T·B, H); rows spreads each step's element-wise work.
func gruForward[F float](d gruDir, in []G.Value, hs []F, rows rowsFunc) {
	T, B, In, H := d.steps, d.batch, d.in, d.hidden
	x := data[F](in[0])
	bir, biz, bin := data[F](in[4]), data[F](in[5]), data[F](in[6])
	bhr, bhz, bhn := data[F](in[10]), data[F](in[11]), data[F](in[12])
	st := d.st
	wicat, whcat := reuse[F](&st.wicat, In*3*H), reuse[F](&st.whcat, H*3*H)
	packGates(wicat, in, 1, In, H)
	packGates(whcat, in, 7, H, H)
	mask := reuse[F](&st.mask, T*B)
	copy(mask, data[F](in[13]))
	xg := reuse[F](&st.xg, T*B*3*H)
	gemm(false, false, T*B, 3*H, In, 1, x, In, wicat, 3*H, 0, xg, 3*H)
	hprev := reuse[F](&st.hprev, T*B*H)
	r, z, n, ghn := reuse[F](&st.r, T*B*H), reuse[F](&st.z, T*B*H), reuse[F](&st.n, T*B*H), reuse[F](&st.ghn, T*B*H)
	gh := make([]F, B*3*H)
	h := make([]F, B*H) // zero initial state
	for i := 0; i < T; i++ {
		t := i
		if d.reverse {
			t = T - 1 - i
		}
		off := t * B * H
		copy(hprev[off:off+B*H], h)
		gemm(false, false, B, 3*H, H, 1, h, H, whcat, 3*H, 0, gh, 3*H)
		rows(B, H, func(lo, hi int) {
			for b := lo; b < hi; b++ {
				m := mask[t*B+b]
				g := gh[b*3*H : (b+1)*3*H]
				xi := xg[(t*B+b)*3*H : (t*B+b+1)*3*H]
				for j := 0; j < H; j++ {
					o := off + b*H + j
					// The sums in the order of the graph they replace: (x·W + b_i) + (h·W + b_h).
					rr := sigmoid((xi[j] + bir[j]) + (g[j] + bhr[j]))
					zz := sigmoid((xi[H+j] + biz[j]) + (g[H+j] + bhz[j]))
					hn := g[2*H+j] + bhn[j]
					nn := tanh((xi[2*H+j] + bin[j]) + rr*hn)
					hp := h[b*H+j]
					r[o], z[o], n[o], ghn[o] = rr, zz, nn, hn
					hs[o] = m * (nn + zz*(hp-nn))
				}
			}
		})
		copy(h, hs[off:off+B*H])
	}
}

// gruBackward returns the gradients of direction d's inputs but the mask (x, then the twelve
// weights and biases) given x and dH, the gradient of its hidden states (T·B, H).
func gruBackward[F float](d gruDir, xv G.Value, dH []F, rows rowsFunc) ([]*tensor.Dense, error) {
	T, B, In, H := d.steps, d.batch, d.in, d.hidden
	st := d.st
	if _, ok := st.hprev.([]F); !ok {
		return nil, fmt.Errorf("nn: GRU: backward before forward")
	}
	hprev, r, z, n, ghn := st.hprev.([]F), st.r.([]F), st.z.([]F), st.n.([]F), st.ghn.([]F)
	mask, wicat, whcat := st.mask.([]F), st.wicat.([]F), st.whcat.([]F)
	x := data[F](xv)
	dt := xv.Dtype()
	newT := func(shape ...int) (*tensor.Dense, []F) {
		d := tensor.New(tensor.WithShape(shape...), tensor.Of(dt))
		return d, d.Data().([]F)
	}
	dg := reuse[F](&st.dg, T*B*3*H)   // gradient of every step's x·[Wir Wiz Win] + [bir biz bin]
	dgh := reuse[F](&st.dgh, T*B*3*H) // … and of its [h·Whr+bhr, h·Whz+bhz, h·Whn+bhn]
	dh := make([]F, B*H)              // gradient flowing into the state of the step processed next
	for i := T - 1; i >= 0; i-- {
		t := i
		if d.reverse {
			t = T - 1 - i
		}
		off := t * B * H
		rows(B, H, func(lo, hi int) {
			for b := lo; b < hi; b++ {
				m := mask[t*B+b]
				gi := dg[(t*B+b)*3*H : (t*B+b+1)*3*H]
				gr := dgh[(t*B+b)*3*H : (t*B+b+1)*3*H]
				for j := 0; j < H; j++ {
					o := off + b*H + j
					d := (dH[o] + dh[b*H+j]) * m // gradient of h' (before the mask)
					rr, zz, nn, hp := r[o], z[o], n[o], hprev[o]
					dn := d * (1 - zz)
					dz := d * (hp - nn)
					dh[b*H+j] = d * zz // the direct path h → h'; the products are added below
					dan := dn * (1 - nn*nn)
					dar := dan * ghn[o] * rr * (1 - rr)
					daz := dz * zz * (1 - zz)
					gi[j], gi[H+j], gi[2*H+j] = dar, daz, dan
					gr[j], gr[H+j], gr[2*H+j] = dar, daz, dan*rr
				}
			}
		})
		// dh += dgh_t · Whcatᵀ: (B, 3H)·(3H, H)
		gemm(false, true, B, H, 3*H, 1, dgh[off*3:], 3*H, whcat, 3*H, 1, dh, H)
	}
	grads := make([]*tensor.Dense, gruInputs-1)
	// The input: dx = dg·Wicatᵀ, (T·B, 3H)·(3H, In).
	dxT, dx := newT(T*B, In)
	gemm(false, true, T*B, In, 3*H, 1, dg, 3*H, wicat, 3*H, 0, dx, In)
	grads[0] = dxT
	// All steps' weight gradients in one product each: xᵀ·dg (In, T·B)·(T·B, 3H) and
	// hprevᵀ·dgh (H, T·B)·(T·B, 3H); the biases' are the column sums of dg and dgh.
	for _, w := range []struct {
		a      []F
		rows   int
		d      []F
		wi, bi int // indices of the gates' first weight and bias
	}{{x, In, dg, 1, 4}, {hprev, H, dgh, 7, 10}} {
		dw := make([]F, w.rows*3*H)
		gemm(true, false, w.rows, 3*H, T*B, 1, w.a, w.rows, w.d, 3*H, 0, dw, 3*H)
		db := make([]F, 3*H)
		columnSums(db, w.d, T*B, 3*H, rows)
		for g := 0; g < 3; g++ {
			wT, wg := newT(w.rows, H)
			for i := 0; i < w.rows; i++ {
				copy(wg[i*H:(i+1)*H], dw[i*3*H+g*H:i*3*H+(g+1)*H])
			}
			bT, bs := newT(H)
			copy(bs, db[g*H:(g+1)*H])
			grads[w.wi+g], grads[w.bi+g] = wT, bT
		}
	}
	return grads, nil
}
