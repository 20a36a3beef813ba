package nn

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// GradCheckOptions tunes GradCheck. The zero value uses the defaults.
type GradCheckOptions struct {
	// Step is the central-difference step h (0: 1e-6).
	Step float64
	// AbsTol and RelTol bound |analytic − numeric| ≤ AbsTol + RelTol·max(|a|,|n|)
	// (0: 1e-6 and 1e-4, suited to float64 graphs).
	AbsTol, RelTol float64
	// MaxPerParam caps how many elements of each checked node are perturbed,
	// spread evenly over the tensor (0: all).
	MaxPerParam int
}

// GradMismatch describes one element whose analytic and numeric gradients
// disagree.
type GradMismatch struct {
	// Node is the name of the checked node, Index the flat element index.
	Node  string
	Index int
	// Analytic and Numeric are the two gradient values.
	Analytic, Numeric float64
}

// GradCheck builds a graph with build, which returns a scalar float64 cost
// and the nodes (with values) to differentiate; it compares gorgonia's
// symbolic gradients with central finite differences of the cost and
// returns the mismatches (empty when all agree) and the largest absolute
// difference seen. Errors report graph construction or execution failures.
func GradCheck(build func(g *G.ExprGraph) (cost *G.Node, wrt G.Nodes), o GradCheckOptions) ([]GradMismatch, float64, error) {
	if o.Step == 0 {
		o.Step = 1e-6
	}
	if o.AbsTol == 0 {
		o.AbsTol = 1e-6
	}
	if o.RelTol == 0 {
		o.RelTol = 1e-4
	}
	g := G.NewGraph()
	cost, wrt := build(g)
	if cost.Dtype() != tensor.Float64 {
		return nil, 0, fmt.Errorf("nn: GradCheck needs a float64 graph, got %v", cost.Dtype())
	}
	gradNodes, err := G.Grad(cost, wrt...)
	if err != nil {
		return nil, 0, fmt.Errorf("nn: GradCheck: symbolic gradient: %w", err)
	}
	m := NewMachine(g, wrt...)
	defer m.Close()
	run := func() (float64, error) {
		m.Reset()
		if err := m.RunAll(); err != nil {
			return 0, err
		}
		return scalarValue(cost.Value())
	}
	if _, err := run(); err != nil {
		return nil, 0, fmt.Errorf("nn: GradCheck: forward/backward: %w", err)
	}
	analytic := make([][]float64, len(wrt))
	for i, n := range gradNodes {
		gv := n.Value()
		if gv == nil {
			return nil, 0, fmt.Errorf("nn: GradCheck: no gradient value for %s", wrt[i].Name())
		}
		analytic[i] = append([]float64(nil), gv.Data().([]float64)...)
	}
	var bad []GradMismatch
	maxDiff := 0.0
	for i, n := range wrt {
		data := n.Value().Data().([]float64)
		stride := 1
		if o.MaxPerParam > 0 && len(data) > o.MaxPerParam {
			stride = (len(data) + o.MaxPerParam - 1) / o.MaxPerParam
		}
		for j := 0; j < len(data); j += stride {
			orig := data[j]
			data[j] = orig + o.Step
			cp, err := run()
			if err != nil {
				return nil, 0, err
			}
			data[j] = orig - o.Step
			cm, err := run()
			if err != nil {
				return nil, 0, err
			}
			data[j] = orig
			num := (cp - cm) / (2 * o.Step)
			a := analytic[i][j]
			d := math.Abs(a - num)
			if d > maxDiff || math.IsNaN(d) {
				maxDiff = d
			}
			if !(d <= o.AbsTol+o.RelTol*math.Max(math.Abs(a), math.Abs(num))) {
				bad = append(bad, GradMismatch{Node: n.Name(), Index: j, Analytic: a, Numeric: num})
			}
		}
	}
	return bad, maxDiff, nil
}

func scalarValue(v G.Value) (float64, error) {
	switch d := v.Data().(type) {
	case float64:
		return d, nil
	case float32:
		return float64(d), nil
	case []float64:
		if len(d) == 1 {
			return d[0], nil
		}
	case []float32:
		if len(d) == 1 {
			return float64(d[0]), nil
		}
	}
	return 0, fmt.Errorf("nn: cost is not a scalar (%v)", v.Shape())
}
