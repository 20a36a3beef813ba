package evaluate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"sort"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/groundcap/groundcap/eval/caption"
	"github.com/groundcap/groundcap/eval/grounding"
	feat "github.com/groundcap/groundcap/features"
	"github.com/groundcap/groundcap/internal/beamrun"
	"github.com/groundcap/groundcap/internal/blobio"
	"github.com/groundcap/groundcap/internal/config"
	"github.com/groundcap/groundcap/internal/shard"
	"github.com/groundcap/groundcap/pipelines/artifacts/captionstable"
	"github.com/groundcap/groundcap/pipelines/artifacts/evalresults"
	"github.com/groundcap/groundcap/pipelines/artifacts/models"
	"github.com/groundcap/groundcap/pipelines/engine"
	"github.com/groundcap/groundcap/pipelines/internal/captioning"
	"github.com/groundcap/groundcap/pipelines/internal/declare"
	"github.com/groundcap/groundcap/pipelines/internal/matching"
	"github.com/groundcap/groundcap/transforms/lemma"
	"github.com/groundcap/groundcap/transforms/parquetshard"
	"github.com/groundcap/groundcap/transforms/postag"
	"github.com/groundcap/groundcap/transforms/vocab"
)

// Input names of the stage.
const (
	InputModel         = "model"
	InputCaptions      = "captions"
	InputVocab         = "vocab"
	InputFeatures      = "features"
	InputGroundingRefs = "grounding_refs"
	InputGroundingRef  = "grounding_reference"
	InputClassNames    = "class_names"
	InputImages        = "images"
	InputKLTeacher     = "kl_teacher"
)

// perImageOf starts a PerImage from the caption scores' images.
func perImageOf(res *caption.Result) *evalresults.PerImage {
	pi := &evalresults.PerImage{}
	for _, x := range res.PerImage {
		pi.ImageIDs = append(pi.ImageIDs, x.ImageID)
		pi.Bleu = append(pi.Bleu, x.BleuStats)
		pi.RougeL = append(pi.RougeL, x.RougeL)
		pi.CIDEr = append(pi.CIDEr, x.CIDErD)
	}
	return pi
}

// alignCounts places per-reference-image counts (refs' order) at their images in ids; images
// without references get none. A reference image outside ids is an error.
func alignCounts(ids []int64, refs *grounding.References, counts [][]grounding.ClassCount) ([][]grounding.ClassCount, error) {
	at := make(map[int64]int, len(ids))
	for i, id := range ids {
		at[id] = i
	}
	out := make([][]grounding.ClassCount, len(ids))
	for k, img := range refs.Images {
		i, ok := at[img.ImageID]
		if !ok {
			return nil, fmt.Errorf("evaluate: grounding reference image %d was not decoded", img.ImageID)
		}
		out[i] = counts[k]
	}
	for i := range out {
		if out[i] == nil {
			out[i] = []grounding.ClassCount{}
		}
	}
	return out, nil
}

// Stage returns the stage instance called name.
func Stage(name string, p Params) (*engine.Stage, error) {
	p = p.resolve()
	if err := declare.Instance(name, evalresults.Names(), p.validate); err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	inputs := []engine.Input{
		{Name: InputModel, Ref: p.Model},
		{Name: InputCaptions, Ref: p.Captions},
		{Name: InputVocab, Ref: p.Vocab},
		{Name: InputFeatures, Ref: p.Features},
	}
	for _, in := range []engine.Input{{Name: InputClassNames, Ref: p.ClassNames}, {Name: InputImages, Ref: p.Images}} {
		if in.Ref != "" {
			inputs = append(inputs, in)
		}
	}
	switch {
	case p.GVDReference():
		inputs = append(inputs, engine.Input{Name: InputGroundingRef, Ref: p.GroundingReference})
	case p.Grounding():
		inputs = append(inputs, engine.Input{Name: InputGroundingRefs, Ref: p.GroundingRefs})
	}
	if p.KLTeacherModel != "" {
		inputs = append(inputs, engine.Input{Name: InputKLTeacher, Ref: p.KLTeacherModel})
	}
	return &engine.Stage{
		Name:        name,
		Description: fmt.Sprintf("decode the %s splits with %s (beam %d), caption and grounding metrics, attention pictures (Beam)", strings.Join(p.Splits, " and "), p.Model, p.BeamSize),
		Version:     "1",
		// 2: per_image.json. 3: every split of splits (test and val) evaluated: its files
		// under <split>/, metrics.json and per_image.json by split. 4: trained_by (the stage
		// that trained the model's weights).
		SchemaVersion: "4",
		Params:        config.Key(p),
		Inputs:        inputs,
		Run:           func(ctx context.Context, r *engine.Run) error { return run(ctx, r, name, p) },
	}, nil
}

