package gpu

import (
	"errors"
	"fmt"
	"math"
)

// Workspace hands out device buffers by name, growing them when a larger one is asked for (the
// contents are then lost) and keeping them otherwise, so that steps of similar shapes reuse
// their memory.
type Workspace struct {
	d    Device
	bufs map[string]Buf
}

// NewWorkspace returns an empty workspace on d.
func NewWorkspace(d Device) *Workspace { return &Workspace{d: d, bufs: map[string]Buf{}} }

// Get returns buffer name with at least n words (exactly n: the Buf is cut to n).
func (w *Workspace) Get(name string, n int) (Buf, error) {
	b, ok := w.bufs[name]
	if ok && b.N >= n {
		return b.Slice(0, n), nil
	}
	if ok {
		delete(w.bufs, name)
		if err := w.d.Free(b); err != nil {
			return Buf{}, err
		}
	}
	nb, err := w.d.Alloc(max(n, 1))
	if err != nil {
		return Buf{}, fmt.Errorf("gpu: workspace buffer %s (%d words): %w", name, n, err)
	}
	w.bufs[name] = nb
	return nb.Slice(0, n), nil
}

// Words returns the words held.
func (w *Workspace) Words() int {
	n := 0
	for _, b := range w.bufs {
		n += b.N
	}
	return n
}

// Free releases every buffer.
func (w *Workspace) Free() error {
	var errs []error
	for name, b := range w.bufs {
		errs = append(errs, w.d.Free(b))
		delete(w.bufs, name)
	}
	return errors.Join(errs...)
}

// Ops queues the kernels and products of the device-resident models on a Device. It keeps the
// first error and ignores later calls, so a sequence of operations is checked once, at Err (or
// a Read through Ops). Scratch buffers come from its workspace.
type Ops struct {
	// D is the device.
	D Device
	// WS holds the scratch buffers of the reductions.
	WS  *Workspace
	err error
}

// NewOps returns Ops on d with its own workspace.
func NewOps(d Device) *Ops { return &Ops{D: d, WS: NewWorkspace(d)} }

// Err returns the first error of the operations so far.
func (o *Ops) Err() error { return o.err }

// Fail records err (when it is the first) and returns the first error.
func (o *Ops) Fail(err error) error {
	if o.err == nil {
		o.err = err
	}
	return o.err
}

// Scratch returns workspace buffer name of n words, recording a failure.
func (o *Ops) Scratch(name string, n int) Buf {
	if o.err != nil {
		return Buf{}
	}
	b, err := o.WS.Get(name, n)
	o.Fail(err)
	return b
}

// elemBlock is the block size of the one-thread-per-value kernels.
const elemBlock = 256

// checkSize fails on sizes a kernel's int parameters cannot hold.
func (o *Ops) checkSize(what string, n int64) bool {
	if n > math.MaxInt32 {
		o.Fail(fmt.Errorf("gpu: %s over %d values exceeds the kernels' 32-bit sizes", what, n))
		return false
	}
	return true
}

// Launch queues kernel name, recording a failure.
func (o *Ops) Launch(name string, grid Grid, block int, args ...any) {
	if o.err != nil {
		return
	}
	if err := o.D.Launch(name, grid, block, args...); err != nil {
		o.Fail(err)
	}
}

// elems launches a one-thread-per-value kernel over n threads.
func (o *Ops) elems(name string, n int64, args ...any) {
	if n == 0 || !o.checkSize(name, n) {
		return
	}
	o.Launch(name, Blocks(int(n), elemBlock), elemBlock, args...)
}

// Gemm queues the row-major product C = alpha·op(A)·op(B) + beta·C (Device.Gemm).
func (o *Ops) Gemm(tA, tB bool, m, n, k int, alpha float32, a Ptr, lda int, b Ptr, ldb int, beta float32, c Ptr, ldc int) {
	if o.err != nil {
		return
	}
	if err := o.D.Gemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc); err != nil {
		o.Fail(err)
	}
}

// GemmStrided queues batch products (Device.GemmStrided).
func (o *Ops) GemmStrided(tA, tB bool, m, n, k int, alpha float32, a Ptr, lda, sa int, b Ptr, ldb, sb int, beta float32, c Ptr, ldc, sc int, batch int) {
	if o.err != nil {
		return
	}
	if err := o.D.GemmStrided(tA, tB, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta, c, ldc, sc, batch); err != nil {
		o.Fail(err)
	}
}

// Zero queues zeroing b.
func (o *Ops) Zero(b Buf) {
	if o.err == nil && b.N > 0 {
		o.Fail(o.D.Zero(b))
	}
}

// Read waits for the queued work and copies len(dst) words from src; it returns the first
// error of the operations so far.
func (o *Ops) Read(dst []float32, src Buf) error {
	if o.err != nil {
		return o.err
	}
	return o.Fail(o.D.Read(dst, src))
}

// Fill sets y to v.
func (o *Ops) Fill(y Buf, v float32) { o.elems("fill", int64(y.N), y, v, y.N) }

// Scale sets y = a·x over n values.
func (o *Ops) Scale(y, x Buf, a float32, n int) { o.elems("scale", int64(n), y, x, a, n) }

