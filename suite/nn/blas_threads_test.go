//go:build openblas

package nn

import (
	"runtime"
	"testing"
)

// OpenBLAS runs on GOMAXPROCS threads whatever OPENBLAS_NUM_THREADS says,
// so the thread count a record names is the one its GEMMs used.
func TestOpenBLASFollowsGOMAXPROCS(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	a := []float32{1, 2, 3, 4}
	c := make([]float32, 4)
	for _, n := range []int{1, min(2, runtime.NumCPU())} {
		runtime.GOMAXPROCS(n)
		gemm(false, false, 2, 2, 2, 1, a, 2, a, 2, 0, c, 2)
		if got := openBLASThreads(); got != n {
			t.Errorf("GOMAXPROCS %d: OpenBLAS on %d threads", n, got)
		}
	}
	if c[0] != 7 || c[3] != 22 {
		t.Errorf("gemm = %v, want [7 10 15 22]", c)
	}
}
