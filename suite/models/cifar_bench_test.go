package models

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/rst-bench/rst/suite/nn"
)

// BenchmarkCIFARModelPass times a training forward+backward pass at batch
// 128 on 32×32×3 and reports GFLOP/s and the milliseconds per pass of each
// kernel kind (units "ms:<kernel>"), e.g.
//
//	go test -tags openblas -run '^$' -bench 'CIFARModelPass/resnet18' -benchtime 3x ./suite/models
func BenchmarkCIFARModelPass(b *testing.B) {
	for _, name := range []string{"resnet18", "wrn16-4", "vgg16-bn", "wrn28-10"} {
		b.Run(name, func(b *testing.B) {
			batch := 128
			if name == "wrn28-10" {
				batch = 32 // its activations at batch 128 take ~10 GB
			}
			tb := nn.NewKernelTimer(nn.NewCPU())
			tb.ByShape = true
			net, err := New(tb, name, []int{32, 32, 3}, 10, 1)
			if err != nil {
				b.Fatal(err)
			}
			x := tb.New(batch, 32, 32, 3)
			r := rand.New(rand.NewPCG(1, 2))
			for i := range x.Data {
				x.Data[i] = float32(r.NormFloat64())
			}
			labels := make([]int32, batch)
			for i := range labels {
				labels[i] = int32(i % 10)
			}
			d := tb.New(batch, 10)
			p := &nn.Pass{B: tb, Train: true, Dropout: nn.DropoutKey(1, 0, 0)}
			pass := func() {
				y := net.Forward(p, x)
				tb.SoftmaxCrossEntropy(y, labels, 0, d, nil)
				net.Backward(p, d)
			}
			pass() // plans the buffers
			tb.Reset()
			b.ResetTimer()
			for b.Loop() {
				pass()
			}
			fwd, bwd := net.FLOPs(batch)
			sec := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(float64(fwd+bwd)/sec/1e9, "GFLOP/s")
			var counted time.Duration
			for _, k := range tb.Times() {
				b.ReportMetric(k.Time.Seconds()*1e3/float64(b.N), "ms:"+k.Kernel)
				counted += k.Time
			}
			b.ReportMetric(sec*1e3-counted.Seconds()*1e3/float64(b.N), "ms:other")
		})
	}
}
