package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/rst-bench/rst/suite/nn/internal/vecmath"
)

// withVector runs f with the vector kernels on or off.
func withVector(on bool, f func()) {
	old := vectorKernels
	vectorKernels = on
	defer func() { vectorKernels = old }()
	f()
}

// sameBits says whether a and b are the same float32, any NaN matching
// any NaN (Go's min and max do not keep a NaN's payload).
func sameBits(a, b float32) bool {
	return math.Float32bits(a) == math.Float32bits(b) || (a != a && b != b)
}

// kernelInputs are the values the vector kernels are checked on: a dense
// sweep of [−12, 12], every special value (zeros, infinities, NaN, the
// smallest subnormal and normal, the largest float32, the ends of erf's
// and exp's ranges and their neighbours), and random bit patterns, which
// reach every exponent. Its length is no multiple of 8, so the Go loop
// does a tail.
func kernelInputs() []float32 {
	var v []float32
	for i := 0; i <= 240001; i++ {
		v = append(v, float32(-12+24*float64(i)/240001))
	}
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()),
		math.Float32frombits(1), math.Float32frombits(0x00800000), math.MaxFloat32, -math.MaxFloat32,
		4, -4, 1, -1, -87.68, -87.3, -88, -103.9, 88.7, 89, 1e-30, -1e-30, 5.65685, -5.65685}
	for _, s := range special {
		v = append(v, s, math.Nextafter32(s, float32(math.Inf(1))), math.Nextafter32(s, float32(math.Inf(-1))))
	}
	r := rand.New(rand.NewPCG(5, 6))
	for range 400003 {
		v = append(v, math.Float32frombits(r.Uint32()))
	}
	return v
}

// The AVX2 kernels give the bits of the Go loops they stand in for, on
// every input, whatever the split of a range between threads.
func TestVectorKernelsMatchScalar(t *testing.T) {
	if !vecmath.Available {
		t.Skip("no vector kernels on this CPU or build")
	}
	c := NewCPU()
	xs := kernelInputs()
	n := len(xs)
	x, dy := c.New(n), c.New(n)
	copy(x.Data, xs)
	r := rand.New(rand.NewPCG(7, 8))
	for i := range dy.Data {
		dy.Data[i] = float32(r.NormFloat64())
	}
	yv, ys, dxv, dxs := c.New(n), c.New(n), c.New(n), c.New(n)
	withVector(true, func() { c.GELU(x, yv); c.GELUBackward(x, dy, dxv) })
	withVector(false, func() { c.GELU(x, ys); c.GELUBackward(x, dy, dxs) })
	for i, v := range xs {
		if !sameBits(yv.Data[i], ys.Data[i]) {
			t.Fatalf("GELU(%v (%#08x)): vector %v, Go %v", v, math.Float32bits(v), yv.Data[i], ys.Data[i])
		}
		if !sameBits(dxv.Data[i], dxs.Data[i]) {
			t.Fatalf("GELUBackward(%v (%#08x), dy %v): vector %v, Go %v", v, math.Float32bits(v), dy.Data[i], dxv.Data[i], dxs.Data[i])
		}
	}
	// expNeg on every input, not only the x ≤ 0 that GELU and softmax give it.
	e := make([]float32, n)
	for _, shift := range []float32{0, 3.5, -2} {
		m := vecmath.ExpNegShift(e, xs, shift)
		if m != n&^7 {
			t.Fatalf("ExpNegShift did %d of %d", m, n)
		}
		for i := range m {
			if want := expNeg(xs[i] - shift); !sameBits(e[i], want) {
				t.Fatalf("expNeg(%v − %v): vector %v, Go %v", xs[i], shift, e[i], want)
			}
		}
	}
	// Softmax rows of every width up to 40 and ViT's 197, with rows that
	// hold −Inf, a NaN, huge values or ties.
	for _, cols := range append([]int{197, 257}, func() (w []int) {
		for i := 1; i <= 40; i++ {
			w = append(w, i)
		}
		return
	}()...) {
		rows := 9
		in := c.New(rows, cols)
		for i := range in.Data {
			in.Data[i] = float32(r.NormFloat64() * 20)
		}
		in.Data[cols-1] = float32(math.Inf(-1))
		in.Data[cols+cols/2] = float32(math.NaN())
		in.Data[2*cols] = 3e38
		for j := 0; j < cols; j++ {
			in.Data[3*cols+j] = 1.5
			in.Data[4*cols+j] = xs[(j*7919+cols)%n]
		}
		ov, os := c.New(rows, cols), c.New(rows, cols)
		withVector(true, func() { c.SoftmaxRows(in, ov) })
		withVector(false, func() { c.SoftmaxRows(in, os) })
		for i := range ov.Data {
			if !sameBits(ov.Data[i], os.Data[i]) {
				t.Fatalf("softmax, %d columns, row %d column %d: vector %v, Go %v", cols, i/cols, i%cols, ov.Data[i], os.Data[i])
			}
		}
	}
}

