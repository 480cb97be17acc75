package optim

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/rst-bench/rst/suite/nn"
)

// Base is a base optimizer: it moves the weights along the gradient that a
// method left in the network's G buffer. All of a run's steps, plain or
// sharp, share one Base and therefore one momentum or Adam state.
type Base interface {
	Update(lr float32)
	// State lists the buffers a checkpoint must save.
	State() []*nn.Tensor
}

// SGD is stochastic gradient descent with heavy-ball or Nesterov momentum:
// v ← μv + g; w ← w − lr·v, or w ← w − lr·(g + μv) with Nesterov.
// Decoupled weight decay, when set, adds lr·decay·w to the step.
type SGD struct {
	Net         *nn.Net
	Momentum    float32
	Nesterov    bool
	WeightDecay float32
	v           *nn.Tensor
}

// NewSGD returns SGD on net's flat buffers.
func NewSGD(net *nn.Net, momentum float32, nesterov bool, weightDecay float32) *SGD {
	return &SGD{Net: net, Momentum: momentum, Nesterov: nesterov, WeightDecay: weightDecay, v: zeros(net.B, net.W.Len())}
}

func (o *SGD) Update(lr float32) {
	b := o.Net.B
	if o.WeightDecay != 0 {
		b.Scale(1-lr*o.WeightDecay, o.Net.W)
	}
	b.SGDMomentum(o.Net.W, o.Net.G, o.v, lr, o.Momentum, o.Nesterov)
}

func (o *SGD) State() []*nn.Tensor { return []*nn.Tensor{o.v} }

// AdamW is Adam with decoupled weight decay (Loshchilov & Hutter):
// m ← β1m + (1−β1)g, v ← β2v + (1−β2)g², w ← w − lr·(m̂/(√v̂+ε) + λw).
type AdamW struct {
	Net                      *nn.Net
	Beta1, Beta2, Eps, Decay float32
	t                        int
	m, v                     *nn.Tensor
}

// NewAdamW returns AdamW on net's flat buffers.
func NewAdamW(net *nn.Net, beta1, beta2, eps, decay float32) *AdamW {
	n := net.W.Len()
	return &AdamW{Net: net, Beta1: beta1, Beta2: beta2, Eps: eps, Decay: decay, m: zeros(net.B, n), v: zeros(net.B, n)}
}

func (o *AdamW) Update(lr float32) {
	o.t++
	bc1 := 1 - float32(math.Pow(float64(o.Beta1), float64(o.t)))
	bc2 := 1 - float32(math.Pow(float64(o.Beta2), float64(o.t)))
	o.Net.B.AdamW(o.Net.W, o.Net.G, o.m, o.v, lr, o.Beta1, o.Beta2, o.Eps, o.Decay, bc1, bc2)
}

func (o *AdamW) State() []*nn.Tensor { return []*nn.Tensor{o.m, o.v} }

// StepCount and SetStepCount expose the bias-correction step counter, which
// a checkpoint must carry besides the moment buffers.
func (o *AdamW) StepCount() int     { return o.t }
func (o *AdamW) SetStepCount(t int) { o.t = t }

// GlobalNorm is ‖g‖₂ over the whole flat buffer.
func GlobalNorm(b nn.Backend, g *nn.Tensor) float64 { return math.Sqrt(b.Dot(g, g)) }

// ClipGlobalNorm rescales g so that its global norm is at most maxNorm
// and returns the norm before clipping. With maxNorm ≤ 0 it does nothing
// and returns 0: the norm is a device-to-host read, not worth a wait
// when nothing uses it.
func ClipGlobalNorm(b nn.Backend, g *nn.Tensor, maxNorm float64) float64 {
	if maxNorm <= 0 {
		return 0
	}
	n := GlobalNorm(b, g)
	if maxNorm > 0 && n > maxNorm {
		b.Scale(float32(maxNorm/n), g)
	}
	return n
}

// LR is a learning-rate schedule over a run of total steps.
type LR interface {
	At(step, total int) float64
	String() string
}

// Constant keeps the rate fixed.
type Constant struct{ Base float64 }

func (c Constant) At(int, int) float64 { return c.Base }
func (c Constant) String() string      { return fmt.Sprintf("constant(%g)", c.Base) }

