//go:build !dnnl

package nn

// Without oneDNN, BatchedMatMul runs products below OpenBLAS's threading
// threshold side by side (each is single-threaded there) and larger ones
// one after another on the threaded GEMM.
const gemm1Single = false

func gemm1(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}