func run(ctx context.Context, r *engine.Run, name string, p Params) error {
	cfg := Config{Model: r.Input(InputModel), Captions: r.Input(InputCaptions), Vocab: r.Input(InputVocab),
		Features: r.Input(InputFeatures), Out: r.Out, Splits: p.Splits, BeamSize: p.BeamSize, DecodeBatch: p.DecodeBatch, BLAS: string(p.BLAS)}
	n, err := captionstable.NumShardsWith(ctx, cfg.Captions, cfg.Features)
	if err != nil {
		return fmt.Errorf("evaluate: %w", err)
	}
	cfg.NumShards = n
	r.Logf("decoding the %s splits of %d shards with %s (beam %d, %d images per call, blas %s)", strings.Join(p.Splits, " and "), n, p.Model, p.BeamSize, p.DecodeBatch, p.BLAS)
	pl := beam.NewPipeline()
	Build(pl.Root(), cfg)
	if err := beamrun.Run(ctx, pl, "evaluate", ""); err != nil {
		return fmt.Errorf("evaluate: pipeline: %w", err)
	}
	rows, err := captionstable.ReadCaptions(ctx, cfg.Captions)
	if err != nil {
		return err
	}
	trainedBy, err := captioning.TrainedBy(ctx, cfg.Model)
	if err != nil {
		return err
	}
	met := &evalresults.Metrics{Stage: name, Captioner: evalresults.CaptionerOf(name), Model: p.Model, BeamSize: p.BeamSize, Splits: p.Splits, Scores: map[string]*evalresults.SplitMetrics{}}
	if trainedBy != "" && trainedBy != met.Captioner {
		r.Logf("%s is %s's model: %s kept the model it started from", p.Model, trainedBy, met.Captioner)
	}
	per := &evalresults.PerImages{Splits: map[string]*evalresults.PerImage{}}
	decodes := map[string][]Decode{}
	info := map[string]any{}
	for i, split := range p.Splits {
		sm, pi, ds, err := evaluateSplit(ctx, r, cfg, p, rows, split, i == 0)
		if err != nil {
			return err
		}
		sm.Stage, sm.Captioner, sm.TrainedBy = name, met.Captioner, trainedBy
		met.Scores[split], per.Splits[split], decodes[split] = sm, pi, ds
		si := map[string]any{"images": sm.Images, "bleu4": sm.Caption.Bleu4, "cider": sm.Caption.CIDEr}
		line := fmt.Sprintf("%s: %d images: B@1 %.1f B@4 %.1f ROUGE-L %.1f CIDEr-D %.1f", split, sm.Images, 100*sm.Caption.Bleu1, 100*sm.Caption.Bleu4, 100*sm.Caption.RougeL, 100*sm.Caption.CIDEr)
		if g := sm.Grounding; g != nil {
			si["f1_all"], si["f1_loc"] = g.All.F1, g.Loc.F1
			line += fmt.Sprintf(", F1_all %.2f F1_loc %.2f", 100*g.All.F1, 100*g.Loc.F1)
		}
		if a := sm.Attention; a != nil {
			si["attention_kl"] = a.KL
			line += fmt.Sprintf(", KL(α‖β) to %s %.4f", a.Teacher, a.KL)
		}
		info[split] = si
		r.Logf("%s", line)
	}
	if err := writeJSON(ctx, r.Output(evalresults.MetricsFile), met); err != nil {
		return err
	}
	pj, err := json.Marshal(per)
	if err != nil {
		return fmt.Errorf("evaluate: %w", err)
	}
	if err := blobio.WriteAll(ctx, r.Output(evalresults.PerImageFile), append(pj, '\n')); err != nil {
		return err
	}
	if err := blobio.WriteAll(ctx, r.Output(evalresults.ReportFile), []byte(Report(met, decodes))); err != nil {
		return err
	}
	r.SetInfo("evaluate", info)
	r.Logf("%s", r.Output(evalresults.ReportFile))
	return nil
}

