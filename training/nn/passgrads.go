package nn

import (
	"fmt"
	"sync/atomic"

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
