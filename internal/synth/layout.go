package synth

import (
	"math"
	"math/rand/v2"
)

// Image size ranges in pixels.
const (
	minWidth, maxWidth   = 400, 480
	minHeight, maxHeight = 300, 400
	minObjectSide        = 12
)

// Chain ids: image i owns ids chainStride*i+1 .. chainStride*i+chainStride; 0 is notvisual.
const (
	chainStride      = 10
	chainGroupOffset = MaxObjects // groups use local ids 5, 6
	chainSceneOffset = 7
	chainOtherOffset = 8
)

// object is one annotated object. box is 0-based inclusive pixels x1, y1, x2, y2.
type object struct {
	cat, colour, size int
	box               [4]int
	parent            int // index of the person wearing it (clothing), else -1
	chain             int
	used              bool // mentioned through its own chain
	groupUsed         int  // chain of a mentioned group containing it, else 0
}

// group is all objects of one category when there are at least two of them.
type group struct {
	cat     int
	members []int
	chain   int
	used    bool
}

// Proposal kinds.
const (
	kindTight = iota
	kindJitter
	kindPart
	kindBackground
)

var kindNames = []string{"tight", "jitter", "part", "background"}

// proposal is one region: box in 0-based float pixels and where it came from.
type proposal struct {
	box  [4]float32
	kind int
	obj  int // source object, -1 for background
}

// imageData is everything generated for one image.
type imageData struct {
	index     int
	id        int64
	split     string
	w, h      int
	scene     int
	objects   []object
	groups    []group
	proposals []proposal
	captions  []caption
	sceneUsed bool
	otherUsed bool
}

func (im *imageData) chainBase() int { return im.index*chainStride + 1 }

func clampInt(v, lo, hi int) int { return min(max(v, lo), hi) }

// layout draws the image size, scene and objects.
func layout(r *rand.Rand, im *imageData) {
	im.w = minWidth + r.IntN(maxWidth-minWidth+1)
	im.h = minHeight + r.IntN(maxHeight-minHeight+1)
	im.scene = r.IntN(len(scenes))
	n := MinObjects + r.IntN(MaxObjects-MinObjects+1)
	for len(im.objects) < n {
		var c int
		var top []int
		for i, o := range im.objects {
			if o.parent < 0 {
				top = append(top, i)
			}
		}
		if len(top) > 0 && r.Float64() < 0.25 {
			c = im.objects[top[r.IntN(len(top))]].cat // a repeat makes a group ("two dogs")
		} else {
			for {
				c = r.IntN(numCategories)
				if categories[c].Type != typeClothing {
					break
				}
			}
		}
		p := placeObject(r, im, c)
		im.objects = append(im.objects, p)
		if categories[c].Type == typePeople {
			parent := len(im.objects) - 1
			if len(im.objects) < n && r.Float64() < 0.6 {
				im.objects = append(im.objects, wear(r, im, parent, []int{catShirt, catJacket}[r.IntN(2)]))
			}
			if len(im.objects) < n && r.Float64() < 0.35 {
				im.objects = append(im.objects, wear(r, im, parent, catHat))
			}
		}
	}
	base := im.chainBase()
	for i := range im.objects {
		im.objects[i].chain = base + i
	}
	// Groups: categories (not clothing) with two or more objects.
	seen := map[int]bool{}
	for i, o := range im.objects {
		if seen[o.cat] || categories[o.cat].Type == typeClothing {
			continue
		}
		seen[o.cat] = true
		g := group{cat: o.cat, members: []int{i}}
		for j := i + 1; j < len(im.objects); j++ {
			if im.objects[j].cat == o.cat {
				g.members = append(g.members, j)
			}
		}
		if len(g.members) >= 2 {
			g.chain = base + chainGroupOffset + len(im.groups)
			im.groups = append(im.groups, g)
		}
	}
}

func pickColour(r *rand.Rand, c int) int {
	if cs := categories[c].colours; cs != nil {
		return cs[r.IntN(len(cs))]
	}
	return r.IntN(numColours)
}

