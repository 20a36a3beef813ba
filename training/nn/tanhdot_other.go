//go:build !amd64 || purego

package nn

const useAVX512 = false

func tanhDotAVX512(n int, a, b, w, t *float32) float32 { panic("nn: no AVX-512 kernel") }
