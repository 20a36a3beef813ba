package caption

import (
	"slices"
	"strings"
	"sync"
)

// maxN is the largest n-gram order of BLEU and CIDEr-D.
const maxN = 4

// ngramIndex gives every distinct n-gram (n = 1..4) of a corpus an id per order. A unigram's id is
// its word id; an n-gram's id is keyed by (id of its (n-1)-gram prefix, last word id), so ids are
// exact for any vocabulary size. Words are interned as sentences are added ([ngramIndex.addText]);
// n-grams afterwards, one order after the other ([ngramIndex.internNgrams]).
type ngramIndex struct {
	words *wordTable
	size  [maxN]int32 // ids of each order are < size
	arena []int32     // backing store of sentences' n-gram ids
	toks  []string    // scratch: the current sentence's tokens
}

// arenaChunk is the number of int32 n-gram ids allocated at once for sentences.
const arenaChunk = 1 << 16

// newNgramIndex returns an empty index for about words distinct words.
func newNgramIndex(words int) *ngramIndex {
	return &ngramIndex{words: newWordTable(max(64, words))}
}

// sentence is one tokenised sentence as n-gram ids, in order of occurrence.
type sentence struct {
	words int           // number of whitespace-separated tokens
	grams [maxN][]int32 // grams[n-1][i] = id of the n-gram starting at token i
	rouge []int32       // word ids of the literal split on " " (ROUGE-L)
}

// pySpaceASCII marks the ASCII bytes Python's str.split() splits on.
var pySpaceASCII = [128]bool{' ': true, '\t': true, '\n': true, '\v': true, '\f': true, '\r': true, 0x1c: true, 0x1d: true, 0x1e: true, 0x1f: true}

// splitPy appends the tokens of s as Python's str.split() gives them to dst (substrings of s, no
// copies) and reports whether s.split(" ") gives the same list (single spaces between tokens,
// none at either end; ROUGE-L splits that way).
func splitPy(s string, dst []string) ([]string, bool) {
	simple := len(s) > 0
	start := -1
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 {
			f := pyFields(s)
			return append(dst, f...), rougeSplit(s, f) == nil
		}
		if pySpaceASCII[c] {
			if c != ' ' || start < 0 {
				simple = false
			}
			if start >= 0 {
				dst = append(dst, s[start:i])
				start = -1
			}
		} else if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		dst = append(dst, s[start:])
	} else if len(s) > 0 {
		simple = false
	}
	return dst, simple
}

// addText splits s on white space as Python's str.split() does and interns its words; ROUGE-L's
// tokens are those of the literal split on " ". The n-gram ids of orders 2..4 are filled in by
// [ngramIndex.internNgrams].
func (x *ngramIndex) addText(s string) sentence {
	toks, simple := splitPy(s, x.toks[:0])
	x.toks = toks
	var s2 sentence
	s2.words = len(toks)
	need := 0
	for n := 1; n <= maxN; n++ {
		need += max(0, len(toks)-n+1)
	}
	if cap(x.arena)-len(x.arena) < need {
		x.arena = make([]int32, 0, max(arenaChunk, need))
	}
	buf := x.arena[len(x.arena) : len(x.arena)+need : len(x.arena)+need]
	x.arena = x.arena[:len(x.arena)+need]
	for i, t := range toks {
		buf[i] = x.words.id(t)
	}
	x.size[0] = int32(len(x.words.words))
	off := 0
	for n := 1; n <= maxN; n++ {
		k := max(0, len(toks)-n+1)
		s2.grams[n-1] = buf[off : off+k : off+k]
		off += k
	}
	if simple {
		s2.rouge = s2.grams[0]
	} else {
		parts := strings.Split(s, " ")
		s2.rouge = make([]int32, len(parts))
		for i, p := range parts {
			s2.rouge[i] = x.words.id(p)
		}
		x.size[0] = int32(len(x.words.words))
	}
	return s2
}

// internNgrams gives the n-grams of orders 2..4 of every sentence of groups their ids, one order
// after the other. Each of the workers owns the keys of one hash partition (its own table, so
// none waits for another) and numbers them id = local·workers + partition: ids are exact, and
// the scores do not depend on their values.
func (x *ngramIndex) internNgrams(groups [][]sentence, workers int) {
	if workers < 1 {
		workers = 1
	}
	occ := 0
	for _, g := range groups {
		for i := range g {
			occ += len(g[i].grams[1])
		}
	}
	// No order has more n-grams than occ, so a table sized for a worker's share of occ does not
	// grow, and each worker reuses its table, cleared, for the next order: the tables are most of
	// the memory scoring touches, and every fresh page costs a fault.
	tables := make([]*idTable, workers)
	for n := 2; n <= maxN; n++ {
		var sizes = make([]int32, workers)
		run := func(p int) {
			t := tables[p]
			if t == nil {
				t = newIDTable(occ / workers)
				tables[p] = t
			} else {
				t.reset()
			}
			for _, g := range groups {
				for i := range g {
					s := &g[i]
					prev, words, out := s.grams[n-2], s.grams[0], s.grams[n-1]
					for k := range out {
						key := uint64(uint32(prev[k]))<<32 | uint64(uint32(words[k+n-1]))
						if workers > 1 && int(partitionHash(key)%uint64(workers)) != p {
							continue
						}
						out[k] = t.intern(key)*int32(workers) + int32(p)
					}
				}
			}
			sizes[p] = t.n * int32(workers)
		}
		if workers == 1 {
			run(0)
		} else {
			var wg sync.WaitGroup
			for p := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					run(p)
				}()
			}
			wg.Wait()
		}
		x.size[n-1] = slices.Max(sizes)
	}
}

// partitionHash mixes key (SplitMix64's finaliser) for choosing a partition: independent of the
// table's own Fibonacci hash, so a partition's keys still fill its whole table.
func partitionHash(key uint64) uint64 {
	key ^= key >> 30
	key *= 0xBF58476D1CE4E5B9
	key ^= key >> 27
	key *= 0x94D049BB133111EB
	return key ^ key>>31
}
