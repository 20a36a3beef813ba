//go:build amd64 && !purego

#include "textflag.h"

// Micro-kernels of the SGEMM (see kernel.go for the contract). Each computes
// one MR×NR tile of C from MR rows of A read with byte strides rs (between
// rows) and cs (between k steps), and a packed B panel (kc groups of NR
// values), with one fused multiply-add per element and k step, in order of
// k, then writes c = beta·c + alpha·acc (beta·c rounded, then one fused
// multiply-add) or, when useC is 0, c = alpha·acc without reading c.
//
// Rows of A are addressed from three bases, row 0 (AX), row 5 (R11) and
// row 10 (R12), with R9 = rs and R10 = 3·rs as index registers.

// AVX-512: 12 rows × 32 columns (two zmm per row): 24 accumulators Z0–Z23,
// B in Z24–Z25, broadcasts of A in Z26–Z27.
#define ROW512(addr, bc, c0, c1) \
	VBROADCASTSS addr, bc \
	VFMADD231PS  Z24, bc, c0 \
	VFMADD231PS  Z25, bc, c1

#define STORE512C(c0, c1) \
	VMULPS      (DX), Z29, Z30 \
	VFMADD231PS Z28, c0, Z30   \
	VMOVUPS     Z30, (DX)      \
	VMULPS      64(DX), Z29, Z31 \
	VFMADD231PS Z28, c1, Z31   \
	VMOVUPS     Z31, 64(DX)    \
	ADDQ        SI, DX

#define STORE512(c0, c1) \
	VMULPS  Z28, c0, c0 \
	VMOVUPS c0, (DX)    \
	VMULPS  Z28, c1, c1 \
	VMOVUPS c1, 64(DX)  \
	ADDQ    SI, DX

// func gemm12x32AVX512(kc int, a *float32, rs, cs int, b, c *float32, ldc int, alpha, beta float32, useC int)
TEXT ·gemm12x32AVX512(SB), NOSPLIT, $0-72
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ rs+16(FP), R9
	MOVQ cs+24(FP), DI
	MOVQ b+32(FP), BX
	LEAQ (R9)(R9*2), R10
	LEAQ (AX)(R9*4), R11
	ADDQ R9, R11
	LEAQ (R11)(R9*4), R12
	ADDQ R9, R12
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	VPXORD Z14, Z14, Z14
	VPXORD Z15, Z15, Z15
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
	VPXORD Z18, Z18, Z18
	VPXORD Z19, Z19, Z19
	VPXORD Z20, Z20, Z20
	VPXORD Z21, Z21, Z21
	VPXORD Z22, Z22, Z22
	VPXORD Z23, Z23, Z23

loop512:
	VMOVUPS (BX), Z24
	VMOVUPS 64(BX), Z25
	ROW512((AX), Z26, Z0, Z1)
	ROW512((AX)(R9*1), Z27, Z2, Z3)
	ROW512((AX)(R9*2), Z26, Z4, Z5)
	ROW512((AX)(R10*1), Z27, Z6, Z7)
	ROW512((AX)(R9*4), Z26, Z8, Z9)
	ROW512((R11), Z27, Z10, Z11)
	ROW512((R11)(R9*1), Z26, Z12, Z13)
	ROW512((R11)(R9*2), Z27, Z14, Z15)
	ROW512((R11)(R10*1), Z26, Z16, Z17)
	ROW512((R11)(R9*4), Z27, Z18, Z19)
	ROW512((R12), Z26, Z20, Z21)
	ROW512((R12)(R9*1), Z27, Z22, Z23)
	ADDQ DI, AX
	ADDQ DI, R11
	ADDQ DI, R12
	ADDQ $128, BX
	DECQ CX
	JNZ  loop512

	VBROADCASTSS alpha+56(FP), Z28
	MOVQ c+40(FP), DX
	MOVQ ldc+48(FP), SI
	SHLQ $2, SI
	MOVQ useC+64(FP), DI
	TESTQ DI, DI
	JZ   nocload512
	VBROADCASTSS beta+60(FP), Z29
	STORE512C(Z0, Z1)
	STORE512C(Z2, Z3)
	STORE512C(Z4, Z5)
	STORE512C(Z6, Z7)
	STORE512C(Z8, Z9)
	STORE512C(Z10, Z11)
	STORE512C(Z12, Z13)
	STORE512C(Z14, Z15)
	STORE512C(Z16, Z17)
	STORE512C(Z18, Z19)
	STORE512C(Z20, Z21)
	STORE512C(Z22, Z23)
	VZEROUPPER
	RET

