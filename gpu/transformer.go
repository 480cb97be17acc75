package gpu

import (
	"fmt"

	"github.com/rst-bench/rst/suite/nn"
)

// The transformer kernels of kernels.cu and the batched GEMM of cuBLAS.
// Rows are the last dimension; layer norm and softmax run one block of 128
// threads per row, their reductions in double in a fixed order.

// rowsCols reads t as a matrix of its last dimension.
func rowsCols(t *nn.Tensor) (rows, cols int) {
	cols = t.Cols()
	if cols == 0 {
		return 0, 0
	}
	return t.Len() / cols, cols
}

func (b *Backend) LayerNorm(x, y, gamma, beta, mean, rstd *nn.Tensor, eps float32) {
	if b.enter() {
		rows, cols := rowsCols(x)
		b.launch("layernorm_forward", rows, 1, 128, 1, b.ptr(x), b.ptr(y), b.ptr(gamma), b.ptr(beta), b.ptr(mean), b.ptr(rstd), rows, cols, eps)
	}
	b.leave()
}

// LayerNormBackward sums dγ and dβ over chunks of rows as the batch-norm
// gradients are summed (col_partial's grid), then dx row by row.
func (b *Backend) LayerNormBackward(x, dy, dx, gamma, mean, rstd, dgamma, dbeta *nn.Tensor) {
	rows, cols := rowsCols(x)
	if cols == 0 {
		return
	}
	b.columns("ln_grad_partial", rows, cols, 16, 0, func(rows, gx, gy int, part block) {
		b.launch("ln_grad_partial", gx, gy, 32, 8, b.ptr(x), b.ptr(dy), b.ptr(mean), b.ptr(rstd), rows, cols, colChunk, dptr(part.ptr))
		b.cols("ln_grad_finish", cols, dptr(part.ptr), gy, cols, b.ptr(dgamma), b.ptr(dbeta))
		if dx != nil {
			b.launch("layernorm_backward_dx", rows, 1, 128, 1, b.ptr(x), b.ptr(dy), b.ptr(dx), b.ptr(gamma), b.ptr(mean), b.ptr(rstd), rows, cols)
		}
	})
}

func (b *Backend) GELU(x, y *nn.Tensor) {
	if b.enter() {
		b.elem("gelu_forward", x.Len(), b.ptr(x), b.ptr(y), x.Len())
	}
	b.leave()
}

func (b *Backend) GELUBackward(x, dy, dx *nn.Tensor) {
	if b.enter() {
		b.elem("gelu_backward", x.Len(), b.ptr(x), b.ptr(dy), b.ptr(dx), x.Len())
	}
	b.leave()
}

// BatchedMatMul is MatMul's column-major reading (cᵀ = op(b)ᵀ·op(a)ᵀ in
// the same memory) on every matrix of the batch, in one strided-batched
// cuBLAS call.
func (b *Backend) BatchedMatMul(transA, transB bool, alpha float32, a, x *nn.Tensor, beta float32, c *nn.Tensor) {
	if !b.enter() {
		b.leave()
		return
	}
	defer b.leave()
	if len(a.Shape) != 3 || len(x.Shape) != 3 || len(c.Shape) != 3 {
		b.fail(fmt.Errorf("BatchedMatMul on %v, %v, %v: want 3-D tensors", a.Shape, x.Shape, c.Shape))
		return
	}
	batch, m, n := c.Shape[0], c.Shape[1], c.Shape[2]
	k := a.Shape[2]
	if transA {
		k = a.Shape[1]
	}
	if b.emptyGEMM(batch*m*n, k, beta, c) {
		return
	}
	opA, opB := int32(cublasOpN), int32(cublasOpN)
	if transA {
		opA = cublasOpT
	}
	if transB {
		opB = cublasOpT
	}
	al, be := alpha, beta
	r := b.a.cublasSgemmStridedBatched(b.cublas, opB, opA, int32(n), int32(m), int32(k),
		&al, uintptr(b.ptr(x)), int32(x.Shape[2]), int64(x.Shape[1]*x.Shape[2]),
		uintptr(b.ptr(a)), int32(a.Shape[2]), int64(a.Shape[1]*a.Shape[2]),
		&be, uintptr(b.ptr(c)), int32(n), int64(m*n), int32(batch))
	b.blasFail(r, "cublasSgemmStridedBatched")
}

func (b *Backend) SoftmaxRows(x, y *nn.Tensor) {
	if b.enter() {
		rows, cols := rowsCols(x)
		b.launch("softmax_rows", rows, 1, 128, 1, b.ptr(x), b.ptr(y), rows, cols)
	}
	b.leave()
}

func (b *Backend) SoftmaxRowsBackward(y, dy, dx *nn.Tensor) {
	if b.enter() {
		rows, cols := rowsCols(y)
		b.launch("softmax_rows_backward", rows, 1, 128, 1, b.ptr(y), b.ptr(dy), b.ptr(dx), rows, cols)
	}
	b.leave()
}

// heads launches heads_permute between the tokens tok [N, T, P·H·D] and
// the heads hd.
func (b *Backend) heads(tok, hd *nn.Tensor, parts, heads, split int) {
	if !b.enter() {
		b.leave()
		return
	}
	defer b.leave()
	if len(tok.Shape) != 3 || parts < 1 || heads < 1 || tok.Shape[2]%(parts*heads) != 0 {
		b.fail(fmt.Errorf("tokens %v do not split into %d parts of %d heads", tok.Shape, parts, heads))
		return
	}
	n, t, d := tok.Shape[0], tok.Shape[1], tok.Shape[2]/(parts*heads)
	b.elem("heads_permute", tok.Len(), b.ptr(tok), b.ptr(hd), n, t, parts, heads, d, split)
}

func (b *Backend) SplitHeads(x, y *nn.Tensor, parts, heads int) { b.heads(x, y, parts, heads, 1) }
func (b *Backend) MergeHeads(y, x *nn.Tensor, parts, heads int) { b.heads(x, y, parts, heads, 0) }

func (b *Backend) StridedCopy(dst *nn.Tensor, dOff, dStride int, src *nn.Tensor, sOff, sStride, rows, cols int) {
	if b.enter() {
		b.elem("strided_copy", rows*cols, b.ptr(dst), dOff, dStride, b.ptr(src), sOff, sStride, rows, cols)
	}
	b.leave()
}
