package nntest

import (
	"fmt"
	"math"
	"testing"

	"github.com/rst-bench/rst/suite/nn"
)

// poolShapes: the usual 2×2/2 (even and odd sides), overlapping 3×3
// windows with padding at stride 2 and 1, tiling 3×3/3, and a wider one.
var poolShapes = []convShape{
	{N: 2, H: 4, W: 4, C: 3, G: nn.ConvGeom{KH: 2, KW: 2, Stride: 2}},
	{N: 1, H: 5, W: 5, C: 5, G: nn.ConvGeom{KH: 2, KW: 2, Stride: 2}},
	{N: 2, H: 7, W: 6, C: 3, G: nn.ConvGeom{KH: 3, KW: 3, Stride: 2, Pad: 1}},
	{N: 1, H: 4, W: 5, C: 1, G: nn.ConvGeom{KH: 3, KW: 3, Stride: 1, Pad: 1}},
	{N: 2, H: 6, W: 6, C: 4, G: nn.ConvGeom{KH: 3, KW: 3, Stride: 3}},
	{N: 3, H: 8, W: 8, C: 64, G: nn.ConvGeom{KH: 2, KW: 2, Stride: 2}},
}

func (s convShape) poolName() string {
	return fmt.Sprintf("n%d_%dx%dx%d_k%dx%ds%dp%d", s.N, s.H, s.W, s.C, s.G.KH, s.G.KW, s.G.Stride, s.G.Pad)
}

// sumTol is the float32 summation bound for `terms` terms of absolute sum
// mag, plus two roundings (a scaling and the sum's own): exact for a
// single term's copy up to those, and exact zero where nothing is added.
func sumTol(terms []int, mag []float64) []float64 {
	tol := make([]float64, len(mag))
	for i := range tol {
		tol[i] = float64(terms[i]+2) * u32 * mag[i]
	}
	return tol
}

func constTerms(n, k int) []int {
	t := make([]int, n)
	for i := range t {
		t[i] = k
	}
	return t
}

func poolKernels(t *testing.T, b nn.Backend, o Options) {
	for i, s := range poolShapes {
		t.Run("MaxPool/"+s.poolName(), func(t *testing.T) {
			run(t, b, o, uint64(300+i), func(e *env) { maxPoolCase(e, s) })
		})
		t.Run("AvgPool/"+s.poolName(), func(t *testing.T) {
			run(t, b, o, uint64(400+i), func(e *env) { avgPoolCase(e, s) })
		})
	}
	// Many equal maxima (ReLU zeros, small integers) in tiling windows: the
	// gradient of each window must go to exactly one of its maxima, or a
	// max-pool after a ReLU multiplies gradients.
	for i, s := range []convShape{
		{N: 2, H: 4, W: 4, C: 3, G: nn.ConvGeom{KH: 2, KW: 2, Stride: 2}},
		{N: 1, H: 6, W: 6, C: 2, G: nn.ConvGeom{KH: 3, KW: 3, Stride: 3}},
		{N: 1, H: 5, W: 5, C: 3, G: nn.ConvGeom{KH: 2, KW: 2, Stride: 2, Pad: 1}},
	} {
		t.Run("MaxPoolTies/"+s.poolName(), func(t *testing.T) {
			run(t, b, o, uint64(500+i), func(e *env) { maxPoolTiesCase(e, s) })
		})
	}
	for i, shape := range [][]int{{2, 3, 3, 5}, {1, 1, 1, 3}, {2, 4, 4, 7}, {3, 8, 8, 64}} {
		t.Run("GlobalAvgPool/"+shapeName(shape), func(t *testing.T) {
			run(t, b, o, uint64(600+i), func(e *env) { globalPoolCase(e, shape) })
		})
	}
}

func maxPoolCase(e *env, s convShape) {
	oh, ow := s.out()
	xShape, yShape := []int{s.N, s.H, s.W, s.C}, []int{s.N, oh, ow, s.C}
	xs, dys := e.randn(numel(xShape), 1, 0), e.randn(numel(yShape), 1, 0)
	x, y := e.tensor("x", xs, xShape...), e.tensor("y", e.garbage(len(dys)), yShape...)
	// The maximum is one of the inputs: exact.
	e.b.MaxPool(x, y, s.G)
	want, arg := refMaxPool(f64(xs), s)
	gotY := e.down(y)
	e.expectExact("MaxPool y", yShape, gotY, want)

	// Inputs are distinct, so each window has one argmax; overlapping
	// windows add their gradients (float32 sum bound).
	dy, dx := e.tensor("dy", dys, yShape...), e.tensor("dx", e.garbage(len(xs)), xShape...)
	e.b.MaxPoolBackward(x, y, dy, dx, s.G)
	rdx, mag, terms := refMaxPoolBackward(f64(dys), arg, len(xs))
	gotDX := e.down(dx)
	e.expect("MaxPoolBackward dx", xShape, gotDX, rdx, sumTol(terms, mag))

	// Max-pool is exact selection, so the only error in the difference is
	// a window whose maximum changes within the step: rare at h = 1e-4.
	f := func() float64 { e.b.MaxPool(x, y, s.G); return e.weighted(y, dys) }
	e.fdCheck("MaxPoolBackward vs finite differences", []fdVar{{t: x, x: xs, g: gotDX, h: 1e-4}}, f, 2, 1e-3, 0)
}

