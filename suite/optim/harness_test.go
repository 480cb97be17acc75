package optim

import (
	"math"
	"testing"

	"github.com/rst-bench/rst/suite/nn"
	"github.com/rst-bench/rst/suite/rng"
)

// The harness runs methods on problems whose per-sample losses and
// gradients are written out by hand, in float64. Its pass function plays
// the trainer: it reads the net's float32 weights, writes the mean gradient
// of the step's batch (or of a subset) into G and reports per-sample losses.
// Tests then compute each method's update from its formula with the same
// analytic gradients, independently of the method's code.

// problem is a batch of B samples per step with analytic gradients.
type problem interface {
	// lossGrad returns sample j's loss at step t and adds its gradient to grad.
	lossGrad(t, j int, theta, grad []float64) float64
	batch() int
}

// quadratic: l_j = ½Σ_i a_i(θ_i − c_ji)² + ½(u_j·θ)², data keyed by (t, j).
type quadratic struct {
	n, b int
	a    []float64
}

func newQuadratic(n, b int) *quadratic {
	q := &quadratic{n: n, b: b, a: make([]float64, n)}
	r := rng.New(11, "test-quadratic")
	for i := range q.a {
		q.a[i] = 0.5 + 2*r.Float64()
	}
	return q
}

func (q *quadratic) batch() int { return q.b }

func (q *quadratic) lossGrad(t, j int, theta, grad []float64) float64 {
	r := rng.New(12, "test-quadratic-sample", uint64(t), uint64(j))
	var l, ut float64
	u := make([]float64, q.n)
	for i := range theta {
		c := r.NormFloat64()
		u[i] = 0.3 * r.NormFloat64()
		d := theta[i] - c
		l += 0.5 * q.a[i] * d * d
		grad[i] += q.a[i] * d
		ut += u[i] * theta[i]
	}
	for i := range theta {
		grad[i] += ut * u[i]
	}
	return l + 0.5*ut*ut
}

// softmaxLinear: logits z = Wx + b of a nn.Linear(in, out), cross-entropy.
type softmaxLinear struct {
	in, out, b int
	wOff, bOff int
}

func (s *softmaxLinear) batch() int { return s.b }

func (s *softmaxLinear) lossGrad(t, j int, theta, grad []float64) float64 {
	r := rng.New(13, "test-softmax-sample", uint64(t), uint64(j))
	x := make([]float64, s.in)
	for i := range x {
		x[i] = r.NormFloat64()
	}
	y := r.IntN(s.out)
	z := make([]float64, s.out)
	zmax := math.Inf(-1)
	for c := range z {
		z[c] = theta[s.bOff+c]
		for i := range x {
			z[c] += theta[s.wOff+c*s.in+i] * x[i]
		}
		zmax = max(zmax, z[c])
	}
	var sum float64
	for c := range z {
		sum += math.Exp(z[c] - zmax)
	}
	for c := range z {
		p := math.Exp(z[c]-zmax) / sum
		if c == y {
			p--
		}
		grad[s.bOff+c] += p
		for i := range x {
			grad[s.wOff+c*s.in+i] += p * x[i]
		}
	}
	return -(z[y] - zmax - math.Log(sum))
}

type harness struct {
	t      *testing.T
	net    *nn.Net
	prob   problem
	c      StepContext
	passes []PassOptions
	per    []float32
	fixed  bool // every step sees step 0's batch
}

// newQuadHarness builds a linear layer and a batch-norm only to get flat
// buffers with weight, bias and norm parameters; the loss is the quadratic.
func newQuadHarness(t *testing.T, total int) *harness {
	net, err := nn.Build(nn.NewCPU(), nn.Seq(nn.NewLinear(4, 3), nn.NewBatchNorm(3)), []int{4})
	if err != nil {
		t.Fatal(err)
	}
	net.Init(3)
	return newHarness(t, net, newQuadratic(net.W.Len(), 6), total)
}

