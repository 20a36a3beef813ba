package updown

import (
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// TestWriteCurves draws a small history and checks the PNG: its size and
// that each panel (loss above, CIDEr-D below) holds pixels of its curve's colour.
func TestWriteCurves(t *testing.T) {
	h := &History{Steps: []int64{1, 2, 3, 4}, Loss: []float64{3, 2.5, 1.2, 0.9}, Epochs: []int{1, 2}, ValCIDEr: []float64{0.4, 0.61}}
	path := filepath.Join(t.TempDir(), "curves.png")
	if err := WriteCurves(path, h); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != curveW || b.Dy() != curveH {
		t.Fatalf("image is %v", b)
	}
	// count counts the pixels of rows y0..y1 within 24 levels of colour want in each channel
	// (the lines are anti-aliased).
	count := func(y0, y1 int, want color.RGBA) int {
		n := 0
		near := func(a uint32, b uint8) bool { d := int(a>>8) - int(b); return d > -24 && d < 24 }
		for y := y0; y < y1; y++ {
			for x := 0; x < curveW; x++ {
				r, g, b, _ := img.At(x, y).RGBA()
				if near(r, want.R) && near(g, want.G) && near(b, want.B) {
					n++
				}
			}
		}
		return n
	}
	if n := count(0, curveH/2, colLoss); n < 100 {
		t.Errorf("loss panel has %d curve pixels", n)
	}
	if n := count(curveH/2, curveH, colCIDEr); n < 100 {
		t.Errorf("CIDEr panel has %d curve pixels", n)
	}
	if n := count(0, curveH/2, colCIDEr); n != 0 {
		t.Errorf("CIDEr colour in the loss panel: %d pixels", n)
	}
}
