package evaluate

import (
	"fmt"
	"image"
	_ "image/jpeg" // the images directory may hold JPEGs

	"github.com/groundcap/groundcap/internal/picture"
)

// Marked is one word drawn on a picture: the word and its index in the caption.
type Marked struct {
	Index int
	Word  string
}

// DrawPicture draws the decoded caption's marked words' attended boxes on the image (nil: a grey
// canvas of the decode's width and height, or the boxes' extent when unknown), each box labelled
// with its word, and the caption in a band below (internal/picture). It returns PNG bytes.
func DrawPicture(src image.Image, d *Decode, marked []Marked) ([]byte, error) {
	words := make([]picture.Word, len(marked))
	for n, m := range marked {
		if m.Index < 0 || m.Index >= len(d.Tokens) {
			return nil, fmt.Errorf("evaluate: image %d: marked word %d outside the caption", d.ImageID, m.Index)
		}
		words[n] = picture.Word{Text: m.Word, Box: d.Box(m.Index)}
	}
	w, h := int(d.Width), int(d.Height)
	if src == nil && (w <= 0 || h <= 0) { // the extent of every attended box, not only the marked ones
		for i := range d.Tokens {
			b := d.Box(i)
			w, h = max(w, int(b[2])+1), max(h, int(b[3])+1)
		}
		w, h = max(w, 64), max(h, 64)
	}
	png, err := picture.PNG(src, w, h, d.Caption, words)
	if err != nil {
		return nil, fmt.Errorf("evaluate: picture of image %d: %w", d.ImageID, err)
	}
	return png, nil
}
