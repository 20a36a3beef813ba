package caption

// idTable is an open-addressing hash table from uint64 keys to dense int32 ids (linear probing,
// Fibonacci hashing, load ≤ 1/2). It replaces map[uint64]int32 on the n-gram interning hot path,
// where it is about twice as fast.
type idTable struct {
	keys  []uint64
	vals  []int32 // id+1; 0 marks an empty slot
	shift uint
	n     int32
}

func newIDTable(hint int) *idTable {
	size := 16
	for size < 2*hint {
		size <<= 1
	}
	t := &idTable{}
	t.alloc(size)
	return t
}

func (t *idTable) alloc(size int) {
	t.keys = make([]uint64, size)
	t.vals = make([]int32, size)
	bits := uint(0)
	for 1<<bits < size {
		bits++
	}
	t.shift = 64 - bits
}

// intern returns the id of key, giving it the next id if new.
func (t *idTable) intern(key uint64) int32 {
	mask := uint64(len(t.keys) - 1)
	i := (key * 0x9E3779B97F4A7C15) >> t.shift
	for {
		v := t.vals[i]
		if v == 0 {
			break
		}
		if t.keys[i] == key {
			return v - 1
		}
		i = (i + 1) & mask
	}
	if int(t.n+1)*2 > len(t.keys) {
		t.grow()
		return t.intern(key)
	}
	t.keys[i] = key
	t.n++
	t.vals[i] = t.n
	return t.n - 1
}

// lookup returns the id of key and whether it is present.
func (t *idTable) lookup(key uint64) (int32, bool) {
	mask := uint64(len(t.keys) - 1)
	i := (key * 0x9E3779B97F4A7C15) >> t.shift
	for {
		v := t.vals[i]
		if v == 0 {
			return 0, false
		}
		if t.keys[i] == key {
			return v - 1, true
		}
		i = (i + 1) & mask
	}
}

func (t *idTable) grow() {
	oldK, oldV := t.keys, t.vals
	t.alloc(2 * len(oldK))
	mask := uint64(len(t.keys) - 1)
	for j, v := range oldV {
		if v == 0 {
			continue
		}
		k := oldK[j]
		i := (k * 0x9E3779B97F4A7C15) >> t.shift
		for t.vals[i] != 0 {
			i = (i + 1) & mask
		}
		t.keys[i], t.vals[i] = k, v
	}
}
