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

// stream reproduces rng.New(seed, "augment", epoch, index) without heap
// allocation, for FillBatch, which draws a fresh stream per sample and must
// allocate nothing (rng.New returns a *rand.Rand built around an interface,
// which escapes). It derives the PCG state exactly as rng.New does (FNV-1a
// over the key, then the splitmix64 finaliser); TestStreamMatchesRNG checks
// that both give the same sequence, so a change to suite/rng cannot drift
// silently.
type stream struct{ pcg rand.PCG }

func (s *stream) seed(sum uint64) {
	s1 := splitmix(sum)
	s2 := splitmix(s1 ^ 0x9e3779b97f4a7c15)
	s.pcg.Seed(s1, s2)
}

func (s *stream) Uint64() uint64 { return s.pcg.Uint64() }

// augmentStream is the stream of rng.New(seed, "augment", epoch, index),
// with FNV-1a written out by hand (hash/fnv's New64a returns an interface).
func augmentStream(seed uint64, epoch, index uint64) stream {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset)
	word := func(v uint64) {
		for i := 0; i < 8; i++ {
			h ^= v & 0xff
			h *= prime
			v >>= 8
		}
	}
	word(seed)
	for i := 0; i < len(augmentName); i++ {
		h ^= uint64(augmentName[i])
		h *= prime
	}
	word(epoch)
	word(index)
	var s stream
	s.seed(h)
	return s
}

const augmentName = "augment"

// splitmix is the splitmix64 finaliser, as in suite/rng.
func splitmix(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
