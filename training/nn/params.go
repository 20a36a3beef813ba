package nn

import (
	"fmt"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// ParamSet owns a model's parameter tensors, so that several graphs (one
// per batch shape, or a training and an inference graph) share the same
// weights. The first request for a name allocates and initialises its
// tensor from R; later requests (on any graph) return a node bound to the
// same tensor. Creation order is the parameter order used by optimisers
// and checkpoints. A ParamSet is not safe for concurrent graph building.
type ParamSet struct {
	// Dtype of every parameter.
	Dtype tensor.Dtype
	// R is the random source for initialisation.
	R     *rand.Rand
	names []string
	vals  map[string]*tensor.Dense
}

// NewParamSet returns an empty set initialising from r.
func NewParamSet(dt tensor.Dtype, r *rand.Rand) *ParamSet {
	return &ParamSet{Dtype: dt, R: r, vals: map[string]*tensor.Dense{}}
}

// Node returns a node on g named name bound to the set's tensor of that
// name, creating and initialising the tensor with init on first use. It
// panics if an existing tensor has another shape (a programmer error).
func (ps *ParamSet) Node(g *G.ExprGraph, name string, init Init, shape ...int) *G.Node {
	v, ok := ps.vals[name]
	if !ok {
		v = init(ps.R, ps.Dtype, shape...)
		ps.vals[name] = v
		ps.names = append(ps.names, name)
	} else if !v.Shape().Eq(tensor.Shape(shape)) {
		panic(fmt.Sprintf("nn: parameter %s has shape %v, requested %v", name, v.Shape(), shape))
	}
	return G.NewTensor(g, ps.Dtype, len(shape), G.WithShape(shape...), G.WithName(name), G.WithValue(v))
}

// Names returns the parameter names in creation order.
func (ps *ParamSet) Names() []string { return append([]string(nil), ps.names...) }

// Tensor returns the tensor called name, or nil.
func (ps *ParamSet) Tensor(name string) *tensor.Dense { return ps.vals[name] }

// Nodes returns g's nodes for the set's parameters in creation order; it
// fails if g lacks one.
func (ps *ParamSet) Nodes(g *G.ExprGraph) (G.Nodes, error) {
	out := make(G.Nodes, len(ps.names))
	for i, n := range ps.names {
		found := g.ByName(n)
		if len(found) != 1 {
			return nil, fmt.Errorf("nn: graph has %d nodes named %s, want 1", len(found), n)
		}
		out[i] = found[0]
	}
	return out, nil
}
