package nn

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Copy returns a fresh copy of x (its own memory, never computed in place).
//
// gorgonia v0.9.18's register allocator does not track aliasing through
// view ops (Reshape, Transpose, Slice return pointers into their input): if
// a node feeds both a view and an element-wise op, the element-wise op may
// overwrite the node in place while the view is still to be read. Reshape a
// node that has other consumers only through Copy (ReshapeCopy).
func Copy(x *G.Node) *G.Node { return must(G.ApplyOp(copyOp{}, x)) }

// ReshapeCopy is Reshape (which copies); kept for readability at call sites
// where the source has other consumers.
func ReshapeCopy(x *G.Node, shape ...int) *G.Node { return Reshape(x, shape...) }

// Reshape returns x with a new shape of the same size, as a copy (never a
// view; see Copy for why).
func Reshape(x *G.Node, shape ...int) *G.Node {
	if x.Shape().TotalSize() != tensor.Shape(shape).TotalSize() {
		panic(fmt.Sprintf("nn: Reshape: %v to %v changes the size", x.Shape(), shape))
	}
	return must(G.ApplyOp(reshapeOp{from: append([]int(nil), x.Shape()...), to: append([]int(nil), shape...)}, x))
}

type reshapeOp struct{ from, to []int }

func (reshapeOp) Arity() int { return 1 }
func (op reshapeOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(tt(len(op.from), a), tt(len(op.to), a))
}
func (op reshapeOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape(append([]int(nil), op.to...)), nil
}
func (reshapeOp) ReturnsPtr() bool         { return false }
func (reshapeOp) CallsExtern() bool        { return false }
func (reshapeOp) OverwritesInput() int     { return -1 }
func (op reshapeOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op reshapeOp) Hashcode() uint32      { return hashOf(op) }
func (op reshapeOp) String() string        { return fmt.Sprintf("nnReshape%v→%v", op.from, op.to) }
func (reshapeOp) DiffWRT(int) []bool       { return []bool{true} }

func (op reshapeOp) Do(in ...G.Value) (G.Value, error) {
	switch d := flat(in[0]).(type) {
	case []float32:
		return newDense(tensor.Shape(op.to), append([]float32(nil), d...)), nil
	case []float64:
		return newDense(tensor.Shape(op.to), append([]float64(nil), d...)), nil
	}
	return nil, fmt.Errorf("nn: %v: unsupported input %T", op, in[0])
}

func (op reshapeOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	return G.Nodes{Reshape(grad, op.from...)}, nil
}

type copyOp struct{}

func (copyOp) Arity() int { return 1 }
func (copyOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a)
}
func (copyOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}
func (copyOp) ReturnsPtr() bool         { return false }
func (copyOp) CallsExtern() bool        { return false }
func (copyOp) OverwritesInput() int     { return -1 }
func (op copyOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "Copy") }
func (op copyOp) Hashcode() uint32      { return hashOf(op) }
func (copyOp) String() string           { return "Copy" }
func (copyOp) DiffWRT(int) []bool       { return []bool{true} }

func (copyOp) Do(in ...G.Value) (G.Value, error) {
	t, ok := in[0].(tensor.Tensor)
	if !ok {
		return nil, fmt.Errorf("nn: Copy: input is %T, want a tensor", in[0])
	}
	return t.Clone().(G.Value), nil
}

func (copyOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	return G.Nodes{Copy(grad)}, nil
}
