package postag

import (
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
)

func init() {
	register.Function2x0(splitFn)
	register.Function3x0(joinFn)
	register.Emitter1[string]()
}

func splitFn(s string, emit func(string, []string)) {
	k, v, _ := strings.Cut(s, "|")
	emit(k, strings.Fields(v))
}

func joinFn(k string, tags []string, emit func(string)) { emit(k + "|" + strings.Join(tags, " ")) }
