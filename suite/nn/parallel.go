package nn

import (
	"runtime"
	"sync"
)

// parallelFor runs fn over [0,n) split into contiguous ranges, one per
// worker, with at least grain items each. Results must not depend on the
// split: use it for element-wise work, or for reductions written into
// per-chunk slots combined afterwards in a fixed order.
func parallelFor(n, grain int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	workers := runtime.GOMAXPROCS(0)
	if grain < 1 {
		grain = 1
	}
	if w := (n + grain - 1) / grain; w < workers {
		workers = w
	}
	if workers <= 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	step := (n + workers - 1) / workers
	for lo := step; lo < n; lo += step {
		hi := min(lo+step, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	fn(0, min(step, n))
	wg.Wait()
}

// reduceChunk is the fixed number of rows per partial sum in reductions.
// It does not depend on the number of workers, so sums are bit-identical
// however many cores run them.
const reduceChunk = 256
