package blas

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"time"

	gblas "gonum.org/v1/gonum/blas"
)

// Product is Count matrix products of an M×K by a K×N matrix (N = 1: a matrix–vector
// product). Cost models (training/scan, training/updown) describe a step's work as a list of
// them; Rates turns the list into seconds on the machine at hand.
type Product struct {
	M, N, K int
	Count   float64
}

// Flops returns the product's floating-point operations, 2·M·N·K per product (Counter's rule).
func (p Product) Flops() float64 { return 2 * float64(p.M) * float64(p.N) * float64(p.K) * p.Count }

// Flops returns the total operations of ps.
func Flops(ps []Product) float64 {
	s := 0.0
	for _, p := range ps {
		s += p.Flops()
	}
	return s
}

// Scale returns ps with every count multiplied by f (the products of f steps).
func Scale(ps []Product, f float64) []Product {
	out := make([]Product, len(ps))
	for i, p := range ps {
		p.Count *= f
		out[i] = p
	}
	return out
}

// Calibration limits: a shape's dimensions are capped at calMaxDim (a product that size runs at
// the backend's large-product rate); every measured shape gets an equal share of the budget and
// at least calMinReps products.
const (
	calMaxDim  = 512
	calMinReps = 3
)

// Rates are measured sgemm throughputs of one backend: one representative shape per size class
// (a decade of flops per product).
type Rates struct {
	// Backend is the measured backend's name.
	Backend string
	// Shapes are the measured shapes (capped), by ascending size class.
	Shapes []ShapeRate
}

// ShapeRate is the throughput of one product shape, which stands for its size class.
type ShapeRate struct {
	M, N, K        int
	FlopsPerSecond float64
}

func (s ShapeRate) flops() float64 { return 2 * float64(s.M) * float64(s.N) * float64(s.K) }

// class is the size class of a shape: the decade of its flops per product.
func (s ShapeRate) class() int { return int(math.Floor(math.Log10(s.flops()))) }

// capped returns the shape of p with every dimension at most calMaxDim.
func capped(p Product) ShapeRate {
	return ShapeRate{M: min(max(p.M, 1), calMaxDim), N: min(max(p.N, 1), calMaxDim), K: min(max(p.K, 1), calMaxDim)}
}

// Calibrate measures impl's throughput on a few representative shapes of ps: the products'
// shapes (dimensions capped at 512, so that each product is short) are grouped by size class (a
// decade of flops per product), and each class is measured on its shape with the most flops in
// all. Each shape gets an equal share of budget: after one warm-up product it runs until its
// share is spent (at least 3 times), and its mean rate over those runs is kept, so that on a
// machine shared with other work the rates are those a run would see now (PeakSgemm keeps the
// best instead). The products run with the backend's own threading, as training runs them.
// Products without work are skipped; a negative dimension is an error.
func Calibrate(name string, impl Float32, ps []Product, budget time.Duration) (*Rates, error) {
	total := map[ShapeRate]float64{}
	for _, p := range ps {
		if p.M < 0 || p.N < 0 || p.K < 0 {
			return nil, fmt.Errorf("blas: Calibrate: product %d×%d×%d", p.M, p.N, p.K)
		}
		if f := p.Flops(); f > 0 {
			total[capped(p)] += f
		}
	}
	if len(total) == 0 {
		return nil, fmt.Errorf("blas: Calibrate: no products")
	}
	rep := map[int]ShapeRate{}
	for s, f := range total {
		c := s.class()
		r, ok := rep[c]
		if !ok || f > total[r] || f == total[r] && fmt.Sprint(s) < fmt.Sprint(r) {
			rep[c] = s
		}
	}
	var shapes []ShapeRate
	for _, s := range rep {
		shapes = append(shapes, s)
	}
	sort.Slice(shapes, func(i, j int) bool { return shapes[i].class() < shapes[j].class() })
	r := rand.New(rand.NewPCG(1, 1))
	fill := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = r.Float32() - 0.5
		}
		return x
	}
	share := budget / time.Duration(len(shapes))
	out := &Rates{Backend: name}
	for _, s := range shapes {
		a, b, c := fill(s.M*s.K), fill(s.K*s.N), make([]float32, s.M*s.N)
		run := func() {
			if s.N == 1 {
				impl.Sgemv(gblas.NoTrans, s.M, s.K, 1, a, s.K, b, 1, 0, c, 1)
				return
			}
			impl.Sgemm(gblas.NoTrans, gblas.NoTrans, s.M, s.N, s.K, 1, a, s.K, b, s.N, 0, c, s.N)
		}
		run()
		reps := 0
		start := time.Now()
		for reps < calMinReps || time.Since(start) < share {
			run()
			reps++
		}
		d := time.Since(start).Seconds()
		if d <= 0 {
			return nil, fmt.Errorf("blas: Calibrate: %d×%d×%d took no measurable time", s.M, s.N, s.K)
		}
		s.FlopsPerSecond = s.flops() * float64(reps) / d
		out.Shapes = append(out.Shapes, s)
	}
	return out, nil
}

// Rate returns the throughput for a product of p's shape: the measured rate of its size class,
// or of the nearest measured class.
func (r *Rates) Rate(p Product) float64 {
	c := capped(p).class()
	best, bestD := 0.0, -1
	for _, m := range r.Shapes {
		d := m.class() - c
		if d < 0 {
			d = -d
		}
		if bestD < 0 || d < bestD {
			best, bestD = m.FlopsPerSecond, d
		}
	}
	return best
}

// Seconds returns the time of ps at the measured rates.
func (r *Rates) Seconds(ps []Product) float64 {
	s := 0.0
	for _, p := range ps {
		if f := p.Flops(); f > 0 {
			s += f / r.Rate(p)
		}
	}
	return s
}
