package gpu

import (
	"errors"

	"github.com/rst-bench/rst/suite/nn"
)

// The transformer kernels. Placeholders until their CUDA kernels land:
// each latches an error, so a run on this backend stops at once.

var errTransformer = errors.New("transformer kernels are not implemented on the cuda backend yet")

func (b *Backend) notYet() {
	b.mu.Lock()
	b.fail(errTransformer)
	b.mu.Unlock()
}

func (b *Backend) LayerNorm(x, y, gamma, beta, mean, rstd *nn.Tensor, eps float32) { b.notYet() }
func (b *Backend) LayerNormBackward(x, dy, dx, gamma, mean, rstd, dgamma, dbeta *nn.Tensor) {
	b.notYet()
}
func (b *Backend) GELU(x, y *nn.Tensor)              { b.notYet() }
func (b *Backend) GELUBackward(x, dy, dx *nn.Tensor) { b.notYet() }
func (b *Backend) BatchedMatMul(transA, transB bool, alpha float32, a, x *nn.Tensor, beta float32, c *nn.Tensor) {
	b.notYet()
}
func (b *Backend) SoftmaxRows(x, y *nn.Tensor)                  { b.notYet() }
func (b *Backend) SoftmaxRowsBackward(y, dy, dx *nn.Tensor)     { b.notYet() }
func (b *Backend) SplitHeads(x, y *nn.Tensor, parts, heads int) { b.notYet() }
func (b *Backend) MergeHeads(y, x *nn.Tensor, parts, heads int) { b.notYet() }
func (b *Backend) StridedCopy(dst *nn.Tensor, dOff, dStride int, src *nn.Tensor, sOff, sStride, rows, cols int) {
	b.notYet()
}
