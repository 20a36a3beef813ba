// Package plan estimates, before a run, how long each stage that would run takes on this
// machine: `groundcap plan` prints it, and `groundcap run` prints it before it starts.
//
// # How
//
// Every stage that is not fresh gets an Estimate: the sizes of its inputs and its costs (Parts),
// each either model work (nn.Work: the matrix products and element-wise work of the model calls
// the stage makes, from the cost models next to the models in training/scan and
// training/updown) or a fixed time (records at a measured rate, a pipeline's start-up). A short
// calibration (Calibrate, well under a second) measures the throughput of the BLAS backend each
// stage uses on the shapes of its products (blas.Calibrate) and the element-wise rate
// (nn.ElementwiseRate) on this machine now; Price turns the work into seconds. The dominant cost
// is the largest part.
//
// The data sizes come from the outputs of upstream stages where they are fresh (the captions
// stage's stats.json, the feature store's dimensions), else from the synth stage's parameters,
// else from the dataset file itself (Sizes).
package plan

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/groundcap/groundcap/training/blas"
	"github.com/groundcap/groundcap/training/nn"
)

// Part is one cost of a stage.
type Part struct {
	// Name says what the cost is ("training steps", "validation", "pipeline start-up").
	Name string
	// Backend is the BLAS backend that runs Work ("" when the part has no model work).
	Backend string
	// Work is the model work of the part.
	Work nn.Work
	// Fixed is time that does not come from model work (records at a measured rate) at the
	// reference machine's speed; it scales with Machine.Slowdown.
	Fixed time.Duration
	// Wait is time spent waiting rather than computing (a runner's start-up); it does not scale.
	Wait time.Duration
	// Detail is shown next to the part when it dominates ("200 steps × 2.3 GFLOP").
	Detail string
	// Seconds is the part's estimated time (Price fills it).
	Seconds float64
}

// Estimate is one stage's estimate.
type Estimate struct {
	Stage string
	// Inputs describes the sizes the estimate is for.
	Inputs string
	Parts  []Part
	// Note, when set, says why there is no estimate (Parts is then empty).
	Note string
	// Seconds is the total (Price fills it).
	Seconds float64
}

// Dominant returns the largest part (the zero Part when there is none).
func (e *Estimate) Dominant() Part {
	var best Part
	for _, p := range e.Parts {
		if p.Seconds > best.Seconds || best.Name == "" {
			best = p
		}
	}
	return best
}

// Machine holds the calibrated rates.
type Machine struct {
	// Rates are the sgemm rates of every backend the stages use, by the name the stages give
	// ("auto" included).
	Rates map[string]*blas.Rates
	// ValuesPerSecond is the element-wise rate (nn.ElementwiseRate).
	ValuesPerSecond float64
	// Took is the calibration's wall time.
	Took time.Duration
}

// referenceValuesPerSecond is nn.ElementwiseRate on the project's 2-core machine with a core to
// itself (71 M values/s of CPU time, 2026-12-05): the machine speed at which the constant rates
// of estimate.go were measured.
const referenceValuesPerSecond = 70e6

// pipelineStart names the part of a Beam stage that starts its pipeline; the first such stage of
// a run also starts the runner.
const pipelineStart = "pipeline start-up"

// Calibration budgets: the element-wise rate, and the products of each backend.
const (
	elementwiseBudget = 120 * time.Millisecond
	productsBudget    = 400 * time.Millisecond
)

// Calibrate measures the rates the estimates need: for each backend the parts name, its sgemm
// throughput on the shapes of their products, and the element-wise rate. It takes well under a
// second (more when the machine is busy, as the products must run at least three times each).
func Calibrate(ests []*Estimate) (*Machine, error) {
	start := time.Now()
	m := &Machine{Rates: map[string]*blas.Rates{}}
	products := map[string][]blas.Product{}
	var names []string
	for _, e := range ests {
		for _, p := range e.Parts {
			if p.Backend == "" || len(p.Work.Products) == 0 {
				continue
			}
			if _, ok := products[p.Backend]; !ok {
				names = append(names, p.Backend)
			}
			products[p.Backend] = append(products[p.Backend], p.Work.Products...)
		}
	}
	sort.Strings(names)
	// The element-wise rate is the mean of passes spread over the calibration, so that a
	// moment when the machine is busier weighs less.
	ew := nn.ElementwiseRate(elementwiseBudget / 3)
	for _, name := range names {
		b, err := blas.Select(name)
		if err != nil {
			return nil, fmt.Errorf("plan: %w", err)
		}
		r, err := blas.Calibrate(b.Name, b.Impl, products[name], productsBudget/time.Duration(len(names)))
		if err != nil {
			return nil, fmt.Errorf("plan: %w", err)
		}
		m.Rates[name] = r
		ew += nn.ElementwiseRate(elementwiseBudget / 3)
	}
	m.ValuesPerSecond = (ew + nn.ElementwiseRate(elementwiseBudget/3)) / float64(len(names)+2)
	m.Took = time.Since(start)
	return m, nil
}

