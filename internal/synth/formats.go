package synth

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
)

// appendSentences appends Sentences/<id>.txt: one Entities line per caption.
func appendSentences(dst []byte, im *imageData) []byte {
	for _, c := range im.captions {
		dst = append(dst, c.entities...)
		dst = append(dst, '\n')
	}
	return dst
}

// appendAnnotation appends Annotations/<id>.xml in the Flickr30k Entities layout (tabs, no XML
// declaration, no final newline, 1-based coordinates): one <object> per mentioned box with every
// chain it belongs to, then the scene and no-box chains.
func appendAnnotation(dst []byte, im *imageData) []byte {
	var b strings.Builder
	b.WriteString("<annotation>\n\t<filename>")
	b.WriteString(strconv.FormatInt(im.id, 10))
	b.WriteString(".jpg</filename>\n\t<size>\n\t\t<width>")
	b.WriteString(strconv.Itoa(im.w))
	b.WriteString("</width>\n\t\t<height>")
	b.WriteString(strconv.Itoa(im.h))
	b.WriteString("</height>\n\t\t<depth>3</depth>\n\t</size>\n")
	for _, o := range im.objects {
		names := objectChains(o)
		if len(names) == 0 {
			continue
		}
		b.WriteString("\t<object>\n")
		for _, n := range names {
			b.WriteString("\t\t<name>" + strconv.Itoa(n) + "</name>\n")
		}
		b.WriteString("\t\t<bndbox>\n")
		for i, tag := range []string{"xmin", "ymin", "xmax", "ymax"} {
			b.WriteString("\t\t\t<" + tag + ">" + strconv.Itoa(o.box[i]+1) + "</" + tag + ">\n")
		}
		b.WriteString("\t\t</bndbox>\n\t</object>\n")
	}
	base := im.chainBase()
	if im.sceneUsed {
		b.WriteString("\t<object>\n\t\t<name>" + strconv.Itoa(base+chainSceneOffset) +
			"</name>\n\t\t<scene>1</scene>\n\t\t<nobndbox>0</nobndbox>\n\t</object>\n")
	}
	if im.otherUsed {
		b.WriteString("\t<object>\n\t\t<name>" + strconv.Itoa(base+chainOtherOffset) +
			"</name>\n\t\t<scene>0</scene>\n\t\t<nobndbox>1</nobndbox>\n\t</object>\n")
	}
	b.WriteString("</annotation>")
	return append(dst, b.String()...)
}

// objectChains lists the mentioned chains an object's box belongs to, ascending.
func objectChains(o object) []int {
	var names []int
	if o.used {
		names = append(names, o.chain)
	}
	if o.groupUsed != 0 {
		names = append(names, o.groupUsed)
	}
	slices.Sort(names)
	return names
}

// Karpathy split format.
type karpathySentence struct {
	Tokens []string `json:"tokens"`
	Raw    string   `json:"raw"`
	ImgID  int      `json:"imgid"`
	SentID int      `json:"sentid"`
}

type karpathyImage struct {
	Filename  string             `json:"filename"`
	ImgID     int                `json:"imgid"`
	Split     string             `json:"split"`
	SentIDs   []int              `json:"sentids"`
	Sentences []karpathySentence `json:"sentences"`
}

type karpathyDataset struct {
	Images  []karpathyImage `json:"images"`
	Dataset string          `json:"dataset"`
}

func datasetJSON(ims []*imageData) ([]byte, error) {
	ds := karpathyDataset{Dataset: "synth", Images: make([]karpathyImage, len(ims))}
	for i, im := range ims {
		ki := karpathyImage{Filename: strconv.FormatInt(im.id, 10) + ".jpg", ImgID: im.index, Split: im.split}
		for j, c := range im.captions {
			sid := im.index*CaptionsPerImage + j
			ki.SentIDs = append(ki.SentIDs, sid)
			ki.Sentences = append(ki.Sentences, karpathySentence{Tokens: c.tokens, Raw: c.raw, ImgID: im.index, SentID: sid})
		}
		ds.Images[i] = ki
	}
	return json.Marshal(ds)
}

func splitIDsJSON(ims []*imageData) ([]byte, error) {
	out := map[string][]string{"train": {}, "val": {}, "test": {}}
	for _, im := range ims {
		out[im.split] = append(out[im.split], strconv.FormatInt(im.id, 10))
	}
	return json.Marshal(out) // map keys are sorted: deterministic
}

