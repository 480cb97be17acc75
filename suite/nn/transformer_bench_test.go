package nn

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
	"time"
)

// kernelClock forwards every kernel to a backend and adds up the wall time
// of the transformer's kernel kinds, so that a benchmark can say where a
// block's pass goes (pprof does not see OpenBLAS's threads).
type kernelClock struct {
	Backend
	spent map[string]time.Duration
}

func (k *kernelClock) since(key string, t0 time.Time) { k.spent[key] += time.Since(t0) }

func (k *kernelClock) LayerNorm(x, y, gamma, beta, mean, rstd *Tensor, eps float32) {
	defer k.since("layernorm", time.Now())
	k.Backend.LayerNorm(x, y, gamma, beta, mean, rstd, eps)
}

func (k *kernelClock) LayerNormBackward(x, dy, dx, gamma, mean, rstd, dgamma, dbeta *Tensor) {
	defer k.since("layernorm-bwd", time.Now())
	k.Backend.LayerNormBackward(x, dy, dx, gamma, mean, rstd, dgamma, dbeta)
}

func (k *kernelClock) BatchedMatMul(tA, tB bool, alpha float32, a, b *Tensor, beta float32, c *Tensor) {
	defer k.since("attention-gemm", time.Now())
	k.Backend.BatchedMatMul(tA, tB, alpha, a, b, beta, c)
}

func (k *kernelClock) MatMul(tA, tB bool, alpha float32, a, b *Tensor, beta float32, c *Tensor) {
	defer k.since("linear-gemm", time.Now())
	k.Backend.MatMul(tA, tB, alpha, a, b, beta, c)
}

func (k *kernelClock) SoftmaxRows(x, y *Tensor) {
	defer k.since("softmax", time.Now())
	k.Backend.SoftmaxRows(x, y)
}

func (k *kernelClock) SoftmaxRowsBackward(y, dy, dx *Tensor) {
	defer k.since("softmax", time.Now())
	k.Backend.SoftmaxRowsBackward(y, dy, dx)
}

func (k *kernelClock) GELU(x, y *Tensor) {
	defer k.since("gelu", time.Now())
	k.Backend.GELU(x, y)
}

func (k *kernelClock) GELUBackward(x, dy, dx *Tensor) {
	defer k.since("gelu", time.Now())
	k.Backend.GELUBackward(x, dy, dx)
}

func (k *kernelClock) SplitHeads(x, y *Tensor, parts, heads int) {
	defer k.since("heads", time.Now())
	k.Backend.SplitHeads(x, y, parts, heads)
}

func (k *kernelClock) MergeHeads(y, x *Tensor, parts, heads int) {
	defer k.since("heads", time.Now())
	k.Backend.MergeHeads(y, x, parts, heads)
}

// BenchmarkViTSBlock times a training forward+backward pass of one ViT-S
// encoder block (384 features, 6 heads, MLP 1536) on the tokens of
// ViT-S/16 at 224×224 (197) and of ViT-S/4 at 32×32 (65), and reports the
// milliseconds per pass of each kernel kind ("ms:<kind>"), e.g.
//
//	go test -tags 'openblas dnnl' -run '^$' -bench ViTSBlock -benchtime 10x ./suite/nn
func BenchmarkViTSBlock(b *testing.B) {
	for _, sh := range []struct{ n, t int }{{8, 197}, {32, 65}} {
		b.Run(fmt.Sprintf("n%d-t%d", sh.n, sh.t), func(b *testing.B) {
			kc := &kernelClock{Backend: NewCPU(), spent: map[string]time.Duration{}}
			blk := NewTransformerBlock(384, 6, 1536, 0)
			for _, p := range blk.Params() {
				p.W, p.G = kc.New(p.Shape...), kc.New(p.Shape...)
			}
			r := rand.New(rand.NewPCG(1, 2))
			for _, p := range blk.Params() {
				for i := range p.W.Data {
					p.W.Data[i] = float32(r.NormFloat64() * 0.05)
				}
			}
			x := kc.New(sh.n, sh.t, 384)
			dy := kc.New(sh.n, sh.t, 384)
			for i := range x.Data {
				x.Data[i], dy.Data[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
			}
			p := &Pass{B: kc, Train: true, Grads: &GradPool{}}
			pass := func() {
				blk.Forward(p, x)
				p.Grads.reset()
				blk.Backward(p, dy, true)
			}
			pass()
			clear(kc.spent)
			b.ResetTimer()
			for b.Loop() {
				pass()
			}
			sec := b.Elapsed().Seconds() / float64(b.N)
			keys := make([]string, 0, len(kc.spent))
			var counted time.Duration
			for k, v := range kc.spent {
				keys = append(keys, k)
				counted += v
			}
			sort.Slice(keys, func(i, j int) bool { return kc.spent[keys[i]] > kc.spent[keys[j]] })
			for _, k := range keys {
				b.ReportMetric(kc.spent[k].Seconds()*1e3/float64(b.N), "ms:"+k)
			}
			b.ReportMetric(sec*1e3-counted.Seconds()*1e3/float64(b.N), "ms:other")
		})
	}
}
