package nn_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/rst-bench/rst/suite/models"
	"github.com/rst-bench/rst/suite/nn"
)

// Pooled input-gradient buffers must give the same gradient, bit for bit,
// as one buffer per layer, on models with every kind of layer the suite
// has (residual blocks with and without projections, pre-activation WRN
// blocks, the official zero-padding shortcut, dropout, flatten, and the
// ViT's attention and token layers), over two
// passes so that reused buffers start with stale content; and they must
// need far fewer buffers than there are layers (`make bench-peer` measures
// the peak memory this saves).
func TestGradPoolSameGradientsFewerBuffers(t *testing.T) {
	for _, c := range []struct {
		model string
		in    []int
	}{
		{"resnet18", []int{8, 8, 3}},
		{"wrn10-1", []int{8, 8, 1}},
		{"wrn10-1-official", []int{8, 8, 1}},
		{"vgg16-bn", []int{32, 32, 3}},
		{"mlp", []int{28, 28, 1}},
		{"vit-mini", []int{28, 28, 1}}, // pre-norm residuals ending in dropout, attention, tokens
	} {
		t.Run(c.model, func(t *testing.T) {
			grads := func(pool *nn.GradPool) ([]float32, int) {
				b := nn.NewCPU()
				net, err := models.New(b, c.model, c.in, 10, 3)
				if err != nil {
					t.Fatal(err)
				}
				const batch = 4
				x := b.New(append([]int{batch}, c.in...)...)
				r := rand.New(rand.NewPCG(1, 2))
				host := make([]float32, x.Len())
				labels := make([]int32, batch)
				dl := b.New(batch, 10)
				var g []float32
				for pass := range 2 {
					for i := range host {
						host[i] = float32(r.NormFloat64())
					}
					for i := range labels {
						labels[i] = int32(r.IntN(10))
					}
					b.Upload(x, host)
					p := &nn.Pass{B: b, Train: true, Dropout: nn.DropoutKey(1, pass, 0), Grads: pool}
					logits := net.Forward(p, x)
					b.SoftmaxCrossEntropy(logits, labels, 0, dl, nil)
					net.Backward(p, dl)
					g = make([]float32, net.G.Len())
					b.Download(g, net.G)
				}
				return g, countLayers(net.Root)
			}
			want, layers := grads(nil)
			pool := &nn.GradPool{}
			got, _ := grads(pool)
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("gradient element %d: %v with the pool, %v without", i, got[i], want[i])
				}
			}
			// One buffer per layer would be about one per layer; the pool
			// keeps a few per distinct shape.
			if pool.Len() == 0 || 2*pool.Len() > layers {
				t.Errorf("%d layers used %d pooled buffers: want at most half as many", layers, pool.Len())
			}
		})
	}
}

func countLayers(l nn.Layer) int {
	n := 1
	if c, ok := l.(nn.Container); ok {
		for _, ch := range c.Children() {
			n += countLayers(ch)
		}
	}
	return n
}
