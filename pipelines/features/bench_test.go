package features

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"

	feat "github.com/groundcap/groundcap/features"
	"github.com/groundcap/groundcap/internal/blobio"
	"github.com/groundcap/groundcap/internal/peers"
)

// Benchmark size: GROUNDCAP_BENCH_FEATURE_IMAGES images (default 1000) of 36 boxes × 2048, in
// 4 TSV files (about 393 MB for 1000 images).
const (
	benchBoxes = 36
	benchDim   = 2048
	benchFiles = 4
)

func benchImages(b *testing.B) int {
	if s := os.Getenv("GROUNDCAP_BENCH_FEATURE_IMAGES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("GROUNDCAP_BENCH_FEATURE_IMAGES=%q", s)
		}
		return n
	}
	return 1000
}

// writeBenchTSV writes n Anderson-layout rows with real-valued features shaped like the real
// fixture rows (about 30% zeros, the rest exponential with mean 1) and returns the bytes written.
func writeBenchTSV(b *testing.B, dir string, n int) int64 {
	rng := rand.New(rand.NewPCG(1, 1))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	var total int64
	feats := make([]float32, benchBoxes*benchDim)
	boxes := make([]float32, 4*benchBoxes)
	var line []byte
	for f := 0; f < benchFiles; f++ {
		fh, err := os.Create(filepath.Join(dir, fmt.Sprintf("part-%05d.tsv", f)))
		if err != nil {
			b.Fatal(err)
		}
		w := bufio.NewWriterSize(fh, 1<<20)
		for i := f * n / benchFiles; i < (f+1)*n/benchFiles; i++ {
			for j := range feats {
				feats[j] = 0
				if rng.Float64() >= 0.3 {
					feats[j] = float32(rng.ExpFloat64())
				}
			}
			for k := 0; k < benchBoxes; k++ {
				x1, y1 := rng.Float32()*300, rng.Float32()*200
				boxes[4*k], boxes[4*k+1], boxes[4*k+2], boxes[4*k+3] = x1, y1, x1+rng.Float32()*300, y1+rng.Float32()*200
			}
			r := &feat.Raw{ImageID: int64(100000 + 7*i), Width: 640, Height: 480, NumBoxes: benchBoxes,
				Boxes: feat.Float32Bytes(boxes), Features: feat.Float32Bytes(feats)}
			line = feat.AppendTSV(line[:0], r, feat.LayoutAnderson)
			if _, err := w.Write(line); err != nil {
				b.Fatal(err)
			}
			total += int64(len(line))
		}
		if err := w.Flush(); err != nil {
			b.Fatal(err)
		}
		if err := fh.Close(); err != nil {
			b.Fatal(err)
		}
	}
	return total
}

