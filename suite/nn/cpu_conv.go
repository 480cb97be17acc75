package nn

import (
	"math"
	"runtime"
	"sync/atomic"
)

// colBudget bounds the im2col workspace (in float32s): images are processed
// in chunks whose patch matrix fits, so memory stays flat for any batch.
const colBudget = 1 << 20

type convDims struct {
	n, h, w, cin, cout, oh, ow, k int
}

func dimsOf(x, w *Tensor, g ConvGeom) convDims {
	d := convDims{n: x.Shape[0], h: x.Shape[1], w: x.Shape[2], cin: x.Shape[3], cout: w.Shape[0]}
	d.oh, d.ow = g.Out(d.h, d.w)
	d.k = g.KH * g.KW * d.cin
	return d
}

// pointwise reports a 1×1, stride-1, unpadded convolution, which in NHWC is
// a plain matrix product with no patch matrix at all.
func (g ConvGeom) pointwise() bool { return g.KH == 1 && g.KW == 1 && g.Stride == 1 && g.Pad == 0 }

func (d convDims) imagesPerChunk() int {
	return max(1, min(d.n, colBudget/(d.oh*d.ow*d.k)))
}

// im2col writes one image's patches as rows of col: row (oh,ow) holds the
// window in (kh, kw, c) order, matching a weight row [KH, KW, Cin].
func im2col(x []float32, col []float32, d convDims, g ConvGeom) {
	c := d.cin
	rowLen := d.k
	span := g.KW * c
	for oh := 0; oh < d.oh; oh++ {
		for ow := 0; ow < d.ow; ow++ {
			row := col[(oh*d.ow+ow)*rowLen : (oh*d.ow+ow+1)*rowLen]
			iw0 := ow*g.Stride - g.Pad
			inside := iw0 >= 0 && iw0+g.KW <= d.w
			for kh := 0; kh < g.KH; kh++ {
				ih := oh*g.Stride - g.Pad + kh
				dst := row[kh*span : (kh+1)*span]
				if ih < 0 || ih >= d.h {
					clear(dst)
					continue
				}
				base := ih * d.w * c
				if inside {
					// The whole window row is one contiguous run in NHWC.
					copy(dst, x[base+iw0*c:base+(iw0+g.KW)*c])
					continue
				}
				for kw := 0; kw < g.KW; kw++ {
					iw := iw0 + kw
					seg := dst[kw*c : (kw+1)*c]
					if iw < 0 || iw >= d.w {
						clear(seg)
					} else {
						copy(seg, x[base+iw*c:base+(iw+1)*c])
					}
				}
			}
		}
	}
}

// col2im adds patch gradients back into one image's gradient dx, which the
// caller has zeroed.
func col2im(col []float32, dx []float32, d convDims, g ConvGeom) {
	c := d.cin
	span := g.KW * c
	for oh := 0; oh < d.oh; oh++ {
		for ow := 0; ow < d.ow; ow++ {
			row := col[(oh*d.ow+ow)*d.k : (oh*d.ow+ow+1)*d.k]
			iw0 := ow*g.Stride - g.Pad
			for kh := 0; kh < g.KH; kh++ {
				ih := oh*g.Stride - g.Pad + kh
				if ih < 0 || ih >= d.h {
					continue
				}
				src := row[kh*span : (kh+1)*span]
				base := ih * d.w * c
				lo, hi := 0, g.KW
				if iw0 < 0 {
					lo = -iw0
				}
				if iw0+g.KW > d.w {
					hi = d.w - iw0
				}
				if lo >= hi {
					continue
				}
				dst := dx[base+(iw0+lo)*c : base+(iw0+hi)*c]
				s := src[lo*c : hi*c]
				for i := range dst {
					dst[i] += s[i]
				}
			}
		}
	}
}

