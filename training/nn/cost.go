package nn

import (
	"math/rand/v2"
	"time"

	"github.com/groundcap/groundcap/training/blas"
)

// Work is the cost of a model call for run-time estimates (pipelines/plan): its matrix products,
// priced by blas.Rates, and its element-wise work in units of ElementwiseRate's pass, priced by
// that rate. The models' cost functions (training/scan, training/updown) return it.
type Work struct {
	Products []blas.Product
	// Values is the element-wise work: the values ElementwiseRate's pass would handle in the
	// same time, measured on the models' steps (CPU time of a step less that of its products).
	Values float64
}

// Plus returns the work of w followed by o.
func (w Work) Plus(o Work) Work {
	return Work{Products: append(append([]blas.Product(nil), w.Products...), o.Products...), Values: w.Values + o.Values}
}

// Times returns the work of f calls.
func (w Work) Times(f float64) Work {
	return Work{Products: blas.Scale(w.Products, f), Values: w.Values * f}
}

// calibrateLen is the length of the slices ElementwiseRate works on (four of them fit in a
// typical L2 cache).
const calibrateLen = 1 << 14

// ElementwiseRate measures the throughput, in values per second, of a pass of the kind that
// makes up the non-product work of the models' steps: out = σ(a)·tanh(b) + c over float32
// slices (a recurrent cell's gate), on one goroutine, repeated until budget is spent (at least
// three passes). It is the unit of Work.Values.
func ElementwiseRate(budget time.Duration) float64 {
	r := rand.New(rand.NewPCG(1, 1))
	a, b, c, out := make([]float32, calibrateLen), make([]float32, calibrateLen), make([]float32, calibrateLen), make([]float32, calibrateLen)
	for i := range a {
		a[i], b[i], c[i] = r.Float32()*4-2, r.Float32()*4-2, r.Float32()
	}
	pass := func() {
		for i := range out {
			out[i] = sigmoid32(a[i])*tanh32(b[i]) + c[i]
		}
	}
	pass()
	n := 0
	start := time.Now()
	for n < 3 || time.Since(start) < budget {
		pass()
		n++
	}
	return float64(n*calibrateLen) / time.Since(start).Seconds()
}
