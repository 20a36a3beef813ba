package scan

import (
	"fmt"
	"image/color"
	"io"

	"github.com/groundcap/groundcap/internal/chart"
)

// Curve picture size (pixels).
const curveW, curveH = 800, 560

// DrawCurve writes a PNG with two panels: the training loss of every step (light) with its
// running mean over a window of about 2% of the steps (dark) above, and the val rsum of every
// validation against its step below.
func DrawCurve(w io.Writer, loss []float32, val []EpochVal) error {
	xs := make([]float64, len(loss))
	ys := make([]float64, len(loss))
	for i, l := range loss {
		xs[i], ys[i] = float64(i+1), float64(l)
	}
	win := max(1, len(ys)/50)
	mean := make([]float64, len(ys))
	var s float64
	for i, y := range ys {
		s += y
		if i >= win {
			s -= ys[i-win]
		}
		mean[i] = s / float64(min(i+1, win))
	}
	vx := make([]float64, len(val))
	vy := make([]float64, len(val))
	for i, v := range val {
		vx[i], vy[i] = float64(v.Step), v.RSum
	}
	err := chart.WritePNG(w, curveW, curveH,
		chart.Panel{Title: "hinge triplet loss", XLabel: "step", Series: []chart.Series{
			{Name: "per step", X: xs, Y: ys, Color: color.RGBA{R: 180, G: 195, B: 225, A: 255}},
			{Name: fmt.Sprintf("mean of %d", win), X: xs, Y: mean, Color: color.RGBA{R: 30, G: 70, B: 180, A: 255}},
		}},
		chart.Panel{Title: "val rsum (R@1+R@5+R@10, both directions)", XLabel: "step", Series: []chart.Series{
			{Name: "rsum", X: vx, Y: vy, Color: color.RGBA{R: 200, G: 40, B: 40, A: 255}, Points: true},
		}},
	)
	if err != nil {
		return fmt.Errorf("scan: curve: %w", err)
	}
	return nil
}
