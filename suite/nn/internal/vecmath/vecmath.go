// Package vecmath holds the CPU backend's vectorised float32 kernels for
// the transformer's element-wise functions: GELU, its gradient, and the
// exponential of softmax. On amd64 with AVX2 they run eight lanes at a
// time in assembly; elsewhere (or with the purego tag) Available is false
// and every kernel processes nothing, leaving the work to the caller's Go
// loop.
//
// Each lane does exactly the float32 operations, in the same order and
// without fused multiply-adds, of the scalar Go functions in suite/nn
// (erf32, expNeg and the GELU expressions there), so a kernel's results
// are bit for bit those of the Go loop it replaces: which path ran, on
// which machine, and where a range was split between threads do not
// change a result. suite/nn's tests check that on dense sweeps, random
// bit patterns and the special values.
//
// It is a package of its own because the go command hands the .s files
// of a package that uses cgo (suite/nn does, for OpenBLAS and oneDNN) to
// the C compiler rather than the Go assembler.
package vecmath

// GELU sets y[i] = 0.5·x[i]·(1 + erf32(x[i]/√2)) for the first n elements
// of x, n = len(x) rounded down to a multiple of 8, and returns n (0 where
// the kernels are not Available). y must be at least as long as x.
func GELU(y, x []float32) int {
	n := len(x) &^ 7
	if !Available || n == 0 {
		return 0
	}
	_ = y[n-1]
	geluAVX2(&y[0], &x[0], n)
	return n
}

// GELUBackward sets dx[i] = dy[i]·(Φ(x[i]) + x[i]·φ(x[i])), Φ(v) =
// 0.5·(1 + erf32(v/√2)), φ(v) = expNeg(−0.5·v·v)/√(2π), for the first n
// elements as GELU, and returns n.
func GELUBackward(dx, x, dy []float32) int {
	n := len(x) &^ 7
	if !Available || n == 0 {
		return 0
	}
	_, _ = dx[n-1], dy[n-1]
	geluBackwardAVX2(&dx[0], &x[0], &dy[0], n)
	return n
}

// ExpNegShift sets y[i] = expNeg(x[i] − shift) for the first n elements
// as GELU (softmax's exponentials, shift its row maximum), and returns n.
func ExpNegShift(y, x []float32, shift float32) int {
	n := len(x) &^ 7
	if !Available || n == 0 {
		return 0
	}
	_ = y[n-1]
	expNegShiftAVX2(&y[0], &x[0], n, shift)
	return n
}
