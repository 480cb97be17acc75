package nntest

import (
	"fmt"
	"math"
	"testing"

	"github.com/rst-bench/rst/suite/nn"
)

// Kernels checks every kernel of b against the float64 references with
// float32 tolerances.
func Kernels(t *testing.T, b nn.Backend) { KernelsWith(t, b, Options{}) }

// KernelsWith is Kernels with tolerances loosened by o.
func KernelsWith(t *testing.T, b nn.Backend, o Options) {
	t.Run("Flat", func(t *testing.T) { flatKernels(t, b, o) })
	t.Run("MatMul", func(t *testing.T) { matMulKernels(t, b, o) })
	t.Run("Conv2D", func(t *testing.T) { convKernels(t, b, o) })
	t.Run("BatchNorm", func(t *testing.T) { batchNormKernels(t, b, o) })
	t.Run("Pool", func(t *testing.T) { poolKernels(t, b, o) })
	t.Run("Transformer", func(t *testing.T) { transformerKernels(t, b, o) })
	t.Run("SoftmaxCrossEntropy", func(t *testing.T) { lossKernels(t, b, o) })
	t.Run("Argmax", func(t *testing.T) { argmaxKernel(t, b, o) })
	t.Run("Masks", func(t *testing.T) { maskKernels(t, b, o) })
	t.Run("Optimizers", func(t *testing.T) { optimizerKernels(t, b, o) })
}

// flatSizes include 1, odd sizes, and one above the CPU backend's
// parallel grain, so split work is covered.
var flatSizes = []int{1, 7, 1000, 100003}