// Conv2D and Conv2DBackward run on oneDNN in dnnl builds (dnnl.go) and on
// im2col and GEMM otherwise.
func (c *CPU) Conv2D(x, w, y *Tensor, g ConvGeom) {
	if c.dnnlConv2D(x, w, y, g) {
		return
	}
	c.goConv2D(x, w, y, g)
}

func (c *CPU) Conv2DBackward(x, w, dy, dx, dw *Tensor, g ConvGeom) {
	if c.dnnlConv2DBackward(x, w, dy, dx, dw, g) {
		return
	}
	c.goConv2DBackward(x, w, dy, dx, dw, g)
}

func (c *CPU) goConv2D(x, w, y *Tensor, g ConvGeom) {
	d := dimsOf(x, w, g)
	if g.pointwise() {
		gemm(false, true, d.n*d.h*d.w, d.cout, d.cin, 1, x.Data, d.cin, w.Data, d.cin, 0, y.Data, d.cout)
		return
	}
	inImg, rowsImg := d.h*d.w*d.cin, d.oh*d.ow
	per := d.imagesPerChunk()
	col := c.colBuffer(per * rowsImg * d.k)
	for n0 := 0; n0 < d.n; n0 += per {
		nb := min(per, d.n-n0)
		parallelFor(nb, 1, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				im2col(x.Data[(n0+i)*inImg:(n0+i+1)*inImg], col[i*rowsImg*d.k:(i+1)*rowsImg*d.k], d, g)
			}
		})
		rows := nb * rowsImg
		gemm(false, true, rows, d.cout, d.k, 1, col, d.k, w.Data, d.k, 0, y.Data[n0*rowsImg*d.cout:], d.cout)
	}
}

func (c *CPU) goConv2DBackward(x, w, dy, dx, dw *Tensor, g ConvGeom) {
	d := dimsOf(x, w, g)
	if g.pointwise() {
		rows := d.n * d.h * d.w
		gemm(true, false, d.cout, d.cin, rows, 1, dy.Data, d.cout, x.Data, d.cin, 0, dw.Data, d.cin)
		if dx != nil {
			gemm(false, false, rows, d.cin, d.cout, 1, dy.Data, d.cout, w.Data, d.cin, 0, dx.Data, d.cin)
		}
		return
	}
	inImg, rowsImg := d.h*d.w*d.cin, d.oh*d.ow
	per := d.imagesPerChunk()
	col := c.colBuffer(per * rowsImg * d.k)
	for n0 := 0; n0 < d.n; n0 += per {
		nb := min(per, d.n-n0)
		rows := nb * rowsImg
		parallelFor(nb, 1, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				im2col(x.Data[(n0+i)*inImg:(n0+i+1)*inImg], col[i*rowsImg*d.k:(i+1)*rowsImg*d.k], d, g)
			}
		})
		dyc := dy.Data[n0*rowsImg*d.cout:]
		beta := float32(1)
		if n0 == 0 {
			beta = 0
		}
		gemm(true, false, d.cout, d.k, rows, 1, dyc, d.cout, col, d.k, beta, dw.Data, d.k)
		if dx == nil {
			continue
		}
		// The patch matrix is no longer needed: reuse it for its gradient.
		gemm(false, false, rows, d.k, d.cout, 1, dyc, d.cout, w.Data, d.k, 0, col, d.k)
		parallelFor(nb, 1, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				img := dx.Data[(n0+i)*inImg : (n0+i+1)*inImg]
				clear(img)
				col2im(col[i*rowsImg*d.k:(i+1)*rowsImg*d.k], img, d, g)
			}
		})
	}
}

// poolDims reads an NHWC input and the pooled output's spatial size.
func poolDims(x *Tensor, g ConvGeom) (n, h, w, ch, oh, ow int) {
	n, h, w, ch = x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	oh, ow = g.Out(h, w)
	return
}

// Batch-norm and pooling, like the convolutions, run on oneDNN in dnnl
// builds where it can (a backward pass whose forward ran elsewhere falls
// back to the Go kernels, which need no workspace).
func (c *CPU) MaxPool(x, y *Tensor, g ConvGeom) {
	if !c.dnnlMaxPool(x, y, g) {
		c.goMaxPool(x, y, g)
	}
}

