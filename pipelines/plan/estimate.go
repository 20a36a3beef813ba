package plan

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/groundcap/groundcap/training/blas"
	"github.com/groundcap/groundcap/training/nn"
	tscan "github.com/groundcap/groundcap/training/scan"
	"github.com/groundcap/groundcap/training/updown"
)

// Rates of the work that is not model work, measured on this project's 2-core machine while it
// was quiet (docs/BENCHMARKS.md, "Run plan", and the area pages under docs/bench/ they come
// from). They are constants, scaled by how much slower the element-wise calibration runs now
// than it did then (Machine.Slowdown): these stages take seconds where the training stages take
// minutes to hours.
const (
	// beamStart is the start-up of one Beam pipeline on prism once its job server runs (job
	// submission, worker, first bundle): the demo's features stage takes 0.44 s in all. Like
	// runnerStart, it is mostly waiting (measured: 3.4 and 4.0 s for the captions stage at loads
	// 22 and 11), so it does not scale with the machine's load.
	beamStart = 300 * time.Millisecond
	// runnerStart is the start of prism's job server, which the first Beam stage of a run pays:
	// the demo's captions stage (2,000 captions, the first) takes 3.4 s in all.
	runnerStart = 2500 * time.Millisecond
	// stageStart is a model stage's own start-up: reading the captions table and vocabulary,
	// loading a checkpoint, building the first graphs.
	stageStart = 500 * time.Millisecond
	// synthImagesPerSecond and synthBytesPerSecond: the synthetic world's images (rendered PNG)
	// and bytes written (mostly TSV), docs/bench/synth.md: 500 images/s at D = 256, 150–490
	// images/s (60–200 MB/s) at D = 2048.
	synthImagesPerSecond = 500
	synthBytesPerSecond  = 100e6
	// captionsPerSecond is the captions stage's throughput, docs/bench/captions.md: 7,700–13,700
	// captions/s with and without entities.
	captionsPerSecond = 8000
	// tsvBytesPerSecond is the features stage's TSV decoding, docs/bench/features.md: 480–870
	// MB/s.
	tsvBytesPerSecond = 400e6
	// featureBytesPerSecond is reading the Parquet feature store into memory (the training
	// stages' feature cache, align and evaluate).
	featureBytesPerSecond = 300e6
	// picturesPerSecond is drawing the evaluate stages' attention pictures (POS tagging, PNG
	// encoding of an image with its boxes).
	picturesPerSecond = 25
)

// Sizes are the data sizes the estimates need.
type Sizes struct {
	// Images and Captions per split; "train" includes restval.
	Images, Captions map[string]int
	// MeanWords and MeanNouns are per caption after truncation to MaxWords.
	MeanWords, MeanNouns float64
	MaxWords             int
	// Vocab is the vocabulary size (words, without the special tokens).
	Vocab int
	// Regions is K (the most regions of an image), FeatDim D.
	Regions, FeatDim int
	// FeatureBytes is the size of the region features (0: unknown), RawFeatureBytes that of the
	// raw input the features stage decodes.
	FeatureBytes, RawFeatureBytes int64
	// Source says where the sizes come from.
	Source string
}

// perImage is the mean captions per image of a split (5 when it has none).
func (z *Sizes) perImage(split string) int {
	if z.Images[split] == 0 {
		return 5
	}
	return int(math.Round(float64(z.Captions[split]) / float64(z.Images[split])))
}

// allImages returns the images of every split.
func (z *Sizes) allImages() int {
	n := 0
	for _, v := range z.Images {
		n += v
	}
	return n
}

// allCaptions returns the captions of every split.
func (z *Sizes) allCaptions() int {
	n := 0
	for _, v := range z.Captions {
		n += v
	}
	return n
}

// bucket rounds n up to a multiple of b.
func bucket(n, b int) int {
	if b <= 1 {
		return n
	}
	return (n + b - 1) / b * b
}

// slots returns the padded length L and the attended slots T of a batch of the matching model
// (T: the most nouns of a caption of the batch, about the mean plus three standard deviations
// of a Poisson count, for POS-SCAN; every word for SCAN), both rounded up to the length bucket.
func (z *Sizes) slots(c tscan.Config) (l, t int) {
	l = bucket(max(z.MaxWords, 1), c.LenBucket)
	if c.PlainSCAN {
		return l, l
	}
	nouns := int(math.Ceil(z.MeanNouns + 3*math.Sqrt(z.MeanNouns)))
	return l, min(bucket(max(nouns, 1), c.LenBucket), l)
}

