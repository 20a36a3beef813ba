package blascheck

import (
	"math"
	"testing"

	gblas "gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/groundcap/groundcap/training/blas"
)

// TestGraphStepUsesInstalledBLAS checks that the gorgonia step of blascheck
// routes its products through the BLAS it installs (so the GPU comparison
// compares something) and that a wrong Sgemm changes its loss.
func TestGraphStepUsesInstalledBLAS(t *testing.T) {
	d := StepDims{Batch: 6, In: 10, Hidden: 8, Out: 3}
	ref, err := GraphStep(gonum.Implementation{}, d, 1)
	if err != nil {
		t.Fatal(err)
	}
	counter := blas.NewCounter(gonum.Implementation{})
	same, err := GraphStep(counter, d, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Forward X·W1, H·W2; backward dW2 = Hᵀ·dY, dH = dY·W2ᵀ, dW1 = Xᵀ·dH.
	if counter.Flops() == 0 {
		t.Fatal("no Sgemm/Sgemv went through the installed BLAS")
	}
	if same.Loss != ref.Loss || MaxNormRel(same.Grad, ref.Grad) != 0 {
		t.Errorf("same BLAS, different step: loss %g vs %g", same.Loss, ref.Loss)
	}
	wrong, err := GraphStep(scaledBLAS{f: 1.01}, d, 0)
	if err != nil {
		t.Fatal(err)
	}
	if rel := MaxNormRel([]float32{wrong.Loss}, []float32{ref.Loss}); rel <= StepTol {
		t.Errorf("a 1%% Sgemm error moved the loss by only %.3g", rel)
	}
}

// TestScanStepUsesInstalledBLAS checks ScanSteps
// runs its products through the installed BLAS and that a wrong Sgemm
// changes its loss beyond the check's limit.
func TestScanStepUsesInstalledBLAS(t *testing.T) {
	s := ScanSize{Batch: 4, Regions: 5, Feat: 16, Words: 6, Embed: 8, Vocab: 30}
	ref, err := ScanSteps(gonum.Implementation{}, s, 0)
	if err != nil {
		t.Fatal(err)
	}
	counter := blas.NewCounter(gonum.Implementation{})
	same, err := ScanSteps(counter, s, 1)
	if err != nil {
		t.Fatal(err)
	}
	if counter.Flops() == 0 || same.Loss != ref.Loss {
		t.Errorf("flops through the installed BLAS %d (want > 0), loss %g vs %g (want equal: same BLAS, same seed)", counter.Flops(), same.Loss, ref.Loss)
	}
	wrong, err := ScanSteps(scaledBLAS{f: 1.01}, s, 0)
	if err != nil {
		t.Fatal(err)
	}
	if rel := math.Abs(wrong.Loss-ref.Loss) / math.Abs(ref.Loss); rel <= StepTol {
		t.Errorf("a 1%% Sgemm error moved the POS-SCAN loss by only %.3g (loss %g)", rel, ref.Loss)
	}
}

// scaledBLAS is gonum with every Sgemm's alpha multiplied by f.
type scaledBLAS struct {
	gonum.Implementation
	f float32
}

func (s scaledBLAS) Sgemm(tA, tB gblas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	gonum.Implementation{}.Sgemm(tA, tB, m, n, k, alpha*s.f, a, lda, b, ldb, beta, c, ldc)
}
