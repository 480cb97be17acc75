package models

import (
	"math"
	"testing"

	"github.com/rst-bench/rst/suite/nn"
)

// --init official: every linear kernel uniform in ±1/√fan_out (fan_out =
// the layer's outputs), biases zero, convolutions untouched; the suite's
// default leaves New's ±1/√fan_in weights and biases.
func TestReinitOfficialDense(t *testing.T) {
	b := nn.NewCPU()
	for _, name := range []string{"smallcnn", "mlp"} {
		in := []int{28, 28, 1}
		net, err := New(b, name, in, 10, 3)
		if err != nil {
			t.Fatal(err)
		}
		before := append([]float32(nil), net.W.Data...)
		if err := Reinit(net, "suite", 3); err != nil {
			t.Fatal(err)
		}
		for i, v := range net.W.Data {
			if v != before[i] {
				t.Fatalf("%s: the suite's init was changed at %d", name, i)
			}
		}
		if err := Reinit(net, "official", 3); err != nil {
			t.Fatal(err)
		}
		linears := 0
		var visit func(l nn.Layer)
		visit = func(l nn.Layer) {
			switch v := l.(type) {
			case *nn.Linear:
				linears++
				bound := 1 / math.Sqrt(float64(v.Out))
				var most, sq float64
				for _, w := range v.W.W.Data {
					most = math.Max(most, math.Abs(float64(w)))
					sq += float64(w) * float64(w)
				}
				n := float64(v.W.W.Len())
				// U(−a, a) has E[w²] = a²/3; the largest of n draws is close to a.
				if most > bound || most < 0.99*bound || math.Abs(sq/n-bound*bound/3) > 0.05*bound*bound/3 {
					t.Errorf("%s linear %d→%d: max |w| %v, mean w² %v; want U(±%v): max ≈ %v, mean w² ≈ %v",
						name, v.In, v.Out, most, sq/n, bound, bound, bound*bound/3)
				}
				for _, x := range v.B.W.Data {
					if x != 0 {
						t.Fatalf("%s: bias not zero", name)
					}
				}
			case *nn.Conv2D:
				for i, w := range v.W.W.Data {
					if w != before[v.W.Offset+i] {
						t.Fatalf("%s: a convolution was re-initialised", name)
					}
				}
			}
			if c, ok := l.(nn.Container); ok {
				for _, ch := range c.Children() {
					visit(ch)
				}
			}
		}
		visit(net.Root)
		if linears == 0 {
			t.Fatalf("%s: no linear layer seen", name)
		}
	}
	net, _ := New(b, "mlp", []int{4, 4, 1}, 3, 1)
	if err := Reinit(net, "xavier", 1); err == nil {
		t.Error("an unknown scheme was accepted")
	}
}
