package nn

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// BenchmarkViTSBlock times a training forward+backward pass of one ViT-S
// encoder block (384 features, 6 heads, MLP 1536) on the tokens of
// ViT-S/16 at 224×224 (197) and of ViT-S/4 at 32×32 (65), and reports the
// milliseconds per pass of each kernel kind ("ms:<kind>"), e.g.
//
//	go test -tags 'openblas dnnl' -run '^$' -bench ViTSBlock -benchtime 10x ./suite/nn
func BenchmarkViTSBlock(b *testing.B) {
	for _, sh := range []struct{ n, t int }{{8, 197}, {32, 65}} {
		b.Run(fmt.Sprintf("n%d-t%d", sh.n, sh.t), func(b *testing.B) {
			kc := NewKernelTimer(NewCPU())
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
			kc.Reset()
			b.ResetTimer()
			for b.Loop() {
				pass()
			}
			sec := b.Elapsed().Seconds() / float64(b.N)
			var counted time.Duration
			for _, k := range kc.Times() {
				b.ReportMetric(k.Time.Seconds()*1e3/float64(b.N), "ms:"+k.Kernel)
				counted += k.Time
			}
			b.ReportMetric(sec*1e3-counted.Seconds()*1e3/float64(b.N), "ms:other")
		})
	}
}
