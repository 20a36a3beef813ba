package nn

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// gorgonia.org/tensor v0.9.23 reduces along a middle axis of a tensor with
// four or more dimensions incorrectly (Sum(x, 2) of a (2,3,3,2) tensor gives
// wrong sums for all but the first slice). Every reduction and broadcast in
// this package therefore goes through the ops below, which view x as
// (outer, n, inner) around the axis.

// ReduceSum sums x along axis, removing it.
func ReduceSum(x *G.Node, axis int) *G.Node {
	checkAxis("ReduceSum", x, axis)
	return must(G.ApplyOp(reduceOp{axis: axis, dims: x.Dims()}, x))
}

// ReduceMax takes the maximum of x along axis, removing it. Its gradient
// goes to every position equal to the maximum (as gorgonia's Max).
func ReduceMax(x *G.Node, axis int) *G.Node {
	checkAxis("ReduceMax", x, axis)
	return must(G.ApplyOp(reduceOp{axis: axis, max: true, dims: x.Dims()}, x))
}

// Expand inserts an axis of size n at position axis, repeating x along it.
func Expand(x *G.Node, axis, n int) *G.Node {
	if axis < 0 || axis > x.Dims() {
		panic(fmt.Sprintf("nn: Expand: axis %d out of range for shape %v", axis, x.Shape()))
	}
	return must(G.ApplyOp(expandOp{axis: axis, n: n, dims: x.Dims(), in: fmt.Sprint([]int(x.Shape()))}, x))
}

// BroadcastTo expands small to shape by inserting the axes listed in
// pattern (ascending axes of shape that small lacks).
func BroadcastTo(small *G.Node, pattern []byte, shape tensor.Shape) *G.Node {
	if len(pattern)+small.Dims() != len(shape) {
		panic(fmt.Sprintf("nn: BroadcastTo: %v with pattern %v cannot make %v", small.Shape(), pattern, shape))
	}
	out := small
	for _, p := range pattern {
		out = Expand(out, int(p), shape[p])
	}
	if !out.Shape().Eq(shape) {
		panic(fmt.Sprintf("nn: BroadcastTo: %v with pattern %v gives %v, want %v", small.Shape(), pattern, out.Shape(), shape))
	}
	return out
}

func checkAxis(name string, x *G.Node, axis int) {
	if axis < 0 || axis >= x.Dims() {
		panic(fmt.Sprintf("nn: %s: axis %d out of range for shape %v", name, axis, x.Shape()))
	}
}

// split returns outer, n, inner sizes around axis.
func split(s tensor.Shape, axis int) (outer, n, inner int) {
	outer, inner = 1, 1
	for i, d := range s {
		switch {
		case i < axis:
			outer *= d
		case i > axis:
			inner *= d
		}
	}
	return outer, s[axis], inner
}

func removeAxis(s tensor.Shape, axis int) tensor.Shape {
	out := make(tensor.Shape, 0, len(s)-1)
	out = append(out, s[:axis]...)
	out = append(out, s[axis+1:]...)
	if len(out) == 0 {
		return tensor.ScalarShape()
	}
	return out
}

type reduceOp struct {
	axis, dims int // dims: rank of the input
	max        bool
}

// tt is the gorgonia type of a rank-d tensor of element type a (a itself
// for rank 0).
func tt(d int, a hm.Type) hm.Type {
	if d == 0 {
		return a
	}
	return G.TensorType{Dims: d, Of: a}
}

func (op reduceOp) Arity() int { return 1 }
func (op reduceOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(tt(op.dims, a), tt(op.dims-1, a))
}
func (op reduceOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return removeAxis(in[0].(tensor.Shape), op.axis), nil
}
func (op reduceOp) ReturnsPtr() bool      { return false }
func (op reduceOp) CallsExtern() bool     { return false }
func (op reduceOp) OverwritesInput() int  { return -1 }
func (op reduceOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op reduceOp) Hashcode() uint32      { return hashOf(op) }
func (op reduceOp) String() string {
	if op.max {
		return fmt.Sprintf("nnMax{%d/%d}", op.axis, op.dims)
	}
	return fmt.Sprintf("nnSum{%d/%d}", op.axis, op.dims)
}
func (op reduceOp) DiffWRT(int) []bool { return []bool{true} }

func reduceData[T float32 | float64](src []T, outer, n, inner int, max bool) []T {
	dst := make([]T, outer*inner)
	for o := 0; o < outer; o++ {
		d := dst[o*inner : (o+1)*inner]
		base := o * n * inner
		copy(d, src[base:base+inner])
		for k := 1; k < n; k++ {
			row := src[base+k*inner : base+(k+1)*inner]
			if max {
				for i, x := range row {
					if x > d[i] {
						d[i] = x
					}
				}
			} else {
				for i, x := range row {
					d[i] += x
				}
			}
		}
	}
	return dst
}

func newDense(shape tensor.Shape, backing interface{}) G.Value {
	if shape.IsScalar() {
		switch b := backing.(type) {
		case []float32:
			return G.NewF32(b[0])
		case []float64:
			return G.NewF64(b[0])
		}
	}
	return tensor.New(tensor.WithShape(shape.Clone()...), tensor.WithBacking(backing))
}

func (op reduceOp) Do(in ...G.Value) (G.Value, error) {
	t, ok := in[0].(tensor.Tensor)
	if !ok {
		return nil, fmt.Errorf("nn: %v: input is %T", op, in[0])
	}
	outer, n, inner := split(t.Shape(), op.axis)
	out := removeAxis(t.Shape(), op.axis)
	switch d := t.Data().(type) {
	case []float32:
		return newDense(out, reduceData(d, outer, n, inner, op.max)), nil
	case []float64:
		return newDense(out, reduceData(d, outer, n, inner, op.max)), nil
	}
	return nil, fmt.Errorf("nn: %v: unsupported dtype %v", op, t.Dtype())
}

