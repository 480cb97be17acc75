package optim

import (
	"slices"

	"github.com/rst-bench/rst/suite/nn"
	"github.com/rst-bench/rst/suite/rng"
)

// ESAM is efficient SAM (Du et al.): stochastic weight perturbation plus
// sharpness-sensitive data selection.
//
//   - SWP: each scalar weight is perturbed with probability Beta and the
//     perturbation is rescaled by 1/Beta so that its mean is SAM's:
//     ε = ρ/(β‖g‖)·m⊙g, m_i ~ Bernoulli(β). Element i is perturbed when
//     the counter value rng.NewKey(seed, "esam-swp", t).Float64At(i) < β.
//     (The official code perturbs every tensor and drops the gradients of a
//     random set of tensors instead; with one flat buffer there is nothing
//     to save by that, so we follow the paper's element-wise mask.)
//   - SDS: a forward pass at θ+ε on the whole batch gives each sample's
//     loss; the ⌊γ·B⌋ samples whose loss rose most (ties to the lower
//     position) get the second forward-backward pass, whose gradient is the
//     update. γ = 1 skips the selection and its forward pass.
//
// Pairs counts 1 + ⌊γB⌋/B: the forward-only selection pass is not a pair
// and is not counted (it is about a third of one).
type ESAM struct {
	Rho, Beta, Gamma float64
	sam              SAM
	mask             *nn.Tensor
	before           []float32
	rise             []float64
	idx              []int
}

func (*ESAM) Name() string          { return "esam" }
func (m *ESAM) ExtraPairs() float64 { return m.Gamma }

// ExpectedDeltaEta is γ; the realised value is ⌊γB⌋/B.
func (m *ESAM) ExpectedDeltaEta(int) float64 { return m.Gamma }

// Selected returns how many of n samples the second pass runs on.
func (m *ESAM) Selected(n int) int {
	return min(max(int(m.Gamma*float64(n)+1e-9), 1), n)
}

func (m *ESAM) Step(c *StepContext) StepResult {
	b, net := c.Net.B, c.Net
	r := c.Pass(PassOptions{})
	scale := m.Rho / (GlobalNorm(b, net.G) + 1e-12) / m.Beta
	m.sam.perturb(c, func(eps *nn.Tensor) {
		if m.Beta < 1 {
			mask := buffer(net, &m.mask)
			b.Bernoulli(mask, m.Beta, rng.NewKey(c.Seed, "esam-swp", uint64(c.Step)))
			b.Mul(mask, net.G, eps)
		} else {
			b.Copy(eps, net.G)
		}
		b.Scale(float32(scale), eps)
	})

	n := r.Samples
	k := m.Selected(n)
	var subset []int
	if k < n {
		m.before = append(m.before[:0], r.PerSample[:n]...)
		a := c.Pass(PassOptions{FreezeStats: true, ForwardOnly: true})
		m.rise = m.rise[:0]
		m.idx = m.idx[:0]
		for i := 0; i < n; i++ {
			m.rise = append(m.rise, float64(a.PerSample[i])-float64(m.before[i]))
			m.idx = append(m.idx, i)
		}
		slices.SortStableFunc(m.idx, func(i, j int) int {
			switch {
			case m.rise[i] > m.rise[j]:
				return -1
			case m.rise[i] < m.rise[j]:
				return 1
			}
			return 0
		})
		subset = m.idx[:k]
		slices.Sort(subset) // keep the batch's own order in the sub-batch
	}
	c.Pass(PassOptions{FreezeStats: true, Subset: subset})
	m.sam.restore(c)
	return StepResult{Loss: r.Loss, Pairs: 1 + float64(k)/float64(n), Sharp: true}
}
