package nntest

import (
	"math"

	"github.com/rst-bench/rst/suite/nn"
)

// Float64 reference kernels, written as the definitions read: one loop per
// index, no im2col, no fusion. Each also returns, per output element, the
// sum of the absolute values of the terms it added (mag) and how many
// terms there were, from which the tests derive rounding bounds.

// refMatMul is c = alpha·op(a)·op(b) + beta·c for row-major a (ar×ac),
// b (br×bc), c (m×n).
func refMatMul(ta, tb bool, alpha float64, a []float64, ar, ac int, b []float64, br, bc int, beta float64, c []float64) (out, mag []float64, k int) {
	m, k := ar, ac
	if ta {
		m, k = ac, ar
	}
	n := bc
	if tb {
		n = br
	}
	at := func(i, p int) float64 {
		if ta {
			return a[p*ac+i]
		}
		return a[i*ac+p]
	}
	bt := func(p, j int) float64 {
		if tb {
			return b[j*bc+p]
		}
		return b[p*bc+j]
	}
	out, mag = make([]float64, m*n), make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s, sa float64
			for p := 0; p < k; p++ {
				v := at(i, p) * bt(p, j)
				s += v
				sa += math.Abs(v)
			}
			out[i*n+j] = alpha*s + beta*c[i*n+j]
			mag[i*n+j] = math.Abs(alpha)*sa + math.Abs(beta*c[i*n+j])
		}
	}
	return out, mag, k
}

// convShape is an NHWC convolution or pooling problem.
type convShape struct {
	N, H, W, C, Cout int
	G                nn.ConvGeom
}

func (s convShape) out() (oh, ow int) { return s.G.Out(s.H, s.W) }

// window calls f for every (output position, window tap) pair whose input
// position lies inside the image, with the flat NHW-indices (no channel).
func (s convShape) window(f func(n, o, kh, kw, in int)) {
	oh, ow := s.out()
	for n := 0; n < s.N; n++ {
		for i := 0; i < oh; i++ {
			for j := 0; j < ow; j++ {
				o := (n*oh+i)*ow + j
				for kh := 0; kh < s.G.KH; kh++ {
					ih := i*s.G.Stride - s.G.Pad + kh
					if ih < 0 || ih >= s.H {
						continue
					}
					for kw := 0; kw < s.G.KW; kw++ {
						iw := j*s.G.Stride - s.G.Pad + kw
						if iw < 0 || iw >= s.W {
							continue
						}
						f(n, o, kh, kw, (n*s.H+ih)*s.W+iw)
					}
				}
			}
		}
	}
}

// refConv is y[n,i,j,co] = Σ x[n,i·S−P+kh,j·S−P+kw,ci]·w[co,kh,kw,ci].
func refConv(x, w []float64, s convShape) (y, mag []float64, terms []int) {
	oh, ow := s.out()
	no := s.N * oh * ow * s.Cout
	y, mag, terms = make([]float64, no), make([]float64, no), make([]int, no)
	s.window(func(_, o, kh, kw, in int) {
		for co := 0; co < s.Cout; co++ {
			for ci := 0; ci < s.C; ci++ {
				v := x[in*s.C+ci] * w[((co*s.G.KH+kh)*s.G.KW+kw)*s.C+ci]
				y[o*s.Cout+co] += v
				mag[o*s.Cout+co] += math.Abs(v)
				terms[o*s.Cout+co]++
			}
		}
	})
	return
}

// refConvBackward is the adjoint of refConv: dx and dw for output gradient dy.
func refConvBackward(x, w, dy []float64, s convShape) (dx, dxMag []float64, dxTerms []int, dw, dwMag []float64, dwTerms []int) {
	nx, nw := len(x), len(w)
	dx, dxMag, dxTerms = make([]float64, nx), make([]float64, nx), make([]int, nx)
	dw, dwMag, dwTerms = make([]float64, nw), make([]float64, nw), make([]int, nw)
	s.window(func(_, o, kh, kw, in int) {
		for co := 0; co < s.Cout; co++ {
			g := dy[o*s.Cout+co]
			for ci := 0; ci < s.C; ci++ {
				wi := ((co*s.G.KH+kh)*s.G.KW+kw)*s.C + ci
				xi := in*s.C + ci
				dx[xi] += g * w[wi]
				dxMag[xi] += math.Abs(g * w[wi])
				dxTerms[xi]++
				dw[wi] += g * x[xi]
				dwMag[wi] += math.Abs(g * x[xi])
				dwTerms[wi]++
			}
		}
	})
	return
}

