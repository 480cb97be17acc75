package optim

import (
	"math"
	"testing"

	"github.com/rst-bench/rst/suite/nn"
)

// flatNet is a network with n scalar weights and nothing else: enough for
// the base optimizers, which only read W and G.
func flatNet(n int) *nn.Net {
	b := nn.NewCPU()
	return &nn.Net{B: b, W: b.New(n), G: b.New(n)}
}

// TestSGDMatchesItsFormula runs three steps of heavy-ball and Nesterov SGD
// with decoupled decay and compares with the recurrences written out here.
func TestSGDMatchesItsFormula(t *testing.T) {
	grads := [][]float32{{1, -2}, {0.5, 0.25}, {-1, 3}}
	const lr, mu, wd = 0.1, 0.9, 0.01
	for _, nesterov := range []bool{false, true} {
		net := flatNet(2)
		copy(net.W.Data, []float32{1, -1})
		o := NewSGD(net, mu, nesterov, wd)
		w := []float64{1, -1}
		v := []float64{0, 0}
		for _, g := range grads {
			copy(net.G.Data, g)
			o.Update(lr)
			for i := range w {
				w[i] *= 1 - lr*wd
				v[i] = mu*v[i] + float64(g[i])
				if nesterov {
					w[i] -= lr * (float64(g[i]) + mu*v[i])
				} else {
					w[i] -= lr * v[i]
				}
			}
		}
		for i := range w {
			if math.Abs(float64(net.W.Data[i])-w[i]) > 1e-6 {
				t.Errorf("nesterov=%v: w[%d] = %v, formula %v", nesterov, i, net.W.Data[i], w[i])
			}
		}
	}
}

func TestAdamWMatchesItsFormula(t *testing.T) {
	net := flatNet(1)
	net.W.Data[0] = 2
	const lr, b1, b2, eps, wd = 0.01, 0.9, 0.999, 1e-8, 0.3
	o := NewAdamW(net, b1, b2, eps, wd)
	w, m, v := 2.0, 0.0, 0.0
	for step, g := range []float64{0.5, -1, 2, 0.1} {
		net.G.Data[0] = float32(g)
		o.Update(lr)
		m = b1*m + (1-b1)*g
		v = b2*v + (1-b2)*g*g
		mh := m / (1 - math.Pow(b1, float64(step+1)))
		vh := v / (1 - math.Pow(b2, float64(step+1)))
		w -= lr * (mh/(math.Sqrt(vh)+eps) + wd*w)
	}
	if math.Abs(float64(net.W.Data[0])-w) > 1e-6 {
		t.Fatalf("AdamW: w = %v, formula %v", net.W.Data[0], w)
	}
}

// On a quadratic ½‖w‖² (gradient w), SGD without momentum from w0 with a
// constant rate is w0·(1−lr)^t: the known answer.
func TestSGDOnAQuadraticReachesTheKnownIterate(t *testing.T) {
	net := flatNet(3)
	copy(net.W.Data, []float32{1, -2, 4})
	o := NewSGD(net, 0, false, 0)
	for range 20 {
		net.B.Copy(net.G, net.W)
		o.Update(0.25)
	}
	for i, w0 := range []float64{1, -2, 4} {
		if want := w0 * math.Pow(0.75, 20); math.Abs(float64(net.W.Data[i])-want) > 1e-6 {
			t.Errorf("w[%d] = %v, want %v", i, net.W.Data[i], want)
		}
	}
}

func TestClipGlobalNorm(t *testing.T) {
	net := flatNet(2)
	copy(net.G.Data, []float32{3, 4})
	if n := ClipGlobalNorm(net.B, net.G, 0); n != 0 || net.G.Data[0] != 3 || net.G.Data[1] != 4 {
		t.Fatalf("no clipping asked: returned %v, g %v", n, net.G.Data)
	}
	if n := ClipGlobalNorm(net.B, net.G, 10); n != 5 || net.G.Data[0] != 3 {
		t.Fatalf("below the threshold: norm %v, g %v", n, net.G.Data)
	}
	if n := ClipGlobalNorm(net.B, net.G, 1); n != 5 {
		t.Fatalf("norm before clipping %v, want 5", n)
	}
	if got := GlobalNorm(net.B, net.G); math.Abs(got-1) > 1e-6 || math.Abs(float64(net.G.Data[0])-0.6) > 1e-6 {
		t.Fatalf("after clipping at 1: norm %v, g %v", got, net.G.Data)
	}
}

func TestLearningRateSchedules(t *testing.T) {
	const T = 100
	cases := []struct {
		spec   string
		warmup int
		at     map[int]float64
	}{
		{"constant", 0, map[int]float64{0: 0.1, 99: 0.1}},
		{"cosine", 0, map[int]float64{0: 0.1, 50: 0.05, 100: 0}},
		{"cosine", 10, map[int]float64{0: 0.01, 4: 0.05 * (1 + math.Cos(math.Pi*4/T)) / 2 * 1.0, 50: 0.05}},
		{"step:0.5,0.75", 0, map[int]float64{49: 0.1, 50: 0.01, 75: 0.001}},
		{"step:0.3/0.5", 0, map[int]float64{29: 0.1, 30: 0.05}},
	}
	for _, c := range cases {
		s, err := ParseLR(c.spec, 0.1, c.warmup)
		if err != nil {
			t.Fatal(err)
		}
		for step, want := range c.at {
			if c.warmup > 0 && step < c.warmup {
				want = 0.1 * 0.5 * (1 + math.Cos(math.Pi*float64(step)/T)) * float64(step+1) / float64(c.warmup)
			}
			if got := s.At(step, T); math.Abs(got-want) > 1e-12 {
				t.Errorf("%s warm-up %d: lr(%d) = %v, want %v", c.spec, c.warmup, step, got, want)
			}
		}
	}
	for _, bad := range []string{"exp", "step:", "step:1.5", "step:0.5,0.2", "step:0.5/-1"} {
		if _, err := ParseLR(bad, 0.1, 0); err == nil {
			t.Errorf("schedule %q accepted", bad)
		}
	}
	if _, err := ParseLR("cosine", 0, 0); err == nil {
		t.Error("zero learning rate accepted")
	}
}
