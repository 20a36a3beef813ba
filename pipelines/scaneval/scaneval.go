// Package scaneval is the scan-eval stage: the grounding quality of the matching models (the
// paper's Table 1). For SCAN and POS-SCAN it scores attention accuracy on the ground-truth
// captions of the val and test splits against the grounding references (for every annotated
// object word, the box of the region with the largest attention α must have IoU > 0.5 with a
// ground-truth box; the mean over words per class, then over classes: eval/grounding's
// AttentionAccuracy), next to the expected accuracy of a uniformly random region, and R@1/5/10
// in both directions with rsum on test (5 captions per image).
//
// References: with grounding_reference set, GVD's reference file (flickr30k_cleaned_class.json:
// per object word its class, its index in the caption's tokens and one box), restricted to the
// split's images, scored exactly as GVD's gt_grd_eval and `groundcap score-grounding --refs
// --attention`; each of its captions is read by the model whole, its tokens mapped through the
// captioner's vocabulary (rare words as unk, as the captioner's labels) and POS-tagged for the
// noun mask. Otherwise the stage's own references: a word is scored at the word index of its
// phrase's head word (the captions stage's grounding_refs), against every box of its chain, on
// the captions rows' labels; words past the captions' max_length truncation, which the model
// never sees, are left out and counted. A POS-SCAN attention exists only for noun positions: an
// annotated word the tagger did not tag as a noun counts as a miss.
//
// Outputs (their names and records in pipelines/artifacts/scanevalresults): metrics.json
// (Metrics), table.md (the comparison as a Markdown table), per_image.json (PerImage:
// per-image counts for bootstrap intervals) and
// submissions/<model>-<split>.json (each model's attended boxes on the split's reference
// captions in GVD's submission format).
package scaneval

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/groundcap/groundcap/eval/grounding"
	"github.com/groundcap/groundcap/eval/retrieval"
	feat "github.com/groundcap/groundcap/features"
	"github.com/groundcap/groundcap/internal/blobio"
	"github.com/groundcap/groundcap/internal/config"
	"github.com/groundcap/groundcap/internal/progress"
	"github.com/groundcap/groundcap/pipelines/artifacts/captionstable"
	"github.com/groundcap/groundcap/pipelines/artifacts/models"
	"github.com/groundcap/groundcap/pipelines/artifacts/scanevalresults"
	"github.com/groundcap/groundcap/pipelines/engine"
	"github.com/groundcap/groundcap/pipelines/internal/declare"
	"github.com/groundcap/groundcap/pipelines/internal/matching"
	"github.com/groundcap/groundcap/training/blas"
	"github.com/groundcap/groundcap/training/gpu"
	tscan "github.com/groundcap/groundcap/training/scan"
	"github.com/groundcap/groundcap/transforms/postag"
	"github.com/groundcap/groundcap/transforms/vocab"
)

// Params configure the scan-eval stage (config section "scan-eval"); DefaultParams gives the
// defaults.
type Params struct {
	// Models are the matching models to compare, each read from "@<stage>/model.ckpt" (scan-plain
	// and scan: SCAN and POS-SCAN).
	Models []models.Teacher `yaml:"models" check:"scan, scan-plain or both"`
	// Splits whose ground-truth captions are scored for attention accuracy (val, test).
	Splits []string `yaml:"splits"`
	// RetrievalSplit is the split of the R@K evaluation (test).
	RetrievalSplit string `yaml:"retrieval_split" check:"a split name"`
	// Retrieval sizes the R@K evaluation: captions_per_image (5), eval_images and eval_captions
	// (the scoring blocks; they bound memory only).
	matching.Retrieval `yaml:",inline"`
	// Captions, Features and GroundingRefs are the inputs.
	captionstable.Data `yaml:",inline"`
	GroundingRefs      string `yaml:"grounding_refs" key:"-"`
	// GroundingReference is GVD's reference file (flickr30k_cleaned_class.json, or groundcap's
	// grounding-reference JSON); when given, attention accuracy is scored against it (in place
	// of the references derived from GroundingRefs) and Vocab, the captioner's vocabulary,
	// encodes its captions; "": the own references.
	GroundingReference string `yaml:"grounding_reference" key:"-"`
	Vocab              string `yaml:"vocab" key:"-"`
	// BLAS is the matrix backend.
	BLAS blas.Name `yaml:"blas" key:"-"`
	// Device runs the models device-resident: cuda, emulate or cpu; see the scan stage's device.
	// It does not enter the key.
	Device gpu.Kind `yaml:"device" key:"-"`
}

