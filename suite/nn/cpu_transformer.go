package nn

import (
	"fmt"
	"math"

	"github.com/rst-bench/rst/suite/nn/internal/vecmath"
)

// The CPU backend's transformer kernels: layer normalisation, GELU,
// batched GEMM, row softmax, the attention heads' permutations and the
// strided copy of class tokens. Every loop splits over rows (or batch
// entries) and every reduction across rows goes through fixed chunks
// combined in order, so results do not depend on the number of cores.

func (c *CPU) LayerNorm(x, y, gamma, beta, mean, rstd *Tensor, eps float32) {
	cols := x.Cols()
	rows := x.Len() / cols
	xs, ys, gs, bs := x.Data, y.Data[:len(x.Data)], gamma.Data[:cols], beta.Data[:cols]
	ms, rs := mean.Data[:rows], rstd.Data[:rows]
	parallelFor(rows, max(1, elemGrain/cols), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			row := xs[r*cols : (r+1)*cols]
			var s float64
			for _, v := range row {
				s += float64(v)
			}
			m := s / float64(cols)
			var q float64
			for _, v := range row {
				d := float64(v) - m
				q += d * d
			}
			mf, rf := float32(m), float32(1/math.Sqrt(q/float64(cols)+float64(eps)))
			ms[r], rs[r] = mf, rf
			out := ys[r*cols : (r+1)*cols]
			for j, v := range row {
				out[j] = (v-mf)*rf*gs[j] + bs[j]
			}
		}
	})
}

func (c *CPU) LayerNormBackward(x, dy, dx, gamma, mean, rstd, dgamma, dbeta *Tensor) {
	cols := x.Cols()
	rows := x.Len() / cols
	xs, dys, gs := x.Data, dy.Data[:len(x.Data)], gamma.Data[:cols]
	ms, rs := mean.Data[:rows], rstd.Data[:rows]
	var dxs []float32
	if dx != nil {
		dxs = dx.Data[:len(x.Data)]
	}
	// Chunk k's partial Σ dy·x̂ in part[2k·cols:], Σ dy in the next cols.
	nc := (rows + reduceChunk - 1) / reduceChunk
	part := c.partials(2 * nc * cols)
	parallelFor(nc, 1, func(lo, hi int) {
		for k := lo; k < hi; k++ {
			pg, pb := part[2*k*cols:(2*k+1)*cols], part[(2*k+1)*cols:(2*k+2)*cols]
			clear(pg)
			clear(pb)
			for r := k * reduceChunk; r < min((k+1)*reduceChunk, rows); r++ {
				row, drow := xs[r*cols:(r+1)*cols], dys[r*cols:(r+1)*cols]
				m, s := ms[r], rs[r]
				var a, b float64
				for j, v := range row {
					xh := (v - m) * s
					d := drow[j]
					g := d * gs[j]
					a += float64(g)
					b += float64(g) * float64(xh)
					pg[j] += float64(d) * float64(xh)
					pb[j] += float64(d)
				}
				if dxs == nil {
					continue
				}
				ma, mb := float32(a/float64(cols)), float32(b/float64(cols))
				out := dxs[r*cols : (r+1)*cols]
				for j, v := range row {
					xh := (v - m) * s
					out[j] = s * (drow[j]*gs[j] - ma - xh*mb)
				}
			}
		}
	})
	dg, db := dgamma.Data[:cols], dbeta.Data[:cols]
	for j := 0; j < cols; j++ {
		var sg, sb float64
		for k := 0; k < nc; k++ {
			sg += part[2*k*cols+j]
			sb += part[(2*k+1)*cols+j]
		}
		dg[j], db[j] = float32(sg), float32(sb)
	}
}

// erf32 is erf in float32 arithmetic: the rational approximation
// x·P(x²)/Q(x²) on [−4, 4] of Eigen and XLA (erf rounds to ±1 beyond).
// Its error against math.Erf, measured on a sweep of 200,001 points over
// [−6, 6] (TestFloat32ErfAndExp): at most 7.03·2⁻²⁴ relative where |erf|
// ≥ 10⁻³ and 7.03·2⁻²⁴·10⁻³ absolute below, about 7 float32 units in the
// last place; the test fails above 12.
//
// erf32, expNeg and the GELU expressions below are written out again,
// eight lanes at a time, in vecmath's AVX2 kernels, with the same float32
// operations in the same order (no fused multiply-adds), so the vector and
// the scalar paths give the same bits (TestVectorKernelsMatchScalar). With
// both, GELU is within 4.1·2⁻²⁴·max(1, |x|) of 0.5·x·(1 + erf(x/√2)) over
// [−12, 12] and its derivative within 2.6·2⁻²⁴·max(1, |x|), against
// float64 math (TestVectorKernelsAccuracy fails above 16 and 24).
func erf32(x float32) float32 {
	x = min(max(x, -4), 4)
	x2 := x * x
	p := float32(-2.72614225801306e-10)
	p = p*x2 + 2.77068142495902e-08
	p = p*x2 - 2.10102402082508e-06
	p = p*x2 - 5.69250639462346e-05
	p = p*x2 - 7.34990630326855e-04
	p = p*x2 - 2.95459980854025e-03
	p = p*x2 - 1.60960333262415e-02
	q := float32(-1.45660718464996e-05)
	q = q*x2 - 2.13374055278905e-04
	q = q*x2 - 1.68282697438203e-03
	q = q*x2 - 7.37332916720468e-03
	q = q*x2 - 1.42647390514189e-02
	return min(max(x*p/q, -1), 1)
}

