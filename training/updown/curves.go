package updown

import (
	"fmt"
	"image/color"
	"io"

	"github.com/groundcap/groundcap/internal/atomicfile"
	"github.com/groundcap/groundcap/internal/chart"
)

// Curve image size (pixels): two panels, one above the other.
const curveW, curveH = 800, 560

// Curve colours.
var (
	colLoss  = color.RGBA{0x1f, 0x77, 0xb4, 0xff}
	colCIDEr = color.RGBA{0xd6, 0x27, 0x28, 0xff}
)

// WriteCurves draws the training loss against the step (top panel) and the
// validation CIDEr-D against the epoch (bottom panel; empty without a
// validation hook) as a PNG at path, written atomically.
func WriteCurves(path string, h *History) (err error) {
	xs := make([]float64, len(h.Steps))
	for i, s := range h.Steps {
		xs[i] = float64(s)
	}
	ex := make([]float64, len(h.Epochs))
	for i, e := range h.Epochs {
		ex[i] = float64(e)
	}

	err = atomicfile.WriteFile(path, func(w io.Writer) error {
		return chart.WritePNG(w, curveW, curveH,
			chart.Panel{Title: "training loss", XLabel: "step", Series: []chart.Series{{Name: "loss", X: xs, Y: h.Loss, Color: colLoss}}},
			chart.Panel{Title: "val CIDEr-D", XLabel: "epoch", Series: []chart.Series{{Name: "CIDEr-D", X: ex, Y: h.ValCIDEr, Color: colCIDEr, Points: true}}},
		)
	})
	if err != nil {
		return fmt.Errorf("updown: curves: %w", err)
	}
	return nil
}
