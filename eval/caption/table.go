package caption

import "hash/maphash"

// idSlot is one slot of an [idTable]: a key and its id+1 (0 marks an empty slot), side by side so
// that a probe touches one cache line.
type idSlot struct {
	key uint64
	val int32
}

// idTable is an open-addressing hash table from uint64 keys to dense int32 ids (linear probing,
// Fibonacci hashing, load ≤ 1/2). It replaces map[uint64]int32 on the n-gram interning hot path,
// where it is about twice as fast.
type idTable struct {
	slots []idSlot
	shift uint
	n     int32
}

// newIDTable returns a table that holds hint keys without growing.
func newIDTable(hint int) *idTable {
	t := &idTable{}
	t.alloc(tableSize(hint))
	return t
}

// tableSize is the power of two of at least 16 slots that keeps n keys at load ≤ 1/2.
func tableSize(n int) int {
	size := 16
	for size < 2*n {
		size <<= 1
	}
	return size
}

func (t *idTable) alloc(size int) {
	t.slots = make([]idSlot, size)
	adviseHugePages(t.slots)
	bits := uint(0)
	for 1<<bits < size {
		bits++
	}
	t.shift = 64 - bits
}

// reset empties t, keeping its slots.
func (t *idTable) reset() {
	clear(t.slots)
	t.n = 0
}

// intern returns the id of key, giving it the next id if new.
func (t *idTable) intern(key uint64) int32 {
	mask := uint64(len(t.slots) - 1)
	i := (key * 0x9E3779B97F4A7C15) >> t.shift
	for {
		s := &t.slots[i]
		if s.val == 0 {
			break
		}
		if s.key == key {
			return s.val - 1
		}
		i = (i + 1) & mask
	}
	if int(t.n+1)*2 > len(t.slots) {
		t.grow()
		return t.intern(key)
	}
	t.n++
	t.slots[i] = idSlot{key, t.n}
	return t.n - 1
}

// lookup returns the id of key and whether it is present.
func (t *idTable) lookup(key uint64) (int32, bool) {
	mask := uint64(len(t.slots) - 1)
	i := (key * 0x9E3779B97F4A7C15) >> t.shift
	for {
		s := &t.slots[i]
		if s.val == 0 {
			return 0, false
		}
		if s.key == key {
			return s.val - 1, true
		}
		i = (i + 1) & mask
	}
}

func (t *idTable) grow() {
	old := t.slots
	t.alloc(2 * len(old))
	mask := uint64(len(t.slots) - 1)
	for _, s := range old {
		if s.val == 0 {
			continue
		}
		i := (s.key * 0x9E3779B97F4A7C15) >> t.shift
		for t.slots[i].val != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = s
	}
}

// wordSlot is one slot of a [wordTable]: the word's hash (low bits) and id+1 (0: empty).
type wordSlot struct {
	hash uint32
	id   int32
}

// wordTable interns words (strings) as dense int32 ids in order of first appearance: open
// addressing over maphash hashes, load ≤ 1/2. The words themselves are kept as given (substrings
// of the captions), so interning allocates nothing per token.
type wordTable struct {
	seed  maphash.Seed
	slots []wordSlot
	words []string
}

func newWordTable(hint int) *wordTable {
	return &wordTable{seed: maphash.MakeSeed(), slots: make([]wordSlot, tableSize(hint)), words: make([]string, 0, hint)}
}

// id returns the id of w, adding it if new.
func (t *wordTable) id(w string) int32 {
	h := maphash.String(t.seed, w)
	mask := uint64(len(t.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := t.slots[i]
		if s.id == 0 {
			if 2*(len(t.words)+1) > len(t.slots) {
				t.grow()
				return t.id(w)
			}
			id := int32(len(t.words))
			t.words = append(t.words, w)
			t.slots[i] = wordSlot{uint32(h), id + 1}
			return id
		}
		if s.hash == uint32(h) && t.words[s.id-1] == w {
			return s.id - 1
		}
	}
}

func (t *wordTable) grow() {
	t.slots = make([]wordSlot, 2*len(t.slots))
	mask := uint64(len(t.slots) - 1)
	for id, w := range t.words {
		i := maphash.String(t.seed, w) & mask
		for t.slots[i].id != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = wordSlot{uint32(maphash.String(t.seed, w)), int32(id) + 1}
	}
}
