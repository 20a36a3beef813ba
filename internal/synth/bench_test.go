package synth

import (
	"context"
	"fmt"
	"io"
	"testing"
)

// discardSink drops every file; it measures generation without disk writes.
type discardSink struct{}

type discardFile struct{}

func (discardFile) Write(p []byte) (int, error) { return len(p), nil }
func (discardFile) Close() error                { return nil }

func (discardSink) Create(string) (io.WriteCloser, error) { return discardFile{}, nil }

// BenchmarkGenerate measures whole-dataset generation. Sub-benchmarks are named by size and sink:
// "dir" writes real files (temporary directory), "discard" only generates and encodes.
func BenchmarkGenerate(b *testing.B) {
	for _, bc := range []struct {
		n, d, k  int
		noImages bool
	}{
		{2000, 2048, 36, false}, // the target: 2,000 images at D=2048
		{500, 2048, 36, true},
		{500, 256, 36, false},
	} {
		for _, sinkName := range []string{"dir", "discard"} {
			name := fmt.Sprintf("n=%d/D=%d/K=%d/png=%v/%s", bc.n, bc.d, bc.k, !bc.noImages, sinkName)
			b.Run(name, func(b *testing.B) {
				opts := testOptions(func(o *Options) { o.Images, o.FeatDim, o.Boxes, o.NoImages, o.Seed = bc.n, bc.d, bc.k, bc.noImages, 1 })
				var bytes int64
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					var sink Sink = discardSink{}
					if sinkName == "dir" {
						b.StopTimer()
						dir := b.TempDir()
						b.StartTimer()
						sink = DirSink(dir)
					}
					sum, err := Generate(context.Background(), opts, sink, nil)
					if err != nil {
						b.Fatal(err)
					}
					bytes = sum.Bytes
				}
				b.SetBytes(bytes)
				b.ReportMetric(float64(bc.n)*float64(b.N)/b.Elapsed().Seconds(), "images/s")
			})
		}
	}
}