// evaluateSplit scores one decoded split: results.json, caption metrics, grounding (submission
// and F1), the attention KL and, for the main split, the pictures.
func evaluateSplit(ctx context.Context, r *engine.Run, cfg Config, p Params, rows []captionstable.Row, split string, main bool) (*evalresults.SplitMetrics, *evalresults.PerImage, []Decode, error) {
	for i := 0; i < cfg.NumShards; i++ {
		name := shard.Name(DecodesOf(split), i, cfg.NumShards)
		k, err := parquetshard.NumRows(ctx, r.Output(name))
		if err != nil {
			return nil, nil, nil, fmt.Errorf("evaluate: %w", err)
		}
		r.SetRows(name, k)
	}
	decodes, err := parquetshard.ReadAll[Decode](ctx, r.Output(DecodesOf(split)))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("evaluate: %w", err)
	}
	sort.Slice(decodes, func(i, j int) bool { return decodes[i].ImageID < decodes[j].ImageID })
	refs := References(rows, split)
	if len(decodes) != len(refs) {
		return nil, nil, nil, fmt.Errorf("evaluate: %d images decoded, the %s split has %d", len(decodes), split, len(refs))
	}
	if len(decodes) == 0 {
		return nil, nil, nil, fmt.Errorf("evaluate: the %s split of %s has no images", split, cfg.Captions)
	}
	results := Results(decodes)
	rj, err := json.MarshalIndent(results, "", " ")
	if err != nil {
		return nil, nil, nil, fmt.Errorf("evaluate: %w", err)
	}
	if err := blobio.WriteAll(ctx, r.Output(evalresults.ResultsOf(split)), append(rj, '\n')); err != nil {
		return nil, nil, nil, err
	}
	res, err := caption.Score(refs, Predictions(results), caption.Options{})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("evaluate: %s split: %w", split, err)
	}
	met := &evalresults.SplitMetrics{Model: p.Model, Split: split, BeamSize: p.BeamSize, Images: len(decodes), Caption: ScoresOf(res.Corpus), Pictures: []string{}}
	per := perImageOf(res)
	words := map[string]bool{}
	for _, d := range decodes {
		met.MeanLength += float64(len(d.Tokens)) / float64(len(decodes))
		if !d.Ended {
			met.Unended++
		}
		for _, w := range d.Tokens {
			words[w] = true
		}
	}
	met.Vocabulary = len(words)
	if p.Grounding() {
		if met.Grounding, err = groundingEval(ctx, r, p, rows, split, decodes, per); err != nil {
			return nil, nil, nil, err
		}
	}
	if p.KLTeacherModel != "" {
		if met.Attention, err = attentionEval(ctx, cfg, r.Input(InputKLTeacher), p, rows, split, per); err != nil {
			return nil, nil, nil, err
		}
	}
	if main {
		if err := drawPictures(ctx, r, p, decodes, met); err != nil {
			return nil, nil, nil, err
		}
	}
	return met, per, decodes, nil
}

func writeJSON(ctx context.Context, loc string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("evaluate: %s: %w", loc, err)
	}
	return blobio.WriteAll(ctx, loc, append(b, '\n'))
}

