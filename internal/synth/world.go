package synth

import (
	"math/rand/v2"
)

// Entity types used in the Entities phrase markup.
const (
	typePeople      = "people"
	typeAnimals     = "animals"
	typeVehicles    = "vehicles"
	typeClothing    = "clothing"
	typeInstruments = "instruments"
	typeOther       = "other"
	typeScene       = "scene"
	typeNotVisual   = "notvisual"
)

// Noun is one noun form of a category: its singular (the grounding class) and its plural.
type Noun struct {
	Singular string `json:"singular"`
	Plural   string `json:"plural"`
}

// Category is one object category of the synthetic world.
type Category struct {
	// Name is the canonical name (also the first noun's singular).
	Name string `json:"name"`
	// Type is the Flickr30k Entities phrase type (people, animals, vehicles, clothing, instruments, other).
	Type string `json:"type"`
	// Nouns are the synonyms used in captions; every Singular is a grounding class.
	Nouns []Noun `json:"nouns"`
	// Shape and Texture say how the category is drawn in images/<id>.png.
	Shape   string `json:"shape"`
	Texture string `json:"texture"`
}

// catSpec is the static description of a category: language, look and geometry.
type catSpec struct {
	Category
	aspect  float64  // width / height of the box
	height  float64  // box height as a fraction of the image height at medium size
	colours []int    // allowed colour indices; nil = all
	intrans []string // intransitive participles ("running"); nil = copula frames only
}

// Colour attribute indices.
const (
	colRed = iota
	colBlue
	colGreen
	colYellow
	colBlack
	colWhite
	colBrown
	colOrange
	colPink
	colGray
	numColours
)

var colourNames = [numColours]string{"red", "blue", "green", "yellow", "black", "white", "brown", "orange", "pink", "gray"}

// Size attribute indices.
const (
	sizeSmall = iota
	sizeMedium
	sizeLarge
	numSizes
)

var sizeNames = [numSizes]string{"small", "medium", "large"}

// sizeScale multiplies a category's medium box size.
var sizeScale = [numSizes]float64{0.7, 1.0, 1.35}

var (
	peopleColours = []int{colBrown, colPink, colWhite, colBlack}
	animalColours = []int{colBrown, colBlack, colWhite, colGray, colOrange}
	peopleVerbs   = []string{"standing", "walking", "sitting", "running", "waiting", "smiling"}
	animalVerbs   = []string{"running", "sitting", "standing", "lying", "jumping"}
)

func cat(name, typ string, nouns []Noun, shape, texture string, aspect, height float64, colours []int, intrans []string) catSpec {
	return catSpec{Category: Category{Name: name, Type: typ, Nouns: nouns, Shape: shape, Texture: texture},
		aspect: aspect, height: height, colours: colours, intrans: intrans}
}

func nouns(pairs ...string) []Noun {
	out := make([]Noun, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, Noun{Singular: pairs[i], Plural: pairs[i+1]})
	}
	return out
}

// Category indices that the layout and grammar refer to.
const (
	catMan = iota
	catWoman
	catChild
	catDog
	catCat
	catHorse
	catBird
	catCow
	catCar
	catBicycle
	catBus
	catBoat
	catShirt
	catHat
	catJacket
	catGuitar
	catDrum
	catBall
	catTree
	catBench
	catTable
	catChair
	catUmbrella
	catKite
	catFlower
	catBag
	catSign
	catBox
	numCategories
)

