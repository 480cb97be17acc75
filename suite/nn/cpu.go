package nn

import (
	"fmt"
	"math"
	"runtime"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"

	"github.com/rst-bench/rst/suite/rng"
)

// CPU is the CPU backend: GEMM through gonum's BLAS interface (pure Go, or
// OpenBLAS when built with the openblas tag), everything else in parallel Go
// loops. Its scratch buffers grow to the largest request and are reused, so
// kernels allocate nothing once warmed up.
type CPU struct {
	col     []float32 // im2col workspace, shared by convolution calls
	partial []float64 // per-chunk partial sums of reductions
	sums    []float64 // column sums of SumRows
	bnBuf   []float64 // per-channel sums of batch-norm
	bnAff   []float32 // per-channel scale and shift of batch-norm
	bnK     []float32
	bnChunk []float32 // per-worker float32 partial sums of batch-norm
	sorted  []float32 // TopKMask's sorted copy of the scores
	losses  []float64 // SoftmaxCrossEntropy's per-row losses
}

// NewCPU returns a CPU backend.
func NewCPU() *CPU { return &CPU{} }

func (c *CPU) Name() string { return "cpu" }

func (c *CPU) Describe() string {
	return fmt.Sprintf("cpu: %s, %s, %d threads, %s/%s", kernelsName(), blasName, runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH)
}

// KernelsName says what runs the CPU backend's convolutions, batch-norm
// and pooling: oneDNN in builds with the dnnl tag, else the Go kernels.
func KernelsName() string { return kernelsName() }

// BLASName says which GEMM the CPU backend uses.
func BLASName() string { return blasName }

func (c *CPU) New(shape ...int) *Tensor {
	return &Tensor{Shape: append([]int(nil), shape...), Data: make([]float32, numel(shape))}
}

func (c *CPU) View(t *Tensor, off int, shape ...int) *Tensor {
	n := numel(shape)
	if off < 0 || off+n > len(t.Data) {
		panic(fmt.Sprintf("nn: view [%d,%d) outside tensor of %d elements", off, off+n, len(t.Data)))
	}
	return &Tensor{Shape: append([]int(nil), shape...), Data: t.Data[off : off+n : off+n], Off: t.Off + off}
}

func (c *CPU) Upload(dst *Tensor, src []float32)   { copy(dst.Data, src) }
func (c *CPU) Download(dst []float32, src *Tensor) { copy(dst, src.Data) }
func (c *CPU) Copy(dst, src *Tensor)               { copy(dst.Data, src.Data) }

const elemGrain = 1 << 14

func (c *CPU) Fill(t *Tensor, v float32) {
	d := t.Data
	parallelFor(len(d), elemGrain, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			d[i] = v
		}
	})
}

func (c *CPU) Axpy(alpha float32, x, y *Tensor) {
	xs, ys := x.Data, y.Data[:len(x.Data)]
	parallelFor(len(xs), elemGrain, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			ys[i] += alpha * xs[i]
		}
	})
}

func (c *CPU) Scale(alpha float32, x *Tensor) {
	xs := x.Data
	parallelFor(len(xs), elemGrain, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			xs[i] *= alpha
		}
	})
}

func (c *CPU) Lerp(y, x *Tensor, a float32) {
	ys, xs := y.Data, x.Data[:len(y.Data)]
	parallelFor(len(ys), elemGrain, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			ys[i] = (1-a)*ys[i] + a*xs[i]
		}
	})
}

func (c *CPU) Mul(a, b, y *Tensor) {
	as, bs, ys := a.Data, b.Data[:len(a.Data)], y.Data[:len(a.Data)]
	parallelFor(len(as), elemGrain, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			ys[i] = as[i] * bs[i]
		}
	})
}

func (c *CPU) Add(a, b, y *Tensor) {
	as, bs, ys := a.Data, b.Data[:len(a.Data)], y.Data[:len(a.Data)]
	parallelFor(len(as), elemGrain, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			ys[i] = as[i] + bs[i]
		}
	})
}

