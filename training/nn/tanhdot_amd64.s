//go:build amd64 && !purego

#include "textflag.h"

// func tanhDotAVX512(n int, a, b, w, t *float32) float32
//
// t[i] = tanhRational(a[i] + b[i]) and the sum of t[i]·w[i], 16 values at a time: x clamped to
// ±7.905311, then x·p(x²)/q(x²) with tanhRational's coefficients (fused multiply-adds), the
// products summed into 16 lanes, the lanes added pairwise at the end.
TEXT ·tanhDotAVX512(SB), NOSPLIT, $0-44
	MOVQ n+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ b+16(FP), BX
	MOVQ w+24(FP), DX
	MOVQ t+32(FP), DI
	MOVL $0x40fcf84f, R8
	VPBROADCASTD R8, Z16 // clamp
	MOVL $0xc0fcf84f, R8
	VPBROADCASTD R8, Z17 // −clamp
	MOVL $0xa59f25c0, R8
	VPBROADCASTD R8, Z18 // α13
	MOVL $0x2a61337e, R8
	VPBROADCASTD R8, Z19 // α11
	MOVL $0xaebd37ff, R8
	VPBROADCASTD R8, Z20 // α9
	MOVL $0x335c0041, R8
	VPBROADCASTD R8, Z21 // α7
	MOVL $0x3779434a, R8
	VPBROADCASTD R8, Z22 // α5
	MOVL $0x3a270ded, R8
	VPBROADCASTD R8, Z23 // α3
	MOVL $0x3ba059dc, R8
	VPBROADCASTD R8, Z24 // α1
	MOVL $0x35a0d3d8, R8
	VPBROADCASTD R8, Z25 // β6
	MOVL $0x38f895d6, R8
	VPBROADCASTD R8, Z26 // β4
	MOVL $0x3b14aa05, R8
	VPBROADCASTD R8, Z27 // β2
	MOVL $0x3ba059dd, R8
	VPBROADCASTD R8, Z28 // β0
	VPXORD Z0, Z0, Z0

loop:
	VMOVUPS     (AX), Z1
	VADDPS      (BX), Z1, Z1
	VMINPS      Z1, Z16, Z1 // min(clamp, x): NaN stays NaN
	VMAXPS      Z1, Z17, Z1
	VMULPS      Z1, Z1, Z2
	VMOVAPS     Z18, Z3
	VFMADD213PS Z19, Z2, Z3 // p = p·x² + α
	VFMADD213PS Z20, Z2, Z3
	VFMADD213PS Z21, Z2, Z3
	VFMADD213PS Z22, Z2, Z3
	VFMADD213PS Z23, Z2, Z3
	VFMADD213PS Z24, Z2, Z3
	VMOVAPS     Z25, Z4
	VFMADD213PS Z26, Z2, Z4 // q = q·x² + β
	VFMADD213PS Z27, Z2, Z4
	VFMADD213PS Z28, Z2, Z4
	VMULPS      Z1, Z3, Z3
	VDIVPS      Z4, Z3, Z3
	VMOVUPS     Z3, (DI)
	VFMADD231PS (DX), Z3, Z0
	ADDQ        $64, AX
	ADDQ        $64, BX
	ADDQ        $64, DX
	ADDQ        $64, DI
	SUBQ        $16, CX
	JNZ         loop

	VEXTRACTF32X8 $1, Z0, Y1
	VADDPS        Y1, Y0, Y0
	VEXTRACTF128  $1, Y0, X1
	VADDPS        X1, X0, X0
	VHADDPS       X0, X0, X0
	VHADDPS       X0, X0, X0
	VZEROUPPER
	MOVSS         X0, ret+40(FP)
	RET
