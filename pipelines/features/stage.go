package features

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	feat "github.com/groundcap/groundcap/features"
	"github.com/groundcap/groundcap/internal/beamrun"
	"github.com/groundcap/groundcap/internal/blobio"
	"github.com/groundcap/groundcap/internal/shard"
	"github.com/groundcap/groundcap/pipelines/engine"
	"github.com/groundcap/groundcap/pipelines/internal/declare"
	"github.com/groundcap/groundcap/transforms/rejects"
)

// Stage versions: bump Version when the output for the same input changes meaning,
// SchemaVersion when the store layout changes.
const (
	Version       = "3" // 2: 256 KiB pages (same values, other bytes than version 1); 3: records larger than max_boxes × D allows are rejected unread
	SchemaVersion = "1"
)

// Input names of the stage.
const (
	InputCaptions = "captions"
	InputDataset  = "dataset"
)

// InputName returns the name of the i-th entry of Params.Inputs ("input-0", …).
func InputName(i int) string { return fmt.Sprintf("input-%d", i) }

// Stage returns the features stage.
func Stage(p Params) (*engine.Stage, error) {
	st := engine.Stage{
		Name:          "features",
		Description:   "materialise bottom-up region features into the sharded Parquet feature store",
		Version:       Version,
		SchemaVersion: SchemaVersion,
	}
	for i, ref := range p.Inputs {
		st.Inputs = append(st.Inputs, engine.Input{Name: InputName(i), Ref: ref})
	}
	if p.Captions != "" {
		st.Inputs = append(st.Inputs, engine.Input{Name: InputCaptions, Ref: p.Captions})
	}
	if p.Dataset != "" {
		st.Inputs = append(st.Inputs, engine.Input{Name: InputDataset, Ref: p.Dataset})
	}
	st.Run = func(ctx context.Context, r *engine.Run) error { return run(ctx, r, p) }
	return declare.Stage(p, st)
}

func run(ctx context.Context, r *engine.Run, p Params) error {
	layout := p.Layout
	var sources []Source
	for i, ref := range p.Inputs {
		s, err := ResolveSources(ctx, ref, r.Input(InputName(i)), layout)
		if err != nil {
			return err
		}
		sources = append(sources, s...)
	}
	dim := p.FeatDim
	if dim == 0 {
		var err error
		if dim, err = DetectDim(ctx, sources, layout, p.MaxBoxes); err != nil {
			return err
		}
		r.Logf("feature dimension D = %d (from the first records of %s)", dim, sources[0].Name)
	}
	var known []int64
	var knownFrom string
	switch {
	case p.Captions != "":
		var err error
		knownFrom = p.Captions
		if known, err = captionIDs(ctx, r.Input(InputCaptions), p.NumShards); err != nil {
			return err
		}
	case p.Dataset != "":
		var err error
		knownFrom = p.Dataset
		if known, err = datasetIDs(ctx, r.Input(InputDataset)); err != nil {
			return err
		}
	}
	cfg := Config{
		Sources: sources, Out: r.Out, Layout: layout, Encoding: p.Encoding, DType: p.DType, Dim: dim,
		NumShards: p.NumShards, RowsPerGroup: p.RowsPerGroup, MinBoxes: p.MinBoxes, MaxBoxes: p.MaxBoxes,
		RangeSize: p.ByteRangeSize, Workers: p.Workers,
	}
	var bytesIn int64
	for _, s := range sources {
		bytesIn += s.Size
	}
	r.Logf("%d sources (%d bytes of TSV) -> %d shards, encoding %s, dtype %s", len(sources), bytesIn, p.NumShards, p.Encoding, p.DType)
	return materialise(ctx, r, cfg, p.MaxRejectFraction, known, knownFrom)
}

// recorder is the part of engine.Run that finish uses (a fake in benchmarks).
type recorder interface {
	Output(name string) string
	SetRows(name string, n int64)
	SetInfo(key string, v any)
	Logf(format string, args ...any)
}

// materialise runs the pipeline (beamx.Run: the runner named by Beam's flags, prism by
// default) and then finishes the store.
func materialise(ctx context.Context, r recorder, cfg Config, maxReject float64, known []int64, knownFrom string) error {
	pl := beam.NewPipeline()
	Build(pl.Root(), cfg)
	if err := beamrun.Run(ctx, pl, "features", ""); err != nil {
		return fmt.Errorf("features: pipeline: %w", err)
	}
	return finish(ctx, r, cfg, maxReject, known, knownFrom)
}

// ShardSummary is one shard's entry in the manifest's info.
type ShardSummary struct {
	Shard    int     `json:"shard"`
	Rows     int64   `json:"rows"`
	Rejected int64   `json:"rejected"`
	Bytes    int64   `json:"bytes"`
	Boxes    int64   `json:"boxes"`
	Min      float64 `json:"feature_min"`
	Max      float64 `json:"feature_max"`
	Mean     float64 `json:"feature_mean"`
	NaNCount int64   `json:"nan_count"`
}