// The vector kernels against float64 math: softmax's exponential within
// the 4 units in the last place that TestFloat32ErfAndExp allows expNeg
// (2⁻²⁴ relative each) where e^x is a normal float32, and GELU within 16
// units of max(1, |x|) absolute (erf's 7 units on 1 + erf, times |x|/2,
// and the roundings) over [−12, 12], its gradient within 24.
func TestVectorKernelsAccuracy(t *testing.T) {
	if !vecmath.Available {
		t.Skip("no vector kernels on this CPU or build")
	}
	const ulp = 0x1p-24
	n := 400000
	x, e := make([]float32, n), make([]float32, n)
	for i := range x {
		x[i] = float32(-87.3 * float64(i) / float64(n-1))
	}
	vecmath.ExpNegShift(e, x, 0)
	var worst float64
	for i, v := range x {
		want := math.Exp(float64(v))
		worst = max(worst, math.Abs(float64(e[i])-want)/want)
	}
	if worst > 4*ulp {
		t.Errorf("exp: worst relative error %.2f units in the last place", worst/ulp)
	}
	t.Logf("exp on [−87.3, 0]: %.2f units", worst/ulp)
	for i := range x {
		x[i] = float32(-12 + 24*float64(i)/float64(n-1))
	}
	dy := make([]float32, n)
	for i := range dy {
		dy[i] = 1
	}
	y, dx := make([]float32, n), make([]float32, n)
	vecmath.GELU(y, x)
	vecmath.GELUBackward(dx, x, dy)
	var wy, wd float64
	for i, v := range x {
		f := float64(v)
		cdf := 0.5 * (1 + math.Erf(f/math.Sqrt2))
		pdf := math.Exp(-0.5*f*f) / math.Sqrt(2*math.Pi)
		scale := max(1, math.Abs(f))
		wy = max(wy, math.Abs(float64(y[i])-f*cdf)/scale)
		wd = max(wd, math.Abs(float64(dx[i])-(cdf+f*pdf))/scale)
	}
	if wy > 16*ulp {
		t.Errorf("GELU: worst error %.2f units of max(1, |x|)", wy/ulp)
	}
	if wd > 24*ulp {
		t.Errorf("GELU gradient: worst error %.2f units of max(1, |x|)", wd/ulp)
	}
	t.Logf("GELU %.2f, gradient %.2f units of max(1, |x|) on [−12, 12]", wy/ulp, wd/ulp)
}

// benchTensors are inputs of ViT-S/16's shapes for one 224×224 image:
// the MLP's hidden activations (197 tokens × 1536) and one block's
// attention weights (6 heads × 197 × 197 rows).
func benchTensors(b *testing.B, n int) (*CPU, *Tensor, *Tensor, *Tensor) {
	c := NewCPU()
	r := rand.New(rand.NewPCG(3, 4))
	x, y, d := c.New(n), c.New(n), c.New(n)
	for i := range x.Data {
		x.Data[i] = float32(r.NormFloat64() * 2)
		d.Data[i] = float32(r.NormFloat64())
	}
	b.SetBytes(int64(4 * n))
	return c, x, y, d
}

// The kernels with the vector path (avx2, where the CPU has it) and
// without (go, the loops that ran before it), e.g.
//
//	go test -tags 'openblas dnnl' -run '^$' -bench 'GELU|Softmax' -cpu 1 ./suite/nn
func benchPaths(b *testing.B, f func(b *testing.B)) {
	for _, on := range []bool{false, true} {
		name := map[bool]string{false: "go", true: "avx2"}[on]
		b.Run(name, func(b *testing.B) {
			if on && !vecmath.Available {
				b.Skip("no vector kernels")
			}
			withVector(on, func() { f(b) })
		})
	}
}

func BenchmarkGELU(b *testing.B) {
	benchPaths(b, func(b *testing.B) {
		c, x, y, _ := benchTensors(b, 197*1536)
		for b.Loop() {
			c.GELU(x, y)
		}
	})
}

func BenchmarkGELUBackward(b *testing.B) {
	benchPaths(b, func(b *testing.B) {
		c, x, dx, dy := benchTensors(b, 197*1536)
		for b.Loop() {
			c.GELUBackward(x, dy, dx)
		}
	})
}

func BenchmarkSoftmaxRows(b *testing.B) {
	benchPaths(b, func(b *testing.B) {
		c, x, y, _ := benchTensors(b, 6*197*197)
		x.Shape, y.Shape = []int{6 * 197, 197}, []int{6 * 197, 197}
		for b.Loop() {
			c.SoftmaxRows(x, y)
		}
	})
}
