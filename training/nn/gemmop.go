package nn

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// MatMulNT returns a·bᵀ for a (N, E) and b (M, E), as a tensor of the given
// shape (N·M values, row-major; (N, M) when shape is empty). It is one
// product with no copies: gorgonia's batched product needs 3-D operands, and
// reshaping to and from them costs a copy each way (nn.Reshape never makes
// views; see Copy).
func MatMulNT(a, b *G.Node, shape ...int) *G.Node {
	if a.Dims() != 2 || b.Dims() != 2 || a.Shape()[1] != b.Shape()[1] {
		panic(fmt.Sprintf("nn: MatMulNT: shapes %v and %v", a.Shape(), b.Shape()))
	}
	n, m, e := a.Shape()[0], b.Shape()[0], a.Shape()[1]
	if len(shape) == 0 {
		shape = []int{n, m}
	}
	return gemmNode(false, true, n, m, e, tensor.Shape(shape), a, b)
}

// gemmNode applies gemmOp, panicking on a size mismatch.
func gemmNode(tA, tB bool, m, n, k int, out tensor.Shape, a, b *G.Node) *G.Node {
	if a.Shape().TotalSize() != m*k || b.Shape().TotalSize() != k*n || out.TotalSize() != m*n {
		panic(fmt.Sprintf("nn: product %dx%dx%d of %v and %v into %v", m, n, k, a.Shape(), b.Shape(), out))
	}
	op := gemmOp{tA: tA, tB: tB, m: m, n: n, k: k, out: out.Clone(), a: a.Shape().Clone(), b: b.Shape().Clone()}
	return must(G.ApplyOp(op, a, b))
}

// gemmOp is C = op(A)·op(B) on the row-major data of its inputs whatever
// their shapes: A holds an m×k (tA: k×m) matrix, B a k×n (tB: n×k) one, and
// C, of shape out, the m×n result. Each input's gradient is its own op (one
// product each), so a graph that needs only one computes only that one
// (nn.Needed).
type gemmOp struct {
	tA, tB  bool
	m, n, k int
	out     tensor.Shape
	a, b    tensor.Shape // the inputs' shapes, for the gradients
}

func (op gemmOp) Arity() int { return 2 }
func (op gemmOp) Type() hm.Type {
	x := hm.TypeVariable('a')
	return hm.NewFnType(tt(len(op.a), x), tt(len(op.b), x), tt(len(op.out), x))
}
func (op gemmOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.out.Clone(), nil }
func (op gemmOp) ReturnsPtr() bool                               { return false }
func (op gemmOp) CallsExtern() bool                              { return false }
func (op gemmOp) OverwritesInput() int                           { return -1 }
func (op gemmOp) WriteHash(h hash.Hash)                          { fmt.Fprint(h, op.String(), op.a, op.b) }
func (op gemmOp) Hashcode() uint32                               { return hashOf(op) }
func (op gemmOp) String() string {
	t := func(b bool) string { return map[bool]string{false: "N", true: "T"}[b] }
	return fmt.Sprintf("Gemm%s%s{%dx%dx%d→%v}", t(op.tA), t(op.tB), op.m, op.n, op.k, op.out)
}
func (op gemmOp) DiffWRT(int) []bool { return []bool{true, true} }

func (op gemmOp) Do(in ...G.Value) (G.Value, error) {
	lda, ldb := op.k, op.n
	if op.tA {
		lda = op.m
	}
	if op.tB {
		ldb = op.k
	}
	out := tensor.New(tensor.WithShape(op.out...), tensor.Of(in[0].Dtype()))
	switch c := out.Data().(type) {
	case []float32:
		gemm(op.tA, op.tB, op.m, op.n, op.k, 1, data[float32](in[0]), lda, data[float32](in[1]), ldb, 0, c, op.n)
	case []float64:
		gemm(op.tA, op.tB, op.m, op.n, op.k, 1, data[float64](in[0]), lda, data[float64](in[1]), ldb, 0, c, op.n)
	default:
		return nil, fmt.Errorf("nn: %v: unsupported dtype %v", op, in[0].Dtype())
	}
	return out, nil
}

// SymDiff: with C = op(A)·op(B) and G = ∂C, ∂op(A) = G·op(B)ᵀ and
// ∂op(B) = op(A)ᵀ·G, each written as one product in A's and B's layouts.
func (op gemmOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	a, b := inputs[0], inputs[1]
	m, n, k := op.m, op.n, op.k
	var da, db *G.Node
	if !op.tA { // A (m, k) = G (m, n) · op(B)ᵀ (n, k)
		da = gemmNode(false, !op.tB, m, k, n, op.a, grad, b)
	} else { // A (k, m) = op(B) (k, n) · Gᵀ (n, m)
		da = gemmNode(op.tB, true, k, m, n, op.a, b, grad)
	}
	if !op.tB { // B (k, n) = op(A)ᵀ (k, m) · G (m, n)
		db = gemmNode(!op.tA, false, k, n, m, op.b, a, grad)
	} else { // B (n, k) = Gᵀ (n, m) · op(A) (m, k)
		db = gemmNode(true, op.tA, n, k, m, op.b, grad, a)
	}
	return G.Nodes{da, db}, nil
}

// AddRows returns x + b with b (C) added to every row of x (R, C), as one op
// (instead of expanding b to (R, C) and adding). The same values as that
// pair of ops, forward and backward: ∂x is the output's gradient, ∂b its
// column sums (ReduceSum along rows).
func AddRows(x, b *G.Node) *G.Node {
	if x.Dims() != 2 || b.Dims() != 1 || x.Shape()[1] != b.Shape()[0] {
		panic(fmt.Sprintf("nn: AddRows: shapes %v and %v", x.Shape(), b.Shape()))
	}
	return must(G.ApplyOp(addRowsOp{}, x, b))
}

type addRowsOp struct{}

func (addRowsOp) Arity() int { return 2 }
func (addRowsOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(tt(2, a), tt(1, a), tt(2, a))
}
func (addRowsOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}
func (addRowsOp) ReturnsPtr() bool         { return false }
func (addRowsOp) CallsExtern() bool        { return false }
func (addRowsOp) OverwritesInput() int     { return -1 }
func (op addRowsOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "AddRows") }
func (op addRowsOp) Hashcode() uint32      { return hashOf(op) }
func (addRowsOp) String() string           { return "AddRows" }
func (addRowsOp) DiffWRT(int) []bool       { return []bool{true, true} }

func (op addRowsOp) Do(in ...G.Value) (G.Value, error) {
	switch in[0].Dtype() {
	case tensor.Float32:
		return addRows[float32](in[0], in[1]), nil
	case tensor.Float64:
		return addRows[float64](in[0], in[1]), nil
	}
	return nil, fmt.Errorf("nn: AddRows: unsupported dtype %v", in[0].Dtype())
}

func addRows[F float](xv, bv G.Value) G.Value {
	rows, cols := xv.Shape()[0], xv.Shape()[1]
	x, b := data[F](xv), data[F](bv)
	out := make([]F, len(x))
	parallelRows(rows, cols, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			o := out[r*cols : (r+1)*cols]
			for j, v := range x[r*cols : (r+1)*cols] {
				o[j] = v + b[j]
			}
		}
	})
	return newDense(xv.Shape().Clone(), out)
}

func (op addRowsOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	return G.Nodes{grad, ReduceSum(grad, 0)}, nil
}
