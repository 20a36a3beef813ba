// Package tokenize splits raw captions into lower-case PTB-style tokens without punctuation, the
// form of the `tokens` field of Karpathy's caption files, for records that carry only `raw`.
package tokenize

import (
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/groundcap/groundcap/eval/caption"
)

func init() {
	register.Function3x0(tokenizeKV)
	register.Emitter2[string, []string]()
}

// Caption tokenises one raw caption: the PTB rules coco-caption applies (eval/caption.Tokenize:
// contractions and punctuation split off, lower-cased), then the punctuation tokens removed. It
// returns nil for a caption without words.
func Caption(raw string) []string {
	toks := caption.Tokenize(raw)
	if len(toks) == 0 {
		return nil
	}
	return toks
}

func tokenizeKV(key, raw string, emit func(string, []string)) { emit(key, Caption(raw)) }

// Tokenize maps a PCollection<KV<string, string>> of raw captions to PCollection<KV<string,
// []string>> of their tokens.
func Tokenize(s beam.Scope, raw beam.PCollection) beam.PCollection {
	s = s.Scope("tokenize.Tokenize")
	return beam.ParDo(s, tokenizeKV, raw)
}
