package nntest

import (
	"fmt"
	"math"
	"sort"
	"testing"

	"github.com/rst-bench/rst/suite/nn"
	"github.com/rst-bench/rst/suite/rng"
)

// The random kernels are defined element by element from rng.Key's
// counter-based sequence, so every backend must produce the same values
// bit for bit; the statistics are checked besides, as a guard against a
// reference and a kernel that agree on a broken stream.
func maskKernels(t *testing.T, b nn.Backend, o Options) {
	const n = 100003
	key := rng.NewKey(7, "nntest", 1)
	// A counter past 2³² catches a device kernel that indexes in 32 bits.
	for _, off := range []uint64{0, 12345, 1<<33 + 5} {
		for _, p := range []float32{0, 0.1, 0.5} {
			t.Run(fmt.Sprintf("DropoutMask/p%g_offset%d", p, off), func(t *testing.T) {
				run(t, b, o, 900, func(e *env) {
					m := e.tensor("mask", e.garbage(n), n)
					e.b.DropoutMask(m, p, key, off)
					keep := float64(1 / (1 - p))
					want, tol := make([]float64, n), make([]float64, n)
					for i := range want {
						if key.Float32At(off+uint64(i)) >= p {
							// 1/(1−p) in float32: one or two roundings.
							want[i], tol[i] = 1/(1-float64(p)), 2*u32*keep
						}
					}
					got := e.down(m)
					e.expect("DropoutMask", []int{n}, got, want, tol)
					zeros := 0
					for _, v := range got {
						if v == 0 {
							zeros++
						}
					}
					binomial(e, fmt.Sprintf("DropoutMask(p=%g) zeros", p), zeros, n, float64(p))
				})
			})
		}
	}
	for _, p := range []float64{0, 0.3, 1} {
		t.Run(fmt.Sprintf("Bernoulli/p%g", p), func(t *testing.T) {
			run(t, b, o, 901, func(e *env) {
				m := e.tensor("mask", e.garbage(n), n)
				e.b.Bernoulli(m, p, key)
				want := make([]float64, n)
				ones := 0
				for i := range want {
					if key.Float64At(uint64(i)) < p {
						want[i] = 1
						ones++
					}
				}
				e.expectExact("Bernoulli", []int{n}, e.down(m), want)
				binomial(e, fmt.Sprintf("Bernoulli(p=%g) ones", p), ones, n, p)
			})
		})
	}
	t.Run("Uniform", func(t *testing.T) {
		run(t, b, o, 902, func(e *env) {
			u := e.tensor("t", e.garbage(n), n)
			e.b.Uniform(u, key)
			want := make([]float64, n)
			below := 0
			for i := range want {
				want[i] = float64(key.Float32At(uint64(i)))
				if want[i] < 0.25 {
					below++
				}
			}
			e.expectExact("Uniform", []int{n}, e.down(u), want)
			binomial(e, "Uniform values below 0.25", below, n, 0.25)
		})
	})
	// Normal is rng.Key.NormalAt from the offset on, bit for bit, so a
	// method's Gaussian noise is a function of (seed, stream, offset)
	// whatever the backend; its moments are checked besides.
	for _, off := range []uint64{0, 12345, 1<<33 + 5} {
		t.Run(fmt.Sprintf("Normal/offset%d", off), func(t *testing.T) {
			run(t, b, o, 907, func(e *env) {
				z := e.tensor("t", e.garbage(n), n)
				e.b.Normal(z, key, off)
				want := make([]float64, n)
				for i := range want {
					want[i] = float64(key.NormalAt(off + uint64(i)))
				}
				got := e.down(z)
				e.expectExact("Normal", []int{n}, got, want)
				var s1, s2 float64
				below := 0
				for _, v := range got {
					s1 += float64(v)
					s2 += float64(v) * float64(v)
					if v < -1 {
						below++
					}
				}
				se := 1 / math.Sqrt(n)
				if m := s1 / n; math.Abs(m) > 6*se {
					e.t.Errorf("Normal: mean %v, want 0 within 6 standard errors", m)
				}
				if v := s2 / n; math.Abs(v-1) > 6*math.Sqrt2*se {
					e.t.Errorf("Normal: second moment %v, want 1 within 6 standard errors", v)
				}
				binomial(e, "Normal values below −1", below, n, 0.15865525393145707)
			})
		})
	}
	for _, m := range []int{1, 1000, n} {
		t.Run(fmt.Sprintf("AbsPlus/n%d", m), func(t *testing.T) {
			run(t, b, o, 903, func(e *env) {
				xs := e.randn(m, 1, 0)
				x, y := e.tensor("x", xs, m), e.tensor("y", e.garbage(m), m)
				e.b.AbsPlus(x, y, 0.01)
				want := make([]float64, m)
				for i, v := range xs {
					want[i] = math.Abs(float64(v)) + float64(float32(0.01))
				}
				e.expectExact("AbsPlus y", []int{m}, e.down(y), want)
			})
		})
		t.Run(fmt.Sprintf("Where/n%d", m), func(t *testing.T) {
			run(t, b, o, 904, func(e *env) {
				ms, as, bs := e.randn(m, 1, 0), e.randn(m, 1, 0), e.randn(m, 1, 0)
				for i := range ms {
					ms[i] = float32(math.Max(math.Round(float64(ms[i])), 0)) // many exact zeros
				}
				mask, a, bt := e.tensor("mask", ms, m), e.tensor("a", as, m), e.tensor("b", bs, m)
				y := e.tensor("y", e.garbage(m), m)
				e.b.Where(mask, a, bt, y)
				want := make([]float64, m)
				for i := range want {
					want[i] = float64(bs[i])
					if ms[i] != 0 {
						want[i] = float64(as[i])
					}
				}
				e.expectExact("Where y", []int{m}, e.down(y), want)
			})
		})
	}
	for _, m := range []int{1, 10, 1000, n} {
		for _, keep := range []int{0, 1, m / 3, m - 1, m} {
			t.Run(fmt.Sprintf("TopKMask/n%d_keep%d", m, keep), func(t *testing.T) {
				run(t, b, o, uint64(905+keep), func(e *env) { topKCase(e, m, keep) })
			})
		}
	}
	t.Run("Free", func(t *testing.T) {
		run(t, b, o, 906, func(e *env) {
			xs := e.randn(100, 1, 0)
			a, c := e.b.New(100), e.b.New(100)
			e.b.Upload(c, xs)
			e.b.Free(a)
			e.b.Sync()
			e.expectExact("a tensor after another was freed", []int{100}, e.down(c), f64(xs))
		})
	})
}

// topKCase uses scores with many ties (rounded values), which the
// documented rule resolves by index.
func topKCase(e *env, n, keep int) {
	ss := e.randn(n, 3, 0)
	for i, v := range ss {
		ss[i] = float32(math.Round(float64(v)))
	}
	s, m := e.tensor("score", ss, n), e.tensor("mask", e.garbage(n), n)
	e.b.TopKMask(s, m, keep)
	// Reference: order indices by score (descending), then by index.
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return ss[idx[a]] > ss[idx[b]] })
	want := make([]float64, n)
	for _, i := range idx[:keep] {
		want[i] = 1
	}
	e.expectExact(fmt.Sprintf("TopKMask(keep=%d) mask", keep), []int{n}, e.down(m), want)
}

// binomial checks a count of independent draws of probability q within 6
// standard deviations (a false alarm about once in 10⁹ runs).
func binomial(e *env, what string, count, trials int, q float64) {
	mean, sd := q*float64(trials), math.Sqrt(q*(1-q)*float64(trials))
	if math.Abs(float64(count)-mean) > 6*sd+0.5 {
		e.t.Errorf("%s: %d of %d, expected %.0f ± %.0f", what, count, trials, mean, sd)
	}
}
