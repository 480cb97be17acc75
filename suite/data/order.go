package data

import (
	"math/bits"
	"math/rand/v2"

	"github.com/rst-bench/rst/suite/rng"
)

// Order returns the sample order of one epoch: a permutation of 0..n-1 that
// is a pure function of (n, seed, epoch), drawn from the stream
// rng.New(seed, "data-order", epoch). The shuffle is our own Fisher–Yates
// over the stream's Uint64 values (not rand.Perm), so that the order does not
// change with the Go release.
func Order(n int, seed uint64, epoch int) []int {
	if n <= 0 {
		return nil
	}
	return permutation(n, rng.New(seed, "data-order", uint64(epoch)))
}

// permutation is a Fisher–Yates shuffle of 0..n-1 driven by src.
func permutation(n int, src rand.Source) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	for i := n - 1; i > 0; i-- {
		j := bounded(src.Uint64(), i+1)
		p[i], p[j] = p[j], p[i]
	}
	return p
}

// bounded maps a uniform 64-bit value to [0, n) by the multiply-high method;
// its bias (at most n/2⁶⁴) is far below anything a run could notice, and it
// never loops, so each draw consumes exactly one value of the stream.
func bounded(u uint64, n int) int {
	hi, _ := bits.Mul64(u, uint64(n))
	return int(hi)
}
