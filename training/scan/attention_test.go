package scan

import (
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/groundcap/groundcap/training/nn"
)

func randT(seed uint64, shape ...int) *tensor.Dense {
	return nn.Uniform(-1, 1)(rand.New(rand.NewPCG(seed, 5)), tensor.Float64, shape...)
}

func node(g *G.ExprGraph, name string, t *tensor.Dense) *G.Node {
	return G.NewTensor(g, t.Dtype(), t.Dims(), G.WithShape(t.Shape()...), G.WithName(name), G.WithValue(t))
}

var testDims = Dims{I: 2, K: 3, J: 2, L: 3, E: 4}

// masks: image 1 has 2 valid regions; caption 0 has T′ = {0, 2}, caption 1
// has T′ = {0, 1} (t = 2 is padding).
func testMasks(g *G.ExprGraph) (rm, wm *G.Node) {
	rm = node(g, "rm", nn.FromFloat64(tensor.Float64, []float64{1, 1, 1, 1, 1, 0}, 2, 3))
	wm = node(g, "wm", nn.FromFloat64(tensor.Float64, []float64{1, 1, 0, 1, 1, 0}, 3, 2))
	return rm, wm
}

func TestGradXAttnAndScores(t *testing.T) {
	// Gradients of α, R and both aggregations w.r.t. the region and word
	// embeddings, against central differences (float64, default tolerances).
	for _, agg := range []string{"lse", "avg", "alpha"} {
		bad, maxDiff, err := nn.GradCheck(func(g *G.ExprGraph) (*G.Node, G.Nodes) {
			v := node(g, "v", randT(1, 6, 4))
			e := node(g, "e", randT(2, 6, 4))
			rm, wm := testMasks(g)
			vn, en := nn.L2Norm(v, 1), nn.L2Norm(e, 1)
			alpha, r := XAttnT2I(vn, en, rm, wm, testDims, 9)
			var out *G.Node
			switch agg {
			case "lse":
				out = ScoreLSE(r, wm, 6)
			case "avg":
				out = ScoreAVG(r, wm)
			default:
				// α at valid words only (weights zero elsewhere by construction)
				w := node(g, "w", randT(3, 2, 3, 3, 2))
				wmask := node(g, "wmask", nn.FromFloat64(tensor.Float64, []float64{1, 1, 0, 1, 1, 0}, 3, 2))
				out = must(G.HadamardProd(must(G.HadamardProd(alpha, w)), nn.BroadcastTo(wmask, []byte{0, 1}, alpha.Shape())))
			}
			wts := node(g, "wts", randT(4, out.Shape()...))
			return must(G.Sum(must(G.HadamardProd(out, wts)))), G.Nodes{v, e}
		}, nn.GradCheckOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bad {
			t.Errorf("%s: %s[%d] analytic %v numeric %v", agg, b.Node, b.Index, b.Analytic, b.Numeric)
		}
		t.Logf("%s: max diff %.3g", agg, maxDiff)
	}
}

// refScore is a direct float64 transcription of SCAN's xattn_score_t2i for
// one pair (materialising the attended vectors), with the T′ selection of
// POS-SCAN: v (K, E) regions (valid ones only), e (T′, E) words.
func refScore(v, e [][]float64, lambdaSM, lambdaLSE float64, lse bool) (alpha [][]float64, score float64) {
	K, T := len(v), len(e)
	dot := func(a, b []float64) float64 {
		s := 0.0
		for i := range a {
			s += a[i] * b[i]
		}
		return s
	}
	s := make([][]float64, K)
	for k := range s {
		s[k] = make([]float64, T)
		for t := range e {
			x := dot(v[k], e[t])
			if x < 0 {
				x *= 0.1
			}
			s[k][t] = x
		}
		n := math.Sqrt(dot(s[k], s[k])) + 1e-8
		for t := range s[k] {
			s[k][t] /= n
		}
	}
	alpha = make([][]float64, T)
	var rs []float64
	for t := 0; t < T; t++ {
		alpha[t] = make([]float64, K)
		z := 0.0
		for k := 0; k < K; k++ {
			alpha[t][k] = math.Exp(lambdaSM * s[k][t])
			z += alpha[t][k]
		}
		a := make([]float64, len(e[t]))
		for k := 0; k < K; k++ {
			alpha[t][k] /= z
			for d := range a {
				a[d] += alpha[t][k] * v[k][d]
			}
		}
		rs = append(rs, dot(e[t], a)/math.Max(math.Sqrt(dot(e[t], e[t]))*math.Sqrt(dot(a, a)), 1e-8))
	}
	if !lse {
		m := 0.0
		for _, r := range rs {
			m += r
		}
		return alpha, m / float64(T)
	}
	z := 0.0
	for _, r := range rs {
		z += math.Exp(lambdaLSE * r)
	}
	return alpha, math.Log(z) / lambdaLSE
}

func TestXAttnMatchesDirectFormula(t *testing.T) {
	// Expected values: refScore above (the formulas of ALGORITHMS.md, with
	// the attended vector materialised). Tolerance 1e-9 (float64 round-off).
	for _, lse := range []bool{true, false} {
		g := G.NewGraph()
		vt, et := randT(1, 6, 4), randT(2, 6, 4)
		// gorgonia may overwrite input values in place: keep copies.
		vd := append([]float64(nil), vt.Data().([]float64)...)
		ed := append([]float64(nil), et.Data().([]float64)...)
		rm, wm := testMasks(g)
		vn, en := nn.L2Norm(node(g, "v", vt), 1), nn.L2Norm(node(g, "e", et), 1)
		alpha, r := XAttnT2I(vn, en, rm, wm, testDims, 9)
		var sc *G.Node
		if lse {
			sc = ScoreLSE(r, wm, 6)
		} else {
			sc = ScoreAVG(r, wm)
		}
		var av, sv G.Value
		// Read copies: gorgonia may reuse an intermediate's memory in place
		// after its last consumer, so G.Read of an intermediate is unreliable.
		// (Not nn.Copy: a Copy of alpha would be merged with the one inside
		// XAttnT2I by gorgonia's hash-consing.)
		G.Read(must(G.Mul(alpha, nn.Scalar(tensor.Float64, 1))), &av)
		G.Read(nn.Copy(sc), &sv)
		m := nn.NewMachine(g)
		if err := m.RunAll(); err != nil {
			t.Fatal(err)
		}
		m.Close()
		l2 := func(x []float64) []float64 {
			n := 0.0
			for _, y := range x {
				n += y * y
			}
			out := make([]float64, len(x))
			for i, y := range x {
				out[i] = y / (math.Sqrt(n) + 1e-8)
			}
			return out
		}
		validK := []int{3, 2}
		nouns := [][]int{{0, 2}, {0, 1}}
		A := av.Data().([]float64)
		S := sv.Data().([]float64)
		for i := 0; i < 2; i++ {
			var v [][]float64
			for k := 0; k < validK[i]; k++ {
				v = append(v, l2(vd[(i*3+k)*4:(i*3+k+1)*4]))
			}
			for j := 0; j < 2; j++ {
				var e [][]float64
				for _, tt := range nouns[j] {
					e = append(e, l2(ed[(tt*2+j)*4:(tt*2+j+1)*4]))
				}
				wantA, wantS := refScore(v, e, 9, 6, lse)
				if got := S[i*2+j]; math.Abs(got-wantS) > 1e-9 {
					t.Errorf("lse=%v S[%d,%d] = %.12g, want %.12g", lse, i, j, got, wantS)
				}
				for n, tt := range nouns[j] {
					for k := 0; k < 3; k++ {
						got := A[((i*3+k)*3+tt)*2+j]
						want := 0.0
						if k < validK[i] {
							want = wantA[n][k]
						}
						if math.Abs(got-want) > 1e-9 {
							t.Errorf("α[%d,%d,%d,%d] = %.12g, want %.12g", i, k, tt, j, got, want)
						}
					}
				}
			}
		}
	}
}