// DefaultParams returns the defaults: SCAN and POS-SCAN on val and test, R@K on test.
func DefaultParams() Params {
	return Params{Models: []models.Teacher{models.SCAN, models.POSSCAN}, Splits: []string{"val", "test"}, RetrievalSplit: "test",
		Retrieval: matching.DefaultRetrieval(), Data: captionstable.DefaultData(), GroundingRefs: "@captions/grounding_refs",
		Vocab: "@captions/vocab.json", BLAS: blas.Default, Device: gpu.KindCPU}
}

// Validate returns the first bad field: a *config.FieldError naming its key (bounds: the check
// tags, Retrieval's).
func (p Params) Validate() error { return config.Prefix("scan-eval", p.validate()) }

func (p Params) validate() error {
	if err := config.Check(p); err != nil {
		return err
	}
	seen := map[models.Teacher]bool{}
	for i, m := range p.Models {
		key := fmt.Sprintf("models[%d]", i)
		if !m.Valid(false) {
			return config.Invalid(key, m, "scan or scan-plain")
		}
		if seen[m] {
			return config.Invalid(key, m, "each model once")
		}
		seen[m] = true
	}
	for i, s := range p.Splits {
		if s == "" {
			return config.Invalid(fmt.Sprintf("splits[%d]", i), s, "a split name")
		}
	}
	if p.GroundingReference != "" && p.Vocab == "" {
		return config.Invalid("vocab", p.Vocab, "the captioner's vocabulary (needed with grounding_reference)")
	}
	return nil
}

// Input names besides one "model-<stage>" per model.
const (
	InputCaptions      = "captions"
	InputGroundingRefs = "grounding_refs"
	InputGroundingRef  = "grounding_reference"
	InputVocab         = "vocab"
	InputFeatures      = "features"
)

// Stage returns the scan-eval stage.
func Stage(p Params) (*engine.Stage, error) {
	st := engine.Stage{
		Name:        scanevalresults.Name,
		Description: "attention accuracy (vs GT boxes) and R@K of SCAN vs POS-SCAN, with a random-region baseline",
		// 2: each model reads captions through its text input (models.Text); metrics name it.
		Version: "2",
		// 3: per_image.json (per-image accuracy counts, for intervals) and each model's
		// ground-truth-caption submissions.
		SchemaVersion: "3",
		Inputs: []engine.Input{
			{Name: InputCaptions, Ref: p.Captions},
			{Name: InputGroundingRefs, Ref: p.GroundingRefs},
			{Name: InputFeatures, Ref: p.Features},
		},
	}
	if p.GroundingReference != "" {
		st.Inputs[1] = engine.Input{Name: InputGroundingRef, Ref: p.GroundingReference}
		st.Inputs = append(st.Inputs, engine.Input{Name: InputVocab, Ref: p.Vocab})
	}
	for _, m := range p.Models {
		st.Inputs = append(st.Inputs, engine.Input{Name: "model-" + string(m), Ref: m.Model()})
	}
	st.Run = func(ctx context.Context, r *engine.Run) error {
		if _, err := blas.Use(string(p.BLAS)); err != nil {
			return fmt.Errorf("scan-eval: blas: %w", err)
		}
		rows, err := captionstable.ReadCaptions(ctx, r.Input(InputCaptions))
		if err != nil {
			return err
		}
		in := Inputs{Rows: rows}
		if p.GroundingReference != "" {
			var ids []int64
			for _, s := range p.Splits {
				ids = append(ids, captionstable.SplitIDs(rows, s)...)
			}
			if in.Reference, err = captionstable.ReadGroundingReference(ctx, r.Input(InputGroundingRef), p.GroundingReference, ids); err != nil {
				return err
			}
			if in.Vocab, err = captionstable.ReadVocab(ctx, r.Input(InputVocab)); err != nil {
				return err
			}
		} else if in.Refs, err = captionstable.ReadGroundingRefs(ctx, r.Input(InputGroundingRefs)); err != nil {
			return err
		}
		store, err := feat.OpenStore(ctx, r.Input(InputFeatures))
		if err != nil {
			return fmt.Errorf("scan-eval: %w", err)
		}
		defer store.Close()
		in.Features = matching.NewFeatureCache(store, 1<<30)
		for _, m := range p.Models {
			model, err := models.LoadMatching(ctx, r.Input("model-"+string(m)))
			if err != nil {
				return err
			}
			in.Models = append(in.Models, NamedModel{Stage: string(m), Model: model})
		}
		var models []*tscan.Model
		for _, nm := range in.Models {
			models = append(models, nm.Model)
		}
		release, err := matching.UseDevice(string(p.Device), r.Logf, models...)
		if err != nil {
			return err
		}
		rep := progress.New(matching.LogWriter(r.Logf), "retrieval", "pairs", 0)
		in.Progress = func(done, _ int64) { rep.Set(done) }
		met, err := Evaluate(ctx, in, p)
		if err := errors.Join(err, release()); err != nil {
			return err
		}
		mj, err := json.MarshalIndent(met, "", "  ")
		if err != nil {
			return fmt.Errorf("scan-eval: %w", err)
		}
		if err := blobio.WriteAll(ctx, r.Output(scanevalresults.MetricsFile), append(mj, '\n')); err != nil {
			return err
		}
		pj, err := json.Marshal(met.PerImage())
		if err != nil {
			return fmt.Errorf("scan-eval: %w", err)
		}
		if err := blobio.WriteAll(ctx, r.Output(scanevalresults.PerImageFile), append(pj, '\n')); err != nil {
			return err
		}
		for _, mr := range met.Models {
			for _, s := range p.Splits {
				name := mr.Submission[s]
				sj, err := grounding.EncodeSubmission(met.submissions[name], "bottom-up region features; attention of the "+mr.Stage+" matching model (groundcap scan-eval)")
				if err != nil {
					return err
				}
				if err := blobio.WriteAll(ctx, r.Output(name), sj); err != nil {
					return err
				}
			}
		}
		table := met.Table()
		if err := blobio.WriteAll(ctx, r.Output(scanevalresults.TableFile), []byte(table)); err != nil {
			return err
		}
		r.Logf("\n%s", table)
		info := map[string]any{"random": met.Random}
		for _, mr := range met.Models {
			info[mr.Stage] = map[string]any{"attention_accuracy": mr.Accuracy, "rsum": mr.Retrieval.RSum}
		}
		r.SetInfo("scan_eval", info)
		return nil
	}
	return declare.Stage(p, st)
}

