package optim

import (
	"math"

	"github.com/rst-bench/rst/suite/nn"
)

// This file holds the sharpness-aware steps that perturb along the
// (rescaled) gradient: GNR, ASAM, GSAM and LookSAM. Each leaves its update
// direction in Net.G and the weights exactly as they were.

// GNR is the gradient-norm penalty step L + γ‖∇L‖ of docs/PAPER.md §1:
// G = (1 − γ/ρ)·g + (γ/ρ)·g′ with g′ = ∇L(θ + ρĝ). SAM is γ = ρ.
// Normalized selects the official code's variant, which mixes ĝ = g/‖g‖
// in place of g: G = (1 − γ/ρ)·ĝ + (γ/ρ)·g′.
//
// M > 0 applies it per sub-batch of M samples (m-sharpness, see chunks).
type GNR struct {
	Rho, Gamma float64
	Normalized bool
	M          int
	sam        SAM
	g          *nn.Tensor
	ch         *chunks
}

// mix turns G = g′ into the GNR update, given g.
func (m *GNR) mix(c *StepContext, g *nn.Tensor) {
	b, net := c.Net.B, c.Net
	if m.Normalized {
		b.Scale(float32(1/(GlobalNorm(b, g)+1e-12)), g)
	}
	a := m.Gamma / m.Rho
	b.Scale(float32(a), net.G)
	b.Axpy(float32(1-a), g, net.G)
}

func (*GNR) Name() string                 { return "gnr" }
func (*GNR) ExtraPairs() float64          { return 1 }
func (*GNR) ExpectedDeltaEta(int) float64 { return 1 }
func (m *GNR) Step(c *StepContext) StepResult {
	if m.M > 0 && m.M < c.BatchSize {
		if m.ch == nil || m.ch.size != m.M {
			m.ch = &chunks{size: m.M}
		}
		return m.ch.step(c, &m.sam, m.Rho, func(g *nn.Tensor) { m.mix(c, g) })
	}
	b, net := c.Net.B, c.Net
	r := c.Pass(PassOptions{})
	g := buffer(net, &m.g)
	b.Copy(g, net.G)
	m.sam.sharpPass(c, m.sam.along(c, m.Rho))
	m.mix(c, g)
	return StepResult{Loss: r.Loss, Pairs: 2, Sharp: true}
}

// ASAM is adaptive SAM: T_w = |w| + η on weight tensors (Kind == Weight)
// and 1 on biases and normalisation parameters, ε = ρ·T_w²·g/‖T_w·g‖,
// update with ∇L(θ+ε). BNGamma extends T_w = |w| + η to batch-norm's γ,
// as the official ASAM does (it rescales every parameter whose name
// contains "weight", which in PyTorch includes BN's γ but not β).
type ASAM struct {
	Rho, Eta float64
	BNGamma  bool
	sam      SAM
	tw       *nn.Tensor
	// notWeight is 1 on the scalars that are not weights and 0 on the
	// weights: T_w = Where(notWeight, notWeight, |w| + η) needs no host.
	notWeight *nn.Tensor
}

func (*ASAM) Name() string                 { return "asam" }
func (*ASAM) ExtraPairs() float64          { return 1 }
func (*ASAM) ExpectedDeltaEta(int) float64 { return 1 }

func (m *ASAM) Step(c *StepContext) StepResult {
	b, net := c.Net.B, c.Net
	r := c.Pass(PassOptions{})
	if m.notWeight == nil {
		m.notWeight = notWeightMask(net, m.BNGamma)
	}
	tw := buffer(net, &m.tw)
	b.AbsPlus(net.W, tw, float32(m.Eta))
	b.Where(m.notWeight, m.notWeight, tw, tw)
	m.sam.sharpPass(c, func(eps *nn.Tensor) {
		b.Mul(tw, net.G, eps) // T·g
		norm := math.Sqrt(b.Dot(eps, eps))
		b.Mul(tw, eps, eps) // T²·g
		b.Scale(float32(m.Rho/(norm+1e-12)), eps)
	})
	return StepResult{Loss: r.Loss, Pairs: 2, Sharp: true}
}

// notWeightMask is 1 on the scalars of parameters that are not weights
// (biases, normalisation; BN's γ counts as a weight when bnGamma is set).
// It is built on the host once per run: the layout of the parameters
// never changes.
func notWeightMask(net *nn.Net, bnGamma bool) *nn.Tensor {
	h := make([]float32, net.W.Len())
	for i := range h {
		h[i] = 1
	}
	for _, p := range net.Params {
		if p.Kind == nn.Weight || (bnGamma && p.Kind == nn.Norm && p.Name == "bn.gamma") {
			clear(h[p.Offset : p.Offset+p.W.Len()])
		}
	}
	t := net.B.New(len(h))
	net.B.Upload(t, h)
	return t
}

// GSAM is surrogate-gap guided SAM: g_p = ∇L(θ+ε) with ε = ρ_t·ĝ; g is
// split into its part along g_p and the orthogonal rest g⊥; the update is
// g_p − α·g⊥. ρ_t follows the learning rate:
// ρ_t = ρ_min + (ρ_max − ρ_min)(lr − lr_min)/(lr_max − lr_min), with lr_max
// the largest rate seen so far when LRMax is 0 (a cosine schedule starts at
// its peak; with warm-up the first steps then see ρ_max). ρ_min = ρ_max
// keeps ρ constant.
//
// Adaptive perturbs as the GSAM code's adaptive option (used by its CIFAR
// example): ε = ρ_t·|w|²·g/‖|w|·g‖ over every parameter.
type GSAM struct {
	Alpha, RhoMax, RhoMin float64
	LRMax, LRMin          float64
	Adaptive              bool
	tw                    *nn.Tensor
	net                   *nn.Net
	meta                  scalars // [the largest lr seen]
	sam                   SAM
	g                     *nn.Tensor
}