func flatKernels(t *testing.T, b nn.Backend, o Options) {
	each := func(name string, f func(e *env, n int)) {
		t.Run(name, func(t *testing.T) {
			for _, n := range flatSizes {
				t.Run(fmt.Sprintf("n%d", n), func(t *testing.T) {
					run(t, b, o, uint64(n), func(e *env) { f(e, n) })
				})
			}
		})
	}
	// Single correctly rounded operations (fill, copy, one multiply, one
	// add, max) must match float32(exact result) bit for bit.
	each("Fill", func(e *env, n int) {
		x := e.tensor("x", e.garbage(n), n)
		e.b.Fill(x, 2.5)
		e.expectExact("Fill x", []int{n}, e.down(x), same(n, 2.5))
	})
	each("Copy", func(e *env, n int) {
		src := e.randn(n, 1, 0)
		x, y := e.tensor("src", src, n), e.tensor("dst", e.garbage(n), n)
		e.b.Copy(y, x)
		e.expectExact("Copy dst", []int{n}, e.down(y), f64(src))
	})
	each("Scale", func(e *env, n int) {
		xs := e.randn(n, 1, 0)
		x := e.tensor("x", xs, n)
		e.b.Scale(-0.37, x)
		want := make([]float64, n)
		for i, v := range xs {
			want[i] = float64(float32(-0.37)) * float64(v)
		}
		e.expectExact("Scale x", []int{n}, e.down(x), want)
	})
	binary := func(name string, op func(b nn.Backend, a, c, y *nn.Tensor), ref func(a, c float64) float64) {
		each(name, func(e *env, n int) {
			as, cs := e.randn(n, 1, 0), e.randn(n, 1, 0)
			a, c, y := e.tensor("a", as, n), e.tensor("b", cs, n), e.tensor("y", e.garbage(n), n)
			op(e.b, a, c, y)
			want := make([]float64, n)
			for i := range want {
				want[i] = ref(float64(as[i]), float64(cs[i]))
			}
			e.expectExact(name+" y", []int{n}, e.down(y), want)
		})
	}
	binary("Mul", func(b nn.Backend, a, c, y *nn.Tensor) { b.Mul(a, c, y) }, func(a, c float64) float64 { return a * c })
	binary("Add", func(b nn.Backend, a, c, y *nn.Tensor) { b.Add(a, c, y) }, func(a, c float64) float64 { return a + c })
	binary("AddReLU", func(b nn.Backend, a, c, y *nn.Tensor) { b.AddReLU(a, c, y) }, func(a, c float64) float64 { return max(a+c, 0) })
	each("ReLU", func(e *env, n int) {
		xs := e.randn(n, 1, 0)
		x, y := e.tensor("x", xs, n), e.tensor("y", e.garbage(n), n)
		e.b.ReLU(x, y)
		want := make([]float64, n)
		for i, v := range xs {
			want[i] = max(float64(v), 0)
		}
		e.expectExact("ReLU y", []int{n}, e.down(y), want)
	})
	each("ReLUBackward", func(e *env, n int) {
		// y is a ReLU output: about half exact zeros, which must block dy.
		ys, dys := e.randn(n, 1, 0), e.randn(n, 1, 0)
		for i := range ys {
			ys[i] = max(ys[i], 0)
		}
		y, dy, dx := e.tensor("y", ys, n), e.tensor("dy", dys, n), e.tensor("dx", e.garbage(n), n)
		e.b.ReLUBackward(y, dy, dx)
		want := make([]float64, n)
		for i := range want {
			if ys[i] > 0 {
				want[i] = float64(dys[i])
			}
		}
		e.expectExact("ReLUBackward dx", []int{n}, e.down(dx), want)
	})
	// Axpy is a multiply and an add (or one FMA): at most 2u of |y|+|a·x|.
	each("Axpy", func(e *env, n int) {
		xs, ys := e.randn(n, 1, 0), e.randn(n, 1, 0)
		x, y := e.tensor("x", xs, n), e.tensor("y", ys, n)
		const a = float32(-1.7)
		e.b.Axpy(a, x, y)
		want, tol := make([]float64, n), make([]float64, n)
		for i := range want {
			ax := float64(a) * float64(xs[i])
			want[i] = float64(ys[i]) + ax
			tol[i] = 2 * u32 * (math.Abs(float64(ys[i])) + math.Abs(ax))
		}
		e.expect("Axpy y", []int{n}, e.down(y), want, tol)
	})
	// Lerp is (1−a)·y + a·x, or y + a·(x−y): a handful of roundings, each
	// at most u of |y|+|x|.
	each("Lerp", func(e *env, n int) {
		xs, ys := e.randn(n, 1, 0), e.randn(n, 1, 0)
		x, y := e.tensor("x", xs, n), e.tensor("y", ys, n)
		const a = float32(0.1)
		e.b.Lerp(y, x, a)
		want, tol := make([]float64, n), make([]float64, n)
		for i := range want {
			want[i] = (1-float64(a))*float64(ys[i]) + float64(a)*float64(xs[i])
			tol[i] = 5 * u32 * (math.Abs(float64(ys[i])) + math.Abs(float64(xs[i])))
		}
		e.expect("Lerp y", []int{n}, e.down(y), want, tol)
	})
	// Dot returns float64. Float32 products summed by a tree in float32
	// err by at most (log2 n + 2)·u of Σ|x·y|; float64 accumulation is far
	// better; a sequential float32 sum (error growing like n·u) is not
	// accepted.
	each("Dot", func(e *env, n int) {
		xs, ys := e.randn(n, 1, 0.3), e.randn(n, 1, 0)
		x, y := e.tensor("x", xs, n), e.tensor("y", ys, n)
		var want, mag float64
		for i := range xs {
			p := float64(xs[i]) * float64(ys[i])
			want += p
			mag += math.Abs(p)
		}
		got := e.b.Dot(x, y)
		e.expectScalar("Dot", got, want, (math.Log2(float64(n))+2)*u32*mag)
		if got2 := e.b.Dot(x, y); got2 != got {
			e.t.Errorf("Dot is not deterministic: %v then %v", got, got2)
		}
	})

	rowShapes := [][]int{{1, 1}, {5, 7}, {300, 3}, {2, 3, 3, 5}}
	rows := func(name string, f func(e *env, shape []int)) {
		t.Run(name, func(t *testing.T) {
			for _, s := range rowShapes {
				t.Run(shapeName(s), func(t *testing.T) {
					run(t, b, o, uint64(numel(s)), func(e *env) { f(e, s) })
				})
			}
		})
	}
	// AddRowVector is one add per element: exact.
	rows("AddRowVector", func(e *env, s []int) {
		n, c := numel(s), s[len(s)-1]
		ys, vs := e.randn(n, 1, 0), e.randn(c, 1, 0)
		y, v := e.tensor("y", ys, s...), e.tensor("v", vs, c)
		e.b.AddRowVector(y, v)
		want := make([]float64, n)
		for i := range want {
			want[i] = float64(ys[i]) + float64(vs[i%c])
		}
		e.expectExact("AddRowVector y", s, e.down(y), want)
	})
	// SumRows adds R values per column: the float32 summation bound
	// (R+2)·u of Σ|terms| (with beta·dv as one more term).
	rows("SumRows", func(e *env, s []int) {
		n, c := numel(s), s[len(s)-1]
		for _, beta := range []float32{0, 1, 0.5} {
			dys, dvs := e.randn(n, 1, 0), e.garbage(c)
			dy, dv := e.tensor("dy", dys, s...), e.tensor("dv", dvs, c)
			e.b.SumRows(dy, dv, beta)
			want, tol := make([]float64, c), make([]float64, c)
			for j := 0; j < c; j++ {
				want[j] = float64(beta) * float64(dvs[j])
				mag := math.Abs(want[j])
				for i := j; i < n; i += c {
					want[j] += float64(dys[i])
					mag += math.Abs(float64(dys[i]))
				}
				tol[j] = float64(n/c+3) * u32 * mag
			}
			e.expect(fmt.Sprintf("SumRows(beta=%g) dv", beta), []int{c}, e.down(dv), want, tol)
		}
	})
}

