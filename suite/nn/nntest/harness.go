package nntest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/rst-bench/rst/suite/nn"
)

// u32 is the unit roundoff of float32: one correctly rounded operation has
// relative error at most u32.
const u32 = 0x1p-24

// Options loosen the tolerances for backends that compute in lower
// precision on purpose.
type Options struct {
	// GEMMInputRounding is the relative rounding a backend applies to the
	// inputs of its GEMM-based kernels (MatMul, Conv2D, Conv2DBackward):
	// 0 for float32 GEMMs, 0x1p-11 for TF32. Each product then has
	// relative error up to twice this, which is added to the float32
	// summation bound.
	GEMMInputRounding float64
}

// sentinel fills the padding around views: a NaN with a payload of our
// own, so that reading it poisons an output and overwriting it is seen.
var sentinel = math.Float32frombits(0x7fc0dead)

// layout says how a check allocates its tensors.
type layout struct {
	name string
	off  int // 0: b.New; >0: a view of a view at this offset in a padded buffer
}

var layouts = []layout{{"fresh", 0}, {"view", 13}}

// env is one check's backend, random stream and allocated tensors.
type env struct {
	t    *testing.T
	b    nn.Backend
	r    *rand.Rand
	o    Options
	off  int
	pads []padded
}

type padded struct {
	name   string
	parent *nn.Tensor
	off, n int
}

// run runs f once per layout, each in its own subtest, then checks that no
// kernel wrote into the padding around the views.
func run(t *testing.T, b nn.Backend, o Options, seed uint64, f func(e *env)) {
	t.Helper()
	for _, l := range layouts {
		t.Run(l.name, func(t *testing.T) {
			e := &env{t: t, b: b, r: rand.New(rand.NewPCG(seed, 0x5eed)), o: o, off: l.off}
			f(e)
			e.checkPads()
			// Operations return nothing; a failure shows in Err.
			if err := b.Err(); err != nil {
				t.Errorf("backend failed: %v", err)
			}
		})
	}
}

// tensor makes a tensor of the given shape holding vals.
func (e *env) tensor(name string, vals []float32, shape ...int) *nn.Tensor {
	n := numel(shape)
	if len(vals) != n {
		panic(fmt.Sprintf("nntest: %d values for %s%v", len(vals), name, shape))
	}
	if e.off == 0 {
		x := e.b.New(shape...)
		e.b.Upload(x, vals)
		return x
	}
	// A view of a view: device backends must compose offsets.
	const tail = 5
	total := e.off + n + tail
	buf := make([]float32, total)
	for i := range buf {
		buf[i] = sentinel
	}
	copy(buf[e.off:], vals)
	p := e.b.New(total)
	e.b.Upload(p, buf)
	mid := e.b.View(p, 3, total-3)
	v := e.b.View(mid, e.off-3, shape...)
	e.pads = append(e.pads, padded{name: name, parent: p, off: e.off, n: n})
	return v
}

// checkPads reports padding a kernel overwrote.
func (e *env) checkPads() {
	for _, p := range e.pads {
		got := make([]float32, p.parent.Len())
		e.b.Download(got, p.parent)
		for i, v := range got {
			if (i < p.off || i >= p.off+p.n) && math.Float32bits(v) != math.Float32bits(sentinel) {
				e.t.Errorf("%s: element %d of the buffer around the view [%d,%d) was overwritten with %v", p.name, i, p.off, p.off+p.n, v)
				break
			}
		}
	}
}

func (e *env) down(x *nn.Tensor) []float32 {
	d := make([]float32, x.Len())
	e.b.Download(d, x)
	return d
}

// randn returns n standard normal values scaled by s and shifted by m.
func (e *env) randn(n int, s, m float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(m + s*e.r.NormFloat64())
	}
	return v
}

// garbage is what outputs hold before a kernel runs: finite, nonzero, so
// a kernel that adds to its output instead of overwriting it fails.
func (e *env) garbage(n int) []float32 { return e.randn(n, 7, 3) }

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

func f64(v []float32) []float64 {
	o := make([]float64, len(v))
	for i, x := range v {
		o[i] = float64(x)
	}
	return o
}

// same returns a tolerance slice of n copies of v.
func same(n int, v float64) []float64 {
	o := make([]float64, n)
	for i := range o {
		o[i] = v
	}
	return o
}

// scaled returns c·mag[i] for each i.
func scaled(c float64, mag []float64) []float64 {
	o := make([]float64, len(mag))
	for i, m := range mag {
		o[i] = c * m
	}
	return o
}

// coord spells flat index i of shape as [a,b,c].
func coord(shape []int, i int) string {
	c := make([]string, len(shape))
	for k := len(shape) - 1; k >= 0; k-- {
		c[k] = fmt.Sprint(i % shape[k])
		i /= shape[k]
	}
	return "[" + strings.Join(c, ",") + "]"
}

// expect checks |got−want| ≤ tol elementwise (NaN never passes) and
// reports how many elements are off, the first few and the worst.
func (e *env) expect(what string, shape []int, got []float32, want, tol []float64) bool {
	e.t.Helper()
	if len(got) != len(want) || len(tol) != len(want) {
		panic(fmt.Sprintf("nntest: %s: %d values, %d wanted, %d tolerances", what, len(got), len(want), len(tol)))
	}
	var bad []string
	nbad, worst, worstAt := 0, 0.0, -1
	for i, g := range got {
		err := math.Abs(float64(g) - want[i])
		if err <= tol[i] {
			continue
		}
		nbad++
		if len(bad) < 3 {
			bad = append(bad, fmt.Sprintf("%s = %.8g, want %.8g (tolerance %.3g)", coord(shape, i), g, want[i], tol[i]))
		}
		if r := err / (tol[i] + 1e-300); math.IsNaN(err) || r > worst {
			worst, worstAt = r, i
			if math.IsNaN(err) {
				worst = math.Inf(1)
			}
		}
	}
	if nbad == 0 {
		return true
	}
	e.t.Errorf("%s%v: %d of %d elements off: %s; worst %s = %.8g, want %.8g",
		what, shape, nbad, len(got), strings.Join(bad, "; "), coord(shape, worstAt), got[worstAt], want[worstAt])
	return false
}

// expectExact checks bit-for-bit equality with float32(want).
func (e *env) expectExact(what string, shape []int, got []float32, want []float64) bool {
	e.t.Helper()
	w := make([]float64, len(want))
	for i, v := range want {
		w[i] = float64(float32(v))
	}
	return e.expect(what, shape, got, w, make([]float64, len(want)))
}

// expectScalar checks one value.
func (e *env) expectScalar(what string, got, want, tol float64) {
	e.t.Helper()
	if !(math.Abs(got-want) <= tol) {
		e.t.Errorf("%s = %.10g, want %.10g (|error| %.3g > tolerance %.3g)", what, got, want, math.Abs(got-want), tol)
	}
}

// gemmTol is the error bound of a float32 sum of `terms` products whose
// absolute values add up to mag, in any order: (terms+2)·u·mag (Higham's
// γ_n bound, plus the rounding of each product and of alpha/beta), plus
// the backend's declared input rounding. It holds for blocked, pairwise
// or sequential summation alike, and is still far below one term's size
// (mag/terms) for the sizes tested, so a missing or misplaced term fails.
func (e *env) gemmTol(terms int, mag float64) float64 {
	return (2*e.o.GEMMInputRounding + float64(terms+2)*u32) * mag
}
