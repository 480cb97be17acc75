//go:build openblas

package nn

// gonum.org/v1/netlib calls the CBLAS functions but leaves linking to the
// user (it expects CGO_LDFLAGS). This directive links OpenBLAS into every
// binary built with -tags openblas, so a plain `go build -tags openblas`
// works without the Makefile; pkg-config finds the library wherever the
// system put it (Debian's openblas-pthread folder, Homebrew's prefix).

// #cgo pkg-config: openblas
// void openblas_set_num_threads(int);
// int openblas_get_num_threads(void);
// char *openblas_get_corename(void);
import "C"

import (
	"runtime"
	"sync/atomic"

	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/netlib/blas/netlib"
)

// blasCore is the kernel set OpenBLAS chose for this CPU at load time
// (OPENBLAS_CORETYPE overrides its choice): it decides both the speed and
// the rounding of every product, so it is part of the backend's name.
var blasCore = C.GoString(C.openblas_get_corename())

// blasName names the GEMM implementation this binary was built with.
var blasName = "OpenBLAS (cgo, gonum.org/v1/netlib), " + blasCore + " kernels"

func init() { blas32.Use(netlib.Implementation{}) }

// gemm hands the whole product to OpenBLAS, which threads it itself, on
// as many threads as GOMAXPROCS: OpenBLAS would otherwise take its count
// from OPENBLAS_NUM_THREADS or the machine's cores, and a run's result
// would depend on a variable its record does not name (a GEMM split over
// two threads rounds differently from one).
func gemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	syncBLASThreads()
	sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// blasThreads is the thread count last given to OpenBLAS (0 = never).
var blasThreads atomic.Int32

func syncBLASThreads() {
	if n := int32(runtime.GOMAXPROCS(0)); blasThreads.Load() != n {
		C.openblas_set_num_threads(C.int(n))
		blasThreads.Store(n)
	}
}

// openBLASThreads is OpenBLAS's own thread count, for the tests.
func openBLASThreads() int { return int(C.openblas_get_num_threads()) }