func pickSize(r *rand.Rand) int {
	switch f := r.Float64(); {
	case f < 0.3:
		return sizeSmall
	case f < 0.7:
		return sizeMedium
	default:
		return sizeLarge
	}
}

// placeObject sizes an object from its category and size attribute and places it where it
// overlaps earlier top-level objects little (best of a few tries).
func placeObject(r *rand.Rand, im *imageData, c int) object {
	spec := categories[c]
	o := object{cat: c, colour: pickColour(r, c), size: pickSize(r), parent: -1}
	scale := sizeScale[o.size] * (0.9 + 0.2*r.Float64())
	h := int(math.Round(spec.height * scale * float64(im.h)))
	w := int(math.Round(float64(h) * spec.aspect))
	h = clampInt(h, minObjectSide, im.h-1)
	w = clampInt(w, minObjectSide, im.w-1)
	best, bestOverlap := [4]int{}, math.Inf(1)
	for try := 0; try < 12; try++ {
		x1 := r.IntN(im.w - w)
		// Things stand on the ground: the bottom edge lies in the lower half of the image.
		lo := max(0, im.h/2-h)
		y1 := lo + r.IntN(max(1, im.h-h-lo))
		if spec.Shape == "diamond" { // birds and kites fly
			y1 = r.IntN(max(1, im.h/2))
		}
		b := [4]int{x1, y1, x1 + w - 1, min(y1+h-1, im.h-1)}
		ov := 0.0
		for _, p := range im.objects {
			if p.parent < 0 {
				ov = math.Max(ov, iouInt(b, p.box))
			}
		}
		if ov < bestOverlap {
			best, bestOverlap = b, ov
		}
		if ov < 0.05 {
			break
		}
	}
	o.box = best
	return o
}

// wear places a clothing item on person parent.
func wear(r *rand.Rand, im *imageData, parent, c int) object {
	p := im.objects[parent].box
	pw, ph := float64(p[2]-p[0]+1), float64(p[3]-p[1]+1)
	o := object{cat: c, colour: pickColour(r, c), size: sizeMedium, parent: parent}
	var b [4]float64
	switch c {
	case catHat:
		b = [4]float64{float64(p[0]) + 0.22*pw, float64(p[1]) - 0.02*ph, float64(p[0]) + 0.78*pw, float64(p[1]) + 0.11*ph}
	case catJacket:
		b = [4]float64{float64(p[0]) + 0.05*pw, float64(p[1]) + 0.26*ph, float64(p[0]) + 0.95*pw, float64(p[1]) + 0.68*ph}
	default:
		b = [4]float64{float64(p[0]) + 0.1*pw, float64(p[1]) + 0.27*ph, float64(p[0]) + 0.9*pw, float64(p[1]) + 0.6*ph}
	}
	o.box = [4]int{
		clampInt(int(b[0]), 0, im.w-1), clampInt(int(b[1]), 0, im.h-1),
		clampInt(int(b[2]), 0, im.w-1), clampInt(int(b[3]), 0, im.h-1),
	}
	return o
}

// iouInt is GVD's IoU with +1-pixel widths on integer boxes.
func iouInt(a, b [4]int) float64 {
	return iou(float64(a[0]), float64(a[1]), float64(a[2]), float64(a[3]),
		float64(b[0]), float64(b[1]), float64(b[2]), float64(b[3]))
}

// overlap returns intersection area and the two areas, with +1-pixel widths.
func overlap(ax1, ay1, ax2, ay2, bx1, by1, bx2, by2 float64) (inter, areaA, areaB float64) {
	areaA = (ax2 - ax1 + 1) * (ay2 - ay1 + 1)
	areaB = (bx2 - bx1 + 1) * (by2 - by1 + 1)
	iw := math.Min(ax2, bx2) - math.Max(ax1, bx1) + 1
	ih := math.Min(ay2, by2) - math.Max(ay1, by1) + 1
	if iw <= 0 || ih <= 0 {
		return 0, areaA, areaB
	}
	return iw * ih, areaA, areaB
}

