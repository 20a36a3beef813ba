package updown

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"

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

	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("updown: curves: %w", err)
	}
	defer func() {
		if err != nil {
			os.Remove(f.Name())
		}
	}()
	if err = chart.WritePNG(f, curveW, curveH,
		chart.Panel{Title: "training loss", XLabel: "step", Series: []chart.Series{{Name: "loss", X: xs, Y: h.Loss, Color: colLoss}}},
		chart.Panel{Title: "val CIDEr-D", XLabel: "epoch", Series: []chart.Series{{Name: "CIDEr-D", X: ex, Y: h.ValCIDEr, Color: colCIDEr, Points: true}}},
	); err != nil {
		f.Close()
		return fmt.Errorf("updown: curves: encoding %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("updown: curves: closing %s: %w", f.Name(), err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("updown: curves: %w", err)
	}
	return nil
}
