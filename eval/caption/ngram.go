package caption

// maxN is the largest n-gram order of BLEU and CIDEr-D.
const maxN = 4

// ngramIndex gives every distinct n-gram (n = 1..4) of a corpus a dense id per order. A unigram's
// id is its word id; an n-gram's id is keyed by (id of its (n-1)-gram prefix, last word id), so ids
// are exact for any vocabulary size.
type ngramIndex struct {
	words map[string]int32
	next  [maxN - 1]*idTable // orders 2..4
	size  [maxN]int32        // number of ids of each order
	arena []int32            // backing store of sentences' n-gram ids
}

// arenaChunk is the number of int32 n-gram ids allocated at once for sentences.
const arenaChunk = 1 << 16

// newNgramIndex returns an empty index sized for about hint tokens.
func newNgramIndex(hint int) *ngramIndex {
	x := &ngramIndex{words: make(map[string]int32, hint/8)}
	for i := range x.next {
		x.next[i] = newIDTable(hint / 2)
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
	words int           // number of whitespace-separated tokens
	grams [maxN][]int32 // grams[n-1][i] = id of the n-gram starting at token i
	rouge []int32       // word ids of the literal split on " " (ROUGE-L)
}

// add interns the n-grams of tokens; rougeTokens are the tokens ROUGE-L sees (nil: the same).
func (x *ngramIndex) add(tokens, rougeTokens []string) sentence {
	var s sentence
	s.words = len(tokens)
	if len(tokens) == 0 {
		s.rouge = x.ids(rougeTokens)
		return s
	}
	need := maxN * len(tokens)
	if cap(x.arena)-len(x.arena) < need {
		x.arena = make([]int32, 0, max(arenaChunk, need))
	}
	buf := x.arena[len(x.arena) : len(x.arena) : len(x.arena)+need]
	x.arena = x.arena[:len(x.arena)+need]
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
			buf = append(buf, m.intern(key))
		}
		s.grams[n-1] = buf[start:len(buf):len(buf)]
		x.size[n-1] = m.n
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