// groundingEval writes the submission and computes F1_all and F1_loc, and their per-image
// decisions into per.
func groundingEval(ctx context.Context, r *engine.Run, p Params, rows []captionstable.Row, split string, decodes []Decode, per *evalresults.PerImage) (*evalresults.GroundingMetrics, error) {
	g := &evalresults.GroundingMetrics{}
	var refs *grounding.References
	var classList []string
	if p.GVDReference() {
		var err error
		if refs, err = captionstable.ReadGroundingReference(ctx, r.Input(InputGroundingRef), p.GroundingReference, captionstable.SplitIDs(rows, split)); err != nil {
			return nil, err
		}
		g.Reference, g.ClassSource, classList = p.GroundingReference, "grounding_reference", ClassesOfReferences(refs)
	} else {
		grefs, err := captionstable.ReadGroundingRefs(ctx, r.Input(InputGroundingRefs))
		if err != nil {
			return nil, err
		}
		refs, g.RefWordsPastMaxLength = GroundingReferences(rows, grefs, split)
		g.ClassSource, classList = "grounding_refs", ClassesOfRefs(grefs)
	}
	if p.ClassNames != "" {
		data, err := blobio.ReadAll(ctx, r.Input(InputClassNames))
		if err != nil {
			return nil, fmt.Errorf("evaluate: %w", err)
		}
		if classList, err = ParseClassList(data, p.ClassNames); err != nil {
			return nil, err
		}
		g.ClassSource = "class_names"
	}
	g.Classes = len(classList)
	sub := Submission(decodes, lemma.NewClasses(classList))
	for _, ps := range sub {
		for _, pr := range ps {
			g.GroundedWords += len(pr.Classes)
		}
	}
	sj, err := EncodeSubmission(sub)
	if err != nil {
		return nil, err
	}
	if err := blobio.WriteAll(ctx, r.Output(evalresults.SubmissionOf(split)), sj); err != nil {
		return nil, err
	}
	g.RefImages = len(refs.Images)
	if len(refs.Images) == 0 {
		src := p.GroundingRefs
		if p.GVDReference() {
			src = p.GroundingReference
		}
		return nil, fmt.Errorf("evaluate: %s has no grounding references of the %s split (grounding_refs: none switches grounding off)", src, split)
	}
	for _, m := range []grounding.Mode{grounding.ModeAll, grounding.ModeLoc} {
		res, err := grounding.F1(refs, sub, m, nil)
		if err != nil {
			return nil, fmt.Errorf("evaluate: F1_%s: %w", m, err)
		}
		counts, err := grounding.F1Counts(refs, sub, m, nil)
		if err != nil {
			return nil, fmt.Errorf("evaluate: F1_%s: %w", m, err)
		}
		aligned, err := alignCounts(per.ImageIDs, refs, counts.PerImage)
		if err != nil {
			return nil, err
		}
		if m == grounding.ModeAll {
			g.All, per.F1All = F1Of(res), aligned
		} else {
			g.Loc, per.F1Loc = F1Of(res), aligned
		}
	}
	return g, nil
}

