package picture

import (
	"bytes"
	"image/color"
	"image/png"
	"testing"
)

// TestDrawCanvas draws two words on a grey canvas: the picture is the canvas plus the caption
// band, each box outlined in its word's colour, the inside of a box left grey.
func TestDrawCanvas(t *testing.T) {
	words := []Word{{Text: "dog", Box: [4]float32{10, 20, 49, 59}}, {Text: "ball", Box: [4]float32{60, 5, 89, 34}}}
	img := Draw(nil, 100, 80, "a dog with a ball", words)
	b := img.Bounds()
	if b.Dx() != 100 || b.Dy() <= 80 || b.Dy() > 80+8+2*(lineH+4) {
		t.Fatalf("picture %v, want 100 wide and 80 plus one caption line high", b)
	}
	for i, c := range []struct {
		x, y int
		want color.RGBA
	}{
		{10, 40, palette[0]},                     // the dog box's left edge
		{49, 40, palette[0]},                     // its right edge
		{89, 20, palette[1]},                     // the ball box's right edge
		{30, 40, color.RGBA{200, 200, 200, 255}}, // inside the dog box: the canvas
		{99, 79, color.RGBA{200, 200, 200, 255}}, // the canvas corner
	} {
		if got := img.RGBAAt(c.x, c.y); got != c.want {
			t.Errorf("%d: pixel (%d, %d) = %v, want %v", i, c.x, c.y, got, c.want)
		}
	}
	data, err := PNG(nil, 100, 80, "a dog with a ball", words)
	if err != nil {
		t.Fatal(err)
	}
	back, err := png.Decode(bytes.NewReader(data))
	if err != nil || back.Bounds() != b {
		t.Fatalf("PNG decodes to %v, %v; want %v", back.Bounds(), err, b)
	}
	// Without a size the canvas covers the boxes, at least 64 × 64.
	if g := Draw(nil, 0, 0, "x", words).Bounds(); g.Dx() != 90 || g.Dy() < 64 {
		t.Errorf("canvas of the boxes' extent: %v, want 90 wide", g)
	}
}

func TestWrap(t *testing.T) {
	for i, c := range []struct {
		s    string
		n    int
		want []string
	}{
		{"a dog with a ball", 8, []string{"a dog", "with a", "ball"}},
		{"abcdefghij", 4, []string{"abcd", "efgh", "ij"}},
		{"", 5, []string{""}},
	} {
		got := wrap(c.s, c.n)
		if len(got) != len(c.want) {
			t.Errorf("%d: wrap(%q, %d) = %q, want %q", i, c.s, c.n, got, c.want)
			continue
		}
		for j := range got {
			if got[j] != c.want[j] {
				t.Errorf("%d: wrap(%q, %d) = %q, want %q", i, c.s, c.n, got, c.want)
				break
			}
		}
	}
}

func TestMostAttended(t *testing.T) {
	boxes := []float32{0, 0, 1, 1, 10, 10, 20, 20, 5, 5, 6, 6}
	for i, c := range []struct {
		att  []float32
		want [4]float32
	}{
		{[]float32{0.2, 0.7, 0.1}, [4]float32{10, 10, 20, 20}},
		{[]float32{0.1, 0.1, 0.8}, [4]float32{5, 5, 6, 6}},
		{[]float32{0.4, 0.2, 0.4}, [4]float32{0, 0, 1, 1}}, // the first of equals
	} {
		if got := MostAttended(c.att, boxes); got != c.want {
			t.Errorf("%d: MostAttended(%v) = %v, want %v", i, c.att, got, c.want)
		}
	}
}