func (c *CPU) MaxPoolBackward(x, y, dy, dx *Tensor, g ConvGeom) {
	if !c.dnnlMaxPoolBackward(x, y, dy, dx, g) {
		c.goMaxPoolBackward(x, y, dy, dx, g)
	}
}

func (c *CPU) AvgPool(x, y *Tensor, g ConvGeom) {
	if !c.dnnlAvgPool(x, y, g) {
		c.goAvgPool(x, y, g)
	}
}

func (c *CPU) AvgPoolBackward(dy, dx *Tensor, g ConvGeom) {
	if !c.dnnlAvgPoolBackward(dy, dx, g) {
		c.goAvgPoolBackward(dy, dx, g)
	}
}

func (c *CPU) BatchNormTrain(x, y, gamma, beta, mean, variance *Tensor, eps float32, relu bool) {
	if !c.dnnlBatchNormTrain(x, y, gamma, beta, mean, variance, eps, relu) {
		c.goBatchNormTrain(x, y, gamma, beta, mean, variance, eps, relu)
	}
}

func (c *CPU) BatchNormInfer(x, y, gamma, beta, mean, variance *Tensor, eps float32, relu bool) {
	if !c.dnnlBatchNormInfer(x, y, gamma, beta, mean, variance, eps, relu) {
		c.goBatchNormInfer(x, y, gamma, beta, mean, variance, eps, relu)
	}
}

func (c *CPU) BatchNormBackward(x, y, dy, dx, gamma, mean, variance, dgamma, dbeta *Tensor, eps float32, relu bool) {
	if !c.dnnlBatchNormBackward(x, y, dy, dx, gamma, mean, variance, dgamma, dbeta, eps, relu) {
		c.goBatchNormBackward(x, y, dy, dx, gamma, mean, variance, dgamma, dbeta, eps, relu)
	}
}

func (c *CPU) goMaxPool(x, y *Tensor, g ConvGeom) {
	n, h, w, ch, oh, ow := poolDims(x, g)
	if g.tiles2x2() {
		maxPool2x2(x.Data, y.Data, n, h, w, ch, oh, ow)
		return
	}
	parallelFor(n*oh, 1, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			img, i := r/oh, r%oh
			for j := 0; j < ow; j++ {
				out := y.Data[((img*oh+i)*ow+j)*ch : ((img*oh+i)*ow+j+1)*ch]
				for k := range out {
					out[k] = float32(math.Inf(-1))
				}
				for kh := 0; kh < g.KH; kh++ {
					ih := i*g.Stride - g.Pad + kh
					if ih < 0 || ih >= h {
						continue
					}
					for kw := 0; kw < g.KW; kw++ {
						iw := j*g.Stride - g.Pad + kw
						if iw < 0 || iw >= w {
							continue
						}
						in := x.Data[((img*h+ih)*w+iw)*ch : ((img*h+ih)*w+iw+1)*ch]
						for k, v := range in {
							if v > out[k] {
								out[k] = v
							}
						}
					}
				}
			}
		}
	})
}

