package main

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/groundcap/groundcap/training/blas"
	"github.com/groundcap/groundcap/training/blascheck"
)

// TestDoctorBenchLines checks that doctor --bench prints, for each backend
// that constructs here (simd and go at least), one 'backend shape GFLOP/s'
// line per shape and one 'backend pos-scan-step seconds' line, with
// positive numbers (sizes shrunk so that the test takes a moment).
func TestDoctorBenchLines(t *testing.T) {
	opts := doctorBenchOptions{Bench: true, BenchSteps: 1, shapes: [][3]int{{8, 9, 10}, {40, 33, 70}},
		scan: blascheck.ScanSize{Batch: 4, Regions: 3, Feat: 16, Words: 4, Embed: 8, Vocab: 20}}
	var out bytes.Buffer
	if err := runDoctorBench(context.Background(), opts, blas.Options{}, &out); err != nil {
		t.Fatal(err)
	}
	values := map[string]float64{}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n")[1:] {
		if strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 {
			t.Fatalf("line %q: want 3 fields", line)
		}
		v, err := strconv.ParseFloat(f[2], 64)
		if err != nil || !(v > 0) {
			t.Fatalf("line %q: value %v, %v", line, v, err)
		}
		values[f[0]+" "+f[1]] = v
	}
	for _, be := range []string{blas.SIMD, blas.Go} {
		for _, k := range []string{"8x9x10", "40x33x70", "pos-scan-step"} {
			if _, ok := values[be+" "+k]; !ok {
				t.Errorf("no line %q in\n%s", be+" "+k, out.String())
			}
		}
	}
	var u usageError
	if err := runDoctorBench(context.Background(), doctorBenchOptions{BenchSteps: -1}, blas.Options{}, &out); !errors.As(err, &u) {
		t.Errorf("--bench-steps -1: error %v, want a usage error", err)
	}
}
