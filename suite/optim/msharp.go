package optim

import "github.com/rst-bench/rst/suite/nn"

// m-sharpness (Foret et al., SAM §4.1): the perturbation is computed on
// sub-batches of M samples, each with its own ε, as the official code does
// per device (sync_perturbations=False). chunked runs one such step: for
// each sub-batch S_j of M consecutive samples (the last one shorter when M
// does not divide the batch) it takes g_j = ∇L_{S_j}(θ), g′_j =
// ∇L_{S_j}(θ + ρ·g_j/‖g_j‖) and the method's update u_j from them (mix),
// and leaves Σ_j |S_j|/B · u_j in G: the mean over the batch, as the
// official code's cross-device mean of per-device gradients. Every pass
// uses its sub-batch's own batch-norm statistics (per-device BN); the
// running averages move with the step's first pass alone, on S_1 (the
// trainer freezes them on every later pass). Each sample gets two passes:
// 2 pairs, as for SAM.
type chunks struct {
	size   int
	idx    [][]int // the sub-batches, for the batch size they were made for
	batch  int
	g, acc *nn.Tensor
}

func (ch *chunks) split(batch int) [][]int {
	if ch.batch != batch {
		ch.batch, ch.idx = batch, nil
		for lo := 0; lo < batch; lo += ch.size {
			var s []int
			for i := lo; i < min(lo+ch.size, batch); i++ {
				s = append(s, i)
			}
			ch.idx = append(ch.idx, s)
		}
	}
	return ch.idx
}

// step runs the m-sharpness step with SAM's perturb/restore; mix, when not
// nil, turns G = g′_j into the method's update given g_j (GNR's blend).
func (ch *chunks) step(c *StepContext, sam *SAM, rho float64, mix func(g *nn.Tensor)) StepResult {
	b, net := c.Net.B, c.Net
	g, acc := buffer(net, &ch.g), buffer(net, &ch.acc)
	b.Fill(acc, 0)
	var loss float64
	for _, s := range ch.split(c.BatchSize) {
		w := float64(len(s)) / float64(c.BatchSize)
		r := c.Pass(PassOptions{Subset: s})
		loss += w * r.Loss
		b.Copy(g, net.G)
		sam.perturb(c, sam.along(c, rho))
		c.Pass(PassOptions{FreezeStats: true, Subset: s})
		sam.restore(c)
		if mix != nil {
			mix(g)
		}
		b.Axpy(float32(w), net.G, acc)
	}
	b.Copy(net.G, acc)
	return StepResult{Loss: loss, Pairs: 2, Sharp: true}
}