// refMaxPool returns the window maxima (padding never wins) and, per
// output, the flat index of the first maximal input in row-major window
// order (-1 for an empty window).
func refMaxPool(x []float64, s convShape) (y []float64, arg []int) {
	oh, ow := s.out()
	y, arg = make([]float64, s.N*oh*ow*s.C), make([]int, s.N*oh*ow*s.C)
	for i := range y {
		y[i], arg[i] = math.Inf(-1), -1
	}
	s.window(func(_, o, _, _, in int) {
		for c := 0; c < s.C; c++ {
			if v := x[in*s.C+c]; v > y[o*s.C+c] {
				y[o*s.C+c], arg[o*s.C+c] = v, in*s.C+c
			}
		}
	})
	return
}

// refMaxPoolBackward sends each output gradient to its window's argmax.
func refMaxPoolBackward(dy []float64, arg []int, nx int) (dx, mag []float64, terms []int) {
	dx, mag, terms = make([]float64, nx), make([]float64, nx), make([]int, nx)
	for o, a := range arg {
		if a >= 0 {
			dx[a] += dy[o]
			mag[a] += math.Abs(dy[o])
			terms[a]++
		}
	}
	return
}

// refAvgPool divides each window's sum by KH·KW, padding included.
func refAvgPool(x []float64, s convShape) (y, mag []float64) {
	oh, ow := s.out()
	y, mag = make([]float64, s.N*oh*ow*s.C), make([]float64, s.N*oh*ow*s.C)
	k := float64(s.G.KH * s.G.KW)
	s.window(func(_, o, _, _, in int) {
		for c := 0; c < s.C; c++ {
			y[o*s.C+c] += x[in*s.C+c] / k
			mag[o*s.C+c] += math.Abs(x[in*s.C+c]) / k
		}
	})
	return
}

func refAvgPoolBackward(dy []float64, s convShape) (dx, mag []float64) {
	dx, mag = make([]float64, s.N*s.H*s.W*s.C), make([]float64, s.N*s.H*s.W*s.C)
	k := float64(s.G.KH * s.G.KW)
	s.window(func(_, o, _, _, in int) {
		for c := 0; c < s.C; c++ {
			dx[in*s.C+c] += dy[o*s.C+c] / k
			mag[in*s.C+c] += math.Abs(dy[o*s.C+c]) / k
		}
	})
	return
}

// refBNTrain normalises each of ch channels over rows with the batch mean
// and biased variance, then applies γ, β and the optional ReLU.
func refBNTrain(x []float64, rows, ch int, gamma, beta []float64, eps float64, relu bool) (y, mean, vr []float64) {
	mean, vr = make([]float64, ch), make([]float64, ch)
	for r := 0; r < rows; r++ {
		for c := 0; c < ch; c++ {
			mean[c] += x[r*ch+c]
		}
	}
	for c := range mean {
		mean[c] /= float64(rows)
	}
	for r := 0; r < rows; r++ {
		for c := 0; c < ch; c++ {
			d := x[r*ch+c] - mean[c]
			vr[c] += d * d
		}
	}
	for c := range vr {
		vr[c] /= float64(rows)
	}
	y, _ = refBNInfer(x, rows, ch, gamma, beta, mean, vr, eps, relu)
	return y, mean, vr
}

