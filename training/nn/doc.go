// Package nn holds the neural-network building blocks of groundcap on
// gorgonia: parameter initialisation, layers (Linear, Embedding with a
// padding index, GRU and bidirectional GRU, LSTM cell, additive attention,
// seeded dropout), normalisations (l2, SCAN's clipped l2), masked softmax,
// log-softmax and log-sum-exp, the losses of the matching model and the
// captioner, and a finite-difference gradient checker.
//
// # Overview
//
// Layers own their parameter nodes and build expressions on the graph the
// caller gives them. They are dtype-generic: the same code builds float32
// graphs for training and float64 graphs for gradient checks. Every
// function documents the shapes of its inputs and output.
//
// # Invariants
//
// Masks are 0/1 tensors of the input's dtype. A masked reduction needs at
// least one unmasked position in each reduced slice; values at masked
// positions of a masked (log-)softmax are not meaningful (they are 0 for
// softmax, very negative for log-softmax) and must be masked by the caller.
//
// gorgonia v0.9.18 defects this package works around: LogSumExp is wrong
// (LogSumExp here is built from Max/Sub/Exp/Sum/Log); SoftMax and LogSoftMax
// on one node collapse (Softmax here is Exp of LogSoftmax); its Dropout op
// is not seedable (Dropout here multiplies by a mask drawn from an explicit
// RNG). Two more found while building SCAN: gorgonia.org/tensor reduces
// along a middle axis of a ≥4-D tensor incorrectly (ReduceSum, ReduceMax,
// Expand and BroadcastTo here replace Sum/Max/Broadcast*), and the
// TapeMachine computes element-wise ops in place into registers that views
// (Reshape) still alias, corrupting values (Reshape here copies; read graph
// outputs through Copy).
package nn
