package updown

import (
	"fmt"
	"math/rand/v2"

	"github.com/groundcap/groundcap/eval/caption"
)

// toyWorld is a small captioning task: each image shows two of nObj objects
// (one region each, feature = the object's vector + noise) among distractor
// regions; its captions are "a X and a Y" (and, with twoCaps, "a Y and a X").
// The nouns X and Y are at positions 1 and 4 and the teacher's attention α
// puts 0.9 on the object's region.
type toyWorld struct {
	d        int
	words    []string // words[i] is the word of id i+1
	images   []toyImage
	wordA    int32
	wordAnd  int32
	wordNear int32
	firstObj int32
}

type toyImage struct {
	feats    []float32
	boxes    int
	captions [][]int32
	nounPos  [][]int
	alpha    [][]float32
}

func newToyWorld(seed uint64, nImg, nObj, d int, twoCaps bool) *toyWorld {
	r := rand.New(rand.NewPCG(seed, 99))
	w := &toyWorld{d: d, wordA: 1, wordAnd: 2, wordNear: 3, firstObj: 4}
	w.words = []string{"a", "and", "near"}
	vecs := make([][]float32, nObj)
	for o := range vecs {
		w.words = append(w.words, fmt.Sprintf("obj%d", o))
		vecs[o] = make([]float32, d)
		for j := range vecs[o] {
			vecs[o][j] = float32(r.NormFloat64())
		}
	}
	for i := 0; i < nImg; i++ {
		o1 := r.IntN(nObj)
		o2 := (o1 + 1 + r.IntN(nObj-1)) % nObj
		if o2 < o1 {
			o1, o2 = o2, o1
		}
		k := 3 + r.IntN(2) // adaptive box counts: 3 or 4
		slots := r.Perm(k)
		im := toyImage{boxes: k, feats: make([]float32, k*d)}
		for reg := 0; reg < k; reg++ {
			row := im.feats[reg*d : (reg+1)*d]
			for j := range row {
				row[j] = float32(0.1 * r.NormFloat64())
			}
			switch reg {
			case slots[0]:
				for j := range row {
					row[j] += vecs[o1][j]
				}
			case slots[1]:
				for j := range row {
					row[j] += vecs[o2][j]
				}
			default:
				for j := range row {
					row[j] += float32(0.7 * r.NormFloat64())
				}
			}
		}
		att := func(slot int) []float32 {
			a := make([]float32, k)
			for j := range a {
				a[j] = 0.1 / float32(k-1)
			}
			a[slot] = 0.9
			return a
		}
		add := func(conj int32, x, y, sx, sy int) {
			im.captions = append(im.captions, []int32{w.wordA, w.firstObj + int32(x), conj, w.wordA, w.firstObj + int32(y)})
			im.nounPos = append(im.nounPos, []int{1, 4})
			im.alpha = append(im.alpha, append(att(sx), att(sy)...))
		}
		add(w.wordAnd, o1, o2, slots[0], slots[1])
		if twoCaps {
			add(w.wordNear, o1, o2, slots[0], slots[1])
		}
		w.images = append(w.images, im)
	}
	return w
}

// toySource serves a subset of a toy world's images.
type toySource struct {
	w   *toyWorld
	ids []int
}

func (s *toySource) Len() int { return len(s.ids) }

func (s *toySource) Batch(idx []int) (*Batch, error) {
	b := &Batch{}
	for i, j := range idx {
		if j < 0 || j >= len(s.ids) {
			return nil, fmt.Errorf("toy: image %d out of range", j)
		}
		im := s.w.images[s.ids[j]]
		b.Feats = append(b.Feats, im.feats)
		b.NumBoxes = append(b.NumBoxes, im.boxes)
		for c := range im.captions {
			b.Captions = append(b.Captions, im.captions[c])
			b.ImageOf = append(b.ImageOf, i)
			b.NounPos = append(b.NounPos, im.nounPos[c])
			b.Alpha = append(b.Alpha, im.alpha[c])
		}
	}
	return b, nil
}

func (w *toyWorld) source(lo, hi int) *toySource {
	s := &toySource{w: w}
	for i := lo; i < hi; i++ {
		s.ids = append(s.ids, i)
	}
	return s
}

// scorer builds a CIDEr-D scorer from the document frequencies of the
// world's captions (words then "<eos>", as self-critical's table).
func (w *toyWorld) scorer() (*caption.Scorer, error) {
	refs := make([][][]string, len(w.images))
	for i, im := range w.images {
		for _, c := range im.captions {
			var ws []string
			for _, t := range c {
				ws = append(ws, w.words[t-1])
			}
			refs[i] = append(refs[i], append(ws, "<eos>"))
		}
	}
	df, err := caption.BuildDocFreq(refs)
	if err != nil {
		return nil, err
	}
	return caption.NewScorer(df, ScorerVocab("<eos>", w.words))
}

func (w *toyWorld) config() Config {
	return Config{VocabSize: len(w.words), FeatDim: w.d, Arch: arch(16, 24, 16, 8, 8), Seed: 1}
}
