// Package captions is the captions stage: it turns a Karpathy-format caption file (and optionally
// Flickr30k Entities annotations) into the tables every later stage reads, on Beam (prism
// in-process by default; Flink, Dataflow or any portable runner through the usual Beam flags).
//
// # Per caption
//
// Karpathy's tokens are taken as they are (a record with only raw text is tokenised PTB-style and
// lower-cased: transforms/tokenize); captions are POS-tagged on their full token sequence
// (transforms/postag: prose's averaged-perceptron model applied exactly as nltk.pos_tag does, one
// tag per given token), then truncated to max_length. The noun mask is tag ∈ {NN, NNS, NNP, NNPS}
// and word not UNK. The vocabulary counts the words of the train and restval captions (a Beam
// combine, transforms/vocab), keeps those counted more than word_count_threshold, sorted, with ids
// from 1 (0 is pad / end), and UNK last.
//
// # Matching-model text
//
// The matching models (SCAN, POS-SCAN) read their own text, as the original's SCAN code does:
// the raw caption PTB-tokenised with its punctuation, lower-cased, not truncated (Karpathy's
// tokens when there is no raw text), tagged on that sequence; the matching vocabulary
// (match_vocab.json, vocab.Matching) counts these tokens over the train, restval and val
// captions (SCAN's vocab.py counts train and dev) and keeps those counted at least
// match_word_count_threshold times (default 4), after <pad> <start> <end> <unk>. Each row carries
// match_tokens, match_ids (<start>, ids, <end>) and match_noun_mask.
//
// # Outputs
//
// Their names, the tables' records and their readers are pipelines/artifacts/captionstable's,
// except stats.json.
//
//   - captions/part-SSSSS-of-NNNNN.parquet: Row, sharded by shard.Of(image_id, num_shards), rows
//     sorted by (image_id, caption_idx);
//   - vocab.json (vocab.Vocab), match_vocab.json (vocab.Matching), stats.json (Stats);
//   - cider_df.json: the CIDEr-D document frequencies of the train (and restval) references, as
//     prepro_ngrams.py builds them (all tokens, words without an id → UNK, <eos> appended; n = 1..4;
//     per-image document counts), in eval/caption's DocFreq format; absent when there are no train
//     images;
//   - grounding_refs/part-….parquet (GroundingRef) when entities are given;
//   - rejects/part-00000-of-00001.parquet: every rejected record with its source, record and reason.
//
// # Bad input
//
// Malformed JSON fails the stage with the file and byte offset; duplicate image ids fail it with the
// list of ids. A bad record (no tokens and no raw, empty caption, non-UTF-8 text, unknown split,
// undecodable image or sentence object; a malformed Sentences line or XML file, a phrase whose chain
// has no object in the XML) becomes a rejects row and the stage goes on; it fails at the end when
// the rejected fraction of caption records, or of entity phrase records, exceeds
// max_reject_fraction. stats.json reconciles read = written + rejected for both.
//
// # Grounding classes
//
// A phrase's head word is its last word tagged NN/NNS/NNP/NNPS (its last word when none is); its
// class is the class_names entry the head word's lemma matches (transforms/lemma: exact word, then
// singular candidates such as men → man, puppies → puppy, glasses → glass), "" when none.
package captions

import (
	"context"
	"fmt"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/groundcap/groundcap/internal/beamrun"
	"github.com/groundcap/groundcap/internal/blobio"
	"github.com/groundcap/groundcap/pipelines/artifacts/captionstable"
	"github.com/groundcap/groundcap/pipelines/engine"
	"github.com/groundcap/groundcap/pipelines/internal/declare"
	"github.com/groundcap/groundcap/transforms/parquetshard"
	"github.com/groundcap/groundcap/transforms/rejects"
)

// Input names of the stage.
const (
	InputDataset    = "dataset"
	InputEntities   = "entities"
	InputClassNames = "class_names"
	InputSplitIDs   = "split_ids"
)