// goMaxPoolBackward routes each output gradient to the first input in its
// window (in row-major window order) that equals the maximum: the choice a
// stored argmax would make. Channels are innermost, so each window position
// is one contiguous run; taken marks channels already routed.
func (c *CPU) goMaxPoolBackward(x, y, dy, dx *Tensor, g ConvGeom) {
	n, h, w, ch, oh, ow := poolDims(x, g)
	if g.tiles2x2() {
		maxPool2x2Backward(x.Data, y.Data, dy.Data, dx.Data, n, h, w, ch, oh, ow)
		return
	}
	parallelFor(n, 1, func(lo, hi int) {
		taken := make([]bool, ch)
		for img := lo; img < hi; img++ {
			clear(dx.Data[img*h*w*ch : (img+1)*h*w*ch])
			for i := 0; i < oh; i++ {
				for j := 0; j < ow; j++ {
					o := ((img*oh+i)*ow + j) * ch
					best, grad := y.Data[o:o+ch], dy.Data[o:o+ch]
					clear(taken)
					for kh := 0; kh < g.KH; kh++ {
						ih := i*g.Stride - g.Pad + kh
						if ih < 0 || ih >= h {
							continue
						}
						for kw := 0; kw < g.KW; kw++ {
							iw := j*g.Stride - g.Pad + kw
							if iw < 0 || iw >= w {
								continue
							}
							p := ((img*h+ih)*w + iw) * ch
							xs, ds := x.Data[p:p+ch], dx.Data[p:p+ch]
							for k, v := range xs {
								if !taken[k] && v == best[k] {
									ds[k] += grad[k]
									taken[k] = true
								}
							}
						}
					}
				}
			}
		}
	})
}

// tiles2x2 reports the usual 2×2, stride-2, unpadded pooling on an even
// input, whose windows tile the input exactly: each input belongs to one
// window, so the backward pass writes every input once and needs no clear.
func (g ConvGeom) tiles2x2() bool { return g.KH == 2 && g.KW == 2 && g.Stride == 2 && g.Pad == 0 }

func maxPool2x2(x, y []float32, n, h, w, ch, oh, ow int) {
	parallelFor(n*oh, 1, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			img, i := r/oh, r%oh
			for j := 0; j < ow; j++ {
				a := ((img*h+2*i)*w + 2*j) * ch
				b := a + w*ch
				x00, x01 := x[a:a+ch], x[a+ch:a+2*ch]
				x10, x11 := x[b:b+ch], x[b+ch:b+2*ch]
				out := y[((img*oh+i)*ow+j)*ch:][:len(x00)]
				x01, x10, x11 = x01[:len(x00)], x10[:len(x00)], x11[:len(x00)]
				for k, v := range x00 {
					// The builtin max compiles to branch-free code; the
					// maxima of random activations defeat branch prediction.
					out[k] = max(v, x01[k], x10[k], x11[k])
				}
			}
		}
	})
	// Odd trailing rows/columns are outside every window and simply dropped.
}

// eqMask is all ones when a == b and zero otherwise, without a branch.
func eqMask(a, b float32) uint32 {
	var m uint32
	if a == b {
		m = 0xffffffff
	}
	return m
}

// maxPool2x2Backward sends each gradient to the first input of its window
// (row-major) equal to the maximum, as the general path does, and zero to
// the other three; inputs outside every window (odd edges) get zero.
func maxPool2x2Backward(x, y, dy, dx []float32, n, h, w, ch, oh, ow int) {
	parallelFor(n, 1, func(lo, hi int) {
		for img := lo; img < hi; img++ {
			if h%2 == 1 || w%2 == 1 {
				clear(dx[img*h*w*ch : (img+1)*h*w*ch])
			}
			for i := 0; i < oh; i++ {
				for j := 0; j < ow; j++ {
					a := ((img*h+2*i)*w + 2*j) * ch
					b := a + w*ch
					x00, x01 := x[a:a+ch], x[a+ch:a+2*ch]
					x10, x11 := x[b:b+ch], x[b+ch:b+2*ch]
					d00, d01 := dx[a:a+ch], dx[a+ch:a+2*ch]
					d10, d11 := dx[b:b+ch], dx[b+ch:b+2*ch]
					o := ((img*oh+i)*ow + j) * ch
					best, grad := y[o:o+ch], dy[o:o+ch]
					for k := range best {
						m := best[k]
						gb := math.Float32bits(grad[k])
						e0 := eqMask(x00[k], m)
						e1 := eqMask(x01[k], m) &^ e0
						e2 := eqMask(x10[k], m) &^ (e0 | e1)
						e3 := eqMask(x11[k], m) &^ (e0 | e1 | e2)
						d00[k] = math.Float32frombits(gb & e0)
						d01[k] = math.Float32frombits(gb & e1)
						d10[k] = math.Float32frombits(gb & e2)
						d11[k] = math.Float32frombits(gb & e3)
					}
				}
			}
		}
	})
}