// Cosine decays from Base to 0 over the run: Base·½(1+cos(π·t/T)).
type Cosine struct{ Base float64 }

func (c Cosine) At(step, total int) float64 {
	return c.Base * 0.5 * (1 + math.Cos(math.Pi*float64(step)/float64(total)))
}
func (c Cosine) String() string { return fmt.Sprintf("cosine(%g)", c.Base) }

// Step multiplies Base by Gamma at each milestone fraction of the run.
type Step struct {
	Base, Gamma float64
	Milestones  []float64 // fractions of the run in (0,1), increasing
}

func (s Step) At(step, total int) float64 {
	lr := s.Base
	for _, m := range s.Milestones {
		if float64(step) >= m*float64(total) {
			lr *= s.Gamma
		}
	}
	return lr
}
func (s Step) String() string {
	return fmt.Sprintf("step(%g,×%g at %v)", s.Base, s.Gamma, s.Milestones)
}

// Warmup ramps linearly from Base/Steps to the inner schedule's rate over
// the first Steps steps, then follows the inner schedule. FromZero is the
// official code's ramp, t/Steps, which starts at 0; the suite's is
// (t+1)/Steps.
type Warmup struct {
	Steps    int
	Inner    LR
	FromZero bool
}

func (w Warmup) At(step, total int) float64 {
	lr := w.Inner.At(step, total)
	if step < w.Steps {
		if w.FromZero {
			lr *= float64(step) / float64(w.Steps)
		} else {
			lr *= float64(step+1) / float64(w.Steps)
		}
	}
	return lr
}
func (w Warmup) String() string {
	if w.FromZero {
		return fmt.Sprintf("warmup(%d, from 0)+%s", w.Steps, w.Inner)
	}
	return fmt.Sprintf("warmup(%d)+%s", w.Steps, w.Inner)
}

// ParseLR reads "cosine", "constant", "step:0.5,0.75[,gamma]" with base
// rate lr and warm-up steps.
func ParseLR(spec string, lr float64, warmup int) (LR, error) {
	return ParseLRStyle(spec, lr, warmup, false)
}

// ParseLRStyle is ParseLR with the official warm-up ramp t/W when
// fromZero is set (--warmup-style official).
func ParseLRStyle(spec string, lr float64, warmup int, fromZero bool) (LR, error) {
	if lr <= 0 || math.IsNaN(lr) || math.IsInf(lr, 0) {
		return nil, fmt.Errorf("learning rate %v: must be a positive number (e.g. --lr 0.1)", lr)
	}
	if warmup < 0 {
		return nil, fmt.Errorf("warm-up %d steps: must be 0 or more", warmup)
	}
	var s LR
	switch {
	case spec == "cosine":
		s = Cosine{lr}
	case spec == "constant":
		s = Constant{lr}
	case strings.HasPrefix(spec, "step:"):
		// step:F1,F2[/GAMMA]: multiply by GAMMA (default 0.1) at each fraction.
		body, gamma := spec[5:], 0.1
		if i := strings.IndexByte(body, '/'); i >= 0 {
			g, err := strconv.ParseFloat(body[i+1:], 64)
			if err != nil || !(g > 0) || math.IsInf(g, 0) { // !(g > 0) refuses NaN too
				return nil, fmt.Errorf("lr schedule %q: the factor after / must be a finite positive number", spec)
			}
			body, gamma = body[:i], g
		}
		var ms []float64
		for _, f := range strings.Split(body, ",") {
			m, err := strconv.ParseFloat(f, 64)
			if err != nil || !(m > 0 && m < 1) || (len(ms) > 0 && m <= ms[len(ms)-1]) {
				return nil, fmt.Errorf("lr schedule %q: milestones are increasing fractions of the run in (0,1), e.g. step:0.5,0.75/0.1", spec)
			}
			ms = append(ms, m)
		}
		s = Step{Base: lr, Gamma: gamma, Milestones: ms}
	default:
		return nil, fmt.Errorf("lr schedule %q: choose cosine, constant or step:F1,F2 (fractions of the run)", spec)
	}
	if warmup > 0 {
		s = Warmup{Steps: warmup, Inner: s, FromZero: fromZero}
	}
	return s, nil
}
