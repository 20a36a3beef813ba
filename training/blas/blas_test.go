package blas

import (
	"errors"
	"testing"

	"gonum.org/v1/gonum/blas/gonum"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func TestSelectExplicitAndUnknown(t *testing.T) {
	b, err := Select(Go)
	if err != nil || b.Name != Go {
		t.Fatalf("Select(go) = %v, %v", b.Name, err)
	}
	if _, err := Select("nosuch"); !errors.Is(err, ErrUnknown) {
		t.Fatalf("Select(nosuch) error = %v, want ErrUnknown", err)
	}
}

func TestRegisterRejects(t *testing.T) {
	f := func(Options) (Float32, error) { return gonum.Implementation{}, nil }
	for i, name := range []string{"", Auto, Go} {
		if err := Register(name, f); err == nil {
			t.Errorf("%d: Register(%q) succeeded, want error", i, name)
		}
	}
	if err := Register("nilfactory", nil); err == nil {
		t.Error("Register with nil factory succeeded")
	}
}

// withRegistry replaces the registry with reg for the rest of the test.
func withRegistry(t *testing.T, reg map[string]Factory) {
	t.Helper()
	regMu.Lock()
	saved := registry
	registry = reg
	regMu.Unlock()
	t.Cleanup(func() {
		regMu.Lock()
		registry = saved
		regMu.Unlock()
	})
}

func TestAutoSkipsFailingAndPrefersCUDA(t *testing.T) {
	// A failing "cuda" must be skipped by auto but reported for an explicit request.
	withRegistry(t, map[string]Factory{
		Go:   registry[Go],
		SIMD: registry[SIMD],
		CUDA: func(Options) (Float32, error) { return nil, errors.New("no device") },
	})
	if _, err := Select(CUDA); err == nil {
		t.Fatal("explicit cuda with failing factory: want error")
	}
	b, err := Select(Auto)
	if err != nil {
		t.Fatal(err)
	}
	if b.Name == CUDA {
		t.Fatalf("auto picked failing cuda")
	}
	// A working third-party backend is preferred by auto over simd and go.
	if err := Register("zz-test", func(Options) (Float32, error) { return gonum.Implementation{}, nil }); err != nil {
		t.Fatal(err)
	}
	b, err = Select("")
	if err != nil {
		t.Fatal(err)
	}
	if b.Name != "zz-test" {
		t.Fatalf("auto picked %q, want zz-test", b.Name)
	}
	// A working cuda comes first.
	regMu.Lock()
	registry[CUDA] = func(Options) (Float32, error) { return gonum.Implementation{}, nil }
	regMu.Unlock()
	if b, err = Select(Auto); err != nil || b.Name != CUDA {
		t.Fatalf("auto with a working cuda picked %q, %v", b.Name, err)
	}
}

// TestOptionsReachFactory checks that Options.Select and Options.Use hand
// their options to the backend's factory.
func TestOptionsReachFactory(t *testing.T) {
	var got []Options
	withRegistry(t, map[string]Factory{
		Go: func(o Options) (Float32, error) { got = append(got, o); return gonum.Implementation{}, nil },
	})
	want := Options{CUDALibDir: "/opt/cuda/lib", CUDADevice: 2}
	if _, err := want.Select(Go); err != nil {
		t.Fatal(err)
	}
	if _, err := want.Use(Go); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != want || got[1] != want {
		t.Errorf("factory saw %+v, want %+v twice", got, want)
	}
}

func TestCounterSeesGorgoniaMatMul(t *testing.T) {
	// Install a counting backend and check a gorgonia MatMul of (3×4)·(4×5)
	// goes through it: 2·3·5·4 = 120 flops.
	c := NewCounter(gonum.Implementation{})
	Install(Backend{Name: "count", Impl: c})
	defer Install(Backend{Name: Go, Impl: gonum.Implementation{}})

	g := G.NewGraph()
	a := G.NewMatrix(g, tensor.Float32, G.WithShape(3, 4), G.WithName("a"), G.WithInit(G.Ones()))
	b := G.NewMatrix(g, tensor.Float32, G.WithShape(4, 5), G.WithName("b"), G.WithInit(G.Ones()))
	p := G.Must(G.Mul(a, b))
	m := G.NewTapeMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatal(err)
	}
	if got := c.Flops(); got != 120 {
		t.Fatalf("counted %d flops, want 120", got)
	}
	if v := p.Value().Data().([]float32)[0]; v != 4 {
		t.Fatalf("product[0] = %v, want 4", v)
	}
}

func TestPeakSgemmPositive(t *testing.T) {
	gf, err := PeakSgemm(gonum.Implementation{}, 64, 2)
	if err != nil || !(gf > 0) {
		t.Fatalf("PeakSgemm = %v, %v", gf, err)
	}
	if _, err := PeakSgemm(gonum.Implementation{}, 0, 1); err == nil {
		t.Fatal("PeakSgemm(n=0) succeeded")
	}
}

// threadedFake records the thread limits it is asked for.
type threadedFake struct {
	gonum.Implementation
	got *[]int
}

func (f threadedFake) Threads(n int, fn func()) bool {
	*f.got = append(*f.got, n)
	fn()
	return true
}

func TestThreadsForwarding(t *testing.T) {
	var got []int
	ran := 0
	fn := func() { ran++ }
	if !Threads(NewCounter(threadedFake{got: &got}), 1, fn) || ran != 1 || len(got) != 1 || got[0] != 1 {
		t.Fatalf("Counter over a Threaded backend: ran %d, limits %v", ran, got)
	}
	if !(full{Float32: threadedFake{got: &got}}).Threads(3, fn) || ran != 2 || got[1] != 3 {
		t.Fatalf("installed Threaded backend: ran %d, limits %v", ran, got)
	}
	if Threads(NewCounter(gonum.Implementation{}), 1, fn) || Threads(gonum.Implementation{}, 1, fn) || ran != 2 {
		t.Fatalf("a backend that is not Threaded ran fn (ran %d) or reported it did", ran)
	}
}
