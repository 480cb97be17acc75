package models

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/rst-bench/rst/suite/nn"
)

// timedBackend forwards every kernel to a real backend and adds up the wall
// time of convolutions (keyed by geometry and input shape), linear layers,
// residual adds and stand-alone ReLUs, so a benchmark can say where a
// model's pass goes (pprof cannot see OpenBLAS's own threads). The rest,
// reported as "other", is mostly batch-norm (with its fused ReLU), pooling
// and the loss; those kernels are left unwrapped because their signatures
// are still changing.
type timedBackend struct {
	nn.Backend
	spent map[string]time.Duration
}

func (t *timedBackend) since(key string, t0 time.Time) { t.spent[key] += time.Since(t0) }

func convKey(op string, x *nn.Tensor, g nn.ConvGeom) string {
	return fmt.Sprintf("%s-k%d-s%d@%dx%dx%d", op, g.KH, g.Stride, x.Shape[1], x.Shape[2], x.Shape[3])
}

func (t *timedBackend) Conv2D(x, w, y *nn.Tensor, g nn.ConvGeom) {
	defer t.since(convKey("conv-fwd", x, g), time.Now())
	t.Backend.Conv2D(x, w, y, g)
}

func (t *timedBackend) Conv2DBackward(x, w, dy, dx, dw *nn.Tensor, g nn.ConvGeom) {
	defer t.since(convKey("conv-bwd", x, g), time.Now())
	t.Backend.Conv2DBackward(x, w, dy, dx, dw, g)
}

func (t *timedBackend) ReLU(x, y *nn.Tensor) {
	defer t.since("relu-fwd", time.Now())
	t.Backend.ReLU(x, y)
}

func (t *timedBackend) ReLUBackward(y, dy, dx *nn.Tensor) {
	defer t.since("relu-bwd", time.Now())
	t.Backend.ReLUBackward(y, dy, dx)
}

func (t *timedBackend) Add(a, b, y *nn.Tensor) {
	defer t.since("add", time.Now())
	t.Backend.Add(a, b, y)
}

func (t *timedBackend) MatMul(transA, transB bool, alpha float32, a, b *nn.Tensor, beta float32, c *nn.Tensor) {
	defer t.since("linear", time.Now())
	t.Backend.MatMul(transA, transB, alpha, a, b, beta, c)
}

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
			tb := &timedBackend{Backend: nn.NewCPU(), spent: map[string]time.Duration{}}
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
			clear(tb.spent)
			b.ResetTimer()
			for b.Loop() {
				pass()
			}
			fwd, bwd := net.FLOPs(batch)
			sec := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(float64(fwd+bwd)/sec/1e9, "GFLOP/s")
			keys := make([]string, 0, len(tb.spent))
			var counted time.Duration
			for k, v := range tb.spent {
				keys = append(keys, k)
				counted += v
			}
			sort.Slice(keys, func(i, j int) bool { return tb.spent[keys[i]] > tb.spent[keys[j]] })
			for _, k := range keys {
				b.ReportMetric(tb.spent[k].Seconds()*1e3/float64(b.N), "ms:"+k)
			}
			b.ReportMetric(sec*1e3-counted.Seconds()*1e3/float64(b.N), "ms:other(bn,pool,loss)")
		})
	}
}