// expNeg is e^x for x ≤ 0 in float32 arithmetic (Cephes' expf: x = n·ln 2
// + r with |r| ≤ ½ln 2, a degree-7 polynomial for e^r, then 2^n from the
// exponent bits). Its relative error against math.Exp where the result is
// a normal float32 (x ≥ −87.33), measured on 200,001 points of [−90, 0]:
// at most 1.30·2⁻²⁴, about 1.3 units in the last place (the test fails
// above 4; the vector kernel's, 400,000 points of [−87.3, 0]: 1.32); it
// returns 0 below −87.68 (e^x < 1e−38), 1 at 0 and NaN at NaN.
func expNeg(x float32) float32 {
	if x != x {
		return x
	}
	if x < -87.68 { // n < −126: below the subnormals' range worth keeping
		return 0
	}
	t := x*1.44269504088896341 + 0.5
	n := int32(t)
	if float32(n) > t {
		n-- // floor, for negative t
	}
	z := float32(n)
	r := x - z*0.693359375 + z*2.12194440e-4
	p := float32(1.9875691500e-4)
	p = p*r + 1.3981999507e-3
	p = p*r + 8.3334519073e-3
	p = p*r + 4.1665795894e-2
	p = p*r + 1.6666665459e-1
	p = p*r + 5.0000001201e-1
	e := p*r*r + r + 1
	return e * math.Float32frombits(uint32(n+127)<<23)
}

const (
	invSqrt2   = 0.70710678118654752440
	invSqrt2Pi = 0.39894228040143267794
)

// vectorKernels says whether GELU, its gradient and softmax's exponentials
// run vecmath's AVX2 kernels (where the CPU has them) before their Go
// loops, which then do the remaining elements. The results are the same
// bits either way; the tests turn it off to check that.
var vectorKernels = vecmath.Available

func (c *CPU) GELU(x, y *Tensor) {
	xs, ys := x.Data, y.Data[:len(x.Data)]
	parallelFor(len(xs), elemGrain, func(lo, hi int) {
		if vectorKernels {
			lo += vecmath.GELU(ys[lo:hi], xs[lo:hi])
		}
		for i := lo; i < hi; i++ {
			v := xs[i]
			ys[i] = 0.5 * v * (1 + erf32(v*invSqrt2))
		}
	})
}

func (c *CPU) GELUBackward(x, dy, dx *Tensor) {
	xs, dys, dxs := x.Data, dy.Data[:len(x.Data)], dx.Data[:len(x.Data)]
	parallelFor(len(xs), elemGrain, func(lo, hi int) {
		if vectorKernels {
			lo += vecmath.GELUBackward(dxs[lo:hi], xs[lo:hi], dys[lo:hi])
		}
		for i := lo; i < hi; i++ {
			v := xs[i]
			cdf := 0.5 * (1 + erf32(v*invSqrt2))
			pdf := expNeg(-0.5*v*v) * invSqrt2Pi
			dxs[i] = dys[i] * (cdf + v*pdf)
		}
	})
}

// batchedGEMMSerial is the size of one product (m·n·k) from which
// BatchedMatMul, in builds without oneDNN, runs the products one after the
// other, each on the build's threaded GEMM; below it (OpenBLAS's own
// threshold for going multi-threaded) the products run side by side, one
// GEMM each. With oneDNN (gemm1Single) every product runs on one thread,
// side by side with the others, whatever its size: the attention heads of
// ViT-S/16 (197×197×64) took about a fifth of OpenBLAS's CPU time that way
// on a host where OpenBLAS ran its Prescott kernels (see
// BenchmarkBatchedMatMul), and a product's bits no longer depend on how
// many threads the GEMM had.
const batchedGEMMSerial = 1 << 18

