package nn

import (
	"fmt"
	"hash"
	"math"
	"runtime"
	"sync"

	"github.com/chewxy/hm"
	gblas "gonum.org/v1/gonum/blas"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// gruSeqOp runs a GRU's recurrence over a whole time-major sequence as one graph op: its
// inputs are the input projections xr, xz, xn (T, B, H) (biases b_i* included), the recurrent
// weights Whr, Whz, Whn (H, H), their biases Bhr, Bhz, Bhn (H) and the mask (T, B); its output
// is the hidden states (T·B, H). The three recurrent products of a step are one (B, H)×(H, 3H)
// product, and backward gets the weight gradient of all steps from one (3H, T·B)×(T·B, H)
// product instead of one small product plus an accumulation per step, which is what the graph
// of per-step ops costs (see forwardNodes in the tests, the reference it is checked against).
//
// Backward state (gates and states of every step) lives in st, shared with the gradient ops;
// gorgonia runs the forward op before the gradient ops in every pass.
type gruSeqOp struct {
	steps, batch, hidden int
	reverse              bool
	id                   int64 // unique (opIDs): keeps gorgonia from merging two GRUs' ops
	st                   *gruState
}

// gruState is what forward saves for backward, in float64 or float32 ([]F).
type gruState struct {
	passGrads
	hprev        any // (T·B, H): the state entering each step (row t·B+b)
	r, z, n, ghn any // (T·B, H) gates and h·Whn + bhn of each step
	mask         any // (T·B)
	wcat         any // (H, 3H): [Whr Whz Whn]
}

func (op gruSeqOp) Arity() int { return 10 }
func (op gruSeqOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	t1, t2, t3 := G.TensorType{Dims: 1, Of: a}, G.TensorType{Dims: 2, Of: a}, G.TensorType{Dims: 3, Of: a}
	return hm.NewFnType(t3, t3, t3, t2, t2, t2, t1, t1, t1, t2, t2)
}
func (op gruSeqOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.steps * op.batch, op.hidden}, nil
}
func (op gruSeqOp) ReturnsPtr() bool     { return false }
func (op gruSeqOp) CallsExtern() bool    { return false }
func (op gruSeqOp) OverwritesInput() int { return -1 }
func (op gruSeqOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "GRUSeq{%d,%d,%d,%v,%d}", op.steps, op.batch, op.hidden, op.reverse, op.id)
}
func (op gruSeqOp) Hashcode() uint32 { return hashOf(op) }
func (op gruSeqOp) String() string {
	return fmt.Sprintf("GRUSeq{T=%d,B=%d,H=%d,reverse=%v}", op.steps, op.batch, op.hidden, op.reverse)
}
func (op gruSeqOp) DiffWRT(int) []bool {
	return []bool{true, true, true, true, true, true, true, true, true, false}
}

func (op gruSeqOp) Do(in ...G.Value) (G.Value, error) {
	switch in[0].Dtype() {
	case tensor.Float32:
		return gruForward[float32](op, in)
	case tensor.Float64:
		return gruForward[float64](op, in)
	}
	return nil, fmt.Errorf("nn: GRU: unsupported dtype %v", in[0].Dtype())
}

func (op gruSeqOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	args := append(append(G.Nodes{}, inputs...), output, grad)
	out := make(G.Nodes, len(inputs))
	for i := 0; i < 9; i++ {
		n, err := G.ApplyOp(gruGradOp{fwd: op, which: i, shape: inputs[i].Shape().Clone()}, args...)
		if err != nil {
			return nil, err
		}
		out[i] = n
	}
	return out, nil
}

type float interface{ float32 | float64 }

// parallelMin is the smallest step (rows × width values) whose element-wise work
// parallelRows spreads over the CPUs.
const parallelMin = 1 << 14

