package nn

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// l2NormRowsOp is L2Norm of a matrix along its rows as one op: y = x / (√(Σ x² + SqrtTiny) + L2Eps)
// per row, one pass forward and one backward, rows spread over the CPUs (instead of square, sum,
// square root, broadcast and divide as separate graph ops).
type l2NormRowsOp struct{}

func (op l2NormRowsOp) Arity() int { return 1 }
func (op l2NormRowsOp) Type() hm.Type {
	t2 := G.TensorType{Dims: 2, Of: hm.TypeVariable('a')}
	return hm.NewFnType(t2, t2)
}
func (op l2NormRowsOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}
func (op l2NormRowsOp) ReturnsPtr() bool      { return false }
func (op l2NormRowsOp) CallsExtern() bool     { return false }
func (op l2NormRowsOp) OverwritesInput() int  { return -1 }
func (op l2NormRowsOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "L2NormRows") }
func (op l2NormRowsOp) Hashcode() uint32      { return hashOf(op) }
func (op l2NormRowsOp) String() string        { return "L2NormRows" }
func (op l2NormRowsOp) DiffWRT(int) []bool    { return []bool{true} }

func (op l2NormRowsOp) Do(in ...G.Value) (G.Value, error) {
	out := tensor.New(tensor.WithShape(in[0].Shape().Clone()...), tensor.Of(in[0].Dtype()))
	switch in[0].Dtype() {
	case tensor.Float32:
		l2RowsForward(in[0].Shape(), data[float32](in[0]), out.Data().([]float32))
	case tensor.Float64:
		l2RowsForward(in[0].Shape(), data[float64](in[0]), out.Data().([]float64))
	default:
		return nil, fmt.Errorf("nn: L2Norm: unsupported dtype %v", in[0].Dtype())
	}
	return out, nil
}

func (op l2NormRowsOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(l2NormRowsGradOp{}, inputs[0], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx}, nil
}

// rowNorm returns √(Σ x² + SqrtTiny) of one row.
func rowNorm[F float](x []F) F {
	var q F
	for _, v := range x {
		q += v * v
	}
	return F(math.Sqrt(float64(q) + SqrtTiny))
}

func l2RowsForward[F float](sh tensor.Shape, x, y []F) {
	rows, cols := sh[0], sh[1]
	parallelRows(rows, cols, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xr, yr := x[r*cols:(r+1)*cols], y[r*cols:(r+1)*cols]
			n := rowNorm(xr) + F(L2Eps)
			for c, v := range xr {
				yr[c] = v / n
			}
		}
	})
}

// l2NormRowsGradOp returns ∂cost/∂x from x and ∂cost/∂y.
type l2NormRowsGradOp struct{}

func (op l2NormRowsGradOp) Arity() int { return 2 }
func (op l2NormRowsGradOp) Type() hm.Type {
	t2 := G.TensorType{Dims: 2, Of: hm.TypeVariable('a')}
	return hm.NewFnType(t2, t2, t2)
}
func (op l2NormRowsGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}
func (op l2NormRowsGradOp) ReturnsPtr() bool      { return false }
func (op l2NormRowsGradOp) CallsExtern() bool     { return false }
func (op l2NormRowsGradOp) OverwritesInput() int  { return -1 }
func (op l2NormRowsGradOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "L2NormRowsGrad") }
func (op l2NormRowsGradOp) Hashcode() uint32      { return hashOf(op) }
func (op l2NormRowsGradOp) String() string        { return "L2NormRowsGrad" }

func (op l2NormRowsGradOp) Do(in ...G.Value) (G.Value, error) {
	out := tensor.New(tensor.WithShape(in[0].Shape().Clone()...), tensor.Of(in[0].Dtype()))
	switch in[0].Dtype() {
	case tensor.Float32:
		l2RowsBackward(in[0].Shape(), data[float32](in[0]), data[float32](in[1]), out.Data().([]float32))
	case tensor.Float64:
		l2RowsBackward(in[0].Shape(), data[float64](in[0]), data[float64](in[1]), out.Data().([]float64))
	default:
		return nil, fmt.Errorf("nn: L2Norm: unsupported dtype %v", in[0].Dtype())
	}
	return out, nil
}

// l2RowsBackward: with sq = √(Σx² + tiny) and n = sq + eps, y = x/n gives
// ∂x = ∂y/n − x·(Σ ∂y·x)/(n²·sq).
func l2RowsBackward[F float](sh tensor.Shape, x, dy, dx []F) {
	rows, cols := sh[0], sh[1]
	parallelRows(rows, cols, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xr, dyr, dxr := x[r*cols:(r+1)*cols], dy[r*cols:(r+1)*cols], dx[r*cols:(r+1)*cols]
			sq := rowNorm(xr)
			n := sq + F(L2Eps)
			var dot F
			for c, v := range xr {
				dot += dyr[c] * v
			}
			f := dot / (n * n * sq)
			for c, v := range xr {
				dxr[c] = dyr[c]/n - v*f
			}
		}
	})
}