// categories is the read-only category table; index = category id.
var categories = [numCategories]catSpec{
	cat("man", typePeople, nouns("man", "men", "guy", "guys"), "figure", "solid", 0.42, 0.62, peopleColours, peopleVerbs),
	cat("woman", typePeople, nouns("woman", "women", "lady", "ladies"), "dress", "solid", 0.45, 0.6, peopleColours, peopleVerbs),
	cat("child", typePeople, nouns("child", "children", "kid", "kids"), "figure", "checker", 0.48, 0.42, peopleColours, peopleVerbs),
	cat("dog", typeAnimals, nouns("dog", "dogs", "puppy", "puppies"), "animal", "solid", 1.4, 0.3, animalColours, animalVerbs),
	cat("cat", typeAnimals, nouns("cat", "cats", "kitten", "kittens"), "animal", "dots", 1.2, 0.22, animalColours, animalVerbs),
	cat("horse", typeAnimals, nouns("horse", "horses", "pony", "ponies"), "animal", "hstripes", 1.3, 0.5, animalColours, animalVerbs),
	cat("bird", typeAnimals, nouns("bird", "birds"), "diamond", "solid", 1.0, 0.14, nil, []string{"flying", "sitting", "standing"}),
	cat("cow", typeAnimals, nouns("cow", "cows"), "animal", "checker", 1.5, 0.38, animalColours, []string{"standing", "lying", "walking"}),
	cat("car", typeVehicles, nouns("car", "cars"), "vehicle", "solid", 1.9, 0.3, nil, []string{"parked", "moving"}),
	cat("bicycle", typeVehicles, nouns("bicycle", "bicycles", "bike", "bikes"), "wheels", "solid", 1.5, 0.3, nil, []string{"parked"}),
	cat("bus", typeVehicles, nouns("bus", "buses"), "vehicle", "hstripes", 2.2, 0.45, nil, []string{"parked", "moving"}),
	cat("boat", typeVehicles, nouns("boat", "boats"), "hull", "solid", 2.0, 0.3, nil, []string{"floating", "moving"}),
	cat("shirt", typeClothing, nouns("shirt", "shirts"), "tshirt", "solid", 1, 1, nil, nil),
	cat("hat", typeClothing, nouns("hat", "hats", "cap", "caps"), "hat", "solid", 1, 1, nil, nil),
	cat("jacket", typeClothing, nouns("jacket", "jackets", "coat", "coats"), "tshirt", "vstripes", 1, 1, nil, nil),
	cat("guitar", typeInstruments, nouns("guitar", "guitars"), "guitar", "solid", 0.5, 0.35, nil, nil),
	cat("drum", typeInstruments, nouns("drum", "drums"), "drum", "hstripes", 1.0, 0.22, nil, nil),
	cat("ball", typeOther, nouns("ball", "balls"), "ellipse", "solid", 1.0, 0.1, nil, []string{"lying", "rolling"}),
	cat("tree", typeOther, nouns("tree", "trees"), "tree", "dots", 0.6, 0.75, []int{colGreen, colYellow, colOrange, colBrown}, []string{"standing", "growing"}),
	cat("bench", typeOther, nouns("bench", "benches"), "table", "vstripes", 2.2, 0.22, nil, nil),
	cat("table", typeOther, nouns("table", "tables"), "table", "solid", 1.6, 0.28, nil, nil),
	cat("chair", typeOther, nouns("chair", "chairs"), "chair", "solid", 0.8, 0.3, nil, nil),
	cat("umbrella", typeOther, nouns("umbrella", "umbrellas"), "semicircle", "diag", 1.3, 0.3, nil, nil),
	cat("kite", typeOther, nouns("kite", "kites"), "diamond", "checker", 1.0, 0.16, nil, []string{"flying"}),
	cat("flower", typeOther, nouns("flower", "flowers"), "flower", "solid", 0.6, 0.14, nil, []string{"growing"}),
	cat("bag", typeOther, nouns("bag", "bags", "backpack", "backpacks"), "bag", "solid", 0.9, 0.18, nil, []string{"lying"}),
	cat("sign", typeOther, nouns("sign", "signs"), "sign", "solid", 1.2, 0.2, nil, []string{"standing"}),
	cat("box", typeOther, nouns("box", "boxes"), "rect", "diag", 1.0, 0.18, nil, []string{"lying"}),
}

// Scenes: background, scene nouns and the preposition that introduces them.
type sceneSpec struct {
	name  string
	prep  string
	nouns []string
	rgb   [3]uint8
}

var scenes = []sceneSpec{
	{"park", "in", []string{"park", "grass"}, [3]uint8{110, 180, 90}},
	{"street", "on", []string{"street", "road"}, [3]uint8{125, 125, 130}},
	{"beach", "on", []string{"beach", "sand"}, [3]uint8{230, 210, 150}},
	{"field", "in", []string{"field", "meadow"}, [3]uint8{175, 200, 105}},
	{"snow", "in", []string{"snow"}, [3]uint8{232, 238, 248}},
	{"lake", "near", []string{"lake", "water"}, [3]uint8{70, 130, 200}},
}

