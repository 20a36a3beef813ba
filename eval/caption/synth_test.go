package caption

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// syntheticCorpus returns nImages images with nRefs references each and one prediction, drawn from
// a Zipf-like vocabulary with a fixed seed.
func syntheticCorpus(nImages, nRefs int, seed uint64) (map[int64][]string, map[int64]string) {
	rng := rand.New(rand.NewPCG(seed, seed))
	zipf := rand.NewZipf(rng, 1.1, 1, 9999)
	sent := func() string {
		n := 8 + rng.IntN(9)
		w := make([]string, n)
		for i := range w {
			w[i] = fmt.Sprintf("w%d", zipf.Uint64())
		}
		return strings.Join(w, " ")
	}
	refs := make(map[int64][]string, nImages)
	preds := make(map[int64]string, nImages)
	for i := range nImages {
		id := int64(1000 + i)
		rs := make([]string, nRefs)
		for j := range rs {
			rs[j] = sent()
		}
		refs[id] = rs
		preds[id] = sent()
	}
	return refs, preds
}