nocload512:
	STORE512(Z0, Z1)
	STORE512(Z2, Z3)
	STORE512(Z4, Z5)
	STORE512(Z6, Z7)
	STORE512(Z8, Z9)
	STORE512(Z10, Z11)
	STORE512(Z12, Z13)
	STORE512(Z14, Z15)
	STORE512(Z16, Z17)
	STORE512(Z18, Z19)
	STORE512(Z20, Z21)
	STORE512(Z22, Z23)
	VZEROUPPER
	RET

// AVX-512, the first 16 columns only: 12 rows × 16 columns of the same
// packed panels (groups of 32 B values), for tiles that C cuts to ≤ 16
// columns; the same operations per element as gemm12x32AVX512.
#define HROW512(addr, bc, c0) \
	VBROADCASTSS addr, bc \
	VFMADD231PS  Z24, bc, c0

#define HSTORE512C(c0) \
	VMULPS      (DX), Z29, Z30 \
	VFMADD231PS Z28, c0, Z30   \
	VMOVUPS     Z30, (DX)      \
	ADDQ        SI, DX

#define HSTORE512(c0) \
	VMULPS  Z28, c0, c0 \
	VMOVUPS c0, (DX)    \
	ADDQ    SI, DX

// func gemm12x16AVX512(kc int, a *float32, rs, cs int, b, c *float32, ldc int, alpha, beta float32, useC int)
TEXT ·gemm12x16AVX512(SB), NOSPLIT, $0-72
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ rs+16(FP), R9
	MOVQ cs+24(FP), DI
	MOVQ b+32(FP), BX
	LEAQ (R9)(R9*2), R10
	LEAQ (AX)(R9*4), R11
	ADDQ R9, R11
	LEAQ (R11)(R9*4), R12
	ADDQ R9, R12
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11

hloop512:
	VMOVUPS (BX), Z24
	HROW512((AX), Z26, Z0)
	HROW512((AX)(R9*1), Z27, Z1)
	HROW512((AX)(R9*2), Z26, Z2)
	HROW512((AX)(R10*1), Z27, Z3)
	HROW512((AX)(R9*4), Z26, Z4)
	HROW512((R11), Z27, Z5)
	HROW512((R11)(R9*1), Z26, Z6)
	HROW512((R11)(R9*2), Z27, Z7)
	HROW512((R11)(R10*1), Z26, Z8)
	HROW512((R11)(R9*4), Z27, Z9)
	HROW512((R12), Z26, Z10)
	HROW512((R12)(R9*1), Z27, Z11)
	ADDQ DI, AX
	ADDQ DI, R11
	ADDQ DI, R12
	ADDQ $128, BX
	DECQ CX
	JNZ  hloop512

	VBROADCASTSS alpha+56(FP), Z28
	MOVQ c+40(FP), DX
	MOVQ ldc+48(FP), SI
	SHLQ $2, SI
	MOVQ useC+64(FP), DI
	TESTQ DI, DI
	JZ   hnocload512
	VBROADCASTSS beta+60(FP), Z29
	HSTORE512C(Z0)
	HSTORE512C(Z1)
	HSTORE512C(Z2)
	HSTORE512C(Z3)
	HSTORE512C(Z4)
	HSTORE512C(Z5)
	HSTORE512C(Z6)
	HSTORE512C(Z7)
	HSTORE512C(Z8)
	HSTORE512C(Z9)
	HSTORE512C(Z10)
	HSTORE512C(Z11)
	VZEROUPPER
	RET

