package captionstable

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	feat "github.com/groundcap/groundcap/features"
	"github.com/groundcap/groundcap/internal/blobio"
	"github.com/groundcap/groundcap/internal/shard"
	"github.com/groundcap/groundcap/transforms/parquetshard"
)

// writeShards writes a captions table of n shards (one row each) under dir/captions and a
// feature store of nf shards (one image each) under dir/store.
func writeShards(t *testing.T, dir string, n, nf int) (table, store string) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < n; i++ {
		rows := []Row{{ImageID: int64(i), Split: "train"}}
		if err := parquetshard.Write(ctx, filepath.Join(dir, shard.Name(CaptionsTable, i, n)), rows, nil, parquetshard.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	store = filepath.Join(dir, "store")
	var index []feat.IndexEntry
	for i := 0; i < nf; i++ {
		w, err := blobio.NewWriter(ctx, filepath.Join(store, shard.Name(feat.FeaturesTable, i, nf)))
		if err != nil {
			t.Fatal(err)
		}
		fw, err := feat.NewWriter(w, feat.WriterOptions{Dim: 2, Shard: i, NumShards: nf})
		if err != nil {
			t.Fatal(err)
		}
		raw := &feat.Raw{ImageID: int64(i), Width: 10, Height: 10, NumBoxes: 1,
			Boxes: feat.Float32Bytes([]float32{0, 0, 5, 5}), Features: feat.Float32Bytes([]float32{1, 2})}
		if err := fw.Write(raw); err != nil {
			t.Fatal(err)
		}
		if err := fw.Close(); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		index = append(index, feat.IndexEntry{ImageID: int64(i), Shard: int32(i)})
	}
	if err := feat.WriteIndex(ctx, filepath.Join(store, feat.IndexName), index); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, CaptionsTable), store
}

// TestNumShardsWith checks that the shard count comes back when the captions table and the
// feature store are sharded alike, and that a mismatch names both locations and both counts.
func TestNumShardsWith(t *testing.T) {
	ctx := context.Background()
	table, store := writeShards(t, t.TempDir(), 2, 2)
	if n, err := NumShardsWith(ctx, table, store); err != nil || n != 2 {
		t.Errorf("alike: %d, %v; want 2 shards", n, err)
	}
	table, store = writeShards(t, t.TempDir(), 2, 1)
	_, err := NumShardsWith(ctx, table, store)
	if err == nil {
		t.Fatal("2 caption shards and 1 feature shard: no error")
	}
	for _, want := range []string{table + " has 2 shards", store + " 1", "num_shards"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if _, err := NumShardsWith(ctx, table, filepath.Join(t.TempDir(), "none")); err == nil {
		t.Error("no feature store: no error")
	}
}