// resetPeakRSS frees what the heap holds and resets the kernel's peak-RSS mark (Linux ≥ 4.0).
func resetPeakRSS() {
	debug.FreeOSMemory()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// peakRSSMB reads VmHWM, the peak resident set size since resetPeakRSS.
func peakRSSMB() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			kb, _ := strconv.ParseFloat(strings.Fields(l)[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// cpuSeconds returns the user+system CPU time of this process (who = RUSAGE_SELF) or of its
// waited-for children (RUSAGE_CHILDREN).
func cpuSeconds(who int) float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// nopRecorder stands in for engine.Run.
type nopRecorder struct{ out string }

func (r nopRecorder) Output(name string) string { return blobio.Join(r.out, name) }
func (nopRecorder) SetRows(string, int64)       {}
func (nopRecorder) SetInfo(string, any)         {}
func (nopRecorder) Logf(string, ...any)         {}

// BenchmarkMaterialise measures the features stage's throughput in MB/s of TSV input for
// both encodings, against (a) one goroutine reading the same files and base64-decoding their
// arrays (the practical limit) and (b) self-critical's make_bu_data.py (NumPy), when a python3
// with NumPy is found. peak-RSS-MB is the process's peak resident set during the sub-benchmark.
func BenchmarkMaterialise(b *testing.B) {
	ctx := context.Background()
	n := benchImages(b)
	dir := b.TempDir()
	in := filepath.Join(dir, "tsv")
	size := writeBenchTSV(b, in, n)
	b.Logf("%d images, %d bytes of TSV", n, size)

	b.Run("read+base64", func(b *testing.B) {
		resetPeakRSS()
		b.SetBytes(size)
		cpu0 := cpuSeconds(syscall.RUSAGE_SELF)
		for i := 0; i < b.N; i++ {
			var boxes, feats []byte
			for f := 0; f < benchFiles; f++ {
				fh, err := os.Open(filepath.Join(in, fmt.Sprintf("part-%05d.tsv", f)))
				if err != nil {
					b.Fatal(err)
				}
				br := bufio.NewReaderSize(fh, 1<<20)
				var long []byte
				for {
					l, err := br.ReadSlice('\n')
					if err == bufio.ErrBufferFull {
						long = append(long[:0], l...)
						for err == bufio.ErrBufferFull {
							l, err = br.ReadSlice('\n')
							long = append(long, l...)
						}
						l = long
					}
					if len(l) > 1 {
						f := bytes.Split(bytes.TrimSuffix(l, []byte{'\n'}), []byte{'\t'})
						boxes = decodeInto(b, boxes, f[4])
						feats = decodeInto(b, feats, f[5])
					}
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				fh.Close()
			}
		}
		reportCPU(b, size, cpuSeconds(syscall.RUSAGE_SELF)-cpu0)
		b.ReportMetric(peakRSSMB(), "peak-RSS-MB")
	})

	for _, enc := range []feat.Encoding{feat.EncodingBlob, feat.EncodingList} {
		b.Run("stage-"+string(enc), func(b *testing.B) {
			sources, err := ResolveSources(ctx, in, in, feat.LayoutAuto)
			if err != nil {
				b.Fatal(err)
			}
			resetPeakRSS()
			b.SetBytes(size)
			b.ResetTimer()
			var cpu float64
			for i := 0; i < b.N; i++ {
				cpu0 := cpuSeconds(syscall.RUSAGE_SELF)
				out := filepath.Join(dir, "out-"+string(enc))
				cfg := Config{Sources: sources, Out: out, Layout: feat.LayoutAuto, Encoding: enc, DType: feat.DTypeFloat32,
					Dim: benchDim, NumShards: DefaultNumShards, RowsPerGroup: DefaultRowsPerGroup, MinBoxes: DefaultMinBoxes,
					MaxBoxes: DefaultMaxBoxes, RangeSize: DefaultByteRangeSize}
				if err := materialise(ctx, nopRecorder{out: out}, cfg, 0, nil, ""); err != nil {
					b.Fatal(err)
				}
				cpu += cpuSeconds(syscall.RUSAGE_SELF) - cpu0
				b.StopTimer()
				objs, err := blobio.List(ctx, out)
				if err != nil {
					b.Fatal(err)
				}
				var outBytes int64
				for _, o := range objs {
					outBytes += o.Size
				}
				b.ReportMetric(float64(outBytes)/1e6, "out-MB")
				if err := os.RemoveAll(out); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			reportCPU(b, size, cpu)
			b.ReportMetric(peakRSSMB(), "peak-RSS-MB")
		})
	}

	b.Run("numpy-make_bu_data", func(b *testing.B) {
		py := peers.NumpyPython()
		if py == "" {
			b.Skip(peers.SkipReason)
		}
		script := peers.Script(b, "make_bu_data.py")
		b.SetBytes(size)
		cpu0 := cpuSeconds(syscall.RUSAGE_CHILDREN)
		for i := 0; i < b.N; i++ {
			out := filepath.Join(dir, "numpy")
			cmd := exec.Command(py, script, "--downloaded_feats", in, "--output_dir", filepath.Join(out, "cocobu"))
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			res, err := cmd.Output()
			if err != nil {
				b.Fatalf("%s: %v\n%s", script, err, stderr.String())
			}
			var got struct{ Rows int }
			if err := json.Unmarshal(res, &got); err != nil || got.Rows != n {
				b.Fatalf("%s: %s (%v), want %d rows", script, res, err, n)
			}
			if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
				b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MB")
			}
			b.StopTimer()
			if err := os.RemoveAll(out); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		reportCPU(b, size, cpuSeconds(syscall.RUSAGE_CHILDREN)-cpu0)
	})
}

// reportCPU reports the CPU time per iteration and the throughput per CPU-second, which the
// load of a shared machine disturbs less than wall-clock MB/s.
func reportCPU(b *testing.B, size int64, cpu float64) {
	if cpu <= 0 {
		return
	}
	b.ReportMetric(cpu/float64(b.N), "cpu-s/op")
	b.ReportMetric(float64(size)*float64(b.N)/1e6/cpu, "MB/cpu-s")
}

func decodeInto(b *testing.B, dst, src []byte) []byte {
	n := base64.StdEncoding.DecodedLen(len(src))
	if cap(dst) < n {
		dst = make([]byte, n)
	}
	m, err := base64.StdEncoding.Decode(dst[:n], src)
	if err != nil {
		b.Fatal(err)
	}
	return dst[:m]
}

// BenchmarkShardWriter measures the shard writer alone (no runner): scan every file, then
// write each shard with writeShardFn, one after another, as a runner with one bundle would.
func BenchmarkShardWriter(b *testing.B) {
	ctx := context.Background()
	n := benchImages(b)
	dir := b.TempDir()
	in := filepath.Join(dir, "tsv")
	size := writeBenchTSV(b, in, n)
	sources, err := ResolveSources(ctx, in, in, feat.LayoutAuto)
	if err != nil {
		b.Fatal(err)
	}
	resetPeakRSS()
	b.SetBytes(size)
	b.ResetTimer()
	var cpu float64
	for i := 0; i < b.N; i++ {
		cpu0 := cpuSeconds(syscall.RUSAGE_SELF)
		out := filepath.Join(dir, "out")
		cfg := Config{Sources: sources, Out: out, Layout: feat.LayoutAuto, Encoding: feat.EncodingBlob, DType: feat.DTypeFloat32,
			Dim: benchDim, NumShards: DefaultNumShards, RowsPerGroup: DefaultRowsPerGroup, MinBoxes: DefaultMinBoxes,
			MaxBoxes: DefaultMaxBoxes, RangeSize: DefaultByteRangeSize}
		byShard := make([][]LineRef, cfg.NumShards)
		sf := &scanFn{Sources: sources, NumShards: cfg.NumShards}
		for s, src := range sources {
			err := sf.ProcessElement(ctx, Range{Src: s, Start: 0, End: src.Size},
				func(k int, r LineRef) { byShard[k] = append(byShard[k], r) })
			if err != nil {
				b.Fatal(err)
			}
		}
		wf := &writeShardFn{Config: cfg, Ranges: len(sources)}
		if err := wf.StartBundle(ctx, nil); err != nil {
			b.Fatal(err)
		}
		for sh, refs := range byShard {
			k := 0
			err := wf.ProcessElement(ctx, sh, func(r *LineRef) bool {
				if k == len(refs) {
					return false
				}
				*r = refs[k]
				k++
				return true
			}, func(int) {})
			if err != nil {
				b.Fatal(err)
			}
		}
		if err := wf.FinishBundle(ctx, nil); err != nil {
			b.Fatal(err)
		}
		cpu += cpuSeconds(syscall.RUSAGE_SELF) - cpu0
		b.StopTimer()
		if err := os.RemoveAll(out); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	reportCPU(b, size, cpu)
	b.ReportMetric(peakRSSMB(), "peak-RSS-MB")
}
