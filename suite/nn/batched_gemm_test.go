package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// batchedOperands returns a [nb, ar, ac] and b [nb, br, bc] for the product
// op(a)·op(b) of m×k and k×n, and c [nb, m, n], filled with normal draws.
func batchedOperands(c *CPU, r *rand.Rand, tA, tB bool, nb, m, n, k int) (a, b, out *Tensor) {
	a, b = c.New(nb, m, k), c.New(nb, k, n)
	if tA {
		a = c.New(nb, k, m)
	}
	if tB {
		b = c.New(nb, n, k)
	}
	out = c.New(nb, m, n)
	for _, t := range []*Tensor{a, b, out} {
		for i := range t.Data {
			t.Data[i] = float32(r.NormFloat64())
		}
	}
	return a, b, out
}

// BatchedMatMul against float64 products: each element within
// 2·k·2⁻²⁴·(|α|·Σ_l |a_il·b_lj| + |β·c_ij|) + 2⁻²⁴·|result|, the usual
// bound for a float32 dot product of k terms (about k·u of its absolute
// sum) with a factor 2 of room; a GEMM summing in any order, with or
// without fused multiply-adds, is inside it. Shapes are ViT-S's heads (197
// and 65 tokens of 64 features), and small ones.
func TestBatchedMatMulAgainstFloat64(t *testing.T) {
	c := NewCPU()
	r := rand.New(rand.NewPCG(3, 4))
	const u = 1.0 / (1 << 24)
	for _, sh := range []struct{ nb, m, n, k int }{{3, 197, 197, 64}, {2, 197, 64, 197}, {5, 65, 65, 64}, {7, 17, 24, 17}, {4, 1, 3, 1}} {
		for _, tA := range []bool{false, true} {
			for _, tB := range []bool{false, true} {
				for _, ab := range [][2]float32{{1, 0}, {0.125, 0}, {-0.5, 0.75}} {
					alpha, beta := ab[0], ab[1]
					a, b, out := batchedOperands(c, r, tA, tB, sh.nb, sh.m, sh.n, sh.k)
					before := append([]float32(nil), out.Data...)
					c.BatchedMatMul(tA, tB, alpha, a, b, beta, out)
					worst := 0.0
					for i := 0; i < sh.nb; i++ {
						for row := 0; row < sh.m; row++ {
							for col := 0; col < sh.n; col++ {
								var s, abs float64
								for l := 0; l < sh.k; l++ {
									ia := (i*sh.m+row)*sh.k + l
									if tA {
										ia = (i*sh.k+l)*sh.m + row
									}
									ib := (i*sh.k+l)*sh.n + col
									if tB {
										ib = (i*sh.n+col)*sh.k + l
									}
									p := float64(a.Data[ia]) * float64(b.Data[ib])
									s, abs = s+p, abs+math.Abs(p)
								}
								o := (i*sh.m+row)*sh.n + col
								cin := float64(before[o])
								want := float64(alpha)*s + float64(beta)*cin
								got := float64(out.Data[o])
								bound := 2*float64(sh.k+2)*u*(math.Abs(float64(alpha))*abs+math.Abs(float64(beta)*cin)) + u*math.Abs(want)
								if e := math.Abs(got - want); e > bound || got != got {
									t.Fatalf("%v tA %v tB %v α %v β %v: [%d,%d,%d] = %v, want %v (bound %.3g)", sh, tA, tB, alpha, beta, i, row, col, got, want, bound)
								} else if bound > 0 {
									worst = max(worst, e/bound)
								}
							}
						}
					}
					if sh.nb == 3 && !tA && !tB && alpha == 1 {
						t.Logf("%v: worst error %.3f of the bound", sh, worst)
					}
				}
			}
		}
	}
}

// With oneDNN every product of a batch runs on one thread, so the result
// is the same bits on 1 and 2 threads and the same as each product alone.
func TestBatchedMatMulThreadsAndAlone(t *testing.T) {
	if !gemm1Single {
		t.Skip("without oneDNN large products run on the threaded GEMM")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	c := NewCPU()
	r := rand.New(rand.NewPCG(5, 6))
	for _, tr := range [][2]bool{{false, true}, {false, false}, {true, false}} {
		a, b, out := batchedOperands(c, r, tr[0], tr[1], 12, 197, 197, 64)
		init := append([]float32(nil), out.Data...)
		var runs [][]float32
		for _, procs := range []int{1, 2, 1} {
			runtime.GOMAXPROCS(procs)
			copy(out.Data, init)
			c.BatchedMatMul(tr[0], tr[1], 0.125, a, b, 0.5, out)
			runs = append(runs, append([]float32(nil), out.Data...))
		}
		alone := append([]float32(nil), init...)
		sa, sb, so := a.Len()/12, b.Len()/12, out.Len()/12
		for i := range 12 {
			gemm1(tr[0], tr[1], 197, 197, 64, 0.125, a.Data[i*sa:(i+1)*sa], a.Shape[2], b.Data[i*sb:(i+1)*sb], b.Shape[2], 0.5, alone[i*so:(i+1)*so], 197)
		}
		for j := range alone {
			if runs[0][j] != runs[1][j] || runs[1][j] != runs[2][j] || runs[0][j] != alone[j] {
				t.Fatalf("trans %v: element %d: %v (1 thread), %v (2), %v (1 again), %v alone", tr, j, runs[0][j], runs[1][j], runs[2][j], alone[j])
			}
		}
	}
}

// BenchmarkBatchedMatMul times the attention's products at ViT-S shapes:
// the heads of 8 images of 197 tokens and of 32 images of 65 tokens (6
// heads of 64 features), Q·Kᵀ, P·V and Pᵀ·dO.
func BenchmarkBatchedMatMul(b *testing.B) {
	c := NewCPU()
	r := rand.New(rand.NewPCG(1, 2))
	for _, sh := range []struct{ nb, t int }{{48, 197}, {192, 65}, {512, 17}} {
		d := 64
		if sh.t == 17 {
			d = 24 // vit-mini's heads
		}
		q, k, _ := batchedOperands(c, r, false, true, sh.nb, sh.t, sh.t, d) // [nb, t, d] each
		s := c.New(sh.nb, sh.t, sh.t)
		o := c.New(sh.nb, sh.t, d)
		b.Run(fmt.Sprintf("nb%d-t%d-d%d", sh.nb, sh.t, d), func(b *testing.B) {
			for b.Loop() {
				c.BatchedMatMul(false, true, 0.125, q, k, 0, s)
				c.BatchedMatMul(false, false, 1, s, k, 0, o)
				c.BatchedMatMul(true, false, 1, s, q, 0, o)
			}
		})
	}
}
