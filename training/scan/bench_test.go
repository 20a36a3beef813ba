package scan

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/groundcap/groundcap/training/blas"
)

// benchBatch is a random batch of b images (k regions of d features) and
// b captions of l words.
func benchBatch(b, k, d, l, vocab int) Batch {
	r := rand.New(rand.NewPCG(1, 1))
	var out Batch
	for i := 0; i < b; i++ {
		f := make([]float32, k*d)
		for j := range f {
			f[j] = r.Float32()
		}
		out.Feats = append(out.Feats, f)
		ids := make([]int32, l)
		nouns := make([]bool, l)
		for t := range ids {
			ids[t] = int32(1 + r.IntN(vocab-1))
			nouns[t] = t%3 == 1
		}
		out.Captions = append(out.Captions, Caption{IDs: ids, Nouns: nouns})
	}
	return out
}

// benchSize is one shape of BenchmarkTrainStep and BenchmarkTorchPeer.
type benchSize struct {
	name                     string
	batch, k, d, l, e, vocab int
}

// benchSizes are the shapes of the step benchmarks: B 32, and with
// GROUNDCAP_BENCH_FULL=1 the paper's (batch 128, embed 1024).
func benchSizes() []benchSize {
	sizes := []benchSize{{"B=32,E=256", 32, 36, 2048, 12, 256, 1000}}
	if os.Getenv("GROUNDCAP_BENCH_FULL") == "1" {
		sizes = append(sizes, benchSize{"B=128,E=1024", 128, 36, 2048, 16, 1024, 7000})
	}
	return sizes
}

// BenchmarkTorchPeer runs testdata/torch_step.py, the same POS-SCAN step in
// PyTorch on the CPU (written like SCAN's original loop over captions, and
// vectorised), on the batch BenchmarkTrainStep uses, and reports its
// seconds per step: the peer to compare with BenchmarkTrainStep in the same
// run. The interpreter is the first of $GROUNDCAP_PYTHON, python3 and
// /usr/bin/python3 that imports torch and numpy (Debian: python3-torch); the
// benchmark is skipped when none does.
func BenchmarkTorchPeer(b *testing.B) {
	python := ""
	for _, p := range []string{os.Getenv("GROUNDCAP_PYTHON"), "python3", "/usr/bin/python3"} {
		if p != "" && exec.Command(p, "-c", "import torch, numpy").Run() == nil {
			python = p
			break
		}
	}
	if python == "" {
		b.Skip("no python3 that imports torch and numpy (Debian: apt-get install python3-torch)")
	}
	for _, s := range benchSizes() {
		b.Run(s.name, func(b *testing.B) {
			dir := b.TempDir()
			batch := benchBatch(s.batch, s.k, s.d, s.l, s.vocab)
			var feats, ids, nouns bytes.Buffer
			for i, f := range batch.Feats {
				binary.Write(&feats, binary.LittleEndian, f)
				binary.Write(&ids, binary.LittleEndian, batch.Captions[i].IDs)
				for _, n := range batch.Captions[i].Nouns {
					nouns.WriteByte(map[bool]byte{false: 0, true: 1}[n])
				}
			}
			for name, buf := range map[string]*bytes.Buffer{"feats.f32": &feats, "ids.i32": &ids, "nouns.u8": &nouns} {
				if err := os.WriteFile(filepath.Join(dir, name), buf.Bytes(), 0o644); err != nil {
					b.Fatal(err)
				}
			}
			args := []string{filepath.Join("testdata", "torch_step.py"), dir}
			for _, v := range []int{s.batch, s.k, s.d, s.l, s.vocab, s.e} {
				args = append(args, strconv.Itoa(v))
			}
			cmd := exec.Command(python, append(args, "--steps", strconv.Itoa(max(b.N, 1)))...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			b.ResetTimer()
			out, err := cmd.Output()
			b.StopTimer()
			if err != nil {
				b.Fatalf("torch_step.py: %v\n%s", err, stderr.Bytes())
			}
			sc := bufio.NewScanner(bytes.NewReader(out))
			for sc.Scan() {
				f := strings.Fields(sc.Text())
				if len(f) != 2 {
					continue
				}
				sec, err := strconv.ParseFloat(f[1], 64)
				if err != nil {
					b.Fatalf("torch_step.py line %q: %v", sc.Text(), err)
				}
				b.ReportMetric(sec, "s/step-torch-"+f[0])
			}
		})
	}
}

// BenchmarkTrainStep measures one POS-SCAN training step (forward, backward,
// clip, Adam) and reports the achieved GFLOP/s of its matrix products next
// to the sgemm peak of the same backend measured in the same run.
// GROUNDCAP_BLAS picks the backend (default simd); GROUNDCAP_BENCH_FULL=1
// adds the paper-sized step (batch 128, embed 1024).
func BenchmarkTrainStep(b *testing.B) {
	name := os.Getenv("GROUNDCAP_BLAS")
	if name == "" {
		name = blas.Default
	}
	be, err := blas.Select(name)
	if err != nil {
		b.Fatal(err)
	}
	counter := blas.NewCounter(be.Impl)
	blas.Install(blas.Backend{Name: be.Name, Impl: counter})
	defer blas.Install(blas.Backend{Name: be.Name, Impl: be.Impl})
	peak, err := blas.PeakSgemm(be.Impl, 1024, 5)
	if err != nil {
		b.Fatal(err)
	}
	for _, s := range benchSizes() {
		b.Run(fmt.Sprintf("%s/blas=%s", s.name, be.Name), func(b *testing.B) {
			m, err := New(testConfig(func(c *Config) { c.Vocab, c.ImgDim, c.Embed, c.Seed = s.vocab, s.d, s.e, 1 }))
			if err != nil {
				b.Fatal(err)
			}
			batch := benchBatch(s.batch, s.k, s.d, s.l, s.vocab)
			if _, err := m.TrainStep(batch); err != nil { // builds the graph
				b.Fatal(err)
			}
			counter.Reset()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := m.TrainStep(batch); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			sec := b.Elapsed().Seconds()
			if p2, err := blas.PeakSgemm(be.Impl, 1024, 5); err == nil && p2 > peak {
				peak = p2 // re-measured after the steps: the best of both
			}
			gf := float64(counter.Flops()) / sec / 1e9
			b.ReportMetric(gf, "GFLOP/s")
			b.ReportMetric(peak, "peak-GFLOP/s")
			b.ReportMetric(100*gf/peak, "%peak")
			b.ReportMetric(float64(s.batch*b.N)/sec, "captions/s")
			b.ReportMetric(float64(counter.Flops())/float64(b.N)/1e9, "GFLOP/step")
		})
	}
}
