package nn

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Columns returns columns [lo, hi) of the matrix x (R, W) as a new (R, hi−lo) matrix (a copy,
// never a view; see Copy). Its gradient is the output's gradient placed in those columns of a
// zero (R, W) matrix.
func Columns(x *G.Node, lo, hi int) *G.Node {
	if x.Dims() != 2 || lo < 0 || hi <= lo || hi > x.Shape()[1] {
		panic(fmt.Sprintf("nn: Columns [%d, %d) of %v", lo, hi, x.Shape()))
	}
	return must(G.ApplyOp(columnsOp{w: x.Shape()[1], lo: lo, hi: hi}, x))
}

// columnsOp copies columns [lo, hi) of a (R, w) matrix; with pad, it places a (R, hi−lo)
// matrix into those columns of a zero (R, w) one (the gradient).
type columnsOp struct {
	w, lo, hi int
	pad       bool
}

func (columnsOp) Arity() int { return 1 }
func (columnsOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(tt(2, a), tt(2, a))
}
func (op columnsOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, ok := in[0].(tensor.Shape)
	if !ok || len(s) != 2 {
		return nil, fmt.Errorf("nn: %v: input shape %v", op, in[0])
	}
	if op.pad {
		return tensor.Shape{s[0], op.w}, nil
	}
	return tensor.Shape{s[0], op.hi - op.lo}, nil
}
func (columnsOp) ReturnsPtr() bool         { return false }
func (columnsOp) CallsExtern() bool        { return false }
func (columnsOp) OverwritesInput() int     { return -1 }
func (op columnsOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op columnsOp) Hashcode() uint32      { return hashOf(op) }
func (op columnsOp) String() string {
	if op.pad {
		return fmt.Sprintf("PadColumns{%d:%d/%d}", op.lo, op.hi, op.w)
	}
	return fmt.Sprintf("Columns{%d:%d/%d}", op.lo, op.hi, op.w)
}
func (columnsOp) DiffWRT(int) []bool { return []bool{true} }

func (op columnsOp) Do(in ...G.Value) (G.Value, error) {
	switch in[0].Dtype() {
	case tensor.Float32:
		return columns[float32](op, in[0]), nil
	case tensor.Float64:
		return columns[float64](op, in[0]), nil
	}
	return nil, fmt.Errorf("nn: %v: unsupported dtype %v", op, in[0].Dtype())
}

func columns[F float](op columnsOp, xv G.Value) G.Value {
	x, rows, c := data[F](xv), xv.Shape()[0], op.hi-op.lo
	if op.pad {
		out := make([]F, rows*op.w)
		for r := 0; r < rows; r++ {
			copy(out[r*op.w+op.lo:r*op.w+op.hi], x[r*c:(r+1)*c])
		}
		return newDense(tensor.Shape{rows, op.w}, out)
	}
	out := make([]F, rows*c)
	for r := 0; r < rows; r++ {
		copy(out[r*c:(r+1)*c], x[r*op.w+op.lo:r*op.w+op.hi])
	}
	return newDense(tensor.Shape{rows, c}, out)
}

func (op columnsOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	if op.pad {
		return G.Nodes{Columns(grad, op.lo, op.hi)}, nil
	}
	back := op
	back.pad = true
	g, err := G.ApplyOp(back, grad)
	return G.Nodes{g}, err
}
