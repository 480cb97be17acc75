package nn

import (
	"fmt"
	"sort"
	"time"

	"github.com/rst-bench/rst/suite/rng"
)

// KernelTimer is a Backend that runs every kernel on another backend and
// adds up the wall time of each kind of kernel (convolution, its backward,
// GEMM, batch-norm, …), so that a benchmark can say where a pass goes:
// pprof does not see the threads of OpenBLAS and oneDNN, and a device's
// kernels run asynchronously (the timer waits for each with Sync, so on a
// device the kinds add up to more than an unsynchronised pass takes).
//
// Kernels it does not list (the optimizers', copies, fills, …) run
// untimed; a caller that times whole passes sees them as the difference.
// With ByShape, convolutions and GEMMs are filed under their shapes too
// ("conv@32x32x64-k3-s1"), for tuning one layer.
type KernelTimer struct {
	Backend
	ByShape bool
	// On turns the timing on; off, every kernel still runs, untimed.
	On    bool
	spent map[string]time.Duration
}

// NewKernelTimer wraps b, timing from the start.
func NewKernelTimer(b Backend) *KernelTimer {
	return &KernelTimer{Backend: b, On: true, spent: map[string]time.Duration{}}
}

// KernelTime is the time one kind of kernel took.
type KernelTime struct {
	Kernel string        `json:"kernel"`
	Time   time.Duration `json:"ns"`
}

