package nn

import (
	"cmp"
	"math/rand/v2"
	"os"
	"testing"

	"gonum.org/v1/gonum/blas/gonum"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/groundcap/groundcap/training/blas"
)

// BenchmarkGRUSeq runs the fused GRU of POS-SCAN's text encoder at the paper's size (16 steps,
// batch 128, input 300, hidden 1024), forward and backward: one direction, and both (BiGRU).
// GROUNDCAP_BLAS picks the BLAS (default go).
func BenchmarkGRUSeq(b *testing.B) {
	be, err := blas.Select(cmp.Or(os.Getenv("GROUNDCAP_BLAS"), blas.Go))
	if err != nil {
		b.Fatal(err)
	}
	blas.Install(be)
	defer blas.Install(blas.Backend{Name: blas.Go, Impl: gonum.Implementation{}})
	const steps, batch, in, hidden = 16, 128, 300, 1024
	for _, bi := range []bool{false, true} {
		b.Run(map[bool]string{false: "GRU", true: "BiGRU"}[bi], func(b *testing.B) {
			g := G.NewGraph()
			ps := NewParamSet(tensor.Float32, rand.New(rand.NewPCG(4, 2)))
			x := NewParam(g, tensor.Float32, "x", rand.New(rand.NewPCG(9, 9)), Uniform(-1, 1), steps*batch, in)
			var y *G.Node
			var wrt G.Nodes
			if bi {
				c := NewBiGRU(g, ps, "gru", in, hidden)
				y, wrt = c.Forward(x, nil, steps, batch), c.Params()
			} else {
				c := NewGRU(g, ps, "gru", in, hidden)
				y, wrt = c.Forward(x, nil, steps, batch, false), c.Params()
			}
			cost := must(G.Sum(y))
			wrt = append(wrt, x)
			if _, err := G.Grad(cost, wrt...); err != nil {
				b.Fatal(err)
			}
			vm := NewMachine(g, wrt...)
			defer vm.Close()
			for i := 0; i < b.N; i++ {
				vm.Reset()
				if err := vm.RunAll(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