func iou(ax1, ay1, ax2, ay2, bx1, by1, bx2, by2 float64) float64 {
	inter, a, b := overlap(ax1, ay1, ax2, ay2, bx1, by1, bx2, by2)
	if inter == 0 {
		return 0
	}
	return inter / (a + b - inter)
}

// proposals draws K boxes: a tight box per object, then jittered object boxes, part boxes and
// background boxes, in a shuffled order.
func makeProposals(r *rand.Rand, im *imageData, k int) {
	n := len(im.objects)
	rest := k - n
	nJitter := rest * 2 / 5
	nPart := rest / 4
	nBack := rest - nJitter - nPart
	ps := make([]proposal, 0, k)
	fw, fh := float64(im.w-1), float64(im.h-1)
	mk := func(x1, y1, x2, y2 float64, kind, obj int) proposal {
		x1, x2 = math.Min(math.Max(x1, 0), fw), math.Min(math.Max(x2, 0), fw)
		y1, y2 = math.Min(math.Max(y1, 0), fh), math.Min(math.Max(y2, 0), fh)
		if x2 < x1+3 { // keep at least a 4-pixel box inside the image
			x1 = math.Min(x1, fw-3)
			x2 = x1 + 3
		}
		if y2 < y1+3 {
			y1 = math.Min(y1, fh-3)
			y2 = y1 + 3
		}
		return proposal{box: [4]float32{float32(x1), float32(y1), float32(x2), float32(y2)}, kind: kind, obj: obj}
	}
	jitter := func(o object, s float64, kind, idx int) proposal {
		b := o.box
		w, h := float64(b[2]-b[0]+1), float64(b[3]-b[1]+1)
		return mk(float64(b[0])+r.NormFloat64()*s*w, float64(b[1])+r.NormFloat64()*s*h,
			float64(b[2])+r.NormFloat64()*s*w, float64(b[3])+r.NormFloat64()*s*h, kind, idx)
	}
	for i, o := range im.objects {
		ps = append(ps, jitter(o, 0.03, kindTight, i))
	}
	for j := 0; j < nJitter; j++ {
		i := j % n
		ps = append(ps, jitter(im.objects[i], 0.12, kindJitter, i))
	}
	for j := 0; j < nPart; j++ {
		i := (j + 1) % n
		b := im.objects[i].box
		w, h := float64(b[2]-b[0]+1), float64(b[3]-b[1]+1)
		pw, ph := 0.3+0.35*r.Float64(), 0.3+0.35*r.Float64()
		x1 := float64(b[0]) + r.Float64()*(1-pw)*w
		y1 := float64(b[1]) + r.Float64()*(1-ph)*h
		ps = append(ps, mk(x1, y1, x1+pw*w, y1+ph*h, kindPart, i))
	}
	for j := 0; j < nBack; j++ {
		if j%4 == 3 && n >= 2 { // context box spanning two objects
			a, b := im.objects[r.IntN(n)].box, im.objects[r.IntN(n)].box
			ps = append(ps, mk(float64(min(a[0], b[0]))-10*r.Float64(), float64(min(a[1], b[1]))-10*r.Float64(),
				float64(max(a[2], b[2]))+10*r.Float64(), float64(max(a[3], b[3]))+10*r.Float64(), kindBackground, -1))
			continue
		}
		w := (0.08 + 0.37*r.Float64()) * float64(im.w)
		h := (0.08 + 0.37*r.Float64()) * float64(im.h)
		x1 := r.Float64() * (float64(im.w) - w)
		y1 := r.Float64() * (float64(im.h) - h)
		ps = append(ps, mk(x1, y1, x1+w, y1+h, kindBackground, -1))
	}
	r.Shuffle(len(ps), func(i, j int) { ps[i], ps[j] = ps[j], ps[i] })
	im.proposals = ps
}