// Times lists the time of each kind so far, longest first.
func (t *KernelTimer) Times() []KernelTime {
	out := make([]KernelTime, 0, len(t.spent))
	for k, v := range t.spent {
		out = append(out, KernelTime{k, v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Time != out[j].Time {
			return out[i].Time > out[j].Time
		}
		return out[i].Kernel < out[j].Kernel
	})
	return out
}

// Reset forgets the times so far.
func (t *KernelTimer) Reset() { clear(t.spent) }

// clock runs f and files its time under kind (and under kind@shape when
// ByShape and shape is given).
func (t *KernelTimer) clock(kind string, shape func() string, f func()) {
	if !t.On {
		f()
		return
	}
	t0 := time.Now()
	f()
	t.Backend.Sync()
	d := time.Since(t0)
	if t.ByShape && shape != nil {
		kind += "@" + shape()
	}
	t.spent[kind] += d
}

func convShape(x *Tensor, g ConvGeom) func() string {
	return func() string {
		return fmt.Sprintf("%dx%dx%d-k%d-s%d", x.Shape[1], x.Shape[2], x.Shape[3], g.KH, g.Stride)
	}
}

func gemmShape(a, b *Tensor, transA, transB bool) func() string {
	return func() string {
		m, n, k := matMulDims(transA, transB, a, b)
		return fmt.Sprintf("%dx%dx%d", m, n, k)
	}
}

func (t *KernelTimer) Conv2D(x, w, y *Tensor, g ConvGeom) {
	t.clock("conv", convShape(x, g), func() { t.Backend.Conv2D(x, w, y, g) })
}

func (t *KernelTimer) Conv2DBackward(x, w, dy, dx, dw *Tensor, g ConvGeom) {
	t.clock("conv-bwd", convShape(x, g), func() { t.Backend.Conv2DBackward(x, w, dy, dx, dw, g) })
}

func (t *KernelTimer) MatMul(transA, transB bool, alpha float32, a, b *Tensor, beta float32, c *Tensor) {
	t.clock("gemm", gemmShape(a, b, transA, transB), func() { t.Backend.MatMul(transA, transB, alpha, a, b, beta, c) })
}

func (t *KernelTimer) BatchedMatMul(transA, transB bool, alpha float32, a, b *Tensor, beta float32, c *Tensor) {
	t.clock("batched-gemm", nil, func() { t.Backend.BatchedMatMul(transA, transB, alpha, a, b, beta, c) })
}

func (t *KernelTimer) BatchNormTrain(x, y, gamma, beta, mean, variance *Tensor, eps float32, relu bool) {
	t.clock("batch-norm", nil, func() { t.Backend.BatchNormTrain(x, y, gamma, beta, mean, variance, eps, relu) })
}

func (t *KernelTimer) BatchNormInfer(x, y, gamma, beta, mean, variance *Tensor, eps float32, relu bool) {
	t.clock("batch-norm", nil, func() { t.Backend.BatchNormInfer(x, y, gamma, beta, mean, variance, eps, relu) })
}

func (t *KernelTimer) BatchNormBackward(x, y, dy, dx, gamma, mean, variance, dgamma, dbeta *Tensor, eps float32, relu bool) {
	t.clock("batch-norm-bwd", nil, func() { t.Backend.BatchNormBackward(x, y, dy, dx, gamma, mean, variance, dgamma, dbeta, eps, relu) })
}

func (t *KernelTimer) ReLU(x, y *Tensor) { t.clock("relu", nil, func() { t.Backend.ReLU(x, y) }) }

func (t *KernelTimer) ReLUBackward(y, dy, dx *Tensor) {
	t.clock("relu-bwd", nil, func() { t.Backend.ReLUBackward(y, dy, dx) })
}

func (t *KernelTimer) Add(a, b, y *Tensor) { t.clock("add", nil, func() { t.Backend.Add(a, b, y) }) }

func (t *KernelTimer) AddReLU(a, b, y *Tensor) {
	t.clock("add", nil, func() { t.Backend.AddReLU(a, b, y) })
}

func (t *KernelTimer) Mul(a, b, y *Tensor) { t.clock("mul", nil, func() { t.Backend.Mul(a, b, y) }) }

func (t *KernelTimer) AddRowVector(y, v *Tensor) {
	t.clock("bias", nil, func() { t.Backend.AddRowVector(y, v) })
}

func (t *KernelTimer) SumRows(dy, dv *Tensor, beta float32) {
	t.clock("bias-bwd", nil, func() { t.Backend.SumRows(dy, dv, beta) })
}

func (t *KernelTimer) MaxPool(x, y *Tensor, g ConvGeom) {
	t.clock("pool", nil, func() { t.Backend.MaxPool(x, y, g) })
}

func (t *KernelTimer) MaxPoolBackward(x, y, dy, dx *Tensor, g ConvGeom) {
	t.clock("pool-bwd", nil, func() { t.Backend.MaxPoolBackward(x, y, dy, dx, g) })
}

func (t *KernelTimer) AvgPool(x, y *Tensor, g ConvGeom) {
	t.clock("pool", nil, func() { t.Backend.AvgPool(x, y, g) })
}

func (t *KernelTimer) AvgPoolBackward(dy, dx *Tensor, g ConvGeom) {
	t.clock("pool-bwd", nil, func() { t.Backend.AvgPoolBackward(dy, dx, g) })
}

func (t *KernelTimer) GlobalAvgPool(x, y *Tensor) {
	t.clock("pool", nil, func() { t.Backend.GlobalAvgPool(x, y) })
}

func (t *KernelTimer) GlobalAvgPoolBackward(dy, dx *Tensor) {
	t.clock("pool-bwd", nil, func() { t.Backend.GlobalAvgPoolBackward(dy, dx) })
}

func (t *KernelTimer) DropoutMask(mask *Tensor, p float32, key rng.Key, offset uint64) {
	t.clock("dropout-mask", nil, func() { t.Backend.DropoutMask(mask, p, key, offset) })
}

func (t *KernelTimer) SoftmaxCrossEntropy(logits *Tensor, labels []int32, smoothing float32, dlogits *Tensor, perSample []float32) (loss float64) {
	t.clock("loss", nil, func() { loss = t.Backend.SoftmaxCrossEntropy(logits, labels, smoothing, dlogits, perSample) })
	return loss
}

func (t *KernelTimer) LayerNorm(x, y, gamma, beta, mean, rstd *Tensor, eps float32) {
	t.clock("layer-norm", nil, func() { t.Backend.LayerNorm(x, y, gamma, beta, mean, rstd, eps) })
}

func (t *KernelTimer) LayerNormBackward(x, dy, dx, gamma, mean, rstd, dgamma, dbeta *Tensor) {
	t.clock("layer-norm-bwd", nil, func() { t.Backend.LayerNormBackward(x, dy, dx, gamma, mean, rstd, dgamma, dbeta) })
}

func (t *KernelTimer) GELU(x, y *Tensor) { t.clock("gelu", nil, func() { t.Backend.GELU(x, y) }) }

func (t *KernelTimer) GELUBackward(x, dy, dx *Tensor) {
	t.clock("gelu-bwd", nil, func() { t.Backend.GELUBackward(x, dy, dx) })
}

func (t *KernelTimer) SoftmaxRows(x, y *Tensor) {
	t.clock("softmax", nil, func() { t.Backend.SoftmaxRows(x, y) })
}

func (t *KernelTimer) SoftmaxRowsBackward(y, dy, dx *Tensor) {
	t.clock("softmax-bwd", nil, func() { t.Backend.SoftmaxRowsBackward(y, dy, dx) })
}

func (t *KernelTimer) SplitHeads(x, y *Tensor, parts, heads int) {
	t.clock("heads", nil, func() { t.Backend.SplitHeads(x, y, parts, heads) })
}

func (t *KernelTimer) MergeHeads(y, x *Tensor, parts, heads int) {
	t.clock("heads", nil, func() { t.Backend.MergeHeads(y, x, parts, heads) })
}

func (t *KernelTimer) StridedCopy(dst *Tensor, dOff, dStride int, src *Tensor, sOff, sStride, rows, cols int) {
	t.clock("tokens", nil, func() { t.Backend.StridedCopy(dst, dOff, dStride, src, sOff, sStride, rows, cols) })
}
