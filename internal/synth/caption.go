package synth

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
)

// seg is a run of caption words: plain words (chain < 0) or one Entities phrase.
type seg struct {
	words []string
	chain int // -1: plain words; 0: notvisual
	typ   string
	head  int    // index in words of the object noun, -1 if none
	class string // singular form of the head noun
	objs  []int  // objects the phrase refers to
}

// Mention is one object word of a caption: WordIndex into the tokens, Word as written, Class its
// singular form (a line of class_names.txt), Category the canonical category, the phrase's Chain
// and Type, and the objects (indices into the image's objects) and their boxes (0-based pixels).
type Mention struct {
	WordIndex int      `json:"word_index"`
	Word      string   `json:"word"`
	Class     string   `json:"class"`
	Category  string   `json:"category"`
	Type      string   `json:"type"`
	Chain     int      `json:"chain"`
	Objects   []int    `json:"objects"`
	Boxes     [][4]int `json:"boxes"`
}

// caption is one finished sentence in every representation written.
type caption struct {
	raw      string // Karpathy raw: capitalised, punctuation attached
	entities string // Flickr30k Entities line with phrase markup
	tokens   []string
	mentions []Mention
	phrases  int
	chains   []int // chain of every phrase, in order
}

// entity is something a caption can mention: one object or a group of same-category objects.
type entity struct {
	objs  []int
	group int // index into im.groups, or -1
}

func (e entity) plural() bool { return e.group >= 0 }