// Stage returns the captions stage.
func Stage(p Params) (*engine.Stage, error) {
	inputs := []engine.Input{{Name: InputDataset, Ref: p.Dataset}}
	for _, in := range []engine.Input{{Name: InputEntities, Ref: p.Entities}, {Name: InputClassNames, Ref: p.ClassNames}, {Name: InputSplitIDs, Ref: p.SplitIDs}} {
		if in.Ref != "" {
			inputs = append(inputs, in)
		}
	}
	return declare.Stage(p, engine.Stage{
		Name:        "captions",
		Description: "tokenise, POS-tag, build the vocabulary, encode captions and grounding references (Beam)",
		// 2: Sentences lines missing for dataset captions are rejects rows, counted in
		// stats.json. 3: the matching model's text (match_tokens, match_ids, match_noun_mask
		// columns and match_vocab.json).
		Version:       "3",
		SchemaVersion: "2",
		Inputs:        inputs,
		Run: func(ctx context.Context, r *engine.Run) error {
			loc := Locations{Dataset: r.Input(InputDataset), Out: r.Out}
			if p.Entities != "" {
				loc.Entities = r.Input(InputEntities)
			}
			if p.ClassNames != "" {
				loc.ClassNames = r.Input(InputClassNames)
			}
			if p.SplitIDs != "" {
				loc.SplitIDs = r.Input(InputSplitIDs)
			}
			r.Logf("reading %s (%d shards)", loc.Dataset, p.NumShards)
			st, err := Run(ctx, loc, p)
			if err != nil {
				return err
			}
			r.Logf("%d images, %d captions (%d rejected), vocabulary %d words, UNK rate %.4f; matching vocabulary %d ids, <unk> rate %.4f",
				st.Images, st.Captions, st.Records.Rejected, st.VocabSize, st.UNKRate, st.Matching.VocabSize, st.Matching.UNKRate)
			return record(ctx, r, st)
		},
	})
}

// Run builds the pipeline, runs it with the runner Beam's flags select (beamx.Run: prism in-process
// by default), and checks the reject rules on the resulting stats.json. p must be valid.
func Run(ctx context.Context, loc Locations, p Params) (*Stats, error) {
	pl, s := beam.NewPipelineWithRoot()
	Build(s, loc, p)
	if err := beamrun.Run(ctx, pl, "captions", ""); err != nil {
		return nil, fmt.Errorf("captions: pipeline: %w", err)
	}
	st, err := ReadStats(ctx, blobio.Join(loc.Out, StatsFile))
	if err != nil {
		return nil, err
	}
	if err := Check(st, p.MaxRejectFraction); err != nil {
		return st, err
	}
	return st, nil
}

// Check applies the reconciliation and max_reject_fraction rules to a run's stats.
func Check(st *Stats, maxFraction float64) error {
	if err := rejects.Check("caption records", st.Records.Read, st.Records.Written, st.Records.Rejected, maxFraction); err != nil {
		return fmt.Errorf("captions: %w", err)
	}
	rej := st.Records.Rejected
	if g := st.Grounding; g != nil {
		if err := rejects.Check("entity phrase records", g.Records.Read, g.Records.Written, g.Records.Rejected, maxFraction); err != nil {
			return fmt.Errorf("captions: %w", err)
		}
		rej += g.Records.Rejected
	}
	if rej != st.RejectsRows {
		return fmt.Errorf("captions: rejects table has %d rows, the counts say %d", st.RejectsRows, rej)
	}
	return nil
}

// record reports row counts and the summary to the manifest.
func record(ctx context.Context, r *engine.Run, st *Stats) error {
	tables := []string{captionstable.CaptionsTable, rejects.Table}
	if st.Grounding != nil {
		tables = append(tables, captionstable.GroundingTable)
	}
	for _, t := range tables {
		objs, err := blobio.List(ctx, r.Output(t))
		if err != nil {
			return err
		}
		for _, o := range objs {
			n, err := parquetshard.NumRows(ctx, r.Output(t+"/"+o.Name))
			if err != nil {
				return err
			}
			r.SetRows(t+"/"+o.Name, n)
		}
	}
	info := map[string]any{"images": st.Images, "captions": st.Captions, "splits": st.Splits, "vocab_size": st.VocabSize,
		"match_vocab_size": st.Matching.VocabSize,
		"unk_rate":         st.UNKRate, "rejected": st.Records.Rejected, "num_shards": st.NumShards}
	if st.Grounding != nil {
		info["grounding_phrases"] = st.Grounding.Records.Written
	}
	r.SetInfo("captions", info)
	return nil
}