var entityTypes = []string{typePeople, typeAnimals, typeVehicles, typeClothing, typeInstruments, typeOther}

func typeIndex(t string) int {
	for i, s := range entityTypes {
		if s == t {
			return i
		}
	}
	panic("synth: unknown entity type " + t)
}

// Categories returns the world's object categories (a fresh copy).
func Categories() []Category {
	out := make([]Category, numCategories)
	for i, c := range categories {
		out[i] = c.Category
		out[i].Nouns = append([]Noun(nil), c.Nouns...)
	}
	return out
}

// ClassNames returns the grounding classes written to class_names.txt: every singular noun form of
// every category, in category order.
func ClassNames() []string {
	var out []string
	for _, c := range categories {
		for _, n := range c.Nouns {
			out = append(out, n.Singular)
		}
	}
	return out
}

// Lemma returns the singular form of an object noun of the world (singular or plural) and true, or
// "" and false when word is not an object noun. Lower-case input is expected.
func Lemma(word string) (string, bool) {
	for _, c := range categories {
		for _, n := range c.Nouns {
			if word == n.Singular || word == n.Plural {
				return n.Singular, true
			}
		}
	}
	return "", false
}

// sparseVec is a sparse non-negative signature.
type sparseVec struct {
	idx []int32
	val []float32
}

// world holds what is shared by every image: signatures fixed by (Seed, FeatDim).
type world struct {
	opts      Options
	classSig  [numCategories]sparseVec
	partSig   [numCategories]sparseVec
	typeSig   []sparseVec
	colourSig [numColours]sparseVec
	sizeSig   [numSizes]sparseVec
	sceneSig  []sparseVec
	noiseNNZ  int
}

// Random stream purposes, mixed into the seed so streams never coincide.
const (
	streamWorld uint64 = iota + 1
	streamIDs
	streamSplits
	streamImage
)

// splitmix64 is one step of the SplitMix64 generator, used to derive stream seeds.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// newRand returns the PCG stream for (seed, purpose, index).
func newRand(seed int64, purpose uint64, index int) *rand.Rand {
	a := splitmix64(uint64(seed) ^ splitmix64(purpose))
	b := splitmix64(a ^ splitmix64(uint64(index)+0x5bd1e995))
	return rand.New(rand.NewPCG(a, b))
}

// signature nnz sizes for feature dimension d.
func sigSizes(d int) (class, attr, noise int) {
	class = min(max(8, d/64), d)
	attr = min(max(4, d/128), d)
	noise = max(4, d/32)
	return class, attr, noise
}

func randSig(r *rand.Rand, d, nnz int, lo, hi float32) sparseVec {
	perm := r.Perm(d)[:nnz]
	v := sparseVec{idx: make([]int32, nnz), val: make([]float32, nnz)}
	for i, p := range perm {
		v.idx[i] = int32(p)
		v.val[i] = lo + (hi-lo)*r.Float32()
	}
	return v
}

func newWorld(opts Options) *world {
	d := opts.FeatDim
	r := newRand(opts.Seed, streamWorld, 0)
	nc, na, nn := sigSizes(d)
	w := &world{opts: opts, noiseNNZ: nn}
	for c := range w.classSig {
		w.classSig[c] = randSig(r, d, nc, 1, 3)
	}
	for c := range w.partSig {
		// A part shares half of its class's dimensions, so parts are confusable with the whole.
		half := nc / 2
		own := randSig(r, d, nc-half, 0.8, 2.4)
		cs := w.classSig[c]
		p := sparseVec{idx: append(append([]int32(nil), cs.idx[:half]...), own.idx...),
			val: append(append([]float32(nil), cs.val[:half]...), own.val...)}
		w.partSig[c] = p
	}
	w.typeSig = make([]sparseVec, len(entityTypes))
	for t := range w.typeSig {
		w.typeSig[t] = randSig(r, d, na, 0.8, 2)
	}
	for c := range w.colourSig {
		w.colourSig[c] = randSig(r, d, na, 1, 2.5)
	}
	for s := range w.sizeSig {
		w.sizeSig[s] = randSig(r, d, na, 1, 2)
	}
	w.sceneSig = make([]sparseVec, len(scenes))
	for s := range w.sceneSig {
		w.sceneSig[s] = randSig(r, d, nc, 0.5, 1.5)
	}
	return w
}
