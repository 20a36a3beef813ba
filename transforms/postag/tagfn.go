package postag

import (
	"context"
	"fmt"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
)

func init() {
	register.DoFn4x1[context.Context, string, []string, func(string, []string), error](&TagFn{})
	register.Emitter2[string, []string]()
}

// TagFn tags token sequences: it takes KV<key string, tokens []string> and emits KV<key, tags
// []string> with one tag per token. The model is loaded once per worker process in Setup.
type TagFn struct {
	tagger *Tagger
}

// Setup loads the shared model.
func (f *TagFn) Setup() error {
	m, err := Load()
	if err != nil {
		return err
	}
	f.tagger = New(m)
	return nil
}

// ProcessElement tags one token sequence.
func (f *TagFn) ProcessElement(_ context.Context, key string, tokens []string, emit func(string, []string)) error {
	if f.tagger == nil {
		return fmt.Errorf("postag: TagFn used before Setup")
	}
	emit(key, f.tagger.Tag(tokens, nil))
	return nil
}

// Tag tags a PCollection<KV<string, []string>> of token sequences, returning
// PCollection<KV<string, []string>> of their tags.
func Tag(s beam.Scope, tokens beam.PCollection) beam.PCollection {
	s = s.Scope("postag.Tag")
	return beam.ParDo(s, &TagFn{}, tokens)
}
