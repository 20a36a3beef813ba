package models

import (
	"github.com/groundcap/groundcap/eval/retrieval"
)

// Recalls are one retrieval direction's metrics (percent; ranks 1-based).
type Recalls struct {
	R1    float64 `json:"r1"`
	R5    float64 `json:"r5"`
	R10   float64 `json:"r10"`
	MedR  float64 `json:"medr"`
	MeanR float64 `json:"meanr"`
}

// Retrieval is R@K in both directions and rsum.
type Retrieval struct {
	I2T  Recalls `json:"i2t"`
	T2I  Recalls `json:"t2i"`
	RSum float64 `json:"rsum"`
}

// FromResult converts eval/retrieval's result.
func FromResult(r retrieval.Result) Retrieval {
	c := func(x retrieval.Recalls) Recalls {
		return Recalls{R1: x.R1, R5: x.R5, R10: x.R10, MedR: x.MedR, MeanR: x.MeanR}
	}
	return Retrieval{I2T: c(r.I2T), T2I: c(r.T2I), RSum: r.RSum}
}