// NamedModel is a matching model and the stage that trained it.
type NamedModel struct {
	Stage string
	Model *tscan.Model
}

// Inputs are what Evaluate reads.
type Inputs struct {
	Rows []captionstable.Row
	// Refs is the grounding_refs table the own references derive from, unless Reference (GVD's
	// reference file, with Vocab the captioner's vocabulary to encode its captions) is set.
	Refs      []captionstable.GroundingRef
	Reference *grounding.References
	Vocab     *vocab.Vocab
	Features  *matching.FeatureCache
	Models    []NamedModel
	// Progress, if set, gets each model's retrieval scoring progress (pairs done, in all).
	Progress func(done, total int64)
}

// Evaluation is what Evaluate computes: metrics.json's Metrics and what goes beside it, the
// per-image counts and the ground-truth-caption submissions.
type Evaluation struct {
	scanevalresults.Metrics

	perImage    map[string]*scanevalresults.SplitPerImage
	submissions map[string]grounding.Submission
}

// PerImage returns the per-image counts of the evaluation.
func (m *Evaluation) PerImage() *scanevalresults.PerImage {
	return &scanevalresults.PerImage{Splits: m.perImage}
}

// refImage is one image's references and, per reference caption, the sentence the models read.
type refImage struct {
	id    int64
	sents []sentence
	ref   grounding.ImageRef
}

// sentence is a caption as a captioner's sentence: label ids and the noun mask of its words.
type sentence struct {
	imageID int64
	caption int
	ids     []int32
	nouns   []bool
}