// goAvgPool divides by the full window (zero padding counts), as the usual
// frameworks do by default.
func (c *CPU) goAvgPool(x, y *Tensor, g ConvGeom) {
	n, h, w, ch, oh, ow := poolDims(x, g)
	inv := 1 / float32(g.KH*g.KW)
	parallelFor(n*oh, 1, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			img, i := r/oh, r%oh
			for j := 0; j < ow; j++ {
				out := y.Data[((img*oh+i)*ow+j)*ch : ((img*oh+i)*ow+j+1)*ch]
				clear(out)
				for kh := 0; kh < g.KH; kh++ {
					ih := i*g.Stride - g.Pad + kh
					if ih < 0 || ih >= h {
						continue
					}
					for kw := 0; kw < g.KW; kw++ {
						iw := j*g.Stride - g.Pad + kw
						if iw < 0 || iw >= w {
							continue
						}
						in := x.Data[((img*h+ih)*w+iw)*ch : ((img*h+ih)*w+iw+1)*ch]
						for k, v := range in {
							out[k] += v
						}
					}
				}
				for k := range out {
					out[k] *= inv
				}
			}
		}
	})
}

func (c *CPU) goAvgPoolBackward(dy, dx *Tensor, g ConvGeom) {
	n, h, w, ch, oh, ow := poolDims(dx, g)
	inv := 1 / float32(g.KH*g.KW)
	parallelFor(n, 1, func(lo, hi int) {
		for img := lo; img < hi; img++ {
			clear(dx.Data[img*h*w*ch : (img+1)*h*w*ch])
			for i := 0; i < oh; i++ {
				for j := 0; j < ow; j++ {
					gr := dy.Data[((img*oh+i)*ow+j)*ch : ((img*oh+i)*ow+j+1)*ch]
					for kh := 0; kh < g.KH; kh++ {
						ih := i*g.Stride - g.Pad + kh
						if ih < 0 || ih >= h {
							continue
						}
						for kw := 0; kw < g.KW; kw++ {
							iw := j*g.Stride - g.Pad + kw
							if iw < 0 || iw >= w {
								continue
							}
							in := dx.Data[((img*h+ih)*w+iw)*ch : ((img*h+ih)*w+iw+1)*ch]
							for k, v := range gr {
								in[k] += v * inv
							}
						}
					}
				}
			}
		}
	})
}

func (c *CPU) GlobalAvgPool(x, y *Tensor) {
	n, hw, ch := x.Shape[0], x.Shape[1]*x.Shape[2], x.Shape[3]
	inv := 1 / float32(hw)
	parallelFor(n, 1, func(lo, hi int) {
		for img := lo; img < hi; img++ {
			out := y.Data[img*ch : (img+1)*ch]
			clear(out)
			for p := 0; p < hw; p++ {
				in := x.Data[(img*hw+p)*ch : (img*hw+p+1)*ch]
				for k, v := range in {
					out[k] += v
				}
			}
			for k := range out {
				out[k] *= inv
			}
		}
	})
}

func (c *CPU) GlobalAvgPoolBackward(dy, dx *Tensor) {
	n, hw, ch := dx.Shape[0], dx.Shape[1]*dx.Shape[2], dx.Shape[3]
	inv := 1 / float32(hw)
	parallelFor(n, 1, func(lo, hi int) {
		for img := lo; img < hi; img++ {
			gr := dy.Data[img*ch : (img+1)*ch]
			for p := 0; p < hw; p++ {
				in := dx.Data[(img*hw+p)*ch : (img*hw+p+1)*ch]
				for k, v := range gr {
					in[k] = v * inv
				}
			}
		}
	})
}

