package rng

import (
	"math"
	"math/rand/v2"
)

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

// NormalAt is a standard normal value drawn from At(i) by Box–Muller: the
// top 32 bits give u₁ in (0, 1], the low 32 bits u₂ in [0, 1), and
// z = √(−2 ln u₁)·cos 2πu₂. Its logarithm and cosine are series written
// with +, −, ×, ÷ and √ only, each rounded once (no fused multiply-add,
// which the float64 conversions forbid), because the math libraries of
// the host and of a device differ in their last bits: a kernel that does
// the same operations in double gets the same float32, bit for bit.
func (k Key) NormalAt(i uint64) float32 {
	x := k.At(i)
	u1 := float64(x>>32+1) / (1 << 32)
	u2 := float64(x&0xffffffff) / (1 << 32)
	return float32(float64(math.Sqrt(-2*logSeries(u1)) * cos2PiSeries(u2)))
}

const (
	ln2   = 0.6931471805599453
	twoPi = 6.283185307179586
	rt1_2 = 0.7071067811865476 // √½
)

// logSeries is ln u for u in (0, 1]: u = m·2^e with m in [√½, √2), then
// ln m = 2·atanh s, s = (m−1)/(m+1), |s| ≤ 0.172, by its series to s²³
// (error below 1e-17).
func logSeries(u float64) float64 {
	e := 0.0
	for u < rt1_2 {
		u *= 2
		e--
	}
	s := (u - 1) / (u + 1)
	s2 := float64(s * s)
	r := 1.0 / 23
	for k := 10; k >= 0; k-- {
		r = 1/float64(2*k+1) + float64(s2*r)
	}
	return float64(e*ln2) + float64(2*float64(s*r))
}

// cos2PiSeries is cos 2πu for u in [0, 1), u a multiple of 2⁻³² (so the
// reductions below are exact): by symmetry the angle is brought to
// [0, π/4], where a Taylor series to t²⁰ errs below 1e-20.
func cos2PiSeries(u float64) float64 {
	if u >= 0.5 {
		u = 1 - u
	}
	sign := 1.0
	if u > 0.25 {
		u, sign = 0.5-u, -1
	}
	sine := u > 0.125 // cos 2πu = sin 2π(¼ − u)
	if sine {
		u = 0.25 - u
	}
	t := float64(twoPi * u)
	t2 := float64(t * t)
	r := 1.0
	for k := 10; k >= 1; k-- {
		d := float64(2 * k)
		if sine {
			d *= float64(2*k + 1)
		} else {
			d *= float64(2*k - 1)
		}
		r = 1 - float64(t2*r)/d
	}
	if sine {
		r = float64(t * r)
	}
	return sign * r
}
