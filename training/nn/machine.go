package nn

import (
	G "gorgonia.org/gorgonia"
)

// NewMachine returns the VM groundcap runs graphs with: a TapeMachine,
// binding dual values for wrt (which may be empty).
//
// gorgonia v0.9.18's TapeMachine computes element-wise ops in place into an
// input's register when its liveness analysis believes the input dead; the
// analysis does not follow views (its Reshape and Slice return pointers
// into their input), which silently corrupted values and gradients in
// SCAN's attention graph. Code in this project therefore reshapes with
// nn.Reshape, which copies (see TestXAttnMatchesDirectFormula in
// training/scan).
func NewMachine(g *G.ExprGraph, wrt ...*G.Node) G.VM {
	if len(wrt) == 0 {
		return G.NewTapeMachine(g)
	}
	return G.NewTapeMachine(g, G.BindDualValues(wrt...))
}

// Needed returns the part of g that computing roots needs. Symbolic
// differentiation in gorgonia creates the gradient of every input of an op
// whose gradient it needs (a product's gradient with respect to its data
// input too), and a machine compiled from the whole graph computes them all;
// one compiled from Needed(g, outputs and gradients...) does not.
func Needed(g *G.ExprGraph, roots ...*G.Node) *G.ExprGraph {
	return g.ExactSubgraphRoots(roots...)
}