// attentionEval scores the captioner teacher-forced on the split's ground-truth captions:
// mean XE and mean KL(α‖β) with α computed by the matching model, one image per call so that
// each image's KL sum goes into per.
func attentionEval(ctx context.Context, cfg Config, teacherLoc string, p Params, rows []captionstable.Row, split string, per *evalresults.PerImage) (*evalresults.AttentionMetrics, error) {
	m, _, err := captioning.LoadModel(ctx, cfg.Model)
	if err != nil {
		return nil, err
	}
	sm, err := models.LoadMatching(ctx, teacherLoc)
	if err != nil {
		return nil, err
	}
	store, err := feat.OpenStore(ctx, cfg.Features)
	if err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	defer store.Close()
	sel, err := captioning.SelectSplit(rows, []string{split}, 0)
	if err != nil {
		return nil, err
	}
	src := &captioning.Source{Ctx: ctx, Split: sel, Feats: matching.NewFeatureCache(store, int64(p.FeatureCacheMB)<<20), Alpha: &captioning.Online{Model: sm}}
	a := &evalresults.AttentionMetrics{Teacher: p.KLTeacher}
	at := make(map[int64]int, len(per.ImageIDs))
	for i, id := range per.ImageIDs {
		at[id] = i
	}
	per.KLSum, per.Nouns = make([]float64, len(per.ImageIDs)), make([]int, len(per.ImageIDs))
	var kl, xe float64
	for i := 0; i < src.Len(); i++ {
		b, err := src.Batch([]int{i})
		if err != nil {
			return nil, err
		}
		st, err := m.Loss(b)
		if err != nil {
			return nil, fmt.Errorf("evaluate: teacher-forced scores of image %d: %w", src.ImageID(i), err)
		}
		k, ok := at[src.ImageID(i)]
		if !ok {
			return nil, fmt.Errorf("evaluate: image %d of the %s split was not decoded", src.ImageID(i), split)
		}
		per.KLSum[k], per.Nouns[k] = st.KL*float64(st.Nouns), st.Nouns
		kl += st.KL * float64(st.Nouns)
		xe += st.XE * float64(st.Tokens)
		a.Nouns += st.Nouns
		a.Tokens += st.Tokens
	}
	if a.Nouns > 0 {
		a.KL = kl / float64(a.Nouns)
	}
	if a.Tokens > 0 {
		a.XE = xe / float64(a.Tokens)
	}
	return a, nil
}

// drawPictures draws the first p.Pictures decodes (by image id) with their nouns' attended boxes.
func drawPictures(ctx context.Context, r *engine.Run, p Params, decodes []Decode, met *evalresults.SplitMetrics) error {
	if p.Pictures <= 0 {
		return nil
	}
	tm, err := postag.Load()
	if err != nil {
		return fmt.Errorf("evaluate: POS tagger: %w", err)
	}
	tagger := postag.New(tm)
	var tags []string
	for i := range decodes[:min(p.Pictures, len(decodes))] {
		d := &decodes[i]
		var src image.Image
		if p.Images != "" {
			if src, err = loadImage(ctx, r.Input(InputImages), d.ImageID); err != nil {
				return err
			}
		}
		tags = tagger.Tag(d.Tokens, tags)
		var marked []Marked
		for k, t := range tags {
			if postag.IsNoun(t) && d.Tokens[k] != vocab.UNK {
				marked = append(marked, Marked{Index: k, Word: d.Tokens[k]})
			}
		}
		png, err := DrawPicture(src, d, marked)
		if err != nil {
			return err
		}
		name := fmt.Sprintf("%s/%d.png", evalresults.PicturesDir, d.ImageID)
		if err := blobio.WriteAll(ctx, r.Output(name), png); err != nil {
			return err
		}
		met.Pictures = append(met.Pictures, name)
	}
	return nil
}

// loadImage reads <dir>/<id>.png or <dir>/<id>.jpg.
func loadImage(ctx context.Context, dir string, id int64) (image.Image, error) {
	var tried []string
	for _, ext := range []string{".png", ".jpg", ".jpeg"} {
		loc := blobio.Join(dir, fmt.Sprintf("%d%s", id, ext))
		data, err := blobio.ReadAll(ctx, loc)
		if blobio.IsNotExist(err) {
			tried = append(tried, loc)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("evaluate: %w", err)
		}
		img, _, err := image.Decode(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("evaluate: %s: %w", loc, err)
		}
		return img, nil
	}
	return nil, fmt.Errorf("evaluate: image %d: none of %s exists", id, strings.Join(tried, ", "))
}

