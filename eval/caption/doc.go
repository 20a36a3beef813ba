// Package caption computes the caption metrics of coco-caption (pycocoevalcap) exactly: BLEU-1..4,
// ROUGE-L and CIDEr-D, together with the PTB tokenisation that coco-caption applies to raw captions,
// a fast CIDEr-D scorer for self-critical (SCST) rewards built from a precomputed document-frequency
// table, and optional METEOR and SPICE through their Java jars.
//
// # Exactness
//
// On the same tokenised inputs, [Score] reproduces pycocoevalcap's Bleu (option 'closest', tiny =
// 1e-15, small = 1e-9, corpus score from summed counts), Rouge (β = 1.2, literal split on " ", maxima of
// precision and recall taken independently) and CiderD (n = 1..4, σ = 6, document frequencies over the
// evaluated references, the number of bigrams as 'length', ×10) to within floating-point summation
// order (relative differences below 1e-12 in the tests). Hypotheses and references are split on
// whitespace as Python's str.split() does for BLEU and CIDEr-D, and on the single space character for
// ROUGE-L, as the reference code does.
//
// METEOR and SPICE are never approximated: they are computed only by running the official jars
// ([External]) and are otherwise reported as not computed.
//
// # Tokenisation
//
// [Tokenize] is a Go re-implementation of what coco-caption's PTBTokenizer wrapper does (Stanford
// PTBTokenizer -preserveLines -lowerCase, then removal of the punctuation tokens in [Punctuation]).
// See its doc comment for the known differences from CoreNLP.
//
// # Goroutine safety
//
// [Score] may be called concurrently. A [Scorer] is immutable after [NewScorer] and safe for
// concurrent use; each call uses its own scratch space.
package caption
