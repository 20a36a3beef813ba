//go:build linux

package gpu

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// openEmu opens the emulation with its cache in a temporary directory, skipping the test
// when the machine has no C compiler.
func openEmu(t testing.TB) Device {
	t.Helper()
	d, err := OpenEmulator(EmulatorOptions{CacheDir: emuCache(t)})
	if errors.Is(err, ErrNoCompiler) {
		t.Skip("no C compiler for the emulation:", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Error(err)
		}
	})
	return d
}

// emuCache is the compiled-library cache the package's tests share (one compile per run).
func emuCache(t testing.TB) string {
	emuCacheOnce.Do(func() {
		dir, err := mkdirTemp("gpu-emu-test")
		if err != nil {
			t.Fatal(err)
		}
		emuCacheDir = dir
	})
	return emuCacheDir
}

func randSlice(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = r.Float32()*2 - 1
	}
	return x
}

func mustAlloc(t testing.TB, d Device, vals []float32) Buf {
	t.Helper()
	b, err := d.Alloc(len(vals))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Write(b, vals); err != nil {
		t.Fatal(err)
	}
	return b
}

func read(t testing.TB, d Device, b Buf) []float32 {
	t.Helper()
	out := make([]float32, b.N)
	if err := d.Read(out, b); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestEmulatorKernelsBasic runs a few element-wise kernels through the emulation and checks
// them against the formulas in Go.
func TestEmulatorKernelsBasic(t *testing.T) {
	d := openEmu(t)
	r := rand.New(rand.NewPCG(1, 2))
	const rows, cols = 37, 300 // more than one block's worth, cols not a multiple of RED
	x := randSlice(r, rows*cols)
	xb := mustAlloc(t, d, x)
	yb, _ := d.Alloc(rows * cols)
	if err := d.Launch("scale", Blocks(rows*cols, 256), 256, yb, xb, float32(-2.5), rows*cols); err != nil {
		t.Fatal(err)
	}
	for i, v := range read(t, d, yb) {
		if v != -2.5*x[i] {
			t.Fatalf("scale[%d] = %v, want %v", i, v, -2.5*x[i])
		}
	}
	if err := d.Launch("l2norm_rows", Grid{X: rows}, RedBlock, yb, xb, cols); err != nil {
		t.Fatal(err)
	}
	y := read(t, d, yb)
	for rr := 0; rr < rows; rr++ {
		var q float64
		for c := 0; c < cols; c++ {
			q += float64(x[rr*cols+c]) * float64(x[rr*cols+c])
		}
		n := math.Sqrt(q) + 1e-8
		for c := 0; c < cols; c++ {
			if got, want := float64(y[rr*cols+c]), float64(x[rr*cols+c])/n; math.Abs(got-want) > 1e-6 {
				t.Fatalf("l2norm[%d,%d] = %v, want %v", rr, c, got, want)
			}
		}
	}
}

// TestEmulatorErrors checks argument checking, bounds and the canaries.
func TestEmulatorErrors(t *testing.T) {
	d := openEmu(t)
	b, _ := d.Alloc(8)
	for i, tc := range []struct {
		err  error
		want string
	}{
		{d.Launch("scale", Grid{X: 1}, 8, b, b, 1.0, 8), "argument 2 (float a) is float64"},
		{d.Launch("scale", Grid{X: 1}, 8, b, b, float32(1)), "takes 4 arguments, got 3"},
		{d.Launch("nope", Grid{X: 1}, 8), `no kernel "nope"`},
		{d.Launch("scale", Grid{X: 1}, 8, b, Ptr(12345), float32(1), 8), "not in a live allocation"},
		{d.Write(b, make([]float32, 9)), "9 words into a buffer of 8"},
		{d.Read(make([]float32, 4), Buf{Ptr: b.At(6), N: 4}), "overrun"},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%d: err %v, want %q", i, tc.err, tc.want)
		}
	}
	c, _ := d.Alloc(8)
	if err := d.Launch("fill", Grid{X: 1}, 16, c, float32(0), 16); err == nil || !strings.Contains(err.Error(), "found after kernel fill") {
		t.Errorf("overrun: err %v", err)
	}
	if err := d.Free(c); err == nil || !strings.Contains(err.Error(), "(found at Free)") {
		t.Errorf("Free after overrun: err %v", err)
	}
}

// TestOpenKinds checks the stages' device settings: emulate opens the emulation, cuda without
// the libraries is ErrNoDevice naming the directory searched, cpu is no device.
func TestOpenKinds(t *testing.T) {
	for _, k := range []string{"", KindCPU, KindCUDA, KindEmulate} {
		if !ValidKind(k) || UsesDevice(k) != (k == KindCUDA || k == KindEmulate) {
			t.Errorf("kind %q: valid %v, uses a device %v", k, ValidKind(k), UsesDevice(k))
		}
	}
	if ValidKind("gpu") {
		t.Error(`"gpu" accepted`)
	}
	if _, err := Open(KindCPU); err == nil {
		t.Error("Open(cpu) opened a device")
	}
	dir := t.TempDir()
	t.Setenv(EnvLibDir, dir)
	if _, err := Open(KindCUDA); err == nil {
		t.Log("CUDA is installed here")
	} else if !errors.Is(err, ErrNoDevice) || !strings.Contains(err.Error(), dir) {
		t.Errorf("Open(cuda) without libraries: %v", err)
	}
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	d, err := Open(KindEmulate)
	if errors.Is(err, ErrNoCompiler) {
		t.Skip(err)
	}
	if err != nil || d.Info().Kind != "emulation" {
		t.Fatalf("Open(emulate): %v", err)
	}
	if err := d.Close(); err != nil {
		t.Error(err)
	}
}
