//go:build dnnl

package nn

// #cgo LDFLAGS: -ldnnl -lgomp
// #include <oneapi/dnnl/dnnl.h>
// #include <oneapi/dnnl/dnnl_debug.h>
//
// extern void omp_set_num_threads(int);
//
// // rst_sgemm1 is oneDNN's row-major SGEMM on the calling thread alone:
// // OpenMP's thread count is a per-thread setting, so this changes nothing
// // for calls made from other threads (the convolutions set theirs before
// // every call).
// static dnnl_status_t rst_sgemm1(char ta, char tb, dnnl_dim_t m, dnnl_dim_t n, dnnl_dim_t k,
// 		float alpha, const float *a, dnnl_dim_t lda, const float *b, dnnl_dim_t ldb,
// 		float beta, float *c, dnnl_dim_t ldc) {
// 	omp_set_num_threads(1);
// 	return dnnl_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
// }
import "C"

import "fmt"

// gemm1Single says that gemm1 runs every product on one thread, whatever
// its size, so that BatchedMatMul can run all of a batch's products side
// by side.
const gemm1Single = true

// gemm1 is row-major C(m×n) = alpha·op(A)·op(B) + beta·C on the calling
// thread: oneDNN's SGEMM, whose kernels are chosen from the CPU's
// instruction sets (AVX-512, AVX2, …) rather than its model number. A
// product's result does not depend on GOMAXPROCS or on which worker ran it.
func gemm1(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	ta, tb := C.char('N'), C.char('N')
	if tA {
		ta = 'T'
	}
	if tB {
		tb = 'T'
	}
	// The elements each operand's view reaches, checked here because C
	// will not.
	aEnd, bEnd := (m-1)*lda+k, (k-1)*ldb+n
	if tA {
		aEnd = (k-1)*lda + m
	}
	if tB {
		bEnd = (n-1)*ldb + k
	}
	if k < 1 || len(a) < aEnd || len(b) < bEnd || len(c) < (m-1)*ldc+n {
		panic(fmt.Sprintf("nn: gemm1 %dx%dx%d on %d, %d, %d elements", m, n, k, len(a), len(b), len(c)))
	}
	st := C.rst_sgemm1(ta, tb, C.dnnl_dim_t(m), C.dnnl_dim_t(n), C.dnnl_dim_t(k), C.float(alpha),
		(*C.float)(&a[0]), C.dnnl_dim_t(lda), (*C.float)(&b[0]), C.dnnl_dim_t(ldb), C.float(beta), (*C.float)(&c[0]), C.dnnl_dim_t(ldc))
	if st != C.dnnl_success {
		panic(fmt.Sprintf("nn: oneDNN sgemm %dx%dx%d: %s", m, n, k, C.GoString(C.dnnl_status2str(st))))
	}
}