hnocload512:
	HSTORE512(Z0)
	HSTORE512(Z1)
	HSTORE512(Z2)
	HSTORE512(Z3)
	HSTORE512(Z4)
	HSTORE512(Z5)
	HSTORE512(Z6)
	HSTORE512(Z7)
	HSTORE512(Z8)
	HSTORE512(Z9)
	HSTORE512(Z10)
	HSTORE512(Z11)
	VZEROUPPER
	RET

// AVX2+FMA: 6 rows × 16 columns (two ymm per row): 12 accumulators Y0–Y11,
// B in Y12–Y13, broadcasts of A in Y14–Y15.
#define ROW256(addr, bc, c0, c1) \
	VBROADCASTSS addr, bc \
	VFMADD231PS  Y12, bc, c0 \
	VFMADD231PS  Y13, bc, c1

#define STORE256C(c0, c1) \
	VMULPS      (DX), Y13, Y14 \
	VFMADD231PS Y12, c0, Y14   \
	VMOVUPS     Y14, (DX)      \
	VMULPS      32(DX), Y13, Y15 \
	VFMADD231PS Y12, c1, Y15   \
	VMOVUPS     Y15, 32(DX)    \
	ADDQ        SI, DX

#define STORE256(c0, c1) \
	VMULPS  Y12, c0, c0 \
	VMOVUPS c0, (DX)    \
	VMULPS  Y12, c1, c1 \
	VMOVUPS c1, 32(DX)  \
	ADDQ    SI, DX

// func gemm6x16AVX2(kc int, a *float32, rs, cs int, b, c *float32, ldc int, alpha, beta float32, useC int)
TEXT ·gemm6x16AVX2(SB), NOSPLIT, $0-72
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ rs+16(FP), R9
	MOVQ cs+24(FP), DI
	MOVQ b+32(FP), BX
	LEAQ (R9)(R9*2), R10
	LEAQ (AX)(R9*4), R11
	ADDQ R9, R11
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11

loop256:
	VMOVUPS (BX), Y12
	VMOVUPS 32(BX), Y13
	ROW256((AX), Y14, Y0, Y1)
	ROW256((AX)(R9*1), Y15, Y2, Y3)
	ROW256((AX)(R9*2), Y14, Y4, Y5)
	ROW256((AX)(R10*1), Y15, Y6, Y7)
	ROW256((AX)(R9*4), Y14, Y8, Y9)
	ROW256((R11), Y15, Y10, Y11)
	ADDQ DI, AX
	ADDQ DI, R11
	ADDQ $64, BX
	DECQ CX
	JNZ  loop256

	VBROADCASTSS alpha+56(FP), Y12
	MOVQ c+40(FP), DX
	MOVQ ldc+48(FP), SI
	SHLQ $2, SI
	MOVQ useC+64(FP), DI
	TESTQ DI, DI
	JZ   nocload256
	VBROADCASTSS beta+60(FP), Y13
	STORE256C(Y0, Y1)
	STORE256C(Y2, Y3)
	STORE256C(Y4, Y5)
	STORE256C(Y6, Y7)
	STORE256C(Y8, Y9)
	STORE256C(Y10, Y11)
	VZEROUPPER
	RET

nocload256:
	STORE256(Y0, Y1)
	STORE256(Y2, Y3)
	STORE256(Y4, Y5)
	STORE256(Y6, Y7)
	STORE256(Y8, Y9)
	STORE256(Y10, Y11)
	VZEROUPPER
	RET

// func dotAVX2(n int, x, y *float32) float32
// The sum of x[i]·y[i] over n (a multiple of 32) values, in four ymm
// accumulators (lane j of accumulator q sums the elements i ≡ 8q+j mod 32),
// added pairwise at the end.
TEXT ·dotAVX2(SB), NOSPLIT, $0-28
	MOVQ n+0(FP), CX
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), DI
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	SHRQ $5, CX
	JZ   dotdone

