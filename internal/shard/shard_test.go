package shard

import "testing"

func TestOfStableAndBalanced(t *testing.T) {
	// Expected values computed by hand from the FNV-1a definition for id 0: the offset basis
	// multiplied by the prime 8 times after xoring zero bytes.
	h := uint64(14695981039346656037)
	for i := 0; i < 8; i++ {
		h *= 1099511628211
	}
	if got, want := Of(0, 1000), int(h%1000); got != want {
		t.Fatalf("Of(0, 1000) = %d, want %d", got, want)
	}
	const n, ids = 8, 80000
	counts := make([]int, n)
	for id := int64(0); id < ids; id++ {
		s := Of(1000000000+id*7919, n)
		if s < 0 || s >= n {
			t.Fatalf("shard %d out of range", s)
		}
		counts[s]++
	}
	for i, c := range counts {
		if c < ids/n*9/10 || c > ids/n*11/10 {
			t.Errorf("shard %d holds %d of %d ids: unbalanced", i, c, ids)
		}
	}
	if Of(-5, 3) < 0 {
		t.Fatal("negative id gives negative shard")
	}
}

func TestName(t *testing.T) {
	if got := Name("captions", 3, 8); got != "captions/part-00003-of-00008.parquet" {
		t.Fatal(got)
	}
}