func newSoftmaxHarness(t *testing.T, total int) *harness {
	lin := nn.NewLinear(5, 4)
	net, err := nn.Build(nn.NewCPU(), lin, []int{5})
	if err != nil {
		t.Fatal(err)
	}
	net.Init(4)
	return newHarness(t, net, &softmaxLinear{in: 5, out: 4, b: 8, wOff: lin.W.Offset, bOff: lin.B.Offset}, total)
}

func newHarness(t *testing.T, net *nn.Net, p problem, total int) *harness {
	h := &harness{t: t, net: net, prob: p}
	h.c = StepContext{Net: net, Total: total, LR: 0.1, Seed: 5, BatchSize: p.batch(), Pass: h.pass}
	return h
}

func (h *harness) theta() []float64 {
	th := make([]float64, h.net.W.Len())
	for i, v := range h.net.W.Data {
		th[i] = float64(v)
	}
	return th
}

// grad is the mean gradient and the per-sample losses at theta over the
// subset (all samples when nil) at step t.
func (h *harness) grad(t int, theta []float64, subset []int) ([]float64, []float64) {
	if subset == nil {
		for j := 0; j < h.prob.batch(); j++ {
			subset = append(subset, j)
		}
	}
	g := make([]float64, len(theta))
	losses := make([]float64, len(subset))
	for k, j := range subset {
		losses[k] = h.prob.lossGrad(t, j, theta, g)
	}
	for i := range g {
		g[i] /= float64(len(subset))
	}
	return g, losses
}

func (h *harness) pass(o PassOptions) PassResult {
	h.passes = append(h.passes, o)
	t := h.c.Step
	if h.fixed {
		t = 0
	}
	g, losses := h.grad(t, h.theta(), o.Subset)
	if !o.ForwardOnly {
		for i, v := range g {
			h.net.G.Data[i] = float32(v)
		}
	}
	h.per = h.per[:0]
	var mean float64
	for _, l := range losses {
		h.per = append(h.per, float32(l))
		mean += l / float64(len(losses))
	}
	return PassResult{Loss: mean, PerSample: h.per, Samples: len(losses)}
}

// step runs one method step at step t and checks that the weights came
// back bit for bit; it returns the result and G.
func (h *harness) step(m Method, t int) (StepResult, []float32) {
	h.t.Helper()
	h.c.Step = t
	h.passes = h.passes[:0]
	before := append([]float32(nil), h.net.W.Data...)
	r := m.Step(&h.c)
	for i := range before {
		if math.Float32bits(before[i]) != math.Float32bits(h.net.W.Data[i]) {
			h.t.Fatalf("%s step %d: weight %d not restored: %v → %v", m.Name(), t, i, before[i], h.net.W.Data[i])
		}
	}
	return r, append([]float32(nil), h.net.G.Data...)
}

// move takes a plain SGD step with G, as the trainer would, so that the
// next step starts elsewhere.
func (h *harness) move(lr float32) {
	for i := range h.net.W.Data {
		h.net.W.Data[i] -= lr * h.net.G.Data[i]
	}
}

// float32 precision: every entry within 2e-6 of the largest magnitude
// among the gradients the update is made of (≈ 16 ulps of it).
const tol = 2e-6

func checkVec(t *testing.T, what string, got []float32, want []float64, scale float64) {
	t.Helper()
	worst, at := 0.0, 0
	for i := range want {
		if d := math.Abs(float64(got[i]) - want[i]); d > worst {
			worst, at = d, i
		}
	}
	if worst > tol*scale || math.IsNaN(worst) {
		t.Errorf("%s: entry %d is %v, want %v (|diff| %.3g > %.3g)", what, at, got[at], want[at], worst, tol*scale)
	}
}

func maxAbs(vs ...[]float64) float64 {
	m := 0.0
	for _, v := range vs {
		for _, x := range v {
			m = max(m, math.Abs(x))
		}
	}
	return m
}

func norm(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x * x
	}
	return math.Sqrt(s)
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// add returns a + s·b.
func add(a []float64, s float64, b []float64) []float64 {
	out := make([]float64, len(a))
	for i := range a {
		out[i] = a[i] + s*b[i]
	}
	return out
}

func scaled(s float64, a []float64) []float64 { return add(make([]float64, len(a)), s, a) }
