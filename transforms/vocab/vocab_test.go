package vocab

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
)

func TestMain(m *testing.M) { ptest.Main(m) }

func init() {
	register.Function2x0(fieldsFn)
	register.Function2x0(formatFn)
	register.Emitter1[[]string]()
	register.Emitter1[string]()
}

func fieldsFn(s string, emit func([]string)) { emit(strings.Fields(s)) }

func formatFn(c Counts, emit func(string)) {
	v := Build(c, 1)
	b, _ := json.Marshal(v)
	emit(string(b))
}

func TestCountPipeline(t *testing.T) {
	p, s := beam.NewPipelineWithRoot()
	toks := beam.ParDo(s, fieldsFn, beam.Create(s, "a dog", "a cat", "a dog runs"))
	out := beam.ParDo(s, formatFn, Count(s, toks))
	// a:3 dog:2 cat:1 runs:1, threshold 1: keep a, dog (sorted), then UNK.
	passert.Equals(s, out, `{"ix_to_word":{"1":"a","2":"dog","3":"UNK"},"vocab_size":3,"unk":"UNK","unk_id":3,"pad":0,"word_count_threshold":1,"counts":{"a":3,"cat":1,"dog":2,"runs":1}}`)
	ptest.RunAndValidate(t, p)
}

func TestSumPipelineEmpty(t *testing.T) {
	p, s := beam.NewPipelineWithRoot()
	out := beam.ParDo(s, formatFn, Sum(s, beam.CreateList(s, []Counts{})))
	passert.Equals(s, out, `{"ix_to_word":{},"vocab_size":0,"unk":"UNK","unk_id":0,"pad":0,"word_count_threshold":1,"counts":{}}`)
	ptest.RunAndValidate(t, p)
}

func TestBuildEncode(t *testing.T) {
	c := Counts{}
	for w, n := range map[string]int64{"the": 10, "dog": 6, "cat": 5, "zebra": 1} {
		c.Add(w, n)
	}
	v := Build(c, 5) // prepro_labels keeps count > threshold
	if want := []string{"", "dog", "the", "UNK"}; !reflect.DeepEqual(v.IxToWord, want) {
		t.Fatalf("IxToWord = %q, want %q", v.IxToWord, want)
	}
	got := v.Encode([]string{"the", "cat", "dog", "never"}, nil)
	if want := []int32{2, 3, 1, 3}; !reflect.DeepEqual(got, want) {
		t.Errorf("Encode = %v, want %v", got, want)
	}
	if v.Known("cat") || !v.Known("dog") || v.Known(UNK) {
		t.Errorf("Known wrong")
	}
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var back Vocab
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.IxToWord, v.IxToWord) || back.UNKID != v.UNKID || back.ID("cat") != 3 {
		t.Errorf("round trip: %+v", back)
	}
	// No rare word: no UNK entry, unknown words encode as 0.
	v2 := Build(Counts{Words: map[string]int64{"a": 9}}, 5)
	if v2.Size() != 1 || v2.UNKID != 0 || v2.ID("b") != 0 {
		t.Errorf("v2 = %+v", v2)
	}
}

func TestUnmarshalBad(t *testing.T) {
	for i, in := range []string{
		`{"ix_to_word":{"1":"a"},"vocab_size":2}`,                    // 0: size mismatch
		`{"ix_to_word":{"0":"a"},"vocab_size":1}`,                    // 1: 0 is the pad id
		`{"ix_to_word":{"1":"a","2":"b"},"vocab_size":2,"unk_id":1}`, // 2: unk_id names a word
	} {
		var v Vocab
		if err := json.Unmarshal([]byte(in), &v); err == nil {
			t.Errorf("%d: no error", i)
		}
	}
}