// bnStats holds per-channel float64 sums for batch-norm, sized once.
func (c *CPU) bnScratch(ch int) (a, b []float64) {
	s := scratch(&c.bnBuf, 2*ch)
	return s[:ch], s[ch:]
}

func (c *CPU) goBatchNormTrain(x, y, gamma, beta, mean, variance *Tensor, eps float32, relu bool) {
	ch := x.Cols()
	rows := x.Len() / ch
	sum, sq := c.bnScratch(ch)
	c.columnSums(x.Data, rows, ch, sum)
	for k := range ch {
		mean.Data[k] = float32(sum[k] / float64(rows))
	}
	// Centred second pass: the one-pass E[x²]−E[x]² loses digits in float32.
	c.centredSquares(x.Data, mean.Data, rows, ch, sq)
	for k := range ch {
		variance.Data[k] = float32(sq[k] / float64(rows))
	}
	c.goBatchNormInfer(x, y, gamma, beta, mean, variance, eps, relu)
}

func (c *CPU) centredSquares(x, mean []float32, rows, ch int, out []float64) {
	nc := (rows + reduceChunk - 1) / reduceChunk
	part := c.partials(nc * ch)
	parallelFor(nc, 1, func(lo, hi int) {
		for k := lo; k < hi; k++ {
			p := part[k*ch : (k+1)*ch]
			clear(p)
			end := min((k+1)*reduceChunk, rows)
			for r := k * reduceChunk; r < end; r++ {
				xr := x[r*ch : (r+1)*ch]
				p := p[:len(xr)]
				m := mean[:len(xr)]
				for j, v := range xr {
					d := float64(v - m[j])
					p[j] += d * d
				}
			}
		}
	})
	clear(out[:ch])
	for k := 0; k < nc; k++ {
		for j, v := range part[k*ch : (k+1)*ch] {
			out[j] += v
		}
	}
}

func (c *CPU) goBatchNormInfer(x, y, gamma, beta, mean, variance *Tensor, eps float32, relu bool) {
	ch := x.Cols()
	rows := x.Len() / ch
	scale, shift := c.bnAffine(ch)
	for k := range ch {
		inv := float32(1 / math.Sqrt(float64(variance.Data[k])+float64(eps)))
		scale[k] = gamma.Data[k] * inv
		shift[k] = beta.Data[k] - mean.Data[k]*scale[k]
	}
	parallelFor(rows, elemGrain/ch+1, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			in, out := x.Data[r*ch:(r+1)*ch], y.Data[r*ch:(r+1)*ch]
			sc, sh := scale[:len(in)], shift[:len(in)]
			out = out[:len(in)]
			if relu {
				for j, v := range in {
					out[j] = max(v*sc[j]+sh[j], 0)
				}
			} else {
				for j, v := range in {
					out[j] = v*sc[j] + sh[j]
				}
			}
		}
	})
}

func (c *CPU) bnAffine(ch int) (a, b []float32) {
	s := scratch(&c.bnAff, 2*ch)
	return s[:ch], s[ch:]
}

