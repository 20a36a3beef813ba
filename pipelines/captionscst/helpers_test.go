package captionscst_test

import tscan "github.com/groundcap/groundcap/training/scan"

func scanBatch(feats []float32, c tscan.Caption) tscan.Batch {
	return tscan.Batch{Feats: [][]float32{feats}, Captions: []tscan.Caption{c}}
}