// Report renders report.md: per split (the main one first), the scores (×100), the grounding
// per-class table and sample captions (decodes by split).
func Report(m *evalresults.Metrics, decodes map[string][]Decode) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s: %s on the %s splits\n\n", m.Stage, m.Captioner, strings.Join(m.Splits, " and "))
	for _, s := range m.Splits {
		splitReport(&b, m.Scores[s], decodes[s])
	}
	return b.String()
}

// splitReport renders one split's section of report.md.
func splitReport(b *strings.Builder, m *evalresults.SplitMetrics, decodes []Decode) {
	fmt.Fprintf(b, "## The %s split\n\n", m.Split)
	fmt.Fprintf(b, "Model `%s`, beam size %d, %d images; mean length %.2f words, %d distinct words, %d captions stopped at the maximum length.\n\n",
		m.Model, m.BeamSize, m.Images, m.MeanLength, m.Vocabulary, m.Unended)
	c := m.Caption
	b.WriteString("| B@1 | B@2 | B@3 | B@4 | ROUGE-L | CIDEr-D |")
	sep := "|---|---|---|---|---|---|"
	vals := fmt.Sprintf("| %.1f | %.1f | %.1f | %.1f | %.1f | %.1f |", 100*c.Bleu1, 100*c.Bleu2, 100*c.Bleu3, 100*c.Bleu4, 100*c.RougeL, 100*c.CIDEr)
	if g := m.Grounding; g != nil {
		b.WriteString(" F1_all | F1_loc |")
		sep += "---|---|"
		vals += fmt.Sprintf(" %.2f | %.2f |", 100*g.All.F1, 100*g.Loc.F1)
	}
	b.WriteString("\n" + sep + "\n" + vals + "\n\n")
	if a := m.Attention; a != nil {
		fmt.Fprintf(b, "Teacher-forced on the ground-truth captions: token XE %.4f (%d tokens); KL(α‖β) to %s %.4f over %d nouns.\n\n", a.XE, a.Tokens, a.Teacher, a.KL, a.Nouns)
	}
	if g := m.Grounding; g != nil {
		fmt.Fprintf(b, "### Grounding\n\n%d generated words name one of %d classes (from %s); %d reference images (%d annotated words past the captions' maximum length not scored).\n\n",
			g.GroundedWords, g.Classes, g.ClassSource, g.RefImages, g.RefWordsPastMaxLength)
		b.WriteString("| mode | precision | recall | F1 | classes |\n|---|---|---|---|---|\n")
		for _, s := range []struct {
			n string
			f evalresults.F1Scores
		}{{"all", g.All}, {"loc", g.Loc}} {
			fmt.Fprintf(b, "| %s | %.2f | %.2f | %.2f | %d |\n", s.n, 100*s.f.Precision, 100*s.f.Recall, 100*s.f.F1, s.f.Classes)
		}
		b.WriteString("\n#### Per class (F1_all; F1_loc in brackets)\n\n| class | precision | recall | words |\n|---|---|---|---|\n")
		loc := map[string]grounding.ClassScore{}
		for _, cs := range g.Loc.PerClass {
			loc[cs.Class] = cs
		}
		for _, cs := range g.All.PerClass {
			l := loc[cs.Class]
			fmt.Fprintf(b, "| %s | %.1f (%.1f) | %.1f (%.1f) | %d |\n", cs.Class, 100*cs.Precision, 100*l.Precision, 100*cs.Recall, 100*l.Recall, cs.NumRecall)
		}
		b.WriteString("\n")
	}
	b.WriteString("### Sample captions\n\n| image | caption |\n|---|---|\n")
	for _, d := range decodes[:min(10, len(decodes))] {
		fmt.Fprintf(b, "| %d | %s |\n", d.ImageID, d.Caption)
	}
	if len(m.Pictures) > 0 {
		b.WriteString("\n### Attention pictures\n\nEach noun's box is the region with the largest attention β when the word was generated.\n\n")
		for _, p := range m.Pictures {
			fmt.Fprintf(b, "![%s](%s)\n", p, p)
		}
	}
}
