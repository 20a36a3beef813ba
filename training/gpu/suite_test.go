//go:build linux

package gpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// runSuite is the conformance suite every Device passes (the emulation, and the CUDA device
// over the fake libraries here or a real GPU in gpu-check): copies, zeroing, products of every
// transpose combination with padded leading dimensions and β = 0 and ≠ 0, strided batches
// with a repeated operand, kernels with grids in x and y, and argument errors.
func runSuite(t *testing.T, d Device) {
	r := rand.New(rand.NewPCG(3, 4))
	t.Run("copies", func(t *testing.T) {
		x := randSlice(r, 1000)
		b := mustAlloc(t, d, x)
		defer d.Free(b) // test buffer
		got := read(t, d, b)
		for i := range x {
			if got[i] != x[i] {
				t.Fatalf("word %d: read %v, wrote %v", i, got[i], x[i])
			}
		}
		part := make([]float32, 10)
		if err := d.Read(part, b.Slice(500, 510)); err != nil || part[3] != x[503] {
			t.Errorf("Read of a slice: %v, %v want %v", err, part[3], x[503])
		}
		if err := d.WriteInt32(b.Slice(0, 3), []int32{-1, 7, 1 << 30}); err != nil {
			t.Fatal(err)
		}
		if err := d.Zero(b.Slice(10, 20)); err != nil {
			t.Fatal(err)
		}
		got = read(t, d, b)
		for i, w := range []uint32{0xffffffff, 7, 1 << 30} {
			if math.Float32bits(got[i]) != w {
				t.Errorf("int word %d: %#x, want %#x", i, math.Float32bits(got[i]), w)
			}
		}
		for i := 10; i < 20; i++ {
			if got[i] != 0 {
				t.Errorf("zeroed word %d is %v", i, got[i])
			}
		}
		if got[20] != x[20] || got[9] != x[9] {
			t.Errorf("Zero changed words around its range")
		}
	})
	t.Run("gemm", func(t *testing.T) {
		for i, c := range gemmCases() {
			if err := checkGemmCase(d, c, r); err != nil {
				t.Errorf("%d: %v", i, err)
			}
		}
	})
	t.Run("strided", func(t *testing.T) {
		// 3 products C_p = A·B_p with A shared (stride 0), B_p (5×4) packed, C_p in a (3×15)
		// row-major matrix at column offsets 0, 5, 10 (ldc 15, stride 5).
		const m, n, k, batch = 3, 5, 4, 3
		a, b := randSlice(r, m*k), randSlice(r, batch*k*n)
		ab, bb := mustAlloc(t, d, a), mustAlloc(t, d, b)
		cb, _ := d.Alloc(m * n * batch)
		defer d.Free(ab) // test buffers
		defer d.Free(bb)
		defer d.Free(cb)
		if err := d.GemmStrided(false, false, m, n, k, 1, ab.Ptr, k, 0, bb.Ptr, n, k*n, 0, cb.Ptr, n*batch, n, batch); err != nil {
			t.Fatal(err)
		}
		got := read(t, d, cb)
		for p := 0; p < batch; p++ {
			for i := 0; i < m; i++ {
				for j := 0; j < n; j++ {
					var s float64
					for l := 0; l < k; l++ {
						s += float64(a[i*k+l]) * float64(b[p*k*n+l*n+j])
					}
					if g := float64(got[i*n*batch+p*n+j]); math.Abs(g-s) > 1e-5 {
						t.Fatalf("product %d C[%d,%d] = %v, want %v", p, i, j, g, s)
					}
				}
			}
		}
	})
	t.Run("kernels", func(t *testing.T) {
		// col_sums over a grid in x and y: 70 rows in chunks of 16 (5 chunks), 300 columns.
		const rows, cols, chunk = 70, 300, 16
		x := randSlice(r, rows*cols)
		xb := mustAlloc(t, d, x)
		chunks := (rows + chunk - 1) / chunk
		part, _ := d.Alloc(chunks * cols)
		out, _ := d.Alloc(cols)
		defer d.Free(xb) // test buffers
		defer d.Free(part)
		defer d.Free(out)
		if err := d.Launch("col_sums_part", Grid{X: (cols + 127) / 128, Y: chunks}, 128, part, xb, rows, cols, chunk); err != nil {
			t.Fatal(err)
		}
		if err := d.Launch("col_sums_fin", Blocks(cols, 128), 128, out, part, chunks, cols, cols, 0); err != nil {
			t.Fatal(err)
		}
		got := read(t, d, out)
		for c := 0; c < cols; c++ {
			var s float64
			for rr := 0; rr < rows; rr++ {
				s += float64(x[rr*cols+c])
			}
			if math.Abs(float64(got[c])-s) > 1e-4 {
				t.Fatalf("column %d: %v, want %v", c, got[c], s)
			}
		}
		// sumsq in double, read back as float64.
		ss, _ := d.Alloc(2 * 4)
		dbl, _ := d.Alloc(2)
		defer d.Free(ss) // test buffers
		defer d.Free(dbl)
		n := int64(rows * cols)
		if err := d.Launch("sumsq_part", Grid{X: 4}, RedBlock, ss, xb, n, int((n+3)/4)); err != nil {
			t.Fatal(err)
		}
		if err := d.Launch("sumsq_fin", Grid{X: 1}, RedBlock, dbl, ss, 4); err != nil {
			t.Fatal(err)
		}
		v := make([]float64, 1)
		if err := d.ReadFloat64(v, dbl); err != nil {
			t.Fatal(err)
		}
		var want float64
		for _, e := range x {
			want += float64(e) * float64(e)
		}
		if math.Abs(v[0]-want) > 1e-9*want {
			t.Errorf("sum of squares %v, want %v", v[0], want)
		}
		if err := d.Launch("fill", Grid{X: 1}, 32, xb, 1.5, 10); err == nil || !strings.Contains(err.Error(), "float64") {
			t.Errorf("wrong argument type: err %v", err)
		}
		if err := d.Launch("missing_kernel", Grid{X: 1}, 32); err == nil {
			t.Errorf("unknown kernel launched")
		}
	})
}