func maxPoolTiesCase(e *env, s convShape) {
	oh, ow := s.out()
	xShape, yShape := []int{s.N, s.H, s.W, s.C}, []int{s.N, oh, ow, s.C}
	xs := e.randn(numel(xShape), 1.5, 0)
	for i, v := range xs {
		xs[i] = float32(max(math.Round(float64(v)), 0))
	}
	dys := e.randn(numel(yShape), 1, 0)
	x, y := e.tensor("x", xs, xShape...), e.tensor("y", e.garbage(len(dys)), yShape...)
	e.b.MaxPool(x, y, s.G)
	want, _ := refMaxPool(f64(xs), s)
	gotY := e.down(y)
	e.expectExact("MaxPool y (ties)", yShape, gotY, want)
	dy, dx := e.tensor("dy", dys, yShape...), e.tensor("dx", e.garbage(len(xs)), xShape...)
	e.b.MaxPoolBackward(x, y, dy, dx, s.G)
	gotDX := e.down(dx)
	// Each input lies in at most one window here; record which.
	owner := make([]int, len(xs))
	for i := range owner {
		owner[i] = -1
	}
	s.window(func(_, o, _, _, in int) {
		for c := 0; c < s.C; c++ {
			owner[in*s.C+c] = o*s.C + c
		}
	})
	sum := make([]float64, len(dys))
	count := make([]int, len(dys))
	for i, g := range gotDX {
		if g == 0 {
			continue
		}
		o := owner[i]
		if o < 0 || float64(xs[i]) != want[o] {
			e.t.Errorf("MaxPoolBackward (ties): dx%s = %v at an input that is not its window's maximum", coord(xShape, i), g)
			return
		}
		sum[o] += float64(g)
		count[o]++
	}
	for o := range dys {
		if count[o] != 1 || float32(sum[o]) != dys[o] {
			e.t.Errorf("MaxPoolBackward (ties): window %s sends its gradient %v to %d inputs (sum %v); want exactly one maximum to get all of it",
				coord(yShape, o), dys[o], count[o], sum[o])
			return
		}
	}
}

func avgPoolCase(e *env, s convShape) {
	oh, ow := s.out()
	xShape, yShape := []int{s.N, s.H, s.W, s.C}, []int{s.N, oh, ow, s.C}
	k := s.G.KH * s.G.KW
	xs, dys := e.randn(numel(xShape), 1, 0.3), e.randn(numel(yShape), 1, 0)
	x, y := e.tensor("x", xs, xShape...), e.tensor("y", e.garbage(len(dys)), yShape...)
	// The divisor is KH·KW, padding included (the frameworks' default).
	e.b.AvgPool(x, y, s.G)
	want, mag := refAvgPool(f64(xs), s)
	e.expect("AvgPool y", yShape, e.down(y), want, sumTol(constTerms(len(want), k+1), mag))

	dy, dx := e.tensor("dy", dys, yShape...), e.tensor("dx", e.garbage(len(xs)), xShape...)
	e.b.AvgPoolBackward(dy, dx, s.G)
	rdx, dmag := refAvgPoolBackward(f64(dys), s)
	gotDX := e.down(dx)
	e.expect("AvgPoolBackward dx", xShape, gotDX, rdx, sumTol(constTerms(len(rdx), k+1), dmag))

	// Linear: exact up to rounding.
	f := func() float64 { e.b.AvgPool(x, y, s.G); return e.weighted(y, dys) }
	e.fdCheck("AvgPoolBackward vs finite differences", []fdVar{{t: x, x: xs, g: gotDX, h: 0.5}}, f, 2, 1e-4, 0)
}

func globalPoolCase(e *env, shape []int) {
	n, hw, c := shape[0], shape[1]*shape[2], shape[3]
	xs, dys := e.randn(numel(shape), 1, 0.3), e.randn(n*c, 1, 0)
	x, y := e.tensor("x", xs, shape...), e.tensor("y", e.garbage(n*c), n, c)
	e.b.GlobalAvgPool(x, y)
	want, mag := make([]float64, n*c), make([]float64, n*c)
	for i, v := range xs {
		o := (i/(hw*c))*c + i%c
		want[o] += float64(v) / float64(hw)
		mag[o] += math.Abs(float64(v)) / float64(hw)
	}
	e.expect("GlobalAvgPool y", []int{n, c}, e.down(y), want, sumTol(constTerms(n*c, hw+1), mag))

	// The backward writes (not adds) dy/HW everywhere.
	dy, dx := e.tensor("dy", dys, n, c), e.tensor("dx", e.garbage(len(xs)), shape...)
	e.b.GlobalAvgPoolBackward(dy, dx)
	rdx, dmag := make([]float64, len(xs)), make([]float64, len(xs))
	for i := range rdx {
		g := float64(dys[(i/(hw*c))*c+i%c])
		rdx[i], dmag[i] = g/float64(hw), math.Abs(g)/float64(hw)
	}
	gotDX := e.down(dx)
	e.expect("GlobalAvgPoolBackward dx", shape, gotDX, rdx, sumTol(constTerms(len(rdx), 1), dmag))

	f := func() float64 { e.b.GlobalAvgPool(x, y); return e.weighted(y, dys) }
	e.fdCheck("GlobalAvgPoolBackward vs finite differences", []fdVar{{t: x, x: xs, g: gotDX, h: 0.5}}, f, 2, 1e-4, 0)
}
