package plan

import (
	"context"
	"fmt"
	"strings"

	"github.com/groundcap/groundcap/internal/blobio"
	"github.com/groundcap/groundcap/pipelines/align"
	"github.com/groundcap/groundcap/pipelines/artifacts/models"
	"github.com/groundcap/groundcap/pipelines/captions"
	"github.com/groundcap/groundcap/pipelines/captionscst"
	"github.com/groundcap/groundcap/pipelines/captionxe"
	"github.com/groundcap/groundcap/pipelines/engine"
	"github.com/groundcap/groundcap/pipelines/evaluate"
	"github.com/groundcap/groundcap/pipelines/features"
	"github.com/groundcap/groundcap/pipelines/report"
	"github.com/groundcap/groundcap/pipelines/scan"
	"github.com/groundcap/groundcap/pipelines/scaneval"
	"github.com/groundcap/groundcap/pipelines/synth"
	"github.com/groundcap/groundcap/training/blas"
	tscan "github.com/groundcap/groundcap/training/scan"
	"github.com/groundcap/groundcap/training/updown"
)

// Make plans a run of eng: the estimates of the stages that are not fresh, and of those in
// force, in run order, priced after a calibration. params holds every stage's parameters by
// stage name (the typed Params struct of its package).
func Make(ctx context.Context, eng *engine.Engine, params map[string]any, force []string) (*Plan, error) {
	st, err := eng.Status(ctx, false)
	if err != nil {
		return nil, err
	}
	forced := map[string]bool{}
	for _, f := range force {
		forced[f] = true
	}
	g := &graph{params: params, out: map[string]string{}}
	for _, s := range st {
		if s.State == "fresh" && !forced[s.Stage] {
			g.out[s.Stage] = s.Output
		}
	}
	p := &Plan{}
	var run []string
	for _, s := range st {
		if g.out[s.Stage] != "" {
			p.Fresh++
			continue
		}
		run = append(run, s.Stage)
	}
	if len(run) == 0 {
		return p, nil
	}
	z, err := g.sizes(ctx)
	if err != nil {
		return nil, err
	}
	started := false
	for _, name := range run {
		e, err := g.estimate(name, z)
		if err != nil {
			return nil, err
		}
		for _, part := range e.Parts {
			if part.Name == pipelineStart && !started {
				e.Parts = append(e.Parts, Part{Name: "starting the Beam runner", Wait: runnerStart})
				started = true
				break
			}
		}
		p.Estimates = append(p.Estimates, e)
	}
	if p.Machine, err = Calibrate(p.Estimates); err != nil {
		return nil, err
	}
	for _, e := range p.Estimates {
		if err := p.Machine.Price(e); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// graph is what the estimates read: every stage's parameters and the fresh stages' outputs.
type graph struct {
	params map[string]any
	out    map[string]string // output location of each fresh stage
}

// refStage returns the stage and path of an "@stage/path" reference ("" for a location).
func refStage(ref string) (stage, path string) {
	if !strings.HasPrefix(ref, "@") {
		return "", ""
	}
	s, p, _ := strings.Cut(ref[1:], "/")
	return s, p
}

// resolve returns the location of a reference whose stage is fresh or that is a location, or "".
func (g *graph) resolve(ref string) string {
	s, p := refStage(ref)
	if s == "" {
		return ref
	}
	if out := g.out[s]; out != "" {
		return blobio.Join(out, p)
	}
	return ""
}

// size returns the bytes of the files at a location (a file or a directory tree).
func size(ctx context.Context, loc string) (int64, error) {
	if o, err := blobio.Stat(ctx, loc); err == nil {
		return o.Size, nil
	}
	objs, err := blobio.List(ctx, loc)
	if err != nil {
		return 0, fmt.Errorf("plan: %w", err)
	}
	var n int64
	for _, o := range objs {
		n += o.Size
	}
	return n, nil
}

// sizes finds the data sizes: the captions stage's statistics when it is fresh, else the synth
// stage's parameters when it makes the dataset, else the dataset file; the feature store's
// dimensions when the features stage is fresh, else the raw features' size.
func (g *graph) sizes(ctx context.Context) (*Sizes, error) {
	cp, _ := g.params["captions"].(captions.Params)
	sp, hasSynth := g.params["synth"].(synth.Params)
	maxLen := cp.MaxLength
	if maxLen == 0 {
		maxLen = 16
	}
	var z *Sizes
	datasetStage, _ := refStage(cp.Dataset)
	switch {
	case g.out["captions"] != "":
		st, err := captions.ReadStats(ctx, blobio.Join(g.out["captions"], captions.StatsFile))
		if err != nil {
			return nil, fmt.Errorf("plan: %w", err)
		}
		z = FromCaptionsStats(st)
	case hasSynth && (datasetStage == "synth" || cp.Dataset == ""):
		z = FromSynth(sp.Options, maxLen)
	default:
		loc := g.resolve(cp.Dataset)
		if loc == "" {
			return nil, fmt.Errorf("plan: the dataset %s is the output of a stage that has not run", cp.Dataset)
		}
		var err error
		if z, err = FromDataset(ctx, loc, maxLen, cp.WordCountThreshold); err != nil {
			return nil, err
		}
	}
	if hasSynth && z.Regions == 0 {
		o := sp.Options
		z.Regions, z.FeatDim = o.Boxes, o.FeatDim
	}
	fp, _ := g.params["features"].(features.Params)
	if out := g.out["features"]; out != "" {
		if err := z.SetFeatures(ctx, out); err != nil {
			return nil, err
		}
		return z, nil
	}
	var raw int64
	known := true
	for _, ref := range fp.Inputs {
		loc := g.resolve(ref)
		if loc == "" {
			known = false
			continue
		}
		n, err := size(ctx, loc)
		if err != nil {
			return nil, err
		}
		raw += n
	}
	if !known && z.RawFeatureBytes == 0 && hasSynth {
		raw = FromSynth(sp.Options, maxLen).RawFeatureBytes
	}
	if known || z.RawFeatureBytes == 0 {
		z.SetRawFeatures(raw, fp.FeatDim)
	}
	return z, nil
}

// scanConfig returns the model configuration of a matching-model stage.
func (g *graph) scanConfig(name string) (tscan.Config, scan.Params, error) {
	p, ok := g.params[name].(scan.Params)
	if !ok {
		return tscan.Config{}, p, fmt.Errorf("plan: %s is not a matching-model stage of this config", name)
	}
	return p.ModelConfig(0, 0), p, nil
}

// captionerConfig returns the model configuration of the cross-entropy stage behind a captioner
// stage (an SCST stage starts from its init checkpoint's stage).
func (g *graph) captionerConfig(name string) (updown.Config, error) {
	switch p := g.params[name].(type) {
	case captionxe.Params:
		return p.ModelConfig(0, 0), nil
	case captionscst.Params:
		from, _ := refStage(p.Init)
		if from == "" || from == name {
			return updown.Config{}, fmt.Errorf("plan: %s starts from %s, not from a stage of this config", name, p.Init)
		}
		return g.captionerConfig(from)
	}
	return updown.Config{}, fmt.Errorf("plan: %s is not a captioner stage of this config", name)
}

// backend is the name a stage's blas setting selects ("" is blas.Default).
func backend(name blas.Name) string {
	if name == "" {
		return blas.Default
	}
	return string(name)
}

// estimate estimates one stage from its parameters.
func (g *graph) estimate(name string, z *Sizes) (*Estimate, error) {
	switch p := g.params[name].(type) {
	case synth.Params:
		o := p.Options
		return Synth(name, o.Images, o.FeatDim, o.Boxes, !o.NoImages), nil
	case captions.Params:
		return Captions(name, z), nil
	case features.Params:
		return Features(name, z), nil
	case scan.Params:
		c, _, err := g.scanConfig(name)
		if err != nil {
			return nil, err
		}
		return ScanTrain{Stage: name, Model: c, MaxSteps: p.MaxSteps, CaptionsPerImage: p.CaptionsPerImage,
			Scores: tscan.ScoreOptions{Images: p.EvalImages, Captions: p.EvalCaptions}, Backend: backend(p.BLAS), Device: string(p.Device)}.Estimate(z), nil
	case align.Params:
		c, _, err := g.scanConfig(string(p.Teacher))
		if err != nil {
			return nil, err
		}
		return Align{Stage: name, Teacher: c, BatchImages: p.BatchImages, Backend: backend(p.BLAS), Device: string(p.Device)}.Estimate(z), nil
	case scaneval.Params:
		se := ScanEval{Stage: name, Splits: p.Splits, RetrievalSplit: p.RetrievalSplit, CaptionsPerImage: p.CaptionsPerImage,
			Scores: tscan.ScoreOptions{Images: p.EvalImages, Captions: p.EvalCaptions}, Backend: backend(p.BLAS), Device: string(p.Device)}
		for _, m := range p.Models {
			c, _, err := g.scanConfig(string(m))
			if err != nil {
				return nil, err
			}
			se.Models = append(se.Models, c)
		}
		return se.Estimate(z), nil
	case captionxe.Params:
		xc := p.XEConfig
		return CaptionXE{Stage: name, Model: p.ModelConfig(0, 0), BatchImages: xc.BatchImages, Epochs: xc.Epochs, ValImages: p.ValImages,
			ScheduledSampling: xc.SSEvery > 0 && xc.SSIncrease > 0, Backend: backend(p.BLAS)}.Estimate(z), nil
	case captionscst.Params:
		c, err := g.captionerConfig(name)
		if err != nil {
			return nil, err
		}
		sc := p.SCSTConfig
		x := CaptionSCST{Stage: name, Model: c, BatchImages: sc.BatchImages, Epochs: sc.Epochs, Samples: sc.Samples, ValImages: p.ValImages, Backend: backend(p.BLAS)}
		if p.Matcher != models.None {
			m, _, err := g.scanConfig(string(p.Matcher))
			if err != nil {
				return nil, err
			}
			x.Matcher = &m
		}
		return x.Estimate(z), nil
	case evaluate.Params:
		from, _ := refStage(p.Model)
		c, err := g.captionerConfig(from)
		if err != nil {
			return nil, err
		}
		v := Evaluate{Stage: name, Model: c, Splits: p.Splits, BeamSize: p.BeamSize, DecodeBatch: p.DecodeBatch, Pictures: p.Pictures, Backend: backend(p.BLAS)}
		if p.KLTeacherModel != "" {
			t, _ := refStage(p.KLTeacherModel)
			m, _, err := g.scanConfig(t)
			if err != nil {
				return nil, err
			}
			v.KLTeacher = &m
		}
		return v.Estimate(z), nil
	case report.Params:
		return Report(name, len(p.Rows)), nil
	}
	return &Estimate{Stage: name, Note: "no cost model for this stage"}, nil
}

// ParamsOf returns the typed parameters of every stage of eng, by name.
func ParamsOf(eng *engine.Engine) map[string]any {
	out := map[string]any{}
	for _, s := range eng.Stages() {
		out[s.Name] = s.Settings
	}
	return out
}