func (op reduceOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	x := inputs[0]
	n := x.Shape()[op.axis]
	if !op.max {
		return G.Nodes{Expand(grad, op.axis, n)}, nil
	}
	g, err := G.ApplyOp(maxGradOp{axis: op.axis, dims: op.dims}, x, output, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{g}, nil
}

// expandOp repeats x n times along a new axis.
type expandOp struct {
	axis, n, dims int
	in            string // the input shape at graph construction, for hashing and checking
}

func (op expandOp) Arity() int { return 1 }
func (op expandOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(tt(op.dims, a), tt(op.dims+1, a))
}
func (op expandOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s := in[0].(tensor.Shape)
	if s.IsScalar() {
		s = tensor.Shape{}
	}
	out := make(tensor.Shape, 0, len(s)+1)
	out = append(out, s[:op.axis]...)
	out = append(out, op.n)
	return append(out, s[op.axis:]...), nil
}
func (op expandOp) ReturnsPtr() bool      { return false }
func (op expandOp) CallsExtern() bool     { return false }
func (op expandOp) OverwritesInput() int  { return -1 }
func (op expandOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op expandOp) Hashcode() uint32      { return hashOf(op) }
func (op expandOp) String() string        { return fmt.Sprintf("nnExpand{%d,%d/%s}", op.axis, op.n, op.in) }
func (op expandOp) DiffWRT(int) []bool    { return []bool{true} }

func expandData[T float32 | float64](src []T, outer, n, inner int) []T {
	dst := make([]T, outer*n*inner)
	for o := 0; o < outer; o++ {
		s := src[o*inner : (o+1)*inner]
		for k := 0; k < n; k++ {
			copy(dst[(o*n+k)*inner:], s)
		}
	}
	return dst
}

func (op expandOp) Do(in ...G.Value) (G.Value, error) {
	var shape tensor.Shape
	var data interface{}
	switch v := in[0].(type) {
	case tensor.Tensor:
		shape, data = v.Shape(), v.Data()
	case *G.F32:
		shape, data = tensor.ScalarShape(), []float32{float32(*v)}
	case *G.F64:
		shape, data = tensor.ScalarShape(), []float64{float64(*v)}
	default:
		return nil, fmt.Errorf("nn: %v: input is %T", op, in[0])
	}
	switch d := data.(type) {
	case float32:
		data = []float32{d}
	case float64:
		data = []float64{d}
	}
	if shape.IsScalar() || len(shape) != op.dims {
		// gorgonia squeezes some size-1 results (a slice of a (T, 1) mask is
		// a scalar); the element count is what matters.
		shape = tensor.Shape{}
		if op.dims > 0 {
			shape = parseShape(op.in)
		}
	}
	out, _ := op.InferShape(shape)
	outer, _, inner := split(out, op.axis)
	switch d := data.(type) {
	case []float32:
		return newDense(out, expandData(d, outer, op.n, inner)), nil
	case []float64:
		return newDense(out, expandData(d, outer, op.n, inner)), nil
	}
	return nil, fmt.Errorf("nn: %v: unsupported data %T", op, data)
}

func (op expandOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	return G.Nodes{ReduceSum(grad, op.axis)}, nil
}

// maxGradOp routes grad (reduced shape) to the positions of x equal to the
// maximum m (reduced shape).
type maxGradOp struct{ axis, dims int }

func (op maxGradOp) Arity() int { return 3 }
func (op maxGradOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(tt(op.dims, a), tt(op.dims-1, a), tt(op.dims-1, a), tt(op.dims, a))
}
func (op maxGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}
func (op maxGradOp) ReturnsPtr() bool      { return false }
func (op maxGradOp) CallsExtern() bool     { return false }
func (op maxGradOp) OverwritesInput() int  { return -1 }
func (op maxGradOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op maxGradOp) Hashcode() uint32      { return hashOf(op) }
func (op maxGradOp) String() string        { return fmt.Sprintf("nnMaxGrad{%d}", op.axis) }

func maxGradData[T float32 | float64](x, m, g []T, outer, n, inner int) []T {
	dst := make([]T, len(x))
	for o := 0; o < outer; o++ {
		for k := 0; k < n; k++ {
			for i := 0; i < inner; i++ {
				if x[(o*n+k)*inner+i] == m[o*inner+i] {
					dst[(o*n+k)*inner+i] = g[o*inner+i]
				}
			}
		}
	}
	return dst
}

func flat(v G.Value) interface{} {
	switch x := v.(type) {
	case *G.F32:
		return []float32{float32(*x)}
	case *G.F64:
		return []float64{float64(*x)}
	}
	return v.Data()
}

func (op maxGradOp) Do(in ...G.Value) (G.Value, error) {
	x := in[0].(tensor.Tensor)
	outer, n, inner := split(x.Shape(), op.axis)
	switch xd := x.Data().(type) {
	case []float32:
		return newDense(x.Shape(), maxGradData(xd, flat(in[1]).([]float32), flat(in[2]).([]float32), outer, n, inner)), nil
	case []float64:
		return newDense(x.Shape(), maxGradData(xd, flat(in[1]).([]float64), flat(in[2]).([]float64), outer, n, inner)), nil
	}
	return nil, fmt.Errorf("nn: %v: unsupported dtype %v", op, x.Dtype())
}

// parseShape parses fmt.Sprint([]int) output ("[2 3]").
func parseShape(s string) tensor.Shape {
	var out tensor.Shape
	n, have := 0, false
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9':
			n = n*10 + int(c-'0')
			have = true
		case have:
			out = append(out, n)
			n, have = 0, false
		}
	}
	return out
}