// Dot sums in float64 over fixed chunks combined in order, so the result is
// the same on any number of cores.
func (c *CPU) Dot(x, y *Tensor) float64 {
	xs, ys := x.Data, y.Data[:len(x.Data)]
	const chunk = 1 << 12
	nc := (len(xs) + chunk - 1) / chunk
	part := c.partials(nc)
	parallelFor(nc, 4, func(lo, hi int) {
		for k := lo; k < hi; k++ {
			var s float64
			end := min((k+1)*chunk, len(xs))
			for i := k * chunk; i < end; i++ {
				s += float64(xs[i]) * float64(ys[i])
			}
			part[k] = s
		}
	})
	var s float64
	for _, p := range part {
		s += p
	}
	return s
}

// scratch returns the first n elements of *buf, growing it when it is too
// small: every workspace of the backend is reused from call to call.
func scratch[T any](buf *[]T, n int) []T {
	if cap(*buf) < n {
		*buf = make([]T, n)
	}
	return (*buf)[:n]
}

func (c *CPU) partials(n int) []float64  { return scratch(&c.partial, n) }
func (c *CPU) colBuffer(n int) []float32 { return scratch(&c.col, n) }

func trans(t bool) blas.Transpose {
	if t {
		return blas.Trans
	}
	return blas.NoTrans
}

// sgemm is row-major C(m×n) = alpha·op(A)·op(B) + beta·C through
// whichever BLAS the build uses.
func sgemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, cc []float32, ldc int) {
	blas32.Implementation().Sgemm(trans(tA), trans(tB), m, n, k, alpha, a, lda, b, ldb, beta, cc, ldc)
}

// matMulDims is the m×n×k of MatMul's op(a)·op(b).
func matMulDims(transA, transB bool, a, b *Tensor) (m, n, k int) {
	m, k = a.Rows(), a.Cols()
	if transA {
		m, k = k, m
	}
	n = b.Cols()
	if transB {
		n = b.Rows()
	}
	return m, n, k
}

func (c *CPU) MatMul(transA, transB bool, alpha float32, a, b *Tensor, beta float32, out *Tensor) {
	m, n, k := matMulDims(transA, transB, a, b)
	gemm(transA, transB, m, n, k, alpha, a.Data, a.Cols(), b.Data, b.Cols(), beta, out.Data, out.Cols())
}

func (c *CPU) AddRowVector(y, v *Tensor) {
	cols, vs, ys := v.Len(), v.Data, y.Data
	parallelFor(y.Len()/cols, elemGrain/cols+1, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			row := ys[r*cols : (r+1)*cols]
			for j := range row {
				row[j] += vs[j]
			}
		}
	})
}

// columnSums adds the rows of the R×C matrix x into per-chunk float64
// partials and combines them in order: out[j] = Σ_r x[r,j].
func (c *CPU) columnSums(x []float32, rows, cols int, out []float64) {
	nc := (rows + reduceChunk - 1) / reduceChunk
	part := c.partials(nc * cols)
	parallelFor(nc, 1, func(lo, hi int) {
		for k := lo; k < hi; k++ {
			p := part[k*cols : (k+1)*cols]
			clear(p)
			end := min((k+1)*reduceChunk, rows)
			for r := k * reduceChunk; r < end; r++ {
				for j, v := range x[r*cols : (r+1)*cols] {
					p[j] += float64(v)
				}
			}
		}
	})
	clear(out[:cols])
	for k := 0; k < nc; k++ {
		for j, v := range part[k*cols : (k+1)*cols] {
			out[j] += v
		}
	}
}

func (c *CPU) SumRows(dy, dv *Tensor, beta float32) {
	cols := dv.Len()
	sums := scratch(&c.sums, cols)
	c.columnSums(dy.Data, dy.Len()/cols, cols, sums)
	for j := range sums {
		dv.Data[j] = beta*dv.Data[j] + float32(sums[j])
	}
}

func (c *CPU) AddReLU(a, b, y *Tensor) {
	as, bs, ys := a.Data, b.Data[:len(a.Data)], y.Data[:len(a.Data)]
	parallelFor(len(as), elemGrain, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			ys[i] = max(as[i]+bs[i], 0)
		}
	})
}