// references builds the grounding references of split from the captions and grounding_refs
// tables: every image of the split with its captions (by caption index) and, per caption, the
// head word of every boxed phrase that has a class.
func references(rows []captionstable.Row, refs []captionstable.GroundingRef, split string) ([]refImage, scanevalresults.SplitInfo) {
	byImage := map[int64][]captionstable.Row{}
	for _, r := range rows {
		if r.Split == split {
			byImage[r.ImageID] = append(byImage[r.ImageID], r)
		}
	}
	type capKey struct {
		img int64
		c   int32
	}
	words := map[capKey][]captionstable.GroundingRef{}
	for _, g := range refs {
		if !g.Scored() {
			continue
		}
		k := capKey{g.ImageID, g.CaptionIdx}
		words[k] = append(words[k], g)
	}
	ids := make([]int64, 0, len(byImage))
	for id := range byImage {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	var out []refImage
	var info scanevalresults.SplitInfo
	classes := map[string]bool{}
	for _, id := range ids {
		rs := byImage[id]
		sort.Slice(rs, func(i, j int) bool { return rs[i].CaptionIdx < rs[j].CaptionIdx })
		im := refImage{id: id, ref: grounding.ImageRef{ImageID: id}}
		for _, r := range rs {
			im.sents = append(im.sents, sentence{imageID: r.ImageID, caption: int(r.CaptionIdx), ids: r.Labels, nouns: r.NounMask})
			c, n := captionstable.GroundingCaption(&r, words[capKey{id, r.CaptionIdx}])
			info.Truncated += n
			for _, w := range c.Words {
				classes[w.Class] = true
			}
			info.Words += len(c.Words)
			im.ref.Captions = append(im.ref.Captions, c)
		}
		info.Images++
		info.Captions += len(rs)
		out = append(out, im)
	}
	info.Classes = len(classes)
	return out, info
}

// gvdReferences takes the images of split (the captions rows' split) from GVD's reference file:
// each reference caption becomes the sentence the models read, its tokens lower-cased and mapped
// through the captioner's vocabulary v (rare words as its unk), its noun mask the tagger's nouns
// that are not unk; the words are scored at GVD's indices against GVD's one box per word.
func gvdReferences(ref *grounding.References, rows []captionstable.Row, split string, v *vocab.Vocab, tagger *postag.Tagger) ([]refImage, scanevalresults.SplitInfo, error) {
	var out []refImage
	var info scanevalresults.SplitInfo
	classes := map[string]bool{}
	var tags []string
	for _, img := range ref.Subset(captionstable.SplitIDs(rows, split)).Images {
		im := refImage{id: img.ImageID, ref: img}
		for c, cap := range img.Captions {
			if len(cap.Tokens) == 0 {
				return nil, info, fmt.Errorf("scan-eval: grounding reference image %d caption %d has no tokens", img.ImageID, c)
			}
			words := make([]string, len(cap.Tokens))
			for i, w := range cap.Tokens {
				words[i] = strings.ToLower(w)
			}
			st := sentence{imageID: img.ImageID, caption: c, ids: v.Encode(words, nil), nouns: make([]bool, len(words))}
			tags = tagger.Tag(words, tags)
			for i, t := range tags {
				st.nouns[i] = postag.IsNoun(t) && v.Known(words[i])
			}
			im.sents = append(im.sents, st)
			for _, w := range cap.Words {
				classes[w.Class] = true
				info.Words++
			}
		}
		info.Images++
		info.Captions += len(img.Captions)
		out = append(out, im)
	}
	info.Classes = len(classes)
	return out, info, nil
}

func regionBox(boxes []float32, k int) grounding.Box {
	return grounding.Box{float64(boxes[4*k]), float64(boxes[4*k+1]), float64(boxes[4*k+2]), float64(boxes[4*k+3])}
}

// Evaluate computes the metrics (p valid).
func Evaluate(ctx context.Context, in Inputs, p Params) (*Evaluation, error) {
	met := &Evaluation{Metrics: scanevalresults.Metrics{Splits: map[string]scanevalresults.SplitInfo{}, Random: map[string]float64{}, RetrievalSplit: p.RetrievalSplit},
		perImage: map[string]*scanevalresults.SplitPerImage{}, submissions: map[string]grounding.Submission{}}
	if in.Reference != nil {
		met.Reference = p.GroundingReference
	}
	for _, nm := range in.Models {
		met.Models = append(met.Models, scanevalresults.ModelResult{Stage: nm.Stage, POS: !nm.Model.Config().PlainSCAN,
			Accuracy: map[string]float64{}, PerClass: map[string][]scanevalresults.ClassAccuracy{}, Submission: map[string]string{}})
	}
	texts := make([]*models.Text, len(in.Models))
	for mi, nm := range in.Models {
		t, err := models.TextOf(nm.Model)
		if err != nil {
			return nil, fmt.Errorf("scan-eval: %s: %w", nm.Stage, err)
		}
		texts[mi] = t
		met.Models[mi].Text = t.Mode
	}
	var tagger *postag.Tagger
	if in.Reference != nil {
		tm, err := postag.Load()
		if err != nil {
			return nil, fmt.Errorf("scan-eval: POS tagger: %w", err)
		}
		tagger = postag.New(tm)
	}
	for _, split := range p.Splits {
		var imgs []refImage
		var info scanevalresults.SplitInfo
		if in.Reference != nil {
			var err error
			if imgs, info, err = gvdReferences(in.Reference, in.Rows, split, in.Vocab, tagger); err != nil {
				return nil, err
			}
		} else {
			imgs, info = references(in.Rows, in.Refs, split)
		}
		met.Splits[split] = info
		if info.Words == 0 {
			return nil, fmt.Errorf("scan-eval: split %s has no annotated object word in the grounding references", split)
		}
		refs := &grounding.References{}
		for _, im := range imgs {
			refs.Images = append(refs.Images, im.ref)
		}
		// Random region: expected hit rate per word, then class means.
		perClass := map[string][]float64{}
		for _, im := range imgs {
			rec, err := in.Features.Get(ctx, im.id)
			if err != nil {
				return nil, err
			}
			for _, c := range im.ref.Captions {
				for _, w := range c.Words {
					hits := 0
					for k := 0; k < rec.NumBoxes; k++ {
						if hit(regionBox(rec.Boxes, k), w.Boxes) {
							hits++
						}
					}
					perClass[w.Class] = append(perClass[w.Class], float64(hits)/float64(rec.NumBoxes))
				}
			}
		}
		var sum float64
		classes := make([]string, 0, len(perClass))
		for c := range perClass {
			classes = append(classes, c)
		}
		sort.Strings(classes) // a fixed summation order: the same bytes every run
		for _, c := range classes {
			v := perClass[c]
			var s float64
			for _, x := range v {
				s += x
			}
			sum += s / float64(len(v))
		}
		met.Random[split] = 100 * sum / float64(len(perClass))

		for mi, nm := range in.Models {
			sub, err := submission(ctx, nm.Model, texts[mi], imgs, in.Features, p.EvalImages)
			if err != nil {
				return nil, err
			}
			res, err := grounding.AttentionAccuracy(refs, sub)
			if err != nil {
				return nil, fmt.Errorf("scan-eval: %s on %s: %w", nm.Stage, split, err)
			}
			counts, err := grounding.AccuracyCounts(refs, sub)
			if err != nil {
				return nil, fmt.Errorf("scan-eval: %s on %s: %w", nm.Stage, split, err)
			}
			pi := met.perImage[split]
			if pi == nil {
				pi = &scanevalresults.SplitPerImage{Models: map[string][][]grounding.ClassCount{}}
				for _, im := range imgs {
					pi.ImageIDs = append(pi.ImageIDs, im.id)
				}
				met.perImage[split] = pi
			}
			pi.Models[nm.Stage] = counts.PerImage
			met.Models[mi].Submission[split] = scanevalresults.SubmissionName(nm.Stage, split)
			met.submissions[met.Models[mi].Submission[split]] = sub
			met.Models[mi].Accuracy[split] = 100 * res.Accuracy
			for _, c := range res.PerClass {
				met.Models[mi].PerClass[split] = append(met.Models[mi].PerClass[split], scanevalresults.ClassAccuracy{Class: c.Class, Accuracy: 100 * c.Recall, Words: c.NumRecall})
			}
		}
	}
	var feats [][]float32
	for mi, nm := range in.Models {
		// Each model reads the retrieval captions as it was trained (its text input); the
		// images and captions are the same for all.
		es, err := matching.NewEvalSet(in.Rows, p.RetrievalSplit, p.CaptionsPerImage, texts[mi])
		if err != nil {
			return nil, err
		}
		if len(es.Images) == 0 {
			return nil, fmt.Errorf("scan-eval: split %s has no image with %d captions for retrieval", p.RetrievalSplit, p.CaptionsPerImage)
		}
		met.RetrievalSize = [2]int{len(es.Images), len(es.Captions)}
		if feats == nil {
			if feats, err = es.Feats(ctx, in.Features); err != nil {
				return nil, err
			}
		}
		sims, err := matching.Similarities(ctx, nm.Model, feats, es.Captions, p.EvalImages, p.EvalCaptions, in.Progress)
		if err != nil {
			return nil, err
		}
		res, err := retrieval.Evaluate(sims, len(es.Images), es.PerImage)
		if err != nil {
			return nil, fmt.Errorf("scan-eval: %w", err)
		}
		met.Models[mi].Retrieval = models.FromResult(res)
	}
	return met, nil
}

// hit reports whether box has IoU > 0.5 with one of gts (GVD's rule, eval/grounding.IoU).
func hit(box grounding.Box, gts []grounding.Box) bool {
	for _, g := range gts {
		if grounding.IoU(box, g) > 0.5 {
			return true
		}
	}
	return false
}

// submission aligns every caption of imgs with its image (batch images at a time; each caption
// read as the captioner's sentence through the model's text input, as for the distillation's
// α) and predicts, for each annotated word at an aligned position, the box of its
// argmax-attention region.
func submission(ctx context.Context, m *tscan.Model, text *models.Text, imgs []refImage, fc *matching.FeatureCache, batch int) (grounding.Submission, error) {
	sub := grounding.Submission{}
	for i0 := 0; i0 < len(imgs); i0 += batch {
		group := imgs[i0:min(i0+batch, len(imgs))]
		var b tscan.Batch
		var imageOf []int
		var boxes [][]float32
		for gi, im := range group {
			rec, err := fc.Get(ctx, im.id)
			if err != nil {
				return nil, err
			}
			b.Feats = append(b.Feats, rec.Features)
			boxes = append(boxes, rec.Boxes)
			for _, st := range im.sents {
				if len(st.ids) == 0 {
					return nil, fmt.Errorf("scan-eval: image %d caption %d has no labels", st.imageID, st.caption)
				}
				c, err := text.Sentence(st.ids, st.nouns)
				if err != nil {
					return nil, fmt.Errorf("scan-eval: image %d caption %d: %w", st.imageID, st.caption, err)
				}
				b.Captions = append(b.Captions, c)
				imageOf = append(imageOf, gi)
			}
		}
		als, err := m.Align(b, imageOf)
		if err != nil {
			return nil, err
		}
		j := 0
		for gi, im := range group {
			preds := make([]grounding.Prediction, len(im.ref.Captions))
			for c, cap := range im.ref.Captions {
				al := text.SentenceAlignment(als[j], len(im.sents[c].ids))
				j++
				pred := grounding.Prediction{IdxInSent: []int{}}
				for _, w := range cap.Words {
					for t, pos := range al.Positions {
						if int(pos) != w.Index {
							continue
						}
						row := al.Attention[t*al.Regions : (t+1)*al.Regions]
						best := 0
						for k, a := range row {
							if a > row[best] {
								best = k
							}
						}
						pred.Classes = append(pred.Classes, w.Class)
						pred.IdxInSent = append(pred.IdxInSent, w.Index)
						pred.Boxes = append(pred.Boxes, regionBox(boxes[gi], best))
					}
				}
				preds[c] = pred
			}
			sub[im.id] = preds
		}
	}
	return sub, nil
}

// Table renders the comparison as Markdown.
func (m *Evaluation) Table() string {
	var b bytes.Buffer
	splits := make([]string, 0, len(m.Splits))
	for s := range m.Splits {
		splits = append(splits, s)
	}
	sort.Strings(splits)
	fmt.Fprintf(&b, "| model |")
	for _, s := range splits {
		fmt.Fprintf(&b, " attention acc. %s (%%) |", s)
	}
	fmt.Fprintf(&b, " i2t R@1 | R@5 | R@10 | t2i R@1 | R@5 | R@10 | rsum |\n|---|")
	for range splits {
		b.WriteString("---|")
	}
	b.WriteString("---|---|---|---|---|---|---|\n")
	b.WriteString("| random region |")
	for _, s := range splits {
		fmt.Fprintf(&b, " %.2f |", m.Random[s])
	}
	b.WriteString(" – | – | – | – | – | – | – |\n")
	for _, r := range m.Models {
		name := "SCAN (" + r.Stage + ")"
		if r.POS {
			name = "POS-SCAN (" + r.Stage + ")"
		}
		fmt.Fprintf(&b, "| %s |", name)
		for _, s := range splits {
			fmt.Fprintf(&b, " %.2f |", r.Accuracy[s])
		}
		x := r.Retrieval
		fmt.Fprintf(&b, " %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f |\n", x.I2T.R1, x.I2T.R5, x.I2T.R10, x.T2I.R1, x.T2I.R5, x.T2I.R10, x.RSum)
	}
	fmt.Fprintf(&b, "\nAttention accuracy: argmax-attention region vs ground-truth boxes (IoU > 0.5), mean over classes; R@K on %s (%d images, %d captions).\n",
		m.RetrievalSplit, m.RetrievalSize[0], m.RetrievalSize[1])
	for _, s := range splits {
		in := m.Splits[s]
		fmt.Fprintf(&b, "%s: %d images, %d captions, %d annotated words of %d classes (%d past max_length, not scored).\n", s, in.Images, in.Captions, in.Words, in.Classes, in.Truncated)
	}
	return b.String()
}