// parallelRows calls fn on consecutive row ranges covering [0, rows), on up to GOMAXPROCS
// goroutines when rows × width is large enough to pay for them, and waits.
func parallelRows(rows, width int, fn func(lo, hi int)) {
	p := min(runtime.GOMAXPROCS(0), rows)
	if p < 2 || rows*width < parallelMin {
		fn(0, rows)
		return
	}
	var wg sync.WaitGroup
	for i := 1; i < p; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(rows*i/p, rows*(i+1)/p)
		}()
	}
	fn(0, rows/p)
	wg.Wait()
}

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

func sigmoid[F float](x F) F { return F(1 / (1 + math.Exp(-float64(x)))) }

func gruForward[F float](op gruSeqOp, in []G.Value) (G.Value, error) {
	T, B, H := op.steps, op.batch, op.hidden
	xr, xz, xn := data[F](in[0]), data[F](in[1]), data[F](in[2])
	bhr, bhz, bhn := data[F](in[6]), data[F](in[7]), data[F](in[8])
	st := op.st
	wcat := make([]F, H*3*H)
	for g := 0; g < 3; g++ {
		w := data[F](in[3+g])
		for i := 0; i < H; i++ {
			copy(wcat[i*3*H+g*H:i*3*H+(g+1)*H], w[i*H:(i+1)*H])
		}
	}
	mask := append([]F(nil), data[F](in[9])...)
	hprev := make([]F, T*B*H)
	r, z, n, ghn := make([]F, T*B*H), make([]F, T*B*H), make([]F, T*B*H), make([]F, T*B*H)
	out := tensor.New(tensor.WithShape(T*B, H), tensor.Of(in[0].Dtype()))
	hs := out.Data().([]F)
	gh := make([]F, B*3*H)
	h := make([]F, B*H) // zero initial state
	for i := 0; i < T; i++ {
		t := i
		if op.reverse {
			t = T - 1 - i
		}
		rows := t * B * H
		copy(hprev[rows:rows+B*H], h)
		gemm(false, false, B, 3*H, H, 1, h, H, wcat, 3*H, 0, gh, 3*H)
		parallelRows(B, H, func(lo, hi int) {
			for b := lo; b < hi; b++ {
				m := mask[t*B+b]
				g := gh[b*3*H : (b+1)*3*H]
				for j := 0; j < H; j++ {
					o := rows + b*H + j
					rr := sigmoid(xr[o] + g[j] + bhr[j])
					zz := sigmoid(xz[o] + g[H+j] + bhz[j])
					hn := g[2*H+j] + bhn[j]
					nn := F(math.Tanh(float64(xn[o] + rr*hn)))
					hp := h[b*H+j]
					r[o], z[o], n[o], ghn[o] = rr, zz, nn, hn
					hs[o] = m * (nn + zz*(hp-nn))
				}
			}
		})
		copy(h, hs[rows:rows+B*H])
	}
	st.forward()
	st.hprev, st.r, st.z, st.n, st.ghn, st.mask, st.wcat = hprev, r, z, n, ghn, mask, wcat
	return out, nil
}

// gruGradOp returns the gradient of input which of a gruSeqOp; the first one run in a pass
// computes all nine (passGrads; its inputs are the forward inputs, the output and the output's
// gradient).
type gruGradOp struct {
	fwd   gruSeqOp
	which int
	shape tensor.Shape
}

func (op gruGradOp) Arity() int { return 12 }
func (op gruGradOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	t1, t2, t3 := G.TensorType{Dims: 1, Of: a}, G.TensorType{Dims: 2, Of: a}, G.TensorType{Dims: 3, Of: a}
	ret := []hm.Type{t3, t3, t3, t2, t2, t2, t1, t1, t1}[op.which]
	return hm.NewFnType(t3, t3, t3, t2, t2, t2, t1, t1, t1, t2, t2, t2, ret)
}
func (op gruGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.shape.Clone(), nil }
func (op gruGradOp) ReturnsPtr() bool                               { return false }
func (op gruGradOp) CallsExtern() bool                              { return false }
func (op gruGradOp) OverwritesInput() int                           { return -1 }
func (op gruGradOp) WriteHash(h hash.Hash) {
	op.fwd.WriteHash(h)
	fmt.Fprintf(h, "Grad%d", op.which)
}
func (op gruGradOp) Hashcode() uint32 { return hashOf(op) }
func (op gruGradOp) String() string   { return fmt.Sprintf("%vGrad%d", op.fwd, op.which) }