dotloop:
	VMOVUPS     (SI), Y4
	VMOVUPS     32(SI), Y5
	VMOVUPS     64(SI), Y6
	VMOVUPS     96(SI), Y7
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y1
	VFMADD231PS 64(DI), Y6, Y2
	VFMADD231PS 96(DI), Y7, Y3
	ADDQ $128, SI
	ADDQ $128, DI
	DECQ CX
	JNZ  dotloop

dotdone:
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VMOVHLPS X0, X0, X1
	VADDPS X1, X0, X0
	VMOVSHDUP X0, X1
	VADDSS X1, X0, X0
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// func axpyAVX2(n int, alpha float32, x, y *float32)
// y[i] += alpha·x[i] (one fused multiply-add) for n (a multiple of 32) values.
TEXT ·axpyAVX2(SB), NOSPLIT, $0-32
	MOVQ n+0(FP), CX
	VBROADCASTSS alpha+8(FP), Y8
	MOVQ x+16(FP), SI
	MOVQ y+24(FP), DI
	SHRQ $5, CX
	JZ   axpydone

axpyloop:
	VMOVUPS     (DI), Y0
	VMOVUPS     32(DI), Y1
	VMOVUPS     64(DI), Y2
	VMOVUPS     96(DI), Y3
	VFMADD231PS (SI), Y8, Y0
	VFMADD231PS 32(SI), Y8, Y1
	VFMADD231PS 64(SI), Y8, Y2
	VFMADD231PS 96(SI), Y8, Y3
	VMOVUPS     Y0, (DI)
	VMOVUPS     Y1, 32(DI)
	VMOVUPS     Y2, 64(DI)
	VMOVUPS     Y3, 96(DI)
	ADDQ $128, SI
	ADDQ $128, DI
	DECQ CX
	JNZ  axpyloop

axpydone:
	VZEROUPPER
	RET

// func packB32(kc int, src *float32, ld int, dst *float32, mask uint32)
// Packs kc rows of up to 32 values (ld bytes apart; the columns set in mask)
// into dst as groups of 32, the others zero. Masked-off values are not read.
TEXT ·packB32(SB), NOSPLIT, $0-36
	MOVQ kc+0(FP), CX
	MOVQ src+8(FP), SI
	MOVQ ld+16(FP), DX
	MOVQ dst+24(FP), DI
	MOVL mask+32(FP), AX
	KMOVW AX, K1
	SHRL $16, AX
	KMOVW AX, K2

packb32loop:
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS.Z 64(SI), K2, Z1
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	ADDQ DX, SI
	ADDQ $128, DI
	DECQ CX
	JNZ  packb32loop
	VZEROUPPER
	RET

// func packBT32(kc int, src *float32, idx *int32, dst *float32, mask uint32)
// Packs kc columns of up to 32 rows (row j at element offset idx[j] from
// src; the rows set in mask) into dst as groups of 32, the others zero:
// group p holds src[idx[j]+p]. Masked-off rows are not read.
TEXT ·packBT32(SB), NOSPLIT, $0-36
	MOVQ kc+0(FP), CX
	MOVQ src+8(FP), SI
	MOVQ idx+16(FP), DX
	MOVQ dst+24(FP), DI
	MOVL mask+32(FP), AX
	MOVL AX, BX
	SHRL $16, BX
	VMOVDQU32 (DX), Z8
	VMOVDQU32 64(DX), Z9

packbt32loop:
	KMOVW AX, K1
	KMOVW BX, K2
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VGATHERDPS (SI)(Z8*4), K1, Z0
	VGATHERDPS (SI)(Z9*4), K2, Z1
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	ADDQ $4, SI
	ADDQ $128, DI
	DECQ CX
	JNZ  packbt32loop
	VZEROUPPER
	RET
