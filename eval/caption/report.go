package caption

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
)

type metricsJSON struct {
	ImageID *int64  `json:"image_id,omitempty"`
	Bleu1   float64 `json:"Bleu_1"`
	Bleu2   float64 `json:"Bleu_2"`
	Bleu3   float64 `json:"Bleu_3"`
	Bleu4   float64 `json:"Bleu_4"`
	RougeL  float64 `json:"ROUGE_L"`
	CIDEr   float64 `json:"CIDEr"`
	METEOR  any     `json:"METEOR"`
	SPICE   any     `json:"SPICE"`
}

func (r *Result) metricsJSON(m Metrics, id *int64) metricsJSON {
	j := metricsJSON{ImageID: id, Bleu1: m.Bleu[0], Bleu2: m.Bleu[1], Bleu3: m.Bleu[2], Bleu4: m.Bleu[3],
		RougeL: m.RougeL, CIDEr: m.CIDErD, METEOR: r.METEOR.Reason, SPICE: r.SPICE.Reason}
	if r.METEOR.Computed {
		j.METEOR = m.METEOR
	}
	if r.SPICE.Computed {
		j.SPICE = m.SPICE
	}
	return j
}

// MarshalJSON writes the result with coco-caption's metric names:
//
//	{"corpus": {"Bleu_1": …, "Bleu_2": …, "Bleu_3": …, "Bleu_4": …, "ROUGE_L": …, "CIDEr": …,
//	            "METEOR": value or "not computed (…)", "SPICE": …},
//	 "num_images": N, "num_missing": M, "per_image": [{"image_id": …, "Bleu_1": …, …}, …]}
//
// per_image is left out when PerImage is nil.
func (r *Result) MarshalJSON() ([]byte, error) {
	var per []metricsJSON
	if r.PerImage != nil {
		per = make([]metricsJSON, len(r.PerImage))
	}
	for i := range r.PerImage {
		per[i] = r.metricsJSON(r.PerImage[i].Metrics, &r.PerImage[i].ImageID)
	}
	return json.Marshal(struct {
		Corpus     metricsJSON   `json:"corpus"`
		NumImages  int           `json:"num_images"`
		NumMissing int           `json:"num_missing"`
		PerImage   []metricsJSON `json:"per_image,omitempty"`
	}{r.metricsJSON(r.Corpus, nil), r.NumImages, r.NumMissing, per})
}

// WriteTable writes the corpus scores as a readable table.
func (r *Result) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "metric\tscore\n")
	for k, v := range r.Corpus.Bleu {
		fmt.Fprintf(tw, "Bleu_%d\t%.4f\n", k+1, v)
	}
	fmt.Fprintf(tw, "ROUGE_L\t%.4f\n", r.Corpus.RougeL)
	fmt.Fprintf(tw, "CIDEr\t%.4f\n", r.Corpus.CIDErD)
	for _, e := range []struct {
		name string
		st   ExternalStatus
		v    float64
	}{{"METEOR", r.METEOR, r.Corpus.METEOR}, {"SPICE", r.SPICE, r.Corpus.SPICE}} {
		if e.st.Computed {
			fmt.Fprintf(tw, "%s\t%.4f\n", e.name, e.v)
		} else {
			fmt.Fprintf(tw, "%s\t%s\n", e.name, e.st.Reason)
		}
	}
	fmt.Fprintf(tw, "images\t%d scored, %d without prediction\n", r.NumImages, r.NumMissing)
	return tw.Flush()
}
