package optim

import (
	"os"
	"testing"
	"time"
	"fmt"
)

func TestZZAdam(t *testing.T) {
	if os.Getenv("ZZ") == "" {
		t.Skip()
	}
	sizes := []int{2048 * 1024, 1024, 7000 * 300}
	for d := 0; d < 2; d++ {
		for _, s := range []int{300 * 1024, 300 * 1024, 300 * 1024, 1024, 1024, 1024, 1024 * 1024, 1024 * 1024, 1024 * 1024, 1024, 1024, 1024} {
			sizes = append(sizes, s)
		}
	}
	var params, grads [][]float32
	for _, s := range sizes {
		p := make([]float32, s)
		g := make([]float32, s)
		for i := range g {
			g[i] = float32(i%13) * 1e-3
		}
		params = append(params, p)
		grads = append(grads, g)
	}
	a, _ := NewAdam(AdamConfig{}, sizes)
	for r := 0; r < 3; r++ {
		t0 := time.Now()
		ClipGlobalNorm(grads, 2)
		t1 := time.Now()
		a.Update(1e-4, params, grads)
		t2 := time.Now()
		fmt.Println("clip", t1.Sub(t0), "adam", t2.Sub(t1))
	}
}