// IndexSummary describes index.parquet in the manifest.
type IndexSummary struct {
	File   string `json:"file"`
	Images int    `json:"images"`
	MinID  int64  `json:"min_image_id"`
	MaxID  int64  `json:"max_image_id"`
}

// maxListed bounds the ids listed in the manifest's missing_images.
const maxListed = 100

// finish reads back every shard's footer: row counts for the manifest, per-shard stats,
// reconciliation of counts, the index, and the ids the captions know but the features lack.
func finish(ctx context.Context, r recorder, cfg Config, maxReject float64, known []int64, knownFrom string) error {
	n := cfg.NumShards
	var index []feat.IndexEntry
	var summaries []ShardSummary
	var read, written, rejected int64
	sourceRecords := int64(-1)
	for i := 0; i < n; i++ {
		name := shard.Name(feat.FeaturesTable, i, n)
		info, err := feat.ReadShardInfo(ctx, r.Output(name))
		if err != nil {
			return err
		}
		m := info.Meta
		if m.Dim != cfg.Dim || m.Encoding != cfg.Encoding || m.NumShards != n || m.Shard != i || m.Columns["features"].DType != string(cfg.DType) {
			return fmt.Errorf("features: %s: metadata %+v does not match the stage's config", name, m)
		}
		ids, err := feat.ReadShardIDs(ctx, r.Output(name))
		if err != nil {
			return err
		}
		for row, id := range ids {
			index = append(index, feat.IndexEntry{ImageID: id, Shard: int32(i), Row: int64(row)})
		}
		rname := shard.Name(feat.RejectsTable, i, n)
		rids, err := feat.ReadShardIDs(ctx, r.Output(rname))
		if err != nil {
			return err
		}
		st := info.Stats
		nrej := int64(len(rids))
		if st.Read != info.Rows+nrej || st.Rejected != nrej || st.Rows != info.Rows {
			return fmt.Errorf("features: %s: counts do not reconcile: %d records read, %d rows, %d rejects (stats say %d rows, %d rejected)",
				name, st.Read, info.Rows, nrej, st.Rows, st.Rejected)
		}
		if sourceRecords >= 0 && st.SourceRecords != sourceRecords {
			return fmt.Errorf("features: %s: %d source records, other shards say %d", name, st.SourceRecords, sourceRecords)
		}
		sourceRecords = st.SourceRecords
		r.SetRows(name, info.Rows)
		r.SetRows(rname, nrej)
		read += st.Read
		written += info.Rows
		rejected += nrej
		summaries = append(summaries, ShardSummary{Shard: i, Rows: info.Rows, Rejected: nrej, Bytes: info.Size, Boxes: st.Boxes,
			Min: st.Min, Max: st.Max, Mean: st.Mean, NaNCount: st.NaNCount})
	}
	if read != sourceRecords {
		return fmt.Errorf("features: counts do not reconcile: the scan found %d records, the shards account for %d", sourceRecords, read)
	}
	sort.Slice(index, func(i, j int) bool { return index[i].ImageID < index[j].ImageID })
	if err := feat.WriteIndex(ctx, r.Output(feat.IndexName), index); err != nil {
		return err
	}
	r.SetRows(feat.IndexName, int64(len(index)))
	is := IndexSummary{File: feat.IndexName, Images: len(index)}
	if len(index) > 0 {
		is.MinID, is.MaxID = index[0].ImageID, index[len(index)-1].ImageID
	}
	r.SetInfo("dim", cfg.Dim)
	r.SetInfo("encoding", string(cfg.Encoding))
	r.SetInfo("dtype", string(cfg.DType))
	r.SetInfo("shards", summaries)
	r.SetInfo("index", is)
	r.SetInfo("counts", map[string]int64{"read": read, "written": written, "rejected": rejected})
	if knownFrom != "" {
		info, images, missing := missingImages(knownFrom, known, index)
		r.SetInfo("missing_images", info)
		if len(missing) > 0 {
			r.Logf("%d of %d images known to %s have no features (first: %v)", len(missing), images, knownFrom, missing[:min(len(missing), 10)])
		}
	}
	r.Logf("%d records read, %d written, %d rejected", read, written, rejected)
	return rejects.Check("feature records", read, written, rejected, maxReject)
}

