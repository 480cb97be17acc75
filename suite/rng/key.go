package rng

import "math/rand/v2"

// Key identifies one stream: (seed, name, keys...) hashed once. It is a
// small value that allocates nothing, so it can be derived per sample or
// per pass, and handed to a device kernel.
//
// A Key gives two views of its stream:
//   - At(i) is the i-th value of a counter-based sequence: a pure function
//     of (key, i) that any thread can compute on its own, in any order.
//     Dropout masks and ESAM/SSAM masks use it, so that a GPU kernel can
//     draw element i without the draws before it.
//   - PCG() is the sequential generator of New(seed, name, keys...), with
//     the same values: data order, augmentation and initialisation use it.
type Key struct{ s1, s2 uint64 }

// NewKey derives the key of the stream called name under seed, further
// keyed by keys. NewKey(s, n, k...).Rand() draws what New(s, n, k...) does.
func NewKey(seed uint64, name string, keys ...uint64) Key {
	h := uint64(fnvOffset)
	h = fnvWord(h, seed)
	for i := 0; i < len(name); i++ {
		h = (h ^ uint64(name[i])) * fnvPrime
	}
	for _, k := range keys {
		h = fnvWord(h, k)
	}
	s1 := mix(h)
	return Key{s1: s1, s2: mix(s1 ^ golden)}
}

// FNV-1a, written out because hash/fnv's New64a returns an interface and
// so allocates.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
	golden    = 0x9e3779b97f4a7c15
)

// fnvWord hashes v's eight little-endian bytes into h.
func fnvWord(h, v uint64) uint64 {
	for i := 0; i < 8; i++ {
		h = (h ^ (v & 0xff)) * fnvPrime
		v >>= 8
	}
	return h
}

// PCG is the sequential generator of the stream, as a value: a caller that
// keeps it in a variable draws without allocating.
func (k Key) PCG() rand.PCG {
	var p rand.PCG
	p.Seed(k.s1, k.s2)
	return p
}

// Rand is the sequential generator of the stream behind the math/rand/v2
// API (it allocates).
func (k Key) Rand() *rand.Rand {
	p := k.PCG()
	return rand.New(&p)
}

// At is the i-th value of the counter-based sequence: two rounds of the
// splitmix64 finaliser over the key and the counter. Every value is the
// same on every machine and backend; a kernel computes it with 64-bit
// integer multiplies and shifts only.
func (k Key) At(i uint64) uint64 {
	return mix(mix(k.s1^(i*golden)) ^ k.s2)
}

// Float64At is At(i) as a uniform float64 in [0, 1) (its top 53 bits).
func (k Key) Float64At(i uint64) float64 {
	return float64(k.At(i)>>11) / (1 << 53)
}

// Float32At is At(i) as a uniform float32 in [0, 1) (its top 24 bits).
func (k Key) Float32At(i uint64) float32 {
	return float32(k.At(i)>>40) / (1 << 24)
}
