//go:build amd64 && !purego

#include "textflag.h"

// Eight copies of a float32 or int32 constant, for 256-bit operands.
#define CONST8(name, bits) \
	DATA name<>+0(SB)/4, $bits; \
	DATA name<>+4(SB)/4, $bits; \
	DATA name<>+8(SB)/4, $bits; \
	DATA name<>+12(SB)/4, $bits; \
	DATA name<>+16(SB)/4, $bits; \
	DATA name<>+20(SB)/4, $bits; \
	DATA name<>+24(SB)/4, $bits; \
	DATA name<>+28(SB)/4, $bits; \
	GLOBL name<>(SB), RODATA|NOPTR, $32

// erf32's rational approximation (suite/nn): p and q in x², the float32
// roundings of its decimal coefficients.
CONST8(erfp0, 0xaf95df0b) // -2.72614225801306e-10
CONST8(erfp1, 0x32edffee) // +2.77068142495902e-08, added
CONST8(erfp2, 0x360cff51) // 2.10102402082508e-06, subtracted
CONST8(erfp3, 0x386ec2d2) // 5.69250639462346e-05, subtracted
CONST8(erfp4, 0x3a40ac63) // 7.34990630326855e-04, subtracted
CONST8(erfp5, 0x3b41a1f6) // 2.95459980854025e-03, subtracted
CONST8(erfp6, 0x3c83dbd4) // 1.60960333262415e-02, subtracted
CONST8(erfq0, 0xb77460cd) // -1.45660718464996e-05
CONST8(erfq1, 0x395fbd29) // 2.13374055278905e-04, subtracted
CONST8(erfq2, 0x3adc924e) // 1.68282697438203e-03, subtracted
CONST8(erfq3, 0x3bf19bf8) // 7.37332916720468e-03, subtracted
CONST8(erfq4, 0x3c69b6a7) // 1.42647390514189e-02, subtracted
CONST8(four, 0x40800000)
CONST8(mfour, 0xc0800000)
CONST8(one, 0x3f800000)
CONST8(mone, 0xbf800000)
CONST8(half, 0x3f000000)
CONST8(mhalf, 0xbf000000)
// expNeg's (Cephes' expf): the cut-off, log2(e), ln 2 in two parts, the
// polynomial for e^r, and the exponent bias.
CONST8(explo, 0xc2af5c29)  // -87.68
CONST8(log2e, 0x3fb8aa3b)  // 1.44269504088896341
CONST8(ln2hi, 0x3f318000)  // 0.693359375
CONST8(ln2lo, 0x395e8083)  // 2.12194440e-4
CONST8(expc0, 0x39506967)  // 1.9875691500e-4
CONST8(expc1, 0x3ab743ce)  // 1.3981999507e-3
CONST8(expc2, 0x3c088908)  // 8.3334519073e-3
CONST8(expc3, 0x3d2aa9c1)  // 4.1665795894e-2
CONST8(expc4, 0x3e2aaaaa)  // 1.6666665459e-1
CONST8(expc5, 0x3f000000)  // 5.0000001201e-1
CONST8(bias, 0x0000007f)   // 127
CONST8(isqrt2, 0x3f3504f3) // 1/√2
CONST8(isqrt2pi, 0x3ecc422a) // 1/√(2π)

// Go's assembler names operands in the reverse of Intel's order: OP a, b, c
// is c = b OP a. VMAXPS/VMINPS return their first (Go) operand where either
// is NaN, so x goes first and a NaN passes, as Go's min and max let it.

// ERF(x, x2, p, q): x = erf32(x) with Y12..Y15 = -4, 4, -1, 1; x2, p and q
// are scratch.
#define ERF(x, x2, p, q) \
	VMAXPS x, Y12, x; \
	VMINPS x, Y13, x; \
	VMULPS x, x, x2; \
	VMULPS erfp0<>(SB), x2, p; \
	VADDPS erfp1<>(SB), p, p; \
	VMULPS x2, p, p; \
	VSUBPS erfp2<>(SB), p, p; \
	VMULPS x2, p, p; \
	VSUBPS erfp3<>(SB), p, p; \
	VMULPS x2, p, p; \
	VSUBPS erfp4<>(SB), p, p; \
	VMULPS x2, p, p; \
	VSUBPS erfp5<>(SB), p, p; \
	VMULPS x2, p, p; \
	VSUBPS erfp6<>(SB), p, p; \
	VMULPS erfq0<>(SB), x2, q; \
	VSUBPS erfq1<>(SB), q, q; \
	VMULPS x2, q, q; \
	VSUBPS erfq2<>(SB), q, q; \
	VMULPS x2, q, q; \
	VSUBPS erfq3<>(SB), q, q; \
	VMULPS x2, q, q; \
	VSUBPS erfq4<>(SB), q, q; \
	VMULPS p, x, x; \
	VDIVPS q, x, x; \
	VMAXPS x, Y14, x; \
	VMINPS x, Y15, x