// refBNInfer is γ·(x−mean)/√(var+ε) + β (then ReLU) with the given
// statistics; mag is |γ·x̂| + |β|, the size of what was added.
func refBNInfer(x []float64, rows, ch int, gamma, beta, mean, vr []float64, eps float64, relu bool) (y, mag []float64) {
	y, mag = make([]float64, len(x)), make([]float64, len(x))
	for r := 0; r < rows; r++ {
		for c := 0; c < ch; c++ {
			i := r*ch + c
			v := gamma[c]*(x[i]-mean[c])/math.Sqrt(vr[c]+eps) + beta[c]
			// |γ|(|x|+|μ|)/σ + |β|: a kernel may form γx/σ and γμ/σ
			// separately, so their sizes, not only the difference's, count.
			mag[i] = math.Abs(gamma[c])*(math.Abs(x[i])+math.Abs(mean[c]))/math.Sqrt(vr[c]+eps) + math.Abs(beta[c])
			if relu {
				v = max(v, 0)
			}
			y[i] = v
		}
	}
	return
}

// bnGrad is the reference batch-norm gradient with its magnitudes.
type bnGrad struct {
	dx, dxMag     []float64
	dgamma, dgMag []float64
	dbeta, dbMag  []float64
}

// refBNBackward is the gradient of training-mode batch-norm (statistics
// depend on x): with g = dy masked by y > 0 under ReLU and x̂ = (x−μ)/σ,
// dβ = Σg, dγ = Σg·x̂, dx = γ/σ·(g − dβ/R − x̂·dγ/R).
func refBNBackward(x, y, dy []float64, rows, ch int, gamma, mean, vr []float64, eps float64, relu bool) bnGrad {
	var o bnGrad
	o.dgamma, o.dgMag = make([]float64, ch), make([]float64, ch)
	o.dbeta, o.dbMag = make([]float64, ch), make([]float64, ch)
	g := make([]float64, len(x))
	xh := make([]float64, len(x))
	for r := 0; r < rows; r++ {
		for c := 0; c < ch; c++ {
			i := r*ch + c
			g[i] = dy[i]
			if relu && !(y[i] > 0) {
				g[i] = 0
			}
			xh[i] = (x[i] - mean[c]) / math.Sqrt(vr[c]+eps)
			o.dbeta[c] += g[i]
			o.dbMag[c] += math.Abs(g[i])
			o.dgamma[c] += g[i] * xh[i]
			// |g|(|x|+|μ|)/σ: a kernel may sum g·x and μ·g apart.
			o.dgMag[c] += math.Abs(g[i]) * (math.Abs(x[i]) + math.Abs(mean[c])) / math.Sqrt(vr[c]+eps)
		}
	}
	o.dx, o.dxMag = make([]float64, len(x)), make([]float64, len(x))
	R := float64(rows)
	for r := 0; r < rows; r++ {
		for c := 0; c < ch; c++ {
			i := r*ch + c
			k := gamma[c] / math.Sqrt(vr[c]+eps)
			o.dx[i] = k * (g[i] - o.dbeta[c]/R - xh[i]*o.dgamma[c]/R)
			o.dxMag[i] = math.Abs(k) * (math.Abs(g[i]) + o.dbMag[c]/R + math.Abs(xh[i])*o.dgMag[c]/R)
		}
	}
	return o
}

// refSoftmaxCE is the mean over rows of −Σ_j q_j·log softmax(z)_j with
// q = (1−s)·onehot(label) + s/K, each row's loss, and the gradient of the
// mean, (softmax − q)/N.
func refSoftmaxCE(z []float64, n, k int, labels []int32, s float64) (loss float64, per, dz []float64) {
	per, dz = make([]float64, n), make([]float64, n*k)
	for i := 0; i < n; i++ {
		row := z[i*k : (i+1)*k]
		mx := math.Inf(-1)
		for _, v := range row {
			mx = max(mx, v)
		}
		var sum float64
		for _, v := range row {
			sum += math.Exp(v - mx)
		}
		logZ := mx + math.Log(sum)
		for j, v := range row {
			q := s / float64(k)
			if j == int(labels[i]) {
				q += 1 - s
			}
			per[i] -= q * (v - logZ)
			dz[i*k+j] = (math.Exp(v-logZ) - q) / float64(n)
		}
		loss += per[i]
	}
	return loss / float64(n), per, dz
}
