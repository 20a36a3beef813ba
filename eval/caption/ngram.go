package caption

// maxN is the largest n-gram order of BLEU and CIDEr-D.
const maxN = 4

// ngramIndex gives every distinct n-gram (n = 1..4) of a corpus a dense id per order. A unigram's
// id is its word id; an n-gram's id is keyed by (id of its (n-1)-gram prefix, last word id), so ids
// are exact for any vocabulary size.
type ngramIndex struct {
	words map[string]int32
	next  [maxN - 1]map[uint64]int32 // orders 2..4
	size  [maxN]int32                // number of ids of each order
}

func newNgramIndex() *ngramIndex {
	x := &ngramIndex{words: make(map[string]int32)}
	for i := range x.next {
		x.next[i] = make(map[uint64]int32)
	}
	return x
}

// word returns the id of w, adding it if new.
func (x *ngramIndex) word(w string) int32 {
	id, ok := x.words[w]
	if !ok {
		id = x.size[0]
		x.words[w] = id
		x.size[0]++
	}
	return id
}

// sentence is one tokenised sentence as n-gram ids, in order of occurrence.
type sentence struct {
	words int            // number of whitespace-separated tokens
	grams [maxN][]int32  // grams[n-1][i] = id of the n-gram starting at token i
	rouge []int32        // word ids of the literal split on " " (ROUGE-L)
}

// add interns the n-grams of tokens; rougeTokens are the tokens ROUGE-L sees (nil: the same).
func (x *ngramIndex) add(tokens, rougeTokens []string) sentence {
	var s sentence
	s.words = len(tokens)
	if len(tokens) == 0 {
		s.rouge = x.ids(rougeTokens)
		return s
	}
	buf := make([]int32, 0, maxN*len(tokens))
	for _, t := range tokens {
		buf = append(buf, x.word(t))
	}
	s.grams[0] = buf[:len(tokens):len(tokens)]
	prev := s.grams[0]
	for n := 2; n <= maxN && n <= len(tokens); n++ {
		m := x.next[n-2]
		cnt := len(tokens) - n + 1
		start := len(buf)
		for i := 0; i < cnt; i++ {
			key := uint64(uint32(prev[i]))<<32 | uint64(uint32(s.grams[0][i+n-1]))
			id, ok := m[key]
			if !ok {
				id = x.size[n-1]
				m[key] = id
				x.size[n-1]++
			}
			buf = append(buf, id)
		}
		s.grams[n-1] = buf[start:len(buf):len(buf)]
		prev = s.grams[n-1]
	}
	if rougeTokens == nil {
		s.rouge = s.grams[0]
	} else {
		s.rouge = x.ids(rougeTokens)
	}
	return s
}

func (x *ngramIndex) ids(tokens []string) []int32 {
	out := make([]int32, len(tokens))
	for i, t := range tokens {
		out[i] = x.word(t)
	}
	return out
}
