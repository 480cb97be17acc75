package models

import (
	"math/rand/v2"
	"testing"

	"github.com/rst-bench/rst/suite/nn"
)

// benchPass times one training forward+backward pass of a model at batch
// 128 and reports GFLOP/s of the GEMM work (go test -bench Pass).
func benchPass(b *testing.B, name string, in []int) {
	be := nn.NewCPU()
	net, err := New(be, name, in, 10, 1)
	if err != nil {
		b.Fatal(err)
	}
	const batch = 128
	x := be.New(append([]int{batch}, in...)...)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range x.Data {
		x.Data[i] = float32(r.NormFloat64())
	}
	labels := make([]int32, batch)
	d := be.New(batch, 10)
	p := &nn.Pass{B: be, Train: true}
	step := func() {
		y := net.Forward(p, x)
		be.SoftmaxCrossEntropy(y, labels, 0, d, nil)
		net.Backward(p, d)
	}
	step()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		step()
	}
	fwd, bwd := net.FLOPs(batch)
	b.ReportMetric(float64(fwd+bwd)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

func BenchmarkPassSmallCNN(b *testing.B) { benchPass(b, "smallcnn", []int{32, 32, 3}) }
func BenchmarkPassMLP(b *testing.B)      { benchPass(b, "mlp", []int{28, 28, 1}) }
