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