func (c *CPU) ReLU(x, y *Tensor) {
	xs, ys := x.Data, y.Data[:len(x.Data)]
	parallelFor(len(xs), elemGrain, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			ys[i] = max(xs[i], 0)
		}
	})
}

func (c *CPU) ReLUBackward(y, dy, dx *Tensor) {
	ys, dys, dxs := y.Data, dy.Data[:len(y.Data)], dx.Data[:len(y.Data)]
	parallelFor(len(ys), elemGrain, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			dxs[i] = reluMask(dys[i], ys[i])
		}
	})
}

func (c *CPU) DropoutMask(mask *Tensor, p float32, key rng.Key, offset uint64) {
	keep := 1 / (1 - p)
	d := mask.Data
	parallelFor(len(d), elemGrain, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			d[i] = keep
			if key.Float32At(offset+uint64(i)) < p {
				d[i] = 0
			}
		}
	})
}

// SoftmaxCrossEntropy runs the rows in parallel (each row's loss,
// gradient and exponentials are computed as one serial loop would) and
// adds the rows' losses in row order afterwards, so the result is the
// same bits on any number of cores.
func (c *CPU) SoftmaxCrossEntropy(logits *Tensor, labels []int32, smoothing float32, dlogits *Tensor, perSample []float32) float64 {
	n, k := logits.Rows(), logits.Cols()
	off := float64(smoothing) / float64(k)
	on := 1 - float64(smoothing) + off
	losses := scratch(&c.losses, n)
	parallelFor(n, max(1, elemGrain/16/k), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			row := logits.Data[i*k : (i+1)*k]
			mx := row[0]
			for _, v := range row {
				mx = max(mx, v)
			}
			var z float64
			for _, v := range row {
				z += math.Exp(float64(v - mx))
			}
			logZ := math.Log(z) + float64(mx)
			// loss_i = −Σ_j q_j·log softmax_j with q = (1−s)·onehot + s/K.
			var loss float64
			lab := int(labels[i])
			for j, v := range row {
				q := off
				if j == lab {
					q = on
				}
				loss -= q * (float64(v) - logZ)
				if dlogits != nil {
					dlogits.Data[i*k+j] = float32((math.Exp(float64(v)-logZ) - q) / float64(n))
				}
			}
			if perSample != nil {
				perSample[i] = float32(loss)
			}
			losses[i] = loss
		}
	})
	var total float64
	for _, l := range losses {
		total += l
	}
	return total / float64(n)
}

func (c *CPU) Argmax(logits *Tensor, out []int32) {
	k := logits.Cols()
	for i := range logits.Rows() {
		row := logits.Data[i*k : (i+1)*k]
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		out[i] = int32(best)
	}
}

func (c *CPU) SGDMomentum(w, g, v *Tensor, lr, momentum float32, nesterov bool) {
	ws, gs, vs := w.Data, g.Data[:len(w.Data)], v.Data[:len(w.Data)]
	parallelFor(len(ws), elemGrain, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			vi := momentum*vs[i] + gs[i]
			vs[i] = vi
			if nesterov {
				ws[i] -= lr * (gs[i] + momentum*vi)
			} else {
				ws[i] -= lr * vi
			}
		}
	})
}

func (c *CPU) AdamW(w, g, m, v *Tensor, lr, beta1, beta2, eps, decay, bc1, bc2 float32) {
	ws, gs, ms, vs := w.Data, g.Data[:len(w.Data)], m.Data[:len(w.Data)], v.Data[:len(w.Data)]
	parallelFor(len(ws), elemGrain, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			gi := gs[i]
			mi := beta1*ms[i] + (1-beta1)*gi
			vi := beta2*vs[i] + (1-beta2)*gi*gi
			ms[i], vs[i] = mi, vi
			mh := mi / bc1
			vh := vi / bc2
			ws[i] -= lr * (mh/(float32(math.Sqrt(float64(vh)))+eps) + decay*ws[i])
		}
	})
}