func (m *GSAM) Bind(net *nn.Net) { m.net = net }

// State is the largest learning rate seen, for checkpoints.
func (m *GSAM) State() []*nn.Tensor { return []*nn.Tensor{m.meta.tensor(m.net, 1)} }

func (*GSAM) Name() string                 { return "gsam" }
func (*GSAM) ExtraPairs() float64          { return 1 }
func (*GSAM) ExpectedDeltaEta(int) float64 { return 1 }

// Rho is ρ_t at learning rate lr, given the largest rate seen before.
func (m *GSAM) Rho(lr, seen float64) float64 {
	hi := m.LRMax
	if hi <= 0 {
		hi = max(seen, lr)
	}
	if hi <= m.LRMin {
		return m.RhoMax
	}
	return m.RhoMin + (m.RhoMax-m.RhoMin)*(lr-m.LRMin)/(hi-m.LRMin)
}

func (m *GSAM) Step(c *StepContext) StepResult {
	b, net := c.Net.B, c.Net
	r := c.Pass(PassOptions{})
	m.net = net // State may be asked for later
	g := buffer(net, &m.g)
	b.Copy(g, net.G)
	seen := m.meta.load(net, 1)
	rho := m.Rho(float64(c.LR), float64(seen[0]))
	seen[0] = max(seen[0], c.LR)
	m.meta.store(net)
	if m.Adaptive {
		tw := buffer(net, &m.tw)
		b.AbsPlus(net.W, tw, 0)
		m.sam.sharpPass(c, func(eps *nn.Tensor) {
			b.Mul(tw, net.G, eps) // |w|·g
			norm := math.Sqrt(b.Dot(eps, eps))
			b.Mul(tw, eps, eps) // |w|²·g
			b.Scale(float32(rho/(norm+1e-12)), eps)
		})
	} else {
		m.sam.sharpPass(c, m.sam.along(c, rho))
	}
	// g_p − α(g − (g·g_p/‖g_p‖²)g_p) = (1 + α·g·g_p/‖g_p‖²)·g_p − α·g
	var proj float64
	if pp := b.Dot(net.G, net.G); pp > 0 {
		proj = b.Dot(g, net.G) / pp
	}
	b.Scale(float32(1+m.Alpha*proj), net.G)
	b.Axpy(float32(-m.Alpha), g, net.G)
	return StepResult{Loss: r.Loss, Pairs: 2, Sharp: true}
}

// LookSAM takes a full SAM step every K-th call and keeps
// g_v = g_s − (g_s·g/‖g‖²)·g, the part of the SAM gradient g_s orthogonal to
// g; the other calls cost one pass and update with g + α(‖g‖/‖g_v‖)·g_v.
// It counts its own calls, so inside RST "every K-th" means every K-th
// sharp step RST hands it.
type LookSAM struct {
	Rho, Alpha float64
	K          int
	net        *nn.Net
	meta       scalars // [calls so far, ‖g_v‖]
	sam        SAM
	g, gv      *nn.Tensor
}

func (m *LookSAM) Bind(net *nn.Net) { m.net = net }

// State is g_v, the call count and ‖g_v‖, for checkpoints.
func (m *LookSAM) State() []*nn.Tensor {
	return []*nn.Tensor{buffer(m.net, &m.gv), m.meta.tensor(m.net, 2)}
}

func (*LookSAM) Name() string          { return "looksam" }
func (m *LookSAM) ExtraPairs() float64 { return 1 / float64(m.K) }

// ExpectedDeltaEta counts the full steps of a run: calls 0, K, 2K, ...
func (m *LookSAM) ExpectedDeltaEta(total int) float64 {
	if total <= 0 {
		return 0
	}
	return float64((total+m.K-1)/m.K) / float64(total)
}

func (m *LookSAM) Step(c *StepContext) StepResult {
	b, net := c.Net.B, c.Net
	m.net = net // State may be asked for later
	r := c.Pass(PassOptions{})
	meta := m.meta.load(net, 2)
	n, gvNorm := int(meta[0]), float64(meta[1])
	meta[0] = float32(n + 1)
	m.meta.store(net)
	gv := buffer(net, &m.gv)
	if n%m.K != 0 {
		if gvNorm > 0 {
			b.Axpy(float32(m.Alpha*GlobalNorm(b, net.G)/gvNorm), gv, net.G)
		}
		return StepResult{Loss: r.Loss, Pairs: 1}
	}
	g := buffer(net, &m.g)
	b.Copy(g, net.G)
	m.sam.sharpPass(c, m.sam.along(c, m.Rho))
	b.Copy(gv, net.G)
	if gg := b.Dot(g, g); gg > 0 {
		b.Axpy(float32(-b.Dot(net.G, g)/gg), g, gv)
	}
	meta[1] = float32(GlobalNorm(b, gv))
	m.meta.store(net)
	return StepResult{Loss: r.Loss, Pairs: 2, Sharp: true}
}
