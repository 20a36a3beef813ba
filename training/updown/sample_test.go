package updown

import (
	"math"
	"testing"
)

// TestSampleLogProbsMatchTraining checks that SCST's policy gradient is taken
// through the distribution the samples were drawn from: the teacher-forced
// graph, fed the samples and the dropout masks recorded while sampling,
// gives each sampled token the log-probability it had when drawn (with and
// without dropout; float32 tolerance 1e-5).
func TestSampleLogProbsMatchTraining(t *testing.T) {
	w := newToyWorld(4, 8, 6, 8, true)
	for _, dropout := range []float64{0, 0.5} {
		cfg := w.config()
		cfg.Dropout = dropout
		m, _ := New(cfg)
		b, _ := w.source(0, 8).Batch([]int{0, 1, 2})
		r := randFor(3)
		rowImg := seqRange(3, 4)
		var drop *featDrop
		if m.cfg.Dropout > 0 {
			drop = m.drawFeatDrop(r, 3, b.maxBoxes())
		}
		p, _ := m.prepare(&b.Images, drop, rowImg)
		smp, err := m.sample(p, r, m.cfg.MaxLen)
		if err != nil {
			t.Fatal(err)
		}
		s := &seqBatch{n: smp.rows, t: smp.steps, imgOf: rowImg}
		s.tokens = make([]int, s.t*s.n)
		s.target = make([]int, s.t*s.n)
		s.w = make([]float32, s.t*s.n)
		for row, toks := range smp.tokens {
			for tt, wd := range toks {
				s.target[tt*s.n+row] = int(wd)
				if tt+1 < s.t {
					s.tokens[(tt+1)*s.n+row] = int(wd)
				}
			}
		}
		pt, _ := m.prepareTrain(&b.Images, drop)
		tg, err := m.runTF(&b.Images, pt, s, tfRun{w: s.w, drops: smp.drops, outputs: true})
		if err != nil {
			t.Fatal(err)
		}
		lp := tg.logpOut.f32()
		v1 := cfg.VocabSize + 1
		for row, toks := range smp.tokens {
			for tt, wd := range toks {
				got := lp[(tt*s.n+row)*v1+int(wd)]
				if math.Abs(float64(got-smp.logps[row][tt])) > 1e-5 {
					t.Errorf("dropout %v row %d step %d: TF %v sample %v", dropout, row, tt, got, smp.logps[row][tt])
				}
			}
		}
	}
}
