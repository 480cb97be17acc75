//go:build openblas

package nn

// gonum.org/v1/netlib calls the CBLAS functions but leaves linking to the
// user (it expects CGO_LDFLAGS). This directive links OpenBLAS into every
// binary built with -tags openblas, so a plain `go build -tags openblas`
// works without the Makefile; pkg-config finds the library wherever the
// system put it (Debian's openblas-pthread folder, Homebrew's prefix).

// #cgo pkg-config: openblas
import "C"

import (
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/netlib/blas/netlib"
)

// blasName names the GEMM implementation this binary was built with.
const blasName = "OpenBLAS (cgo, gonum.org/v1/netlib)"

func init() { blas32.Use(netlib.Implementation{}) }

// gemm hands the whole product to OpenBLAS, which threads it itself.
func gemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}