func (op gruGradOp) Do(in ...G.Value) (G.Value, error) {
	return op.fwd.st.take(op.which, op.fwd, func() error {
		switch in[0].Dtype() {
		case tensor.Float32:
			return gruBackward[float32](op.fwd, in[11])
		case tensor.Float64:
			return gruBackward[float64](op.fwd, in[11])
		}
		return fmt.Errorf("nn: GRU: unsupported dtype %v", in[0].Dtype())
	})
}

func gruBackward[F float](op gruSeqOp, dOut G.Value) error {
	T, B, H := op.steps, op.batch, op.hidden
	st := op.st
	hprev, r, z, n, ghn := st.hprev.([]F), st.r.([]F), st.z.([]F), st.n.([]F), st.ghn.([]F)
	st.grads = make([]*tensor.Dense, 9)
	mask, wcat := st.mask.([]F), st.wcat.([]F)
	dH := data[F](dOut)
	dt := dOut.Dtype()
	newT := func(shape ...int) (*tensor.Dense, []F) {
		d := tensor.New(tensor.WithShape(shape...), tensor.Of(dt))
		return d, d.Data().([]F)
	}
	dxrT, dxr := newT(T, B, H)
	dxzT, dxz := newT(T, B, H)
	dxnT, dxn := newT(T, B, H)
	dgh := make([]F, T*B*3*H) // gradient of every step's [h·Whr+bhr, h·Whz+bhz, h·Whn+bhn]
	dh := make([]F, B*H)      // gradient flowing into the state of the step processed next
	for i := T - 1; i >= 0; i-- {
		t := i
		if op.reverse {
			t = T - 1 - i
		}
		rows := t * B * H
		parallelRows(B, H, func(lo, hi int) {
			for b := lo; b < hi; b++ {
				m := mask[t*B+b]
				g := dgh[(t*B+b)*3*H:]
				for j := 0; j < H; j++ {
					o := rows + b*H + j
					d := (dH[o] + dh[b*H+j]) * m // gradient of h' (before the mask)
					rr, zz, nn, hp := r[o], z[o], n[o], hprev[o]
					dn := d * (1 - zz)
					dz := d * (hp - nn)
					dh[b*H+j] = d * zz // the direct path h → h'; the products are added below
					dan := dn * (1 - nn*nn)
					dar := dan * ghn[o] * rr * (1 - rr)
					daz := dz * zz * (1 - zz)
					dxr[o], dxz[o], dxn[o] = dar, daz, dan
					g[j], g[H+j], g[2*H+j] = dar, daz, dan*rr
				}
			}
		})
		// dh += dgh_t · Wcatᵀ: (B, 3H)·(3H, H)
		gemm(false, true, B, H, 3*H, 1, dgh[rows*3:], 3*H, wcat, 3*H, 1, dh, H)
	}
	// All steps' weight gradients in one product: Wcat' = hprevᵀ·dgh, (H, T·B)·(T·B, 3H).
	dw := make([]F, H*3*H)
	gemm(true, false, H, 3*H, T*B, 1, hprev, H, dgh, 3*H, 0, dw, 3*H)
	for g := 0; g < 3; g++ {
		wT, w := newT(H, H)
		for i := 0; i < H; i++ {
			copy(w[i*H:(i+1)*H], dw[i*3*H+g*H:i*3*H+(g+1)*H])
		}
		bT, bs := newT(H)
		for row := 0; row < T*B; row++ {
			for j, x := range dgh[row*3*H+g*H : row*3*H+(g+1)*H] {
				bs[j] += x
			}
		}
		st.grads[3+g], st.grads[6+g] = wT, bT
	}
	st.grads[0], st.grads[1], st.grads[2] = dxrT, dxzT, dxnT
	return nil
}