func (c *CPU) BatchedMatMul(transA, transB bool, alpha float32, a, b *Tensor, beta float32, out *Tensor) {
	if len(a.Shape) != 3 || len(b.Shape) != 3 || len(out.Shape) != 3 {
		panic(fmt.Sprintf("nn: BatchedMatMul on %v, %v, %v: want 3-D tensors", a.Shape, b.Shape, out.Shape))
	}
	nb := a.Shape[0]
	ar, ac, br, bc := a.Shape[1], a.Shape[2], b.Shape[1], b.Shape[2]
	m, k := ar, ac
	if transA {
		m, k = ac, ar
	}
	n := bc
	if transB {
		n = br
	}
	sa, sb, so := ar*ac, br*bc, m*n
	if !gemm1Single && m*n*k >= batchedGEMMSerial {
		for i := 0; i < nb; i++ {
			gemm(transA, transB, m, n, k, alpha, a.Data[i*sa:(i+1)*sa], ac, b.Data[i*sb:(i+1)*sb], bc, beta, out.Data[i*so:(i+1)*so], n)
		}
		return
	}
	parallelFor(nb, 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			gemm1(transA, transB, m, n, k, alpha, a.Data[i*sa:(i+1)*sa], ac, b.Data[i*sb:(i+1)*sb], bc, beta, out.Data[i*so:(i+1)*so], n)
		}
	})
}

func (c *CPU) SoftmaxRows(x, y *Tensor) {
	cols := x.Cols()
	rows := x.Len() / cols
	xs, ys := x.Data, y.Data[:len(x.Data)]
	parallelFor(rows, max(1, elemGrain/cols/4), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			in, out := xs[r*cols:(r+1)*cols], ys[r*cols:(r+1)*cols]
			mx := rowMax(in)
			j0 := 0
			if vectorKernels {
				j0 = vecmath.ExpNegShift(out, in, mx)
			}
			for j := j0; j < len(in); j++ {
				out[j] = expNeg(in[j] - mx)
			}
			var s float64 // in order: the vector path leaves the sum's rounding as it was
			for _, e := range out {
				s += float64(e)
			}
			inv := float32(1 / s)
			for j := range out {
				out[j] *= inv
			}
		}
	})
}

// rowMax is the largest of v (NaN if any is NaN, +0 over −0: Go's max),
// over four running maxima so that the comparisons do not wait on each
// other; max is order-free, so this is the sequential maximum.
func rowMax(v []float32) float32 {
	m0 := v[0]
	m1, m2, m3 := m0, m0, m0
	i := 0
	for ; i+4 <= len(v); i += 4 {
		w := v[i : i+4 : i+4]
		m0, m1, m2, m3 = max(m0, w[0]), max(m1, w[1]), max(m2, w[2]), max(m3, w[3])
	}
	for ; i < len(v); i++ {
		m0 = max(m0, v[i])
	}
	return max(max(m0, m1), max(m2, m3))
}

func (c *CPU) SoftmaxRowsBackward(y, dy, dx *Tensor) {
	cols := y.Cols()
	rows := y.Len() / cols
	ys, dys, dxs := y.Data, dy.Data[:len(y.Data)], dx.Data[:len(y.Data)]
	parallelFor(rows, max(1, elemGrain/cols/2), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			yr, dr, out := ys[r*cols:(r+1)*cols], dys[r*cols:(r+1)*cols], dxs[r*cols:(r+1)*cols]
			var s float64
			for j, v := range yr {
				s += float64(v) * float64(dr[j])
			}
			sf := float32(s)
			for j, v := range yr {
				out[j] = v * (dr[j] - sf)
			}
		}
	})
}

// heads copies between the tokens [N, T, P·H·D] and the heads
// [P, N·H, T, D], one run of D features at a time.
func heads(tok, hd *Tensor, parts, nh int, split bool) {
	if len(tok.Shape) != 3 || tok.Shape[2]%(parts*nh) != 0 {
		panic(fmt.Sprintf("nn: tokens %v do not split into %d parts of %d heads", tok.Shape, parts, nh))
	}
	n, t, f := tok.Shape[0], tok.Shape[1], tok.Shape[2]
	d := f / (parts * nh)
	ts, hs := tok.Data, hd.Data[:len(tok.Data)]
	parallelFor(n*t, max(1, elemGrain/f), func(lo, hi int) {
		for row := lo; row < hi; row++ {
			i, ti := row/t, row%t
			for p := 0; p < parts; p++ {
				for h := 0; h < nh; h++ {
					src := ts[row*f+(p*nh+h)*d:][:d]
					dst := hs[(((p*n+i)*nh+h)*t+ti)*d:][:d]
					if split {
						copy(dst, src)
					} else {
						copy(src, dst)
					}
				}
			}
		}
	})
}

func (c *CPU) SplitHeads(x, y *Tensor, parts, nh int) { heads(x, y, parts, nh, true) }
func (c *CPU) MergeHeads(y, x *Tensor, parts, nh int) { heads(x, y, parts, nh, false) }

func (c *CPU) StridedCopy(dst *Tensor, dOff, dStride int, src *Tensor, sOff, sStride, rows, cols int) {
	ds, ss := dst.Data, src.Data
	parallelFor(rows, max(1, elemGrain/max(cols, 1)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			copy(ds[dOff+r*dStride:][:cols], ss[sOff+r*sStride:][:cols])
		}
	})
}
