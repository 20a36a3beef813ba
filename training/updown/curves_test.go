package updown

import (
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// TestWriteCurves draws a small history and checks the PNG: its size and
// that each panel holds pixels of its curve's colour.
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
	if b := img.Bounds(); b.Dx() != 2*curvePanelW || b.Dy() != curvePanelH {
		t.Fatalf("image is %v", b)
	}
	count := func(x0, x1 int, want [3]uint32) int {
		n := 0
		for y := 0; y < curvePanelH; y++ {
			for x := x0; x < x1; x++ {
				r, g, b, _ := img.At(x, y).RGBA()
				if [3]uint32{r >> 8, g >> 8, b >> 8} == want {
					n++
				}
			}
		}
		return n
	}
	if n := count(0, curvePanelW, [3]uint32{0x1f, 0x77, 0xb4}); n < 100 {
		t.Errorf("loss panel has %d curve pixels", n)
	}
	if n := count(curvePanelW, 2*curvePanelW, [3]uint32{0xd6, 0x27, 0x28}); n < 100 {
		t.Errorf("CIDEr panel has %d curve pixels", n)
	}
	if n := count(0, curvePanelW, [3]uint32{0xd6, 0x27, 0x28}); n != 0 {
		t.Errorf("CIDEr colour in the loss panel: %d pixels", n)
	}
}
