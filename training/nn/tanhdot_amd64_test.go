//go:build amd64 && !purego

package nn

import "testing"

// setAVX512 selects the AVX-512 path (on) or the Go path for the rest of the test.
func setAVX512(t testing.TB, on bool) {
	prev := useAVX512
	useAVX512 = on
	t.Cleanup(func() { useAVX512 = prev })
}
