//go:build !amd64 || purego

package nn

import "testing"

func setAVX512(t testing.TB, on bool) {
	if on {
		t.Fatal("nn: no AVX-512 path in this build")
	}
}
