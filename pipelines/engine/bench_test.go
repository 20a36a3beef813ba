package engine

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
)

// BenchmarkEngineOverhead measures what the engine adds around a stage: computing the key,
// checking the manifest and (for a miss) listing, hashing and writing the manifest, for a stage
// whose own work is writing 8 small shards.
func BenchmarkEngineOverhead(b *testing.B) {
	dir := b.TempDir()
	in := filepath.Join(dir, "in.txt")
	if err := writeFileB(in, "input"); err != nil {
		b.Fatal(err)
	}
	var runs int
	b.Run("cache-hit", func(b *testing.B) {
		e, _ := New(filepath.Join(dir, "hit"), []*Stage{shardStage("s", shardParams{Shards: 8, Word: "w"}, in, nil, &runs)}, Options{})
		if _, err := e.Make(context.Background(), "s", MakeOptions{}); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := e.Make(context.Background(), "s", MakeOptions{}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/stage")
	})
	b.Run("miss-8-shards", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			e, _ := New(filepath.Join(dir, fmt.Sprintf("miss%d", i)), []*Stage{shardStage("s", shardParams{Shards: 8, Word: "w"}, in, nil, &runs)}, Options{})
			if _, err := e.Make(context.Background(), "s", MakeOptions{}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/stage")
	})
}