// featureRead is the part that reads the feature store into memory.
func (z *Sizes) featureRead() Part {
	return Part{Name: "reading features", Fixed: seconds(float64(z.FeatureBytes) / featureBytesPerSecond)}
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// gflop formats flops.
func gflop(f float64) string {
	if f < 1e9 {
		return fmt.Sprintf("%.0f MFLOP", f/1e6)
	}
	return fmt.Sprintf("%.1f GFLOP", f/1e9)
}

// Synth estimates the synth stage: images rendered and bytes written.
func Synth(stage string, images, featDim, boxes int, pngs bool) *Estimate {
	// TSV: K·D floats as base64 text (4/3 of 4 bytes) per image.
	bytes := float64(images) * float64(boxes*featDim) * 4 * 4 / 3
	e := &Estimate{Stage: stage, Inputs: fmt.Sprintf("%d images, %d regions × %d features", images, boxes, featDim)}
	e.Parts = append(e.Parts, Part{Name: "writing features", Fixed: seconds(bytes / synthBytesPerSecond), Detail: fmt.Sprintf("%.0f MB", bytes/1e6)})
	if pngs {
		e.Parts = append(e.Parts, Part{Name: "rendering images", Fixed: seconds(float64(images) / synthImagesPerSecond)})
	}
	return e
}

// Captions estimates the captions stage.
func Captions(stage string, z *Sizes) *Estimate {
	n := z.allCaptions()
	return &Estimate{Stage: stage, Inputs: fmt.Sprintf("%d captions of %d images", n, z.allImages()), Parts: []Part{
		{Name: pipelineStart, Wait: beamStart},
		{Name: "tokenising and tagging", Fixed: seconds(float64(n) / captionsPerSecond), Detail: fmt.Sprintf("%d captions", n)},
	}}
}

// Features estimates the features stage from the raw features' size.
func Features(stage string, z *Sizes) *Estimate {
	return &Estimate{Stage: stage, Inputs: fmt.Sprintf("%d images, %.0f MB of raw features", z.allImages(), float64(z.RawFeatureBytes)/1e6), Parts: []Part{
		{Name: pipelineStart, Wait: beamStart},
		{Name: "decoding features", Fixed: seconds(float64(z.RawFeatureBytes) / tsvBytesPerSecond), Detail: fmt.Sprintf("%.0f MB", float64(z.RawFeatureBytes)/1e6)},
	}}
}

// ScanTrain describes a matching-model training stage (scan, scan-plain).
type ScanTrain struct {
	Stage string
	// Model is the model's configuration; Vocab and ImgDim are taken from the sizes.
	Model    tscan.Config
	MaxSteps int64
	// CaptionsPerImage are the val captions per image of retrieval.
	CaptionsPerImage int
	Scores           tscan.ScoreOptions
	Backend, Device  string
}

// devices are the device settings that run on the CPU (the cost models are the CPU's).
func onCPU(device string) bool { return device == "" || device == "cpu" }

// Estimate estimates the training: steps of batch_size captions, one validation (retrieval over
// the val images and their captions) per epoch, and reading the features.
func (s ScanTrain) Estimate(z *Sizes) *Estimate {
	c := s.Model
	c.Vocab, c.ImgDim = z.Vocab+1, z.FeatDim
	train := z.Captions["train"]
	e := &Estimate{Stage: s.Stage, Inputs: fmt.Sprintf("%d train captions of %d images, %d val images × %d captions, %d regions × %d, embed %d",
		train, z.Images["train"], z.Images["val"], s.CaptionsPerImage, z.Regions, z.FeatDim, c.Embed)}
	if !onCPU(s.Device) {
		e.Note = fmt.Sprintf("device %s: the cost model is the CPU's", s.Device)
		return e
	}
	perEpoch := (train + c.BatchSize - 1) / c.BatchSize
	steps := int64(c.Epochs) * int64(perEpoch)
	vals := c.Epochs
	if s.MaxSteps > 0 && s.MaxSteps < steps {
		steps = s.MaxSteps
		vals = int((steps + int64(perEpoch) - 1) / int64(perEpoch))
	}
	l, t := z.slots(c)
	b := min(c.BatchSize, max(train, 1))
	step := c.TrainStepWork(tscan.Dims{I: b, K: z.Regions, J: b, L: l, E: c.Embed, T: t})
	vi := z.Images["val"]
	vc := vi * s.CaptionsPerImage
	val := c.ScoresWork(vi, vc, tscan.Dims{K: z.Regions, L: l, E: c.Embed, T: t}, s.Scores)
	e.Parts = []Part{
		{Name: "training steps", Backend: s.Backend, Work: step.Times(float64(steps)), Detail: fmt.Sprintf("%d steps × %s", steps, gflop(blas.Flops(step.Products)))},
		{Name: "validation", Backend: s.Backend, Work: val.Times(float64(vals)), Detail: fmt.Sprintf("%d × %d images × %d captions", vals, vi, vc)},
		z.featureRead(),
		{Name: "start-up", Fixed: stageStart},
	}
	return e
}

// Align describes an align stage: the teacher's attention of every training caption.
type Align struct {
	Stage       string
	Teacher     tscan.Config
	BatchImages int
	Backend     string
	Device      string
}

// Estimate estimates the alignment of the train captions, BatchImages images with all their
// captions per model call, in one Beam pipeline.
func (a Align) Estimate(z *Sizes) *Estimate {
	c := a.Teacher
	c.Vocab, c.ImgDim = z.Vocab+1, z.FeatDim
	imgs, caps := z.Images["train"], z.Captions["train"]
	e := &Estimate{Stage: a.Stage, Inputs: fmt.Sprintf("%d train captions of %d images, teacher embed %d", caps, imgs, c.Embed)}
	if !onCPU(a.Device) {
		e.Note = fmt.Sprintf("device %s: the cost model is the CPU's", a.Device)
		return e
	}
	l, t := z.slots(c)
	bi := max(1, min(a.BatchImages, imgs))
	calls := float64(imgs) / float64(bi)
	w := c.ForwardWork(tscan.Dims{I: bi, K: z.Regions, J: bi * z.perImage("train"), L: l, E: c.Embed, T: t})
	e.Parts = []Part{
		{Name: pipelineStart, Wait: beamStart},
		{Name: "alignment", Backend: a.Backend, Work: w.Times(calls), Detail: fmt.Sprintf("%.0f calls × %s", math.Ceil(calls), gflop(blas.Flops(w.Products)))},
		z.featureRead(),
		{Name: "start-up", Fixed: stageStart},
	}
	return e
}

// ScanEval describes the scan-eval stage.
type ScanEval struct {
	Stage string
	// Models are the evaluated matching models.
	Models           []tscan.Config
	Splits           []string
	RetrievalSplit   string
	CaptionsPerImage int
	Scores           tscan.ScoreOptions
	Backend, Device  string
}

// Estimate estimates, per model, the alignment of the splits' captions (attention accuracy) and
// the retrieval over the retrieval split.
func (s ScanEval) Estimate(z *Sizes) *Estimate {
	e := &Estimate{Stage: s.Stage, Inputs: fmt.Sprintf("%d models, splits %v, retrieval %d images", len(s.Models), s.Splits, z.Images[s.RetrievalSplit])}
	if !onCPU(s.Device) {
		e.Note = fmt.Sprintf("device %s: the cost model is the CPU's", s.Device)
		return e
	}
	bi := s.Scores.Images
	if bi <= 0 {
		bi = 8
	}
	var align, ret Part
	align = Part{Name: "attention accuracy", Backend: s.Backend}
	ret = Part{Name: "retrieval", Backend: s.Backend}
	for _, c := range s.Models {
		c.Vocab, c.ImgDim = z.Vocab+1, z.FeatDim
		l, t := z.slots(c)
		for _, sp := range s.Splits {
			imgs := z.Images[sp]
			if imgs == 0 {
				continue
			}
			b := min(bi, imgs)
			w := c.ForwardWork(tscan.Dims{I: b, K: z.Regions, J: b * z.perImage(sp), L: l, E: c.Embed, T: t})
			align.Work = align.Work.Plus(w.Times(float64(imgs) / float64(b)))
		}
		ri := z.Images[s.RetrievalSplit]
		ret.Work = ret.Work.Plus(c.ScoresWork(ri, ri*s.CaptionsPerImage, tscan.Dims{K: z.Regions, L: l, E: c.Embed, T: t}, s.Scores))
	}
	e.Parts = []Part{align, ret, z.featureRead(), {Name: "start-up", Fixed: stageStart}}
	return e
}

// CaptionXE describes a cross-entropy captioner stage.
type CaptionXE struct {
	Stage string
	// Model is the captioner; VocabSize and FeatDim are taken from the sizes.
	Model       updown.Config
	BatchImages int
	Epochs      int
	// ValImages caps the val images decoded after every epoch (0: all).
	ValImages int
	// ScheduledSampling says whether some epochs sample inputs (one decoding pass per step).
	ScheduledSampling bool
	Backend           string
}

// captioner resolves the model's sizes from the data.
func captioner(c updown.Config, z *Sizes) updown.Config {
	c.VocabSize, c.FeatDim = z.Vocab+1, z.FeatDim
	return c
}

// valImages is the val images decoded after every epoch.
func valImages(z *Sizes, cap int) int {
	if n := z.Images["val"]; cap <= 0 || n < cap {
		return n
	}
	return cap
}

// Estimate estimates the training: steps of batch_images images with all their captions, and a
// greedy decoding of the val images (CIDEr-D) after every epoch.
func (x CaptionXE) Estimate(z *Sizes) *Estimate {
	c := captioner(x.Model, z)
	imgs := z.Images["train"]
	per := z.perImage("train")
	e := &Estimate{Stage: x.Stage, Inputs: fmt.Sprintf("%d train images × %d captions, %d val images, rnn %d", imgs, per, valImages(z, x.ValImages), c.RNNSize)}
	b := max(1, min(x.BatchImages, imgs))
	steps := x.Epochs * ((imgs + b - 1) / b)
	t := min(z.MaxWords, c.MaxLen) + 1
	step := c.XEStepWork(b, b*per, z.Regions, t)
	if x.ScheduledSampling {
		step = step.Plus(c.DecodeWork(b, per, z.Regions, t-1))
	}
	vi := valImages(z, x.ValImages)
	dec := decodeWork(c, vi, b, 1, z)
	e.Parts = []Part{
		{Name: "training steps", Backend: x.Backend, Work: step.Times(float64(steps)), Detail: fmt.Sprintf("%d steps × %s", steps, gflop(blas.Flops(step.Products)))},
		{Name: "validation", Backend: x.Backend, Work: dec.Times(float64(x.Epochs)), Detail: fmt.Sprintf("%d × greedy decoding of %d images", x.Epochs, vi)},
		z.featureRead(),
		{Name: "start-up", Fixed: stageStart},
	}
	return e
}

// decodeWork is the work of decoding images in calls of batch images with perImage rows each
// (beam width), for the decoding length (every call runs to the longest caption of its images,
// about the truncation length).
func decodeWork(c updown.Config, images, batch, perImage int, z *Sizes) nn.Work {
	if images == 0 {
		return nn.Work{}
	}
	b := max(1, min(batch, images))
	steps := min(c.DecodeMaxLen, z.MaxWords+1)
	return c.DecodeWork(b, perImage, z.Regions, steps).Times(float64(images) / float64(b))
}

// CaptionSCST describes a self-critical captioner stage.
type CaptionSCST struct {
	Stage       string
	Model       updown.Config
	BatchImages int
	Epochs      int
	Samples     int
	ValImages   int
	// Matcher is the matching model of the reward (nil: CIDEr-D alone).
	Matcher *tscan.Config
	Backend string
}

// Estimate estimates the training: per step the greedy baseline, the samples, the matching
// model's score of every sample and baseline, and the policy-gradient pass; a validation before
// the first epoch and after every epoch.
func (x CaptionSCST) Estimate(z *Sizes) *Estimate {
	c := captioner(x.Model, z)
	imgs := z.Images["train"]
	e := &Estimate{Stage: x.Stage, Inputs: fmt.Sprintf("%d train images × %d samples, %d val images, rnn %d", imgs, x.Samples, valImages(z, x.ValImages), c.RNNSize)}
	b := max(1, min(x.BatchImages, imgs))
	steps := x.Epochs * ((imgs + b - 1) / b)
	// Samples of an untrained-for-SCST model run to about the truncation length.
	sl := min(z.MaxWords+1, c.MaxLen)
	step := c.SCSTStepWork(b, x.Samples, z.Regions, sl, sl)
	if x.Matcher != nil {
		m := *x.Matcher
		m.Vocab, m.ImgDim = z.Vocab+1, z.FeatDim
		l, t := z.slots(m)
		step = step.Plus(m.ForwardWork(tscan.Dims{I: 1, K: z.Regions, J: x.Samples + 1, L: l, E: m.Embed, T: t}).Times(float64(b)))
	}
	vi := valImages(z, x.ValImages)
	dec := decodeWork(c, vi, b, 1, z)
	e.Parts = []Part{
		{Name: "training steps", Backend: x.Backend, Work: step.Times(float64(steps)), Detail: fmt.Sprintf("%d steps × %s", steps, gflop(blas.Flops(step.Products)))},
		{Name: "validation", Backend: x.Backend, Work: dec.Times(float64(x.Epochs + 1)), Detail: fmt.Sprintf("%d × greedy decoding of %d images", x.Epochs+1, vi)},
		z.featureRead(),
		{Name: "start-up", Fixed: stageStart},
	}
	return e
}

// Evaluate describes an evaluate stage.
type Evaluate struct {
	Stage string
	Model updown.Config
	// Splits are decoded and scored one after the other; pictures are drawn of the first.
	Splits      []string
	BeamSize    int
	DecodeBatch int
	Pictures    int
	// KLTeacher is the matching model of the attention comparison (nil: none).
	KLTeacher *tscan.Config
	Backend   string
}

// Estimate estimates the decoding of the splits (one Beam pipeline), the teacher-forced scores
// with the matching model's α, and the pictures.
func (v Evaluate) Estimate(z *Sizes) *Estimate {
	c := captioner(v.Model, z)
	imgs, first := 0, 0
	var what []string
	for i, s := range v.Splits {
		imgs += z.Images[s]
		if i == 0 {
			first = z.Images[s]
		}
		what = append(what, fmt.Sprintf("%d %s", z.Images[s], s))
	}
	e := &Estimate{Stage: v.Stage, Inputs: fmt.Sprintf("%s images, beam %d, rnn %d", strings.Join(what, " + "), v.BeamSize, c.RNNSize)}
	dec := decodeWork(c, imgs, v.DecodeBatch, max(1, v.BeamSize), z)
	e.Parts = []Part{
		{Name: pipelineStart, Wait: beamStart},
		{Name: "decoding", Backend: v.Backend, Work: dec, Detail: fmt.Sprintf("%d images, beam %d", imgs, v.BeamSize)},
		{Name: "pictures", Fixed: seconds(float64(min(v.Pictures, first)) / picturesPerSecond)},
		z.featureRead(),
	}
	if v.KLTeacher != nil && imgs > 0 {
		m := *v.KLTeacher
		m.Vocab, m.ImgDim = z.Vocab+1, z.FeatDim
		l, t := z.slots(m)
		b := max(1, min(v.DecodeBatch, imgs))
		var w nn.Work
		for _, s := range v.Splits {
			n := z.Images[s]
			if n == 0 {
				continue
			}
			per := z.perImage(s)
			ws := c.LossWork(b, b*per, z.Regions, min(z.MaxWords, c.MaxLen)+1).Plus(m.ForwardWork(tscan.Dims{I: b, K: z.Regions, J: b * per, L: l, E: m.Embed, T: t}))
			w = w.Plus(ws.Times(float64(n) / float64(b)))
		}
		e.Parts = append(e.Parts, Part{Name: "attention comparison", Backend: v.Backend, Work: w})
	}
	return e
}

// Report estimates the report stage (reading JSON and pictures, writing the report): the demo's
// six rows with 48 pictures and eight curves take 33 ms under load 12–23.
func Report(stage string, rows int) *Estimate {
	return &Estimate{Stage: stage, Inputs: fmt.Sprintf("%d rows", rows), Parts: []Part{{Name: "writing the report", Fixed: 20 * time.Millisecond}}}
}
