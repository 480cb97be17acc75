//go:build !openblas

package nn

// blasName names the GEMM implementation this binary was built with.
const blasName = "gonum pure-Go BLAS"

// blasCore is empty: gonum has no CPU-specific kernel sets.
const blasCore = ""

// BLASEnv is empty: gonum's BLAS reads no environment.
func BLASEnv() []string { return nil }

// BLASIdle is empty: gonum's products run on the suite's own workers.
func BLASIdle() string { return "" }

// gonum's Sgemm runs products of four or more 64×64 output blocks on a
// goroutine per block, allocating for each; smaller ones run serially. gemm
// therefore cuts C into tiles of at most three blocks, each a serial call,
// and runs the tiles on the suite's own workers: no per-step garbage, and
// every element is still summed along k in one fixed order.
const gonumBlock = 64

func gemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	tm, tn := 3*gonumBlock, gonumBlock
	if n > m {
		tm, tn = gonumBlock, 3*gonumBlock
	}
	rows, cols := (m+tm-1)/tm, (n+tn-1)/tn
	if rows*cols == 1 {
		sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	parallelFor(rows*cols, 1, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			i0, j0 := (t/cols)*tm, (t%cols)*tn
			mi, nj := min(tm, m-i0), min(tn, n-j0)
			aOff := i0 * lda // A is m×k
			if tA {
				aOff = i0 // A is stored k×m
			}
			bOff := j0 // B is k×n
			if tB {
				bOff = j0 * ldb // B is stored n×k
			}
			sgemm(tA, tB, mi, nj, k, alpha, a[aOff:], lda, b[bOff:], ldb, beta, c[i0*ldc+j0:], ldc)
		}
	})
}
