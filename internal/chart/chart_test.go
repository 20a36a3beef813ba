package chart

import (
	"bytes"
	"image/png"
	"testing"
)

func TestWritePNG(t *testing.T) {
	xs := []float64{0, 1, 2, 3}
	panels := []Panel{
		{Title: "loss", XLabel: "step", Series: []Series{{Name: "train", X: xs, Y: []float64{4, 3, 2.5, 2}}}},
		{Title: "val rsum", XLabel: "epoch", Series: []Series{{X: []float64{1, 2}, Y: []float64{100, 300}, Points: true}, {Name: "empty"}}},
	}
	var a, b bytes.Buffer
	if err := WritePNG(&a, 640, 480, panels...); err != nil {
		t.Fatal(err)
	}
	if err := WritePNG(&b, 640, 480, panels...); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("the same panels gave different bytes")
	}
	img, err := png.Decode(bytes.NewReader(a.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if r := img.Bounds(); r.Dx() != 640 || r.Dy() != 480 {
		t.Errorf("size %v, want 640×480", r)
	}
	// Something other than the white background was drawn in each half.
	for _, half := range []struct{ y0, y1 int }{{0, 240}, {240, 480}} {
		drawn := 0
		for y := half.y0; y < half.y1; y += 2 {
			for x := 0; x < 640; x += 2 {
				if r, g, bb, _ := img.At(x, y).RGBA(); r != 0xffff || g != 0xffff || bb != 0xffff {
					drawn++
				}
			}
		}
		if drawn < 200 {
			t.Errorf("rows %d..%d: only %d drawn pixels", half.y0, half.y1, drawn)
		}
	}
	if err := WritePNG(&a, 10, 10); err == nil {
		t.Error("no panels accepted")
	}
	bad := []Panel{{Series: []Series{{X: []float64{1}, Y: nil}}}}
	if err := WritePNG(&a, 10, 10, bad...); err == nil {
		t.Error("mismatched series accepted")
	}
}