// missingImages describes the images that known names (image ids of caption rows or dataset
// records, repeated or not) and index lacks: the manifest's missing_images, the number of
// images known, and the missing ids (sorted).
func missingImages(knownFrom string, known []int64, index []feat.IndexEntry) (map[string]any, int, []int64) {
	images := map[int64]bool{}
	for _, id := range known {
		images[id] = true
	}
	missing := missingIDs(known, index)
	listed := missing
	if len(listed) > maxListed {
		listed = listed[:maxListed]
	}
	return map[string]any{"source": knownFrom, "images_known": len(images), "images_missing": len(missing), "first_missing": listed}, len(images), missing
}

// missingIDs returns the sorted, unique ids of known that index lacks.
func missingIDs(known []int64, index []feat.IndexEntry) []int64 {
	have := make(map[int64]bool, len(index))
	for _, e := range index {
		have[e.ImageID] = true
	}
	var out []int64
	for _, id := range known {
		if !have[id] {
			out = append(out, id)
			have[id] = true
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	if out == nil {
		out = []int64{}
	}
	return out
}

var npzAtt = regexp.MustCompile(`^([^/]+)_att/[^/]+\.npz$`)

// ResolveSources expands one input (ref as configured, loc resolved) into sources: a TSV file,
// every file of a TSV directory (sorted; MANIFEST.json and hidden files skipped), or the npz
// sets (<name>_att/…) of an npz root.
func ResolveSources(ctx context.Context, ref, loc string, layout feat.Layout) ([]Source, error) {
	objs, err := blobio.List(ctx, loc)
	if err != nil {
		return nil, fmt.Errorf("features: input %s: %w", ref, err)
	}
	if len(objs) == 0 {
		o, err := blobio.Stat(ctx, loc)
		if err != nil {
			return nil, fmt.Errorf("features: input %s: no such file or non-empty directory: %w", ref, err)
		}
		if layout == feat.LayoutNPZ {
			return nil, fmt.Errorf("features: input %s: layout npz needs a directory with <name>_att/, <name>_box/", ref)
		}
		if o.Size == 0 {
			return nil, fmt.Errorf("features: input %s: the TSV file is empty (0 bytes, no records)", ref)
		}
		return []Source{{Kind: KindTSV, Loc: loc, Name: ref, Size: o.Size}}, nil
	}
	sets := map[string]bool{}
	dirs := map[string]bool{}
	var files []blobio.Object
	for _, o := range objs {
		base := path.Base(o.Name)
		if o.Name == engine.ManifestName || strings.HasPrefix(base, ".") {
			continue
		}
		if m := npzAtt.FindStringSubmatch(o.Name); m != nil {
			sets[m[1]] = true
		}
		if i := strings.IndexByte(o.Name, '/'); i >= 0 {
			dirs[o.Name[:i]] = true
		}
		files = append(files, o)
	}
	if len(sets) == 0 {
		if layout == feat.LayoutNPZ {
			return nil, fmt.Errorf("features: input %s: layout npz but no <name>_att/<id>.npz files", ref)
		}
		var out []Source
		for _, o := range files {
			if strings.HasSuffix(o.Name, ".npz") || strings.HasSuffix(o.Name, ".npy") {
				return nil, fmt.Errorf("features: input %s: %s is an npz/npy file outside a <name>_att/ directory", ref, o.Name)
			}
			if o.Size == 0 {
				return nil, fmt.Errorf("features: input %s: %s is empty (0 bytes, no records): remove it or give the whole file", ref, o.Name)
			}
			out = append(out, Source{Kind: KindTSV, Loc: blobio.Join(loc, o.Name), Name: ref + "/" + o.Name, Size: o.Size})
		}
		return out, nil
	}
	if layout == feat.LayoutAnderson || layout == feat.LayoutLXMERT {
		return nil, fmt.Errorf("features: input %s: layout %s but the directory holds npz sets", ref, layout)
	}
	var names []string
	for s := range sets {
		names = append(names, s)
	}
	sort.Strings(names)
	var out []Source
	for _, s := range names {
		if !dirs[s+"_box"] {
			return nil, fmt.Errorf("features: input %s: %s_att/ has no %s_box/ directory (boxes are required)", ref, s, s)
		}
		out = append(out, Source{Kind: KindNPZ, Loc: loc, Name: ref + "/" + s, Prefix: s, HasFC: dirs[s+"_fc"]})
	}
	for _, o := range files {
		d, _, _ := strings.Cut(o.Name, "/")
		if !strings.HasSuffix(d, "_att") && !strings.HasSuffix(d, "_fc") && !strings.HasSuffix(d, "_box") {
			return nil, fmt.Errorf("features: input %s: %s is neither TSV input nor part of an npz set (do not mix them in one directory)", ref, o.Name)
		}
	}
	return out, nil
}

// detectRecords is how many records DetectDim looks at.
const detectRecords = 16

var errEnough = errors.New("enough")

// DetectDim reads D from the first records of the first source: the most frequent D among
// the first parseable ones (ties: the smallest). Records larger than maxBoxes boxes of
// feat.MaxDim take are skipped unread.
func DetectDim(ctx context.Context, sources []Source, layout feat.Layout, maxBoxes int) (int, error) {
	if len(sources) == 0 {
		return 0, fmt.Errorf("features: no input files")
	}
	src := sources[0]
	votes := map[int]int{}
	seen := 0
	lim := feat.Limits{MaxBoxes: maxBoxes}
	if src.Kind == KindNPZ {
		objs, err := blobio.List(ctx, blobio.Join(src.Loc, src.Prefix+"_att"))
		if err != nil {
			return 0, fmt.Errorf("features: %s: %w", src.Name, err)
		}
		for _, o := range objs {
			if seen == detectRecords {
				break
			}
			seen++
			data, err := blobio.ReadAllLimit(ctx, blobio.Join(src.Loc, src.Prefix+"_att", o.Name), 2*lim.MaxFeatureBytes()+1<<20)
			if errors.Is(err, blobio.ErrTooLarge) {
				continue
			}
			if err != nil {
				return 0, fmt.Errorf("features: %s: %w", src.Name, err)
			}
			if a, _, err := feat.NPZArray(data, lim.MaxFeatureBytes(), "feat", "z"); err == nil && len(a.Shape) == 2 && a.Shape[1] > 0 {
				votes[a.Shape[1]]++
			}
		}
	} else {
		if layout == feat.LayoutNPZ {
			layout = feat.LayoutAuto
		}
		var raw feat.Raw
		maxLine := lim.MaxTSVLine()
		_, err := feat.ScanHeads(ctx, src.Loc, 0, src.Size, int(maxLine), func(_, length int64, line []byte) error {
			if seen == detectRecords {
				return errEnough
			}
			seen++
			if length > maxLine {
				return nil
			}
			if _, err := feat.ParseTSV(line, layout, &raw); err == nil && raw.Dim() > 0 && len(raw.Features) == 4*raw.NumBoxes*raw.Dim() {
				votes[raw.Dim()]++
			}
			return nil
		})
		if err != nil && !errors.Is(err, errEnough) {
			return 0, err
		}
	}
	best, bestN := 0, 0
	for d, n := range votes {
		if n > bestN || (n == bestN && d < best) {
			best, bestN = d, n
		}
	}
	if best == 0 {
		return 0, fmt.Errorf("features: cannot read the feature dimension from the first %d records of %s; set feat_dim", seen, src.Name)
	}
	return best, nil
}

// captionIDs reads the image ids of the captions stage's table (Parquet files with an int64
// image_id column) and checks that it has numShards shards.
func captionIDs(ctx context.Context, loc string, numShards int) ([]int64, error) {
	objs, err := blobio.List(ctx, loc)
	if err != nil {
		return nil, fmt.Errorf("features: captions: %w", err)
	}
	var ids []int64
	files := 0
	for _, o := range objs {
		if !strings.HasSuffix(o.Name, ".parquet") {
			continue
		}
		if _, n, ok := feat.ParseShardName(o.Name); ok && n != numShards {
			return nil, fmt.Errorf("features: captions: %s is one of %d shards; num_shards is %d (they must be equal)", o.Name, n, numShards)
		}
		x, err := feat.ReadShardIDs(ctx, blobio.Join(loc, o.Name))
		if err != nil {
			return nil, fmt.Errorf("features: captions: %w", err)
		}
		ids = append(ids, x...)
		files++
	}
	if files == 0 {
		return nil, fmt.Errorf("features: captions: no Parquet files under %s", loc)
	}
	return ids, nil
}

// datasetIDs reads the image ids of a Karpathy dataset JSON: cocoid when present, else the
// integer in the file name (Flickr30k).
func datasetIDs(ctx context.Context, loc string) ([]int64, error) {
	data, err := blobio.ReadAll(ctx, loc)
	if err != nil {
		return nil, fmt.Errorf("features: dataset: %w", err)
	}
	var ds struct {
		Images []struct {
			Filename string `json:"filename"`
			CocoID   *int64 `json:"cocoid"`
		} `json:"images"`
	}
	if err := json.Unmarshal(data, &ds); err != nil {
		return nil, fmt.Errorf("features: dataset %s: %w", loc, err)
	}
	ids := make([]int64, 0, len(ds.Images))
	for i, im := range ds.Images {
		if im.CocoID != nil {
			ids = append(ids, *im.CocoID)
			continue
		}
		id, err := feat.ParseImageID([]byte(strings.TrimSuffix(im.Filename, path.Ext(im.Filename))))
		if err != nil {
			return nil, fmt.Errorf("features: dataset %s: images[%d]: file name %q: %w", loc, i, im.Filename, err)
		}
		ids = append(ids, id)
	}
	return ids, nil
}
