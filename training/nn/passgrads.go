package nn

import (
	"fmt"
	"hash"
	"sync/atomic"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// opIDs numbers the fused ops that carry state, so that gorgonia never merges two of them.
var opIDs atomic.Int64

// passGrads hands the gradients that a fused op's backward computes all at once to the gradient
// ops that each return one of them: the first gradient op run after a forward pass computes them
// all (gorgonia runs the forward op before the gradient ops in every pass), the others take theirs.
type passGrads struct {
	fwdGen, gradGen int64
	grads           []*tensor.Dense
}

// forward marks a new pass.
func (p *passGrads) forward() { p.fwdGen++ }

// take returns gradient which of the current pass; the first call of a pass runs compute, which
// fills p.grads. Each pass allocates fresh gradients and each gradient op runs once per pass, so
// a tensor is handed over without a copy.
func (p *passGrads) take(which int, op fmt.Stringer, compute func() error) (*tensor.Dense, error) {
	if p.gradGen != p.fwdGen {
		if err := compute(); err != nil {
			return nil, err
		}
		p.gradGen = p.fwdGen
	}
	g := p.grads[which]
	p.grads[which] = nil
	if g == nil {
		return nil, fmt.Errorf("nn: %v: gradient %d asked for twice in one pass", op, which)
	}
	return g, nil
}

// fusedOp is a fused op whose backward computes the gradients of all its inputs at once; one
// fusedGradOp per input hands them out (passGrads).
type fusedOp interface {
	G.Op
	// types are the types of the op's inputs and output.
	types(a hm.TypeVariable) (in []hm.Type, out hm.Type)
	grads() *passGrads
	// backward fills grads().grads, one per input that has a gradient; in is the op's
	// inputs, then its output and the output's gradient.
	backward(in []G.Value) error
}

// fusedType is the function type of a fusedOp, from its types.
func fusedType(op fusedOp) hm.Type {
	in, out := op.types(hm.TypeVariable('a'))
	return hm.NewFnType(append(in, out)...)
}

// fusedSymDiff is SymDiff of a fusedOp whose first n inputs have gradients (the rest get nil).
func fusedSymDiff(op fusedOp, n int, inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	args := append(append(G.Nodes{}, inputs...), output, grad)
	out := make(G.Nodes, len(inputs))
	for i := range n {
		g, err := G.ApplyOp(fusedGradOp{fwd: op, which: i, shape: inputs[i].Shape().Clone()}, args...)
		if err != nil {
			return nil, err
		}
		out[i] = g
	}
	return out, nil
}

// fusedGradOp returns the gradient of input which of a fusedOp; the first one run in a pass
// computes all of them. Its inputs are the forward inputs, the output and the output's gradient.
type fusedGradOp struct {
	fwd   fusedOp
	which int
	shape tensor.Shape
}

func (op fusedGradOp) Arity() int { return op.fwd.Arity() + 2 }
func (op fusedGradOp) Type() hm.Type {
	in, out := op.fwd.types(hm.TypeVariable('a'))
	return hm.NewFnType(append(append(in, out, out), in[op.which])...)
}
func (op fusedGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.shape.Clone(), nil }
func (op fusedGradOp) ReturnsPtr() bool                               { return false }
func (op fusedGradOp) CallsExtern() bool                              { return false }
func (op fusedGradOp) OverwritesInput() int                           { return -1 }
func (op fusedGradOp) WriteHash(h hash.Hash) {
	op.fwd.WriteHash(h)
	fmt.Fprintf(h, "Grad%d", op.which)
}
func (op fusedGradOp) Hashcode() uint32 { return hashOf(op) }
func (op fusedGradOp) String() string   { return fmt.Sprintf("%vGrad%d", op.fwd, op.which) }

func (op fusedGradOp) Do(in ...G.Value) (G.Value, error) {
	return op.fwd.grads().take(op.which, op.fwd, func() error { return op.fwd.backward(in) })
}