func classNamesTxt() []byte {
	return []byte(strings.Join(ClassNames(), "\n") + "\n")
}

// Truth is the generator's ground truth, written to truth.json.
type Truth struct {
	Seed       int64        `json:"seed"`
	FeatDim    int          `json:"feat_dim"`
	Boxes      int          `json:"boxes"`
	Categories []Category   `json:"categories"`
	Images     []TruthImage `json:"images"`
}

// TruthImage is one image's ground truth. Boxes are 0-based inclusive pixels [x1, y1, x2, y2].
type TruthImage struct {
	ImageID int64  `json:"image_id"`
	Index   int    `json:"index"`
	Split   string `json:"split"`
	Width   int    `json:"width"`
	Height  int    `json:"height"`
	Scene   string `json:"scene"`
	// SceneChain and OtherChain are the chains of the scene phrase and of the no-box "a game"
	// phrase (0 when no caption uses them).
	SceneChain int             `json:"scene_chain"`
	OtherChain int             `json:"other_chain"`
	Objects    []TruthObject   `json:"objects"`
	Groups     []TruthGroup    `json:"groups"`
	Proposals  []TruthProposal `json:"proposals"`
	Captions   []TruthCaption  `json:"captions"`
}

// TruthObject is one object: its category, attributes, box and chains.
type TruthObject struct {
	Category string `json:"category"`
	Type     string `json:"type"`
	Color    string `json:"color"`
	Size     string `json:"size"`
	Box      [4]int `json:"box"`
	// Parent is the index of the person wearing this clothing item, else -1.
	Parent int `json:"parent"`
	// Chain is the object's own chain id; Chains are the mentioned chains its box belongs to in
	// the Annotations XML (own chain and/or a group chain), empty when no caption mentions it.
	Chain  int   `json:"chain"`
	Chains []int `json:"chains"`
}

// TruthGroup is a set of same-category objects that captions may mention with a count.
type TruthGroup struct {
	Category string `json:"category"`
	Objects  []int  `json:"objects"`
	Chain    int    `json:"chain"`
}

// TruthProposal says where proposal k (the k-th box of the TSV row) came from: kind "tight",
// "jitter", "part" or "background", and its source object (-1 for background).
type TruthProposal struct {
	Kind   string `json:"kind"`
	Object int    `json:"object"`
}

// TruthCaption is one caption with its object mentions; word indices index Tokens.
type TruthCaption struct {
	SentID   int       `json:"sentid"`
	Raw      string    `json:"raw"`
	Tokens   []string  `json:"tokens"`
	Mentions []Mention `json:"mentions"`
}

func truthImage(im *imageData) TruthImage {
	t := TruthImage{ImageID: im.id, Index: im.index, Split: im.split, Width: im.w, Height: im.h,
		Scene: scenes[im.scene].name, Objects: []TruthObject{}, Groups: []TruthGroup{}}
	if im.sceneUsed {
		t.SceneChain = im.chainBase() + chainSceneOffset
	}
	if im.otherUsed {
		t.OtherChain = im.chainBase() + chainOtherOffset
	}
	for _, o := range im.objects {
		chains := objectChains(o)
		if chains == nil {
			chains = []int{}
		}
		t.Objects = append(t.Objects, TruthObject{Category: categories[o.cat].Name, Type: categories[o.cat].Type,
			Color: colourNames[o.colour], Size: sizeNames[o.size], Box: o.box, Parent: o.parent, Chain: o.chain, Chains: chains})
	}
	for _, g := range im.groups {
		t.Groups = append(t.Groups, TruthGroup{Category: categories[g.cat].Name, Objects: g.members, Chain: g.chain})
	}
	for _, p := range im.proposals {
		t.Proposals = append(t.Proposals, TruthProposal{Kind: kindNames[p.kind], Object: p.obj})
	}
	for j, c := range im.captions {
		ms := c.mentions
		if ms == nil {
			ms = []Mention{}
		}
		t.Captions = append(t.Captions, TruthCaption{SentID: im.index*CaptionsPerImage + j, Raw: c.raw, Tokens: c.tokens, Mentions: ms})
	}
	return t
}
