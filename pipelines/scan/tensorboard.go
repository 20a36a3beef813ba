package scan

import (
	"context"
	"fmt"

	"github.com/groundcap/groundcap/internal/picture"
	"github.com/groundcap/groundcap/pipelines/artifacts/models"
	"github.com/groundcap/groundcap/pipelines/internal/matching"
	"github.com/groundcap/groundcap/pipelines/trainrun"
	tscan "github.com/groundcap/groundcap/training/scan"
)

// Pictures is the number of val images (the first by id) whose first caption's attention goes
// to the run's TensorBoard log after every validation.
const Pictures = 3

// logAttention aligns the first caption of each of the first Pictures val images with its image
// and adds the picture to the run's TensorBoard log as attention/<image id> at step: the caption
// below a canvas of the image's size on which each aligned word's (the nouns', or every word's
// with plain SCAN) most attended region is outlined and labelled (internal/picture).
func logAttention(ctx context.Context, t *trainrun.Run, m *tscan.Model, val *matching.EvalSet, feats [][]float32, fc *matching.FeatureCache, text *models.Text, step int64) error {
	for i := range min(Pictures, len(val.Images)) {
		k := i * val.PerImage
		al, err := m.Align(tscan.Batch{Feats: feats[i : i+1], Captions: val.Captions[k : k+1]}, []int{0})
		if err != nil {
			return fmt.Errorf("scan: attention pictures: %w", err)
		}
		rec, err := fc.Get(ctx, val.Images[i])
		if err != nil {
			return err
		}
		a, row := al[0], &val.Rows[k]
		var marked []picture.Word
		for j, p := range a.Positions {
			w := text.Word(row, int(p))
			if w == "" {
				continue
			}
			marked = append(marked, picture.Word{Text: w, Box: picture.MostAttended(a.Attention[j*a.Regions:(j+1)*a.Regions], rec.Boxes)})
		}
		img := picture.Draw(nil, int(rec.Width), int(rec.Height), row.Raw, marked)
		if err := t.Image(fmt.Sprintf("attention/%d", rec.ImageID), step, img); err != nil {
			return err
		}
	}
	return nil
}
