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
	"os"
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

// blasIdleTimeout is the OPENBLAS_THREAD_TIMEOUT rst starts OpenBLAS with:
// its worker threads wait 2^4 cycles for the next product, then sleep.
// OpenBLAS's default, 2^28 cycles (about a tenth of a second), keeps them
// calling sched_yield between products, and on a machine whose cores the
// CPU backend's own workers and oneDNN's OpenMP threads also use, they
// take turns with those workers. On two cores a ViT-S block's training
// pass (BenchmarkViTSBlock, 8 images) spent 0.6–0.7 s of system time per
// 10 passes that way, against 0.1 s with the short wait, and ran 15–20%
// faster with it; the products themselves, and their bits, are the same.
const blasIdleTimeout = "4"

// BLASEnv is the environment OpenBLAS should be loaded with, as NAME=VALUE
// pairs: OPENBLAS_CORETYPE where OpenBLAS did not recognise the CPU
// (NativeBLASCore), and OPENBLAS_THREAD_TIMEOUT. OpenBLAS reads both only
// when the process loads it, so the rst command restarts itself with the
// ones the user has not set.
func BLASEnv() []string {
	env := []string{"OPENBLAS_THREAD_TIMEOUT=" + blasIdleTimeout}
	if core := NativeBLASCore(); core != "" {
		env = append(env, "OPENBLAS_CORETYPE="+core)
	}
	return env
}

// BLASIdle says how long OpenBLAS's idle worker threads wait for work
// before they sleep, as this process's environment set it.
func BLASIdle() string {
	if v, ok := os.LookupEnv("OPENBLAS_THREAD_TIMEOUT"); ok {
		return "wait 2^" + v + " cycles for work, then sleep (OPENBLAS_THREAD_TIMEOUT=" + v + ")"
	}
	return "wait OpenBLAS's default 2^28 cycles for work, yielding the core, then sleep"
}