// captioner builds captions for one image.
type captioner struct {
	r  *rand.Rand
	im *imageData
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

func article(next string) string {
	if strings.ContainsRune("aeiou", rune(next[0])) {
		return "an"
	}
	return "a"
}

var countWords = []string{"", "", "two", "three", "four", "five"}

// np builds the noun phrase of e as an Entities phrase segment.
func (c *captioner) np(e entity) seg {
	r, im := c.r, c.im
	o := im.objects[e.objs[0]]
	spec := categories[o.cat]
	noun := pick(r, spec.Nouns)
	var adj []string
	if !e.plural() || sameAttr(im, e.objs, func(o object) int { return o.size }) {
		if o.size != sizeMedium && r.Float64() < 0.35 {
			switch {
			case spec.Type == typePeople && o.size == sizeLarge:
				adj = append(adj, "tall")
			case spec.Type == typePeople:
				adj = append(adj, "short")
			case o.size == sizeLarge:
				adj = append(adj, pick(r, []string{"big", "large"}))
			default:
				adj = append(adj, pick(r, []string{"small", "little"}))
			}
		}
	}
	if spec.Type != typePeople && (!e.plural() || sameAttr(im, e.objs, func(o object) int { return o.colour })) &&
		r.Float64() < 0.6 {
		adj = append(adj, colourNames[o.colour])
	}
	var words []string
	head := noun.Singular
	var chain int
	if e.plural() {
		head = noun.Plural
		words = append(words, countWords[len(e.objs)])
		chain = im.groups[e.group].chain
	} else {
		rest := append(append([]string(nil), adj...), head)
		if r.Float64() < 0.25 {
			words = append(words, "the")
		} else {
			words = append(words, article(rest[0]))
		}
		chain = o.chain
	}
	words = append(words, adj...)
	words = append(words, head)
	return seg{words: words, chain: chain, typ: spec.Type, head: len(words) - 1, class: noun.Singular, objs: e.objs}
}

func sameAttr(im *imageData, objs []int, f func(object) int) bool {
	for _, i := range objs[1:] {
		if f(im.objects[i]) != f(im.objects[objs[0]]) {
			return false
		}
	}
	return true
}

func plain(words ...string) seg { return seg{words: words, chain: -1, head: -1} }

// scenePhrase returns "in" + [the park].
func (c *captioner) scenePhrase() []seg {
	sc := scenes[c.im.scene]
	det := "the"
	if c.r.Float64() < 0.3 {
		det = "a"
	}
	if sc.name == "snow" || sc.name == "lake" || sc.name == "beach" {
		det = "the"
	}
	return []seg{plain(sc.prep), {words: []string{det, pick(c.r, sc.nouns)}, chain: c.im.chainBase() + chainSceneOffset,
		typ: typeScene, head: -1}}
}

// entities lists what may be mentioned: every object (clothing only through its wearer) and group.
func (c *captioner) entities() []entity {
	var out []entity
	for i, o := range c.im.objects {
		if o.parent < 0 {
			out = append(out, entity{objs: []int{i}, group: -1})
		}
	}
	for g, gr := range c.im.groups {
		out = append(out, entity{objs: gr.members, group: g})
	}
	return out
}

func disjoint(a, b entity) bool {
	for _, x := range a.objs {
		for _, y := range b.objs {
			if x == y {
				return false
			}
		}
	}
	return true
}

func (c *captioner) animate(e entity) bool {
	t := categories[c.im.objects[e.objs[0]].cat].Type
	return t == typePeople || t == typeAnimals
}

func (c *captioner) unionBox(e entity) [4]int {
	b := c.im.objects[e.objs[0]].box
	for _, i := range e.objs[1:] {
		o := c.im.objects[i].box
		b = [4]int{min(b[0], o[0]), min(b[1], o[1]), max(b[2], o[2]), max(b[3], o[3])}
	}
	return b
}

// spatial picks a preposition that is true of subject s relative to o.
func (c *captioner) spatial(s, o entity) []string {
	a, b := c.unionBox(s), c.unionBox(o)
	if c.r.Float64() < 0.5 {
		switch {
		case a[2] < b[0]:
			return []string{"to", "the", "left", "of"}
		case a[0] > b[2]:
			return []string{"to", "the", "right", "of"}
		}
	}
	return strings.Fields(pick(c.r, []string{"next to", "near", "beside", "behind", "in front of"}))
}

// transitive returns a verb (participle words) for subject s acting on object o, or nil.
func (c *captioner) transitive(s, o entity) []string {
	st := categories[c.im.objects[s.objs[0]].cat].Type
	oc := c.im.objects[o.objs[0]].cat
	var vs []string
	switch st {
	case typePeople:
		switch oc {
		case catBall:
			vs = []string{"holding", "kicking", "throwing"}
		case catGuitar, catDrum:
			vs = []string{"playing"}
		case catBicycle, catHorse:
			vs = []string{"riding"}
		case catDog:
			vs = []string{"petting", "walking", "feeding"}
		case catCat, catCow, catBird:
			vs = []string{"petting", "feeding", "watching"}
		case catUmbrella, catBag, catBox, catFlower, catKite, catSign:
			vs = []string{"holding", "carrying"}
		case catCar, catBus, catBoat:
			vs = []string{"driving", "looking at"}
		default:
			vs = []string{"looking at", "watching"}
		}
	case typeAnimals:
		switch categories[oc].Type {
		case typePeople:
			vs = []string{"following", "looking at"}
		default:
			if oc == catBall {
				vs = []string{"chasing", "playing with"}
			} else {
				vs = []string{"looking at", "sniffing"}
			}
		}
	default:
		return nil
	}
	return strings.Fields(pick(c.r, vs))
}

// sentence draws one caption of the image.
func (c *captioner) sentence() []seg {
	r, im := c.r, c.im
	ents := c.entities()
	budget := 1 + r.IntN(3)
	// Subject: prefer people and animals.
	var anim []entity
	for _, e := range ents {
		if c.animate(e) {
			anim = append(anim, e)
		}
	}
	var subj entity
	if len(anim) > 0 && r.Float64() < 0.85 {
		subj = pick(r, anim)
	} else {
		subj = pick(r, ents)
	}
	var others []entity
	for _, e := range ents {
		if disjoint(e, subj) {
			others = append(others, e)
		}
	}
	var segs []seg
	spec := categories[im.objects[subj.objs[0]].cat]
	intrans := spec.intrans
	there := r.Float64() < 0.15
	// "In the park , …" needs a verb to follow, so only subjects with one start that way.
	sceneFirst := !there && len(spec.intrans) > 0 && r.Float64() < 0.12
	if sceneFirst {
		segs = append(segs, c.scenePhrase()...)
		segs = append(segs, plain(","))
	}
	plural := subj.plural()
	subjSegs := []seg{c.np(subj)}
	budget--
	// Clothing of a single person: "a man in a red shirt".
	if !subj.plural() && budget > 0 && r.Float64() < 0.6 {
		var worn []int
		for i, o := range im.objects {
			if o.parent == subj.objs[0] {
				worn = append(worn, i)
			}
		}
		if len(worn) > 0 {
			w := pick(r, worn)
			subjSegs = append(subjSegs, plain(pick(r, []string{"in", "wearing", "with"})), c.np(entity{objs: []int{w}, group: -1}))
			budget--
		}
	}
	// Conjunction: "a dog and a cat are …".
	var partner []entity // conjoined subjects share animacy: "a man and a dog", "a box and a bench"
	for _, e := range others {
		if c.animate(e) == c.animate(subj) && im.objects[e.objs[0]].cat != im.objects[subj.objs[0]].cat {
			partner = append(partner, e)
		}
	}
	conj := entity{group: -1}
	if !there && budget > 0 && len(partner) > 0 && r.Float64() < 0.3 {
		o := pick(r, partner)
		conj = o
		subjSegs = append(subjSegs, plain("and"), c.np(o))
		plural = true
		budget--
		var rest []entity
		for _, e := range others {
			if disjoint(e, o) {
				rest = append(rest, e)
			}
		}
		others = rest
	}
	if conj.objs != nil { // only verbs both subjects can do
		var common []string
		for _, v := range intrans {
			if slices.Contains(categories[im.objects[conj.objs[0]].cat].intrans, v) {
				common = append(common, v)
			}
		}
		intrans = common
	}
	aux := "is"
	if plural {
		aux = "are"
	}
	if there {
		segs = append(segs, seg{words: []string{"there"}, chain: 0, typ: typeNotVisual, head: -1}, plain(aux))
		segs = append(segs, subjSegs...)
	} else {
		segs = append(segs, subjSegs...)
		segs = append(segs, plain(aux))
	}
	// In a "There is" frame a copula predicate would read "There is a dog is near …": drop the aux.
	copula := func() []string {
		if there {
			return []string{"standing"}
		}
		return nil
	}
	hasObject := budget > 0 && len(others) > 0
	switch {
	case hasObject:
		o := pick(r, others)
		if v := c.transitive(subj, o); v != nil && conj.objs == nil && r.Float64() < 0.6 {
			segs = append(segs, plain(v...), c.np(o))
		} else {
			var verb []string
			if len(intrans) > 0 {
				verb = []string{pick(r, intrans)}
			} else {
				verb = copula()
			}
			segs = append(segs, plain(append(verb, c.spatial(subj, o)...)...), c.np(o))
		}
		budget--
		var rest []entity
		for _, e := range others {
			if disjoint(e, o) && (conj.objs == nil || disjoint(e, conj)) {
				rest = append(rest, e)
			}
		}
		if budget > 0 && len(rest) > 0 && r.Float64() < 0.8 {
			// A second place: "a man is holding a ball next to a tree".
			o2 := pick(r, rest)
			segs = append(segs, plain(c.spatial(subj, o2)...), c.np(o2))
		} else if !sceneFirst && r.Float64() < 0.3 {
			segs = append(segs, c.scenePhrase()...)
		}
	case c.animate(subj) && conj.objs == nil && r.Float64() < 0.2:
		segs = append(segs, plain("playing"), seg{words: []string{"a", pick(r, []string{"game", "match"})},
			chain: im.chainBase() + chainOtherOffset, typ: typeOther, head: -1})
		if !sceneFirst && r.Float64() < 0.4 {
			segs = append(segs, c.scenePhrase()...)
		}
	default:
		if len(intrans) > 0 {
			segs = append(segs, plain(pick(r, intrans)))
		} else if v := copula(); v != nil {
			segs = append(segs, plain(v...))
		}
		if !sceneFirst {
			segs = append(segs, c.scenePhrase()...)
		}
	}
	return append(segs, plain("."))
}

func isPunct(w string) bool { return w == "." || w == "," }

// finish renders segments into the raw caption, the Entities line, tokens and mentions.
func (c *captioner) finish(segs []seg) caption {
	var cp caption
	var raw, ent strings.Builder
	first := true
	for _, s := range segs {
		words := append([]string(nil), s.words...)
		if first && len(words) > 0 {
			words[0] = strings.ToUpper(words[0][:1]) + words[0][1:]
			first = false
		}
		for _, w := range words {
			if raw.Len() > 0 && !isPunct(w) {
				raw.WriteByte(' ')
			}
			raw.WriteString(w)
		}
		if ent.Len() > 0 {
			ent.WriteByte(' ')
		}
		if s.chain < 0 {
			ent.WriteString(strings.Join(words, " "))
		} else {
			cp.phrases++
			cp.chains = append(cp.chains, s.chain)
			fmt.Fprintf(&ent, "[/EN#%d/%s %s]", s.chain, s.typ, strings.Join(words, " "))
		}
		for j, w := range words {
			if isPunct(w) {
				continue
			}
			if j == s.head {
				m := Mention{WordIndex: len(cp.tokens), Word: strings.ToLower(w), Class: s.class,
					Category: categories[c.im.objects[s.objs[0]].cat].Name, Type: s.typ, Chain: s.chain,
					Objects: append([]int(nil), s.objs...)}
				for _, i := range s.objs {
					m.Boxes = append(m.Boxes, c.im.objects[i].box)
				}
				cp.mentions = append(cp.mentions, m)
			}
			cp.tokens = append(cp.tokens, strings.ToLower(w))
		}
	}
	cp.raw = raw.String()
	cp.entities = ent.String()
	return cp
}

// makeCaptions draws the image's captions, avoiding exact duplicates where a few retries allow.
func makeCaptions(r *rand.Rand, im *imageData) {
	c := &captioner{r: r, im: im}
	seen := map[string]bool{}
	for len(im.captions) < CaptionsPerImage {
		var cp caption
		for try := 0; try < 4; try++ {
			cp = c.finish(c.sentence())
			if !seen[cp.raw] {
				break
			}
		}
		seen[cp.raw] = true
		im.captions = append(im.captions, cp)
	}
	markUsed(im)
}

// markUsed records which chains the captions mention, for the Annotations XML.
func markUsed(im *imageData) {
	used := map[int]bool{}
	for _, cp := range im.captions {
		for _, ch := range cp.chains {
			used[ch] = true
		}
	}
	base := im.chainBase()
	im.sceneUsed = used[base+chainSceneOffset]
	im.otherUsed = used[base+chainOtherOffset]
	for i := range im.objects {
		im.objects[i].used = used[im.objects[i].chain]
	}
	for g := range im.groups {
		gr := &im.groups[g]
		gr.used = used[gr.chain]
		if gr.used {
			for _, i := range gr.members {
				im.objects[i].groupUsed = gr.chain
			}
		}
	}
}