// Slowdown is how much slower the element-wise calibration ran than on the quiet reference
// machine; the fixed parts of the estimates scale by it.
func (m *Machine) Slowdown() float64 { return referenceValuesPerSecond / m.ValuesPerSecond }

// Price fills in the seconds of every part of e and its total.
func (m *Machine) Price(e *Estimate) error {
	for _, p := range e.Parts {
		if len(p.Work.Products) > 0 && m.Rates[p.Backend] == nil {
			return fmt.Errorf("plan: stage %s: backend %q was not calibrated", e.Stage, p.Backend)
		}
	}
	e.Seconds = 0
	for i := range e.Parts {
		p := &e.Parts[i]
		s := p.Fixed.Seconds()*m.Slowdown() + p.Wait.Seconds()
		if len(p.Work.Products) > 0 {
			s += m.Rates[p.Backend].Seconds(p.Work.Products)
		}
		if p.Work.Values > 0 {
			s += p.Work.Values / m.ValuesPerSecond
		}
		p.Seconds = s
		e.Seconds += s
	}
	return nil
}

// Plan is the estimates of the stages that would run, in run order.
type Plan struct {
	Estimates []*Estimate
	// Fresh counts the stages that would not run.
	Fresh   int
	Machine *Machine
}

// Total returns the estimated time of the whole run.
func (p *Plan) Total() float64 {
	s := 0.0
	for _, e := range p.Estimates {
		s += e.Seconds
	}
	return s
}

// Duration formats seconds as a short duration: "850ms", "12s", "3m05s", "2h14m".
func Duration(s float64) string {
	d := time.Duration(s * float64(time.Second))
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.0fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

// Write prints the plan as one compact block: a heading with the total and the calibration, then
// one line per stage with its inputs, estimate and dominant cost.
func (p *Plan) Write(w io.Writer) error {
	var b strings.Builder
	if len(p.Estimates) == 0 {
		fmt.Fprintf(&b, "plan: every stage is fresh (%d), nothing to run\n", p.Fresh)
		_, err := io.WriteString(w, b.String())
		return err
	}
	noun := "stages"
	if len(p.Estimates) == 1 {
		noun = "stage"
	}
	fmt.Fprintf(&b, "plan: %d %s to run (%d fresh), about %s on this machine", len(p.Estimates), noun, p.Fresh, Duration(p.Total()))
	if m := p.Machine; m != nil {
		var rates []string
		names := make([]string, 0, len(m.Rates))
		for n := range m.Rates {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			r := m.Rates[n]
			lo, hi := r.Shapes[0].FlopsPerSecond, r.Shapes[0].FlopsPerSecond
			for _, s := range r.Shapes {
				lo, hi = min(lo, s.FlopsPerSecond), max(hi, s.FlopsPerSecond)
			}
			name := r.Backend
			if n != r.Backend {
				name = n + "=" + r.Backend
			}
			rates = append(rates, fmt.Sprintf("blas %s %.1f–%.1f GFLOP/s", name, lo/1e9, hi/1e9))
		}
		rates = append(rates, fmt.Sprintf("element-wise %.0f M/s", m.ValuesPerSecond/1e6))
		fmt.Fprintf(&b, " (calibrated in %s: %s)", Duration(m.Took.Seconds()), strings.Join(rates, ", "))
	}
	b.WriteString("\n")
	width := 5
	for _, e := range p.Estimates {
		width = max(width, len(e.Stage))
	}
	for _, e := range p.Estimates {
		if e.Note != "" {
			fmt.Fprintf(&b, "  %-*s  %8s  %s; %s\n", width, e.Stage, "?", e.Inputs, e.Note)
			continue
		}
		d := e.Dominant()
		dom := d.Name
		if d.Detail != "" {
			dom += " (" + d.Detail + ")"
		}
		share := 0.0
		if e.Seconds > 0 {
			share = 100 * d.Seconds / e.Seconds
		}
		fmt.Fprintf(&b, "  %-*s  %8s  %s; mostly %s, %.0f%%\n", width, e.Stage, Duration(e.Seconds), e.Inputs, dom, share)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
