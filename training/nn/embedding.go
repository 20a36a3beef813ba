package nn

import (
	"fmt"
	"hash"
	"hash/fnv"
	"math/rand/v2"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Embedding maps token ids to rows of a (Vocab, Dim) table. The row of the
// padding index (if Pad ≥ 0) is output as zeros and receives no gradient.
type Embedding struct {
	// W is the (Vocab, Dim) table.
	W *G.Node
	// Pad is the padding id, or −1 for none.
	Pad int
}

// NewEmbedding creates an embedding of vocab rows of width dim initialised
// by init (SCAN: U(−0.1, 0.1)); the padding row (pad ≥ 0) starts at zero.
func NewEmbedding(g *G.ExprGraph, ps *ParamSet, name string, init Init, vocab, dim, pad int) *Embedding {
	if pad >= vocab {
		panic(fmt.Sprintf("nn: NewEmbedding %s: pad %d ≥ vocab %d", name, pad, vocab))
	}
	padded := func(r *rand.Rand, dt tensor.Dtype, shape ...int) *tensor.Dense {
		v := init(r, dt, shape...)
		if pad >= 0 {
			for j := 0; j < dim; j++ {
				if err := v.SetAt(zeroOf(dt), pad, j); err != nil {
					panic(err)
				}
			}
		}
		return v
	}
	return &Embedding{W: ps.Node(g, name, padded, vocab, dim), Pad: pad}
}

func zeroOf(dt tensor.Dtype) interface{} {
	if dt == tensor.Float32 {
		return float32(0)
	}
	return float64(0)
}

// Params returns the learnable nodes.
func (e *Embedding) Params() G.Nodes { return G.Nodes{e.W} }

// Forward looks up ids, an (N) tensor.Int node, giving (N, Dim). Ids out of
// range make the graph's execution fail with an error naming the position.
func (e *Embedding) Forward(ids *G.Node) *G.Node {
	return must(G.ApplyOp(embedOp{pad: e.Pad}, e.W, ids))
}

// Gather picks rows of x, an (R, D) node: out[n] = x[idx[n]] for idx an (N) tensor.Int node,
// giving (N, D). Its gradient scatter-adds into x's rows (a row picked twice gets both).
func Gather(x, idx *G.Node) *G.Node {
	return must(G.ApplyOp(embedOp{pad: -1}, x, idx))
}

// embedOp gathers rows of W: out[n] = W[ids[n]] (zeros for the pad id).
type embedOp struct{ pad int }

func (op embedOp) Arity() int { return 2 }
func (op embedOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(G.TensorType{Dims: 2, Of: a}, G.TensorType{Dims: 1, Of: tensor.Int}, G.TensorType{Dims: 2, Of: a})
}
func (op embedOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	w := in[0].(tensor.Shape)
	ids := in[1].(tensor.Shape)
	return tensor.Shape{ids.TotalSize(), w[1]}, nil
}
func (op embedOp) ReturnsPtr() bool      { return false }
func (op embedOp) CallsExtern() bool     { return false }
func (op embedOp) OverwritesInput() int  { return -1 }
func (op embedOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "%v", op) }
func (op embedOp) Hashcode() uint32      { return hashOf(op) }
func (op embedOp) String() string        { return fmt.Sprintf("Embed{pad=%d}", op.pad) }
func (op embedOp) DiffWRT(n int) []bool  { return []bool{true, false} }

func hashOf(op G.Op) uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}

func (op embedOp) Do(in ...G.Value) (G.Value, error) {
	w := in[0].(*tensor.Dense)
	ids := in[1].(*tensor.Dense).Ints()
	v, d := w.Shape()[0], w.Shape()[1]
	out := tensor.New(tensor.WithShape(len(ids), d), tensor.Of(w.Dtype()))
	switch src := w.Data().(type) {
	case []float32:
		dst := out.Data().([]float32)
		for n, id := range ids {
			if id < 0 || id >= v {
				return nil, fmt.Errorf("nn: embedding: id %d at position %d outside vocabulary [0,%d)", id, n, v)
			}
			if id != op.pad {
				copy(dst[n*d:(n+1)*d], src[id*d:(id+1)*d])
			}
		}
	case []float64:
		dst := out.Data().([]float64)
		for n, id := range ids {
			if id < 0 || id >= v {
				return nil, fmt.Errorf("nn: embedding: id %d at position %d outside vocabulary [0,%d)", id, n, v)
			}
			if id != op.pad {
				copy(dst[n*d:(n+1)*d], src[id*d:(id+1)*d])
			}
		}
	default:
		return nil, fmt.Errorf("nn: embedding: unsupported dtype %v", w.Dtype())
	}
	return out, nil
}

func (op embedOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	gw, err := G.ApplyOp(embedGradOp{pad: op.pad}, inputs[0], inputs[1], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{gw, nil}, nil
}

// embedGradOp scatter-adds grad rows into a zero (V, D) tensor, skipping pad.
type embedGradOp struct{ pad int }

func (op embedGradOp) Arity() int { return 3 }
func (op embedGradOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	t2 := G.TensorType{Dims: 2, Of: a}
	return hm.NewFnType(t2, G.TensorType{Dims: 1, Of: tensor.Int}, t2, t2)
}
func (op embedGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}
func (op embedGradOp) ReturnsPtr() bool      { return false }
func (op embedGradOp) CallsExtern() bool     { return false }
func (op embedGradOp) OverwritesInput() int  { return -1 }
func (op embedGradOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "%v", op) }
func (op embedGradOp) Hashcode() uint32      { return hashOf(op) }
func (op embedGradOp) String() string        { return fmt.Sprintf("EmbedGrad{pad=%d}", op.pad) }

func (op embedGradOp) Do(in ...G.Value) (G.Value, error) {
	w := in[0].(*tensor.Dense)
	ids := in[1].(*tensor.Dense).Ints()
	gr := in[2].(*tensor.Dense)
	d := w.Shape()[1]
	out := tensor.New(tensor.WithShape(w.Shape().Clone()...), tensor.Of(w.Dtype()))
	switch dst := out.Data().(type) {
	case []float32:
		src := gr.Data().([]float32)
		for n, id := range ids {
			if id == op.pad {
				continue
			}
			row := dst[id*d : (id+1)*d]
			for j, x := range src[n*d : (n+1)*d] {
				row[j] += x
			}
		}
	case []float64:
		src := gr.Data().([]float64)
		for n, id := range ids {
			if id == op.pad {
				continue
			}
			row := dst[id*d : (id+1)*d]
			for j, x := range src[n*d : (n+1)*d] {
				row[j] += x
			}
		}
	}
	return out, nil
}
