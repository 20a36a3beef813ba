package tokenize

import (
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
)

func TestMain(m *testing.M) { ptest.Main(m) }

func init() {
	register.Function2x0(splitKV)
	register.Function3x0(joinKV)
	register.Emitter1[string]()
}

func splitKV(s string, emit func(string, string)) {
	k, v, _ := strings.Cut(s, "|")
	emit(k, v)
}

func joinKV(k string, toks []string, emit func(string)) { emit(k + "|" + strings.Join(toks, " ")) }

func TestCaption(t *testing.T) {
	for i, tc := range []struct{ raw, want string }{
		{"A man's dog, running.", "a man 's dog running"},                                              // 0: PTB splits 's; punctuation dropped
		{"Two kids don't play in the (red) sand!", "two kids do n't play in the -lrb- red -rrb- sand"}, // 1: coco-caption keeps -lrb-
		{" ... ", ""}, // 2: no words
	} {
		if got := strings.Join(Caption(tc.raw), " "); got != tc.want {
			t.Errorf("%d: Caption(%q) = %q, want %q", i, tc.raw, got, tc.want)
		}
	}
}

func TestTokenize(t *testing.T) {
	p, s := beam.NewPipelineWithRoot()
	out := beam.ParDo(s, joinKV, Tokenize(s, beam.ParDo(s, splitKV, beam.Create(s, "a|A Dog.", "b|Two men."))))
	passert.Equals(s, out, "a|a dog", "b|two men")
	ptest.RunAndValidate(t, p)
}
