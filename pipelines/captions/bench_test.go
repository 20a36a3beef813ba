package captions

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/groundcap/groundcap/internal/synth"
)

// peakRSS returns the process's peak resident set size in bytes (Linux VmHWM; 0 elsewhere).
func peakRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// cpuTime returns the user + system CPU seconds the process has used.
func cpuTime() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

// resetPeakRSS resets VmHWM (Linux: writing 5 to clear_refs), so the peak covers what follows.
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// BenchmarkStage runs the whole captions stage (prism in-process, 4 shards) on a synthetic world of
// 20,000 images × 5 = 100,000 captions, without and with the Entities side, and reports captions/s
// and the peak RSS of the process during the run.
func BenchmarkStage(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	world := filepath.Join(dir, "world")
	const images = 20000
	if _, err := synth.Generate(ctx, synth.Options{Images: images, Seed: 1, FeatDim: 16, Boxes: 10, TSVFiles: 1, NoImages: true}, synth.DirSink(world), nil); err != nil {
		b.Fatal(err)
	}
	for _, ents := range []bool{false, true} {
		b.Run(fmt.Sprintf("captions=%d/entities=%v", images*synth.CaptionsPerImage, ents), func(b *testing.B) {
			loc := Locations{Dataset: filepath.Join(world, "dataset.json"), SplitIDs: filepath.Join(world, "split_ids.json")}
			if ents {
				loc.Entities, loc.ClassNames = world, filepath.Join(world, "class_names.txt")
			}
			var captions int64
			resetPeakRSS()
			cpu0 := cpuTime()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				loc.Out = filepath.Join(dir, fmt.Sprintf("out-%v-%d", ents, i))
				st, err := Run(ctx, loc, params(func(p *Params) { p.Dataset = loc.Dataset }))
				if err != nil {
					b.Fatal(err)
				}
				captions += st.Captions
			}
			b.StopTimer()
			cpu := cpuTime() - cpu0
			b.ReportMetric(float64(captions)/b.Elapsed().Seconds(), "captions/s")
			// CPU seconds of the whole process: on a shared machine wall time varies with the load,
			// captions per CPU-second much less.
			b.ReportMetric(cpu/float64(b.N), "cpu-s/op")
			b.ReportMetric(float64(captions)/cpu, "captions/cpu-s")
			b.ReportMetric(float64(peakRSS())/(1<<20), "peak-RSS-MB")
		})
	}
}
