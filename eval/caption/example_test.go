package caption_test

import (
	"fmt"

	"github.com/groundcap/groundcap/eval/caption"
)

func ExampleScore() {
	refs := map[int64][]string{
		1: {"A man riding a horse.", "A person rides a brown horse on a beach."},
		2: {"Two dogs play in the snow.", "Dogs playing in snow."},
	}
	preds := map[int64]string{1: "A man rides a horse.", 2: "Two dogs playing in the snow."}
	res, err := caption.Score(refs, preds, caption.Options{})
	if err != nil {
		panic(err)
	}
	fmt.Printf("Bleu_1 %.3f  ROUGE_L %.3f  METEOR %s\n", res.Corpus.Bleu[0], res.Corpus.RougeL, res.METEOR.Reason)
	// Hand check: every hypothesis word is in a reference and the closest reference lengths equal the
	// hypothesis lengths, so Bleu_1 = 11/11; ROUGE-L is (0.8 + 2.44·(5/6)/(1 + 1.44·5/6))/2 = 0.862.

	// Output: Bleu_1 1.000  ROUGE_L 0.862  METEOR not computed (no jar given)
}
