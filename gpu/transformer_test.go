package gpu

import (
	"strings"
	"testing"

	"github.com/rst-bench/rst/suite/nn"
)

// dryTransformer calls the transformer operations on the stub (TestDryRun
// calls it on fresh tensors and on views), with and without a nil dx.
func dryTransformer(b *Backend, mk func(shape ...int) *nn.Tensor) {
	x, y, dy, dx := mk(2, 5, 12), mk(2, 5, 12), mk(2, 5, 12), mk(2, 5, 12)
	g, be, dg, db := mk(12), mk(12), mk(12), mk(12)
	mean, rstd := mk(10), mk(10)
	b.LayerNorm(x, y, g, be, mean, rstd, 1e-6)
	b.LayerNormBackward(x, dy, dx, g, mean, rstd, dg, db)
	b.LayerNormBackward(x, dy, nil, g, mean, rstd, dg, db)
	b.GELU(x, y)
	b.GELUBackward(x, dy, dx)
	h := mk(3, 4, 5, 2) // [P, N·H, T, D] for 2 heads
	b.SplitHeads(x, h, 3, 2)
	b.MergeHeads(h, x, 3, 2)
	s := mk(4, 5, 5)
	q := mk(4, 5, 2)
	b.BatchedMatMul(false, true, 0.5, q, q, 0, s)
	b.BatchedMatMul(true, false, 1, s, q, 1, mk(4, 5, 2))
	b.SoftmaxRows(s, s)
	b.SoftmaxRowsBackward(s, s, s)
	b.StridedCopy(y, 0, 60, g, 0, 0, 2, 12)
	b.StridedCopy(y, 12, 60, x, 0, 48, 2, 48)
}

// A batched product reaches cuBLAS as the column-major transpose of the
// row-major one, every matrix a stride apart; wrong shapes or heads that
// do not divide the features latch an error.
func TestBatchedMatMulCall(t *testing.T) {
	s := newStub()
	type call struct {
		ta, tb, m, n, k, lda, ldb, ldc int32
		sa, sb, sc                     int64
		batch                          int32
		alpha, beta                    float32
	}
	var got call
	s.cublasSgemmStridedBatched = func(h uintptr, ta, tb, m, n, k int32, alpha *float32, a uintptr, lda int32, sa int64, b uintptr, ldb int32, sb int64,
		beta *float32, c uintptr, ldc int32, sc int64, batch int32) int32 {
		got = call{ta, tb, m, n, k, lda, ldb, ldc, sa, sb, sc, batch, *alpha, *beta}
		return 0
	}
	b, err := open(s.api, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// c[6,4,3] = aᵀ·b with a [6,5,4], b [6,5,3]: cuBLAS sees n=3, m=4, k=5.
	b.BatchedMatMul(true, false, 0.5, b.New(6, 5, 4), b.New(6, 5, 3), 2, b.New(6, 4, 3))
	want := call{cublasOpN, cublasOpT, 3, 4, 5, 3, 4, 3, 15, 20, 12, 6, 0.5, 2}
	if got != want {
		t.Errorf("cublasSgemmStridedBatched called with %+v, want %+v", got, want)
	}
	if err := b.Err(); err != nil {
		t.Fatal(err)
	}
	b.SplitHeads(b.New(2, 3, 10), b.New(60), 3, 2)
	if err := b.Err(); err == nil || !strings.Contains(err.Error(), "do not split") {
		t.Errorf("heads that do not divide the features: %v", err)
	}
	b2, _ := open(newStub().api, Options{})
	b2.BatchedMatMul(false, false, 1, b2.New(2, 3), b2.New(3, 2), 0, b2.New(2, 2))
	if err := b2.Err(); err == nil || !strings.Contains(err.Error(), "3-D") {
		t.Errorf("2-D operands: %v", err)
	}
}