// EXPNEG(x, e, t, n, z, m): e = expNeg(x), x kept; t, n, z and m are
// scratch. As the Go function: t = x·log2e + ½, n = floor(t) by truncation
// and a decrement where float32(n) > t, r = x − n·ln2hi + n·ln2lo, e =
// p(r)·r·r + r + 1 scaled by 2ⁿ from the exponent bits; 0 where x < −87.68,
// x where x is NaN.
#define EXPNEG(x, e, t, n, z, m) \
	VMULPS log2e<>(SB), x, t; \
	VADDPS half<>(SB), t, t; \
	VCVTTPS2DQ t, n; \
	VCVTDQ2PS n, z; \
	VCMPPS $0x0e, t, z, m; \
	VPADDD m, n, n; \
	VCVTDQ2PS n, z; \
	VMULPS ln2hi<>(SB), z, m; \
	VSUBPS m, x, t; \
	VMULPS ln2lo<>(SB), z, m; \
	VADDPS m, t, t; \
	VMULPS expc0<>(SB), t, e; \
	VADDPS expc1<>(SB), e, e; \
	VMULPS t, e, e; \
	VADDPS expc2<>(SB), e, e; \
	VMULPS t, e, e; \
	VADDPS expc3<>(SB), e, e; \
	VMULPS t, e, e; \
	VADDPS expc4<>(SB), e, e; \
	VMULPS t, e, e; \
	VADDPS expc5<>(SB), e, e; \
	VMULPS t, e, e; \
	VMULPS t, e, e; \
	VADDPS t, e, e; \
	VADDPS one<>(SB), e, e; \
	VPADDD bias<>(SB), n, n; \
	VPSLLD $23, n, n; \
	VMULPS n, e, e; \
	VCMPPS $0x01, explo<>(SB), x, m; \
	VANDNPS e, m, e; \
	VCMPPS $0x03, x, x, m; \
	VBLENDVPS m, x, e, e

#define CLAMPS \
	VMOVUPS mfour<>(SB), Y12; \
	VMOVUPS four<>(SB), Y13; \
	VMOVUPS mone<>(SB), Y14; \
	VMOVUPS one<>(SB), Y15

// func geluAVX2(y, x *float32, n int)
TEXT ·geluAVX2(SB), NOSPLIT, $0-24
	MOVQ y+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $3, CX
	CLAMPS
gelu_loop:
	VMOVUPS (SI), Y0
	VMULPS isqrt2<>(SB), Y0, Y1
	ERF(Y1, Y2, Y3, Y4)
	VADDPS one<>(SB), Y1, Y1
	VMULPS half<>(SB), Y0, Y0
	VMULPS Y1, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ gelu_loop
	VZEROUPPER
	RET

// func geluBackwardAVX2(dx, x, dy *float32, n int)
TEXT ·geluBackwardAVX2(SB), NOSPLIT, $0-32
	MOVQ dx+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ dy+16(FP), DX
	MOVQ n+24(FP), CX
	SHRQ $3, CX
	CLAMPS
geluback_loop:
	VMOVUPS (SI), Y0
	VMULPS isqrt2<>(SB), Y0, Y1
	ERF(Y1, Y2, Y3, Y4)
	VADDPS one<>(SB), Y1, Y1
	VMULPS half<>(SB), Y1, Y1 // cdf
	VMULPS mhalf<>(SB), Y0, Y5
	VMULPS Y0, Y5, Y5         // −0.5·v·v
	EXPNEG(Y5, Y6, Y7, Y8, Y9, Y10)
	VMULPS isqrt2pi<>(SB), Y6, Y6 // pdf
	VMULPS Y0, Y6, Y6
	VADDPS Y6, Y1, Y1
	VMULPS (DX), Y1, Y1
	VMOVUPS Y1, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $32, DX
	DECQ CX
	JNZ geluback_loop
	VZEROUPPER
	RET

// func expNegShiftAVX2(y, x *float32, n int, shift float32)
TEXT ·expNegShiftAVX2(SB), NOSPLIT, $0-28
	MOVQ y+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $3, CX
	VBROADCASTSS shift+24(FP), Y11
expshift_loop:
	VMOVUPS (SI), Y0
	VSUBPS Y11, Y0, Y0
	EXPNEG(Y0, Y1, Y2, Y3, Y4, Y5)
	VMOVUPS Y1, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ expshift_loop
	VZEROUPPER
	RET
