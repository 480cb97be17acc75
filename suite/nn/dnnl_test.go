//go:build dnnl

package nn

import (
	"math"
	"math/rand/v2"
	"testing"
)

// maxRelErr is max|a−b| / max(max|b|, 1e-6): the error relative to the
// largest magnitude, since summation order differs between the kernels.
func maxRelErr(a, b []float32) float64 {
	var diff, scale float64
	for i := range a {
		diff = max(diff, math.Abs(float64(a[i])-float64(b[i])))
		scale = max(scale, math.Abs(float64(b[i])))
	}
	return diff / max(scale, 1e-6)
}

// dnnlTol bounds the oneDNN kernels' deviation from the Go kernels,
// relative to the largest output: both sum the same products in float32,
// in different orders (and oneDNN with FMA), so they agree to a few
// units in the last place of the sum's magnitude.
const dnnlTol = 1e-5

var convShapes = []struct {
	n, h, w, cin, cout int
	g                  ConvGeom
}{
	{3, 7, 9, 5, 7, ConvGeom{3, 3, 1, 1}},    // odd sizes, 3×3 same padding
	{2, 9, 8, 3, 13, ConvGeom{3, 3, 2, 1}},   // stride 2, an RGB-like stem
	{4, 6, 6, 10, 6, ConvGeom{1, 1, 1, 0}},   // pointwise
	{2, 11, 7, 12, 20, ConvGeom{1, 1, 2, 0}}, // strided projection shortcut
	{2, 8, 8, 16, 32, ConvGeom{3, 3, 1, 1}},  // multiples of 8 (blocked layouts)
	{1, 5, 5, 4, 3, ConvGeom{3, 3, 1, 0}},    // no padding
	{2, 10, 10, 6, 9, ConvGeom{5, 5, 2, 2}},  // wider window
}

func TestDNNLConvMatchesGoKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	c := NewCPU()
	for _, s := range convShapes {
		oh, ow := s.g.Out(s.h, s.w)
		x := randTensor(c, r, s.n, s.h, s.w, s.cin)
		w := randTensor(c, r, s.cout, s.g.KH, s.g.KW, s.cin)
		dy := randTensor(c, r, s.n, oh, ow, s.cout)
		want, got := c.New(s.n, oh, ow, s.cout), c.New(s.n, oh, ow, s.cout)
		c.goConv2D(x, w, want, s.g)
		c.Conv2D(x, w, got, s.g)
		wdx, gdx := c.New(x.Shape...), c.New(x.Shape...)
		wdw, gdw := c.New(w.Shape...), c.New(w.Shape...)
		c.goConv2DBackward(x, w, dy, wdx, wdw, s.g)
		c.Conv2DBackward(x, w, dy, gdx, gdw, s.g)
		t.Logf("%+v: %s", s, c.dnnlImpls(x, w, s.g))
		for name, e := range map[string]float64{
			"forward":          maxRelErr(got.Data, want.Data),
			"backward data":    maxRelErr(gdx.Data, wdx.Data),
			"backward weights": maxRelErr(gdw.Data, wdw.Data),
		} {
			if e > dnnlTol {
				t.Errorf("%+v %s: relative error %.3g > %g", s, name, e, dnnlTol)
			}
		}
		// The weight gradient alone (dx nil) is the same as with dx.
		clear(gdw.Data)
		c.Conv2DBackward(x, w, dy, nil, gdw, s.g)
		if e := maxRelErr(gdw.Data, wdw.Data); e > dnnlTol {
			t.Errorf("%+v backward weights without dx: relative error %.3g", s, e)
		}
	}
}

// TestDNNLDeterministic runs each kernel twice on the same inputs: on one
// machine and thread count the results must be bit-identical.
func TestDNNLDeterministic(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	c := NewCPU()
	g := ConvGeom{3, 3, 1, 1}
	x := randTensor(c, r, 8, 16, 16, 32)
	w := randTensor(c, r, 32, 3, 3, 32)
	dy := randTensor(c, r, 8, 16, 16, 32)
	run := func() (y, dx, dw []float32) {
		yt, dxt, dwt := c.New(8, 16, 16, 32), c.New(x.Shape...), c.New(w.Shape...)
		c.Conv2D(x, w, yt, g)
		c.Conv2DBackward(x, w, dy, dxt, dwt, g)
		return yt.Data, dxt.Data, dwt.Data
	}
	y1, dx1, dw1 := run()
	y2, dx2, dw2 := run()
	for name, p := range map[string][2][]float32{"y": {y1, y2}, "dx": {dx1, dx2}, "dw": {dw1, dw2}} {
		for i := range p[0] {
			if math.Float32bits(p[0][i]) != math.Float32bits(p[1][i]) {
				t.Fatalf("%s[%d] differs between two runs: %v vs %v", name, i, p[0][i], p[1][i])
			}
		}
	}
}

// TestDNNLNoAllocation checks that a warmed-up convolution step allocates
// nothing on the Go heap.
func TestDNNLNoAllocation(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	c := NewCPU()
	g := ConvGeom{3, 3, 2, 1}
	x := randTensor(c, r, 4, 12, 12, 8)
	w := randTensor(c, r, 16, 3, 3, 8)
	y, dy := c.New(4, 6, 6, 16), randTensor(c, r, 4, 6, 6, 16)
	dx, dw := c.New(x.Shape...), c.New(w.Shape...)
	step := func() {
		c.Conv2D(x, w, y, g)
		c.Conv2DBackward(x, w, dy, dx, dw, g)
	}
	step()
	if a := testing.AllocsPerRun(5, step); a > 0 {
		t.Errorf("a convolution step allocates %.0f times", a)
	}
}
