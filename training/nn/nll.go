package nn

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// WeightedNLL returns the weighted negative log-likelihood −Σ_r w[r]·log softmax(x[r])[target[r]]
// of the rows of logits x (R, V), target (R) an int node and w (R) (no gradient), as one op:
// the values of LogSoftmax, a gather of the targets and a weighted sum (the reference it is
// tested against) without the (R, V) log-probabilities, their broadcasts and copies, in one
// pass over x forward and one backward. Rows of weight 0 cost nothing and get a zero gradient.
func WeightedNLL(x, target, w *G.Node) *G.Node {
	if x.Dims() != 2 || !target.Shape().Eq(tensor.Shape{x.Shape()[0]}) || !w.Shape().Eq(tensor.Shape{x.Shape()[0]}) {
		panic(fmt.Sprintf("nn: WeightedNLL: logits %v, target %v, w %v", x.Shape(), target.Shape(), w.Shape()))
	}
	return must(G.ApplyOp(nllOp{id: opIDs.Add(1), st: &nllState{}}, x, target, w))
}

// nllOp is WeightedNLL's op; forward keeps each row's log Σ exp for backward (nllGradOp).
type nllOp struct {
	id int64
	st *nllState
}

type nllState struct{ lse any } // (R) []F

func nllTypes(a hm.TypeVariable) []hm.Type {
	return []hm.Type{tt(2, a), G.TensorType{Dims: 1, Of: tensor.Int}, tt(1, a)}
}

func (nllOp) Arity() int { return 3 }
func (nllOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(append(nllTypes(a), a)...)
}
func (nllOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return tensor.ScalarShape(), nil }
func (nllOp) ReturnsPtr() bool                               { return false }
func (nllOp) CallsExtern() bool                              { return false }
func (nllOp) OverwritesInput() int                           { return -1 }
func (op nllOp) WriteHash(h hash.Hash)                       { fmt.Fprintf(h, "WeightedNLL{%d}", op.id) }
func (op nllOp) Hashcode() uint32                            { return hashOf(op) }
func (nllOp) String() string                                 { return "WeightedNLL" }
func (nllOp) DiffWRT(int) []bool                             { return []bool{true, false, false} }

func (op nllOp) Do(in ...G.Value) (G.Value, error) {
	ids := in[1].Data().([]int)
	switch in[0].Dtype() {
	case tensor.Float32:
		return nllForward[float32](op.st, in[0], ids, data[float32](in[2]))
	case tensor.Float64:
		return nllForward[float64](op.st, in[0], ids, data[float64](in[2]))
	}
	return nil, fmt.Errorf("nn: %v: unsupported dtype %v", op, in[0].Dtype())
}

func nllForward[F float](st *nllState, xv G.Value, ids []int, w []F) (G.Value, error) {
	R, V := xv.Shape()[0], xv.Shape()[1]
	x := data[F](xv)
	for r, id := range ids {
		if w[r] != 0 && (id < 0 || id >= V) {
			return nil, fmt.Errorf("nn: WeightedNLL: target %d of row %d outside [0, %d)", id, r, V)
		}
	}
	lse := reuse[F](&st.lse, R)
	parallelRows(R, V, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			if w[r] == 0 {
				continue
			}
			row := x[r*V : (r+1)*V]
			mx := row[0]
			for _, v := range row[1:] {
				mx = max(mx, v)
			}
			var s float64 // in float64: V terms
			for _, v := range row {
				s += float64(expF(v - mx))
			}
			lse[r] = F(math.Log(s)) + mx
		}
	})
	var loss float64
	for r, id := range ids {
		if w[r] != 0 {
			loss -= float64(w[r]) * float64(x[r*V+id]-lse[r])
		}
	}
	return newDense(tensor.ScalarShape(), []F{F(loss)}), nil
}

func (op nllOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	g, err := G.ApplyOp(nllGradOp{op}, inputs[0], inputs[1], inputs[2], grad)
	return G.Nodes{g, nil, nil}, err
}

// nllGradOp is the gradient of a WeightedNLL's logits: −g·w[r]·(onehot(target[r]) − softmax(x[r])).
type nllGradOp struct{ fwd nllOp }

func (nllGradOp) Arity() int { return 4 }
func (nllGradOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(append(nllTypes(a), a, tt(2, a))...)
}
func (nllGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}
func (nllGradOp) ReturnsPtr() bool         { return false }
func (nllGradOp) CallsExtern() bool        { return false }
func (nllGradOp) OverwritesInput() int     { return -1 }
func (op nllGradOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "WeightedNLLGrad{%d}", op.fwd.id) }
func (op nllGradOp) Hashcode() uint32      { return hashOf(op) }
func (nllGradOp) String() string           { return "WeightedNLLGrad" }

func (op nllGradOp) Do(in ...G.Value) (G.Value, error) {
	g, err := scalarValue(in[3])
	if err != nil {
		return nil, fmt.Errorf("nn: %v: %w", op, err)
	}
	ids := in[1].Data().([]int)
	switch in[0].Dtype() {
	case tensor.Float32:
		return nllBackward[float32](op.fwd.st, in[0], ids, data[float32](in[2]), g)
	case tensor.Float64:
		return nllBackward[float64](op.fwd.st, in[0], ids, data[float64](in[2]), g)
	}
	return nil, fmt.Errorf("nn: %v: unsupported dtype %v", op, in[0].Dtype())
}

func nllBackward[F float](st *nllState, xv G.Value, ids []int, w []F, g float64) (G.Value, error) {
	R, V := xv.Shape()[0], xv.Shape()[1]
	lse, ok := st.lse.([]F)
	if !ok || len(lse) != R {
		return nil, fmt.Errorf("nn: WeightedNLL: backward before forward")
	}
	x := data[F](xv)
	dx := make([]F, R*V)
	parallelRows(R, V, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			if w[r] == 0 {
				continue
			}
			s := F(g) * w[r] // ∂/∂x = s·(softmax − onehot)
			row, d := x[r*V:(r+1)*V], dx[r*V:(r+1)*V]
			for j, v := range row {
				d[j] = s * expF(v-lse[r])
			}
			d[ids[r]] -= s
		}
	})
	return newDense(xv.Shape().Clone(), dx), nil
}
