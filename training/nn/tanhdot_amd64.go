//go:build amd64 && !purego

package nn

import "golang.org/x/sys/cpu"

// useAVX512 selects tanhDotAVX512 (tests switch it off to run the Go path).
var useAVX512 = cpu.X86.HasAVX512F

// tanhDotAVX512 is tanhDot over n values, n a positive multiple of 16.
//
//go:noescape
func tanhDotAVX512(n int, a, b, w, t *float32) float32
