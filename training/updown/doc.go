// Package updown is the Up-Down captioner of groundcap (self-critical.pytorch's
// TopDownModel) on gorgonia, with the attention distillation of POS-SCAN
// ("More Grounded Image Captioning by Distilling Image-Text Matching Model",
// Zhou et al., CVPR 2020): cross-entropy training with a KL(α‖β) term,
// self-critical training with CIDEr-D and matching-score rewards, greedy and
// beam decoding that record the attention over regions, and resumable
// trainers over an abstract batch source.
//
// # Overview
//
// A [Model] holds the weights (an nn.ParamSet) and compiles gorgonia graphs
// on demand, one per batch shape: a teacher-forced unrolled graph for
// training and loss evaluation, a feature-preparation graph and a one-step
// graph for decoding. [Model.XEStep] and [Model.SCSTStep] are single
// optimisation steps; [XETrainer] and [SCSTTrainer] run epochs over a
// [Source] with seeded data order, checkpoints (training/checkpoint),
// progress reports and a validation hook.
//
// # Invariants
//
// Token ids: words are 1..VocabSize; [EndToken] (0) is the begin token fed
// at the first step and the end token. Captions in a [Batch] carry words
// only. Dropout masks and samples come from an explicit *rand.Rand whose
// state the trainers checkpoint, so a run resumed from a checkpoint gives
// the same weights as an uninterrupted one. Models are float32 and not safe
// for concurrent use.
package updown