// gemmCase is one product of the suite.
type gemmCase struct {
	tA, tB           bool
	m, n, k          int
	padA, padB, padC int
	alpha, beta      float32
}

func gemmCases() []gemmCase {
	var cs []gemmCase
	for _, ta := range []bool{false, true} {
		for _, tb := range []bool{false, true} {
			cs = append(cs,
				gemmCase{ta, tb, 7, 5, 3, 2, 1, 3, 1.5, 0},
				gemmCase{ta, tb, 4, 9, 6, 0, 3, 0, -0.5, 0.75})
		}
	}
	return cs
}

// checkGemmCase runs c on d and compares with a float64 loop; the padding between C's rows
// must be left alone.
func checkGemmCase(d Device, c gemmCase, r *rand.Rand) error {
	aRows, aCols := c.m, c.k
	if c.tA {
		aRows, aCols = c.k, c.m
	}
	bRows, bCols := c.k, c.n
	if c.tB {
		bRows, bCols = c.n, c.k
	}
	lda, ldb, ldc := aCols+c.padA, bCols+c.padB, c.n+c.padC
	a, b, c0 := randSlice(r, aRows*lda), randSlice(r, bRows*ldb), randSlice(r, c.m*ldc)
	var bufs []Buf
	defer func() {
		for _, x := range bufs {
			d.Free(x) // test buffers
		}
	}()
	up := func(x []float32) (Buf, error) {
		bf, err := d.Alloc(len(x))
		if err != nil {
			return bf, err
		}
		bufs = append(bufs, bf)
		return bf, d.Write(bf, x)
	}
	ab, err := up(a)
	if err != nil {
		return err
	}
	bb, err := up(b)
	if err != nil {
		return err
	}
	cb, err := up(c0)
	if err != nil {
		return err
	}
	if err := d.Gemm(c.tA, c.tB, c.m, c.n, c.k, c.alpha, ab.Ptr, lda, bb.Ptr, ldb, c.beta, cb.Ptr, ldc); err != nil {
		return err
	}
	got := make([]float32, len(c0))
	if err := d.Read(got, cb); err != nil {
		return err
	}
	opA := func(i, l int) float64 {
		if c.tA {
			return float64(a[l*lda+i])
		}
		return float64(a[i*lda+l])
	}
	opB := func(l, j int) float64 {
		if c.tB {
			return float64(b[j*ldb+l])
		}
		return float64(b[l*ldb+j])
	}
	for i := 0; i < c.m; i++ {
		for j := 0; j < ldc; j++ {
			g := got[i*ldc+j]
			if j >= c.n {
				if g != c0[i*ldc+j] {
					return fmt.Errorf("%+v: C[%d][%d] between rows changed", c, i, j)
				}
				continue
			}
			var s float64
			for l := 0; l < c.k; l++ {
				s += opA(i, l) * opB(l, j)
			}
			want := float64(c.alpha)*s + float64(c.beta)*float64(c0[i*ldc+j])
			if math.Abs(float64(g)-want) > 1e-5 {
				return fmt.Errorf("%+v: C[%d][%d] = %v, want %v", c, i, j, g, want)
			}
		}
	}
	return nil
}

// TestEmulatorSuite runs the conformance suite on the emulation.
func TestEmulatorSuite(t *testing.T) { runSuite(t, openEmu(t)) }
