package train

import (
	"math"
	"math/rand/v2"

	"github.com/rst-bench/rst/suite/rng"
)

// mixBatch mixes the loaded host batch with itself in reverse order for
// step: x_i = λ·x_i + (1−λ)·x_{n−1−i}, and keeps the partners' labels in
// t.mixLabels. The reversed batch is the partner (timm's choice) rather
// than a random permutation: it needs no draw and no copy of the labels'
// order, and the batch is already in random order.
func (t *trainer) mixBatch(n int) {
	r := rng.NewKey(t.cfg.Seed, "mixup", uint64(t.step)).Rand()
	lam := float32(betaSym(r, t.cfg.Mixup))
	t.mixLambda = lam
	size := len(t.host) / len(t.labels)
	if cap(t.mixLabels) < n {
		t.mixLabels = make([]int32, n)
	}
	t.mixLabels = t.mixLabels[:n]
	for i := range n {
		t.mixLabels[i] = t.labels[n-1-i]
	}
	// Pairs (i, n−1−i) mix symmetrically, so each pair is done in place
	// from its two originals; the middle sample of an odd batch is its
	// own partner and stays as it is.
	for i := 0; i < n/2; i++ {
		a := t.host[i*size : (i+1)*size]
		b := t.host[(n-1-i)*size : (n-i)*size]
		for k := range a {
			x, y := a[k], b[k]
			a[k] = float32(lam*x) + float32((1-lam)*y)
			b[k] = float32(lam*y) + float32((1-lam)*x)
		}
	}
}

// betaSym draws from Beta(α, α) as X/(X+Y) with X, Y ~ Gamma(α).
func betaSym(r *rand.Rand, alpha float64) float64 {
	x, y := gamma(r, alpha), gamma(r, alpha)
	if x+y == 0 {
		return 0.5
	}
	return x / (x + y)
}

// gamma draws from Gamma(α, 1) by Marsaglia and Tsang's method, with the
// usual U^(1/α) boost for α < 1.
func gamma(r *rand.Rand, alpha float64) float64 {
	if alpha < 1 {
		return gamma(r, alpha+1) * math.Pow(1-r.Float64(), 1/alpha)
	}
	d := alpha - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := r.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := 1 - r.Float64() // in (0, 1]
		if math.Log(u) < 0.5*x*x+d-d*v+d*math.Log(v) {
			return d * v
		}
	}
}