func shapeName(s []int) string {
	name := ""
	for i, d := range s {
		if i > 0 {
			name += "x"
		}
		name += fmt.Sprint(d)
	}
	return name
}

func matMulKernels(t *testing.T, b nn.Backend, o Options) {
	for _, mnk := range [][3]int{{1, 1, 1}, {3, 5, 7}, {64, 33, 17}, {130, 70, 90}} {
		m, n, k := mnk[0], mnk[1], mnk[2]
		for _, tr := range []struct{ a, b bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
			for _, ab := range []struct{ alpha, beta float32 }{{1, 0}, {-0.5, 0.75}} {
				name := fmt.Sprintf("%dx%dx%d/%s/alpha%g_beta%g", m, n, k, transName(tr.a, tr.b), ab.alpha, ab.beta)
				t.Run(name, func(t *testing.T) {
					run(t, b, o, uint64(m*n*k), func(e *env) {
						ar, ac := m, k
						if tr.a {
							ar, ac = k, m
						}
						br, bc := k, n
						if tr.b {
							br, bc = n, k
						}
						as, bs, cs := e.randn(ar*ac, 1, 0), e.randn(br*bc, 1, 0), e.garbage(m*n)
						a, bt, c := e.tensor("a", as, ar, ac), e.tensor("b", bs, br, bc), e.tensor("c", cs, m, n)
						e.b.MatMul(tr.a, tr.b, ab.alpha, a, bt, ab.beta, c)
						want, mag, terms := refMatMul(tr.a, tr.b, float64(ab.alpha), f64(as), ar, ac, f64(bs), br, bc, float64(ab.beta), f64(cs))
						tol := make([]float64, len(mag))
						for i := range tol {
							tol[i] = e.gemmTol(terms, mag[i])
						}
						e.expect("MatMul c", []int{m, n}, e.down(c), want, tol)
					})
				})
			}
		}
	}
}

func transName(a, b bool) string {
	s := ""
	for _, t := range []bool{a, b} {
		if t {
			s += "T"
		} else {
			s += "N"
		}
	}
	return s
}