// Mean2 sets y = (a + b)·0.5 over n values.
func (o *Ops) Mean2(y, a, b Buf, n int) { o.elems("mean2", int64(n), y, a, b, n) }

// AddRows adds b (cols) to every row of x (rows, cols).
func (o *Ops) AddRows(x, b Buf, rows, cols int) {
	o.elems("add_rows", int64(rows)*int64(cols), x, b, rows, cols)
}

// ScaleRows sets y[r, c] = f[r]·x[r, c] for (rows, cols).
func (o *Ops) ScaleRows(y, x, f Buf, rows, cols int) {
	o.elems("scale_rows", int64(rows)*int64(cols), y, x, f, rows, cols)
}

// colChunk is the number of rows col_sums_part adds per chunk.
const colChunk = 64

// ColSums writes the column sums of x (rows, cols), each column's rows added in chunks of
// colChunk in order and the chunks in order, to out: column c goes to out[(c/h)·stride + c%h]
// (h = cols, stride 0: plainly; h = cols/3: a GRU's three bias gradients, stride apart).
func (o *Ops) ColSums(out Ptr, x Buf, rows, cols, h, stride int) {
	if cols == 0 || !o.checkSize("ColSums", int64(rows)*int64(cols)) {
		return
	}
	chunks := max(1, (rows+colChunk-1)/colChunk)
	part := o.Scratch("colsums", chunks*cols)
	o.Launch("col_sums_part", Grid{X: (cols + elemBlock - 1) / elemBlock, Y: chunks}, elemBlock, part, x, rows, cols, colChunk)
	o.elems("col_sums_fin", int64(cols), out, part, chunks, cols, h, stride)
}

// Pack3 copies the three (rows, h) matrices a, b, c side by side into dst (rows, 3h).
func (o *Ops) Pack3(dst Buf, a, b, c Ptr, rows, h int) {
	o.elems("pack3", 3*int64(rows)*int64(h), dst, a, b, c, rows, h)
}

// Unpack3 copies the three column blocks of src (rows, 3h) into a, b, c (rows, h each).
func (o *Ops) Unpack3(a, b, c Ptr, src Buf, rows, h int) {
	o.elems("unpack3", 3*int64(rows)*int64(h), a, b, c, src, rows, h)
}

// GatherRows sets row r of y (rows, cols) to row idx[r] of x, or zeros where idx[r] < 0 or
// idx[r] == skip.
func (o *Ops) GatherRows(y, x, idx Buf, rows, cols, skip int) {
	o.elems("gather_rows", int64(rows)*int64(cols), y, x, idx, rows, cols, skip)
}

// EmbedGrad writes dw[uniq[u]] = Σ_k g[order[k]] over k in [starts[u], starts[u+1]) for each of
// the nuniq distinct ids (rows of cols values); other rows of dw are left alone.
func (o *Ops) EmbedGrad(dw, g, order, starts, uniq Buf, nuniq, cols int) {
	o.elems("embed_grad", int64(nuniq)*int64(cols), dw, g, order, starts, uniq, nuniq, cols)
}

// L2NormRows sets each row of y (rows, cols) to x's row over √(Σx² + tiny) + eps.
func (o *Ops) L2NormRows(y, x Buf, rows, cols int) {
	if rows > 0 {
		o.Launch("l2norm_rows", Grid{X: rows}, RedBlock, y, x, cols)
	}
}

// L2NormRowsGrad sets dx (rows, cols) to the gradient through L2NormRows at x given dy.
func (o *Ops) L2NormRowsGrad(dx, x, dy Buf, rows, cols int) {
	if rows > 0 {
		o.Launch("l2norm_rows_grad", Grid{X: rows}, RedBlock, dx, x, dy, cols)
	}
}

// RowNorms sets out[r] = √(Σ_c x[r, c]² + tiny) for x (rows, cols).
func (o *Ops) RowNorms(out, x Buf, rows, cols int) {
	if rows > 0 {
		o.Launch("row_norms", Grid{X: rows}, RedBlock, out, x, cols)
	}
}

// sumsqChunk is the number of values one block of sumsq_part adds.
const sumsqChunk = 1 << 16

// SumSquares queues Σ x² over n values of x into the float64 at out (two words): chunk sums
// in double, then the chunks in a fixed tree.
func (o *Ops) SumSquares(out Ptr, x Buf, n int64) {
	parts := int(max(1, (n+sumsqChunk-1)/sumsqChunk))
	part := o.Scratch("sumsq", 2*parts)
	o.Launch("sumsq_part", Grid{X: parts}, RedBlock, part, x, n, sumsqChunk)
	o.Launch("sumsq_fin", Grid{X: 1}, RedBlock, out, part, parts)
}

// Adam applies one Adam step to n parameters p with moments m and v and gradients g scaled by
// scale, as training/optim's Adam.
func (o *Ops) Adam(p, m, v, g Buf, n int64, scale, b1, b2, step, invbc2, eps float32) {
	if n == 0 {
		return
	}
	grid := Blocks(int(min(n, math.MaxInt32)), elemBlock)
	if int64(grid.X)*elemBlock < n {
		o.Fail(fmt.Errorf("gpu: Adam over %d values", n))
		return
	}
	o.Launch("adam", grid, elemBlock, p, m, v, g, n, scale, b1, b2, step, invbc2, eps)
}
