package nn

import (
	"math/rand/v2"
	"testing"
)

// The fused batch-norm+ReLU must compute what batch-norm followed by a
// separate ReLU computes: same output, same gradients.
func TestFusedBatchNormReLUEqualsTheTwoLayers(t *testing.T) {
	b := NewCPU()
	r := rand.New(rand.NewPCG(3, 4))
	fused := NewBatchNormReLU(3)
	bind(b, fused, r)
	bn := NewBatchNorm(3)
	bind(b, bn, r)
	for i, p := range fused.Params() {
		copy(bn.Params()[i].W.Data, p.W.Data)
	}
	pair := Seq(bn, &ReLU{})
	x := randTensor(b, r, 4, 3, 2, 3)
	up := randTensor(b, r, 4, 3, 2, 3)
	p := &Pass{B: b, Train: true}
	y1 := append([]float32(nil), fused.Forward(p, x).Data...)
	y2 := append([]float32(nil), pair.Forward(p, x).Data...)
	dx1 := append([]float32(nil), fused.Backward(p, up, true).Data...)
	dx2 := pair.Backward(p, up, true).Data
	for i := range y1 {
		if y1[i] != y2[i] {
			t.Fatalf("y[%d]: fused %v, separate %v", i, y1[i], y2[i])
		}
		if d := dx1[i] - dx2[i]; d > 1e-6 || d < -1e-6 {
			t.Fatalf("dx[%d]: fused %v, separate %v", i, dx1[i], dx2[i])
		}
	}
	for i, p := range fused.Params()[:2] {
		q := bn.Params()[i]
		for j := range p.G.Data {
			if d := p.G.Data[j] - q.G.Data[j]; d > 1e-5 || d < -1e-5 {
				t.Fatalf("%s[%d]: fused %v, separate %v", p.Name, j, p.G.Data[j], q.G.Data[j])
			}
		}
	}
}
