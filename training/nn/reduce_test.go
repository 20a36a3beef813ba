package nn

import (
	"testing"

	G "gorgonia.org/gorgonia"
)

func TestReduceSumMiddleAxis4D(t *testing.T) {
	// Regression for gorgonia.org/tensor's wrong middle-axis reductions of
	// 4-D tensors: expected sums computed by loops here.
	g := G.NewGraph()
	x := randParam(g, "x", 1, 2, 3, 3, 2)
	xd := append([]float64(nil), x.Value().Data().([]float64)...)
	got := runOut(t, g, ReduceSum(x, 2))
	var want []float64
	for i := 0; i < 2; i++ {
		for k := 0; k < 3; k++ {
			for j := 0; j < 2; j++ {
				s := 0.0
				for l := 0; l < 3; l++ {
					s += xd[((i*3+k)*3+l)*2+j]
				}
				want = append(want, s)
			}
		}
	}
	near(t, "sum", got, want, 1e-12)
}

func TestGradReduceExpand(t *testing.T) {
	for axis := 0; axis < 4; axis++ {
		checkGrad(t, "ReduceSum", func(g *G.ExprGraph) (*G.Node, G.Nodes) {
			x := randParam(g, "x", uint64(axis+1), 2, 3, 2, 2)
			return weighted(g, ReduceSum(x, axis), 2), G.Nodes{x}
		})
		checkGrad(t, "ReduceMax", func(g *G.ExprGraph) (*G.Node, G.Nodes) {
			x := randParam(g, "x", uint64(axis+1), 2, 3, 2, 2)
			return weighted(g, ReduceMax(x, axis), 2), G.Nodes{x}
		})
		checkGrad(t, "Expand", func(g *G.ExprGraph) (*G.Node, G.Nodes) {
			x := randParam(g, "x", uint64(axis+1), 2, 3, 2)
			return weighted(g, Expand(x, axis, 3), 2), G.Nodes{x}
		})
	}
}
