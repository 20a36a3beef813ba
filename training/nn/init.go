package nn

import (
	"fmt"
	"math"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Init fills a freshly allocated parameter of the given shape from r.
type Init func(r *rand.Rand, dt tensor.Dtype, shape ...int) *tensor.Dense

// Uniform returns an Init drawing U(lo, hi).
func Uniform(lo, hi float64) Init {
	return func(r *rand.Rand, dt tensor.Dtype, shape ...int) *tensor.Dense {
		t := tensor.New(tensor.WithShape(shape...), tensor.Of(dt))
		switch d := t.Data().(type) {
		case []float32:
			for i := range d {
				d[i] = float32(lo + (hi-lo)*r.Float64())
			}
		case []float64:
			for i := range d {
				d[i] = lo + (hi-lo)*r.Float64()
			}
		default:
			panic(fmt.Sprintf("nn: Uniform: unsupported dtype %v", dt))
		}
		return t
	}
}

// Xavier returns SCAN's Xavier-uniform Init for a (fanIn, fanOut) weight:
// U(−r, r) with r = √6/√(fanIn+fanOut).
func Xavier(fanIn, fanOut int) Init {
	r := math.Sqrt(6) / math.Sqrt(float64(fanIn+fanOut))
	return Uniform(-r, r)
}

// Zeros is an Init giving zeros; it draws nothing from r.
func Zeros(_ *rand.Rand, dt tensor.Dtype, shape ...int) *tensor.Dense {
	return tensor.New(tensor.WithShape(shape...), tensor.Of(dt))
}

// NewParam creates a named learnable node of the given shape on g,
// initialised by init with r.
func NewParam(g *G.ExprGraph, dt tensor.Dtype, name string, r *rand.Rand, init Init, shape ...int) *G.Node {
	v := init(r, dt, shape...)
	return G.NewTensor(g, dt, len(shape), G.WithShape(shape...), G.WithName(name), G.WithValue(v))
}

// Scalar returns a constant scalar node of dtype dt.
func Scalar(dt tensor.Dtype, v float64) *G.Node {
	switch dt {
	case tensor.Float32:
		return G.NewConstant(float32(v))
	case tensor.Float64:
		return G.NewConstant(v)
	}
	panic(fmt.Sprintf("nn: Scalar: unsupported dtype %v", dt))
}

// Input creates a named input node of the given shape, to be fed with G.Let
// (or given a value directly).
func Input(g *G.ExprGraph, dt tensor.Dtype, name string, shape ...int) *G.Node {
	return G.NewTensor(g, dt, len(shape), G.WithShape(shape...), G.WithName(name))
}

// Fill returns a tensor of shape filled with v.
func Fill(dt tensor.Dtype, v float64, shape ...int) *tensor.Dense {
	t := tensor.New(tensor.WithShape(shape...), tensor.Of(dt))
	switch d := t.Data().(type) {
	case []float32:
		for i := range d {
			d[i] = float32(v)
		}
	case []float64:
		for i := range d {
			d[i] = v
		}
	}
	return t
}

// FromFloat64 returns a tensor of dtype dt and shape holding vals (len must
// equal the shape's size).
func FromFloat64(dt tensor.Dtype, vals []float64, shape ...int) *tensor.Dense {
	switch dt {
	case tensor.Float32:
		d := make([]float32, len(vals))
		for i, v := range vals {
			d[i] = float32(v)
		}
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(d))
	case tensor.Float64:
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(append([]float64(nil), vals...)))
	}
	panic(fmt.Sprintf("nn: FromFloat64: unsupported dtype %v", dt))
}

// DtypeOf returns the element dtype of node n.
func DtypeOf(n *G.Node) tensor.Dtype { return n.Dtype() }

func must(n *G.Node, err error) *G.Node {
	if err != nil {
		panic(fmt.Errorf("nn: building graph: %w", err))
	}
	return n
}