// bnGradSums computes, per channel, Σ g and Σ g·x where g is dy masked by
// y > 0 when the forward pass applied a ReLU. Each chunk of reduceChunk rows
// sums in float32 (short sums, so little rounding) and the chunks combine
// in float64 in a fixed order.
func (c *CPU) bnGradSums(x, y, dy []float32, rows, ch int, relu bool, sg, sgx []float64) {
	nc := (rows + reduceChunk - 1) / reduceChunk
	part := c.partials(2 * nc * ch)
	scratch := scratch(&c.bnChunk, 2*ch*runtime.GOMAXPROCS(0))
	var next atomic.Int32
	parallelFor(nc, 1, func(lo, hi int) {
		w := int(next.Add(1)) - 1
		p32 := scratch[2*w*ch : (2*w+1)*ch]
		q32 := scratch[(2*w+1)*ch : (2*w+2)*ch]
		for k := lo; k < hi; k++ {
			clear(p32)
			clear(q32)
			end := min((k+1)*reduceChunk, rows)
			for r := k * reduceChunk; r < end; r++ {
				xr, dr, yr := x[r*ch:(r+1)*ch], dy[r*ch:(r+1)*ch], y[r*ch:(r+1)*ch]
				dr, yr = dr[:len(xr)], yr[:len(xr)]
				p, q := p32[:len(xr)], q32[:len(xr)]
				if relu {
					for j, v := range xr {
						g := reluMask(dr[j], yr[j])
						p[j] += g
						q[j] += g * v
					}
				} else {
					for j, v := range xr {
						p[j] += dr[j]
						q[j] += dr[j] * v
					}
				}
			}
			pk, qk := part[2*k*ch:(2*k+1)*ch], part[(2*k+1)*ch:(2*k+2)*ch]
			for j := range pk {
				pk[j], qk[j] = float64(p32[j]), float64(q32[j])
			}
		}
	})
	clear(sg[:ch])
	clear(sgx[:ch])
	for k := 0; k < nc; k++ {
		for j := 0; j < ch; j++ {
			sg[j] += part[2*k*ch+j]
			sgx[j] += part[(2*k+1)*ch+j]
		}
	}
}

// reluMask is d where the ReLU output y is positive and 0 elsewhere,
// without a branch: ReLU masks are close to random, so a branch would
// mispredict about half the time.
func reluMask(d, y float32) float32 {
	var m uint32
	if y > 0 {
		m = 0xffffffff
	}
	return math.Float32frombits(math.Float32bits(d) & m)
}

// goBatchNormBackward uses dβ = Σg, dγ = Σg·x̂ and
// dx = γ/σ·(g − dβ/R − x̂·dγ/R), with x̂ recomputed from x and g = dy
// (masked by the fused ReLU's y > 0).
func (c *CPU) goBatchNormBackward(x, y, dy, dx, gamma, mean, variance, dgamma, dbeta *Tensor, eps float32, relu bool) {
	ch := x.Cols()
	rows := x.Len() / ch
	sg, sgx := c.bnScratch(ch)
	c.bnGradSums(x.Data, y.Data, dy.Data, rows, ch, relu, sg, sgx)
	gs, k1 := c.bnAffine(ch)
	k2 := scratch(&c.bnK, ch)
	for j := range ch {
		is := 1 / math.Sqrt(float64(variance.Data[j])+float64(eps))
		m := float64(mean.Data[j])
		// Σ g·x̂ = (Σ g·x − m·Σ g)/σ
		dg := (sgx[j] - m*sg[j]) * is
		dgamma.Data[j] = float32(dg)
		dbeta.Data[j] = float32(sg[j])
		g := float64(gamma.Data[j]) * is
		gs[j] = float32(g)
		// dx = g·dy − g·Σdy/R − g·x̂·dγ/R, with x̂ = (x−m)·is.
		k1[j] = float32(g * dg * is / float64(rows))
		k2[j] = float32(g*sg[j]/float64(rows) - g*dg*is*m/float64(rows))
	}
	if dx == nil {
		return
	}
	parallelFor(rows, elemGrain/ch+1, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xs := x.Data[r*ch : (r+1)*ch]
			dys, dxs, ys := dy.Data[r*ch:(r+1)*ch], dx.Data[r*ch:(r+1)*ch], y.Data[r*ch:(r+1)*ch]
			dys, dxs, ys = dys[:len(xs)], dxs[:len(xs)], ys[:len(xs)]
			g, a, b := gs[:len(xs)], k1[:len(xs)], k2[:len(xs)]
			if relu {
				for j, v := range xs {
					dxs[j] = g[j]*reluMask(dys[j], ys[j]) - a[j]*v - b[j]
				}
			} else {
				for j, v := range xs {
					dxs[j] = g[j]*dys[j] - a[j]*v - b[j]
				}
			}
		}
	})
}
