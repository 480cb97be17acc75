package train

import (
	"math"
	"testing"

	"github.com/rst-bench/rst/suite/data"
	"github.com/rst-bench/rst/suite/nn"
	"github.com/rst-bench/rst/suite/optim"
	"github.com/rst-bench/rst/suite/rng"
)

// Beta(α, α) has mean ½ and variance 1/(4(2α+1)); α = 1 is uniform.
func TestBetaSymMoments(t *testing.T) {
	for _, alpha := range []float64{0.2, 0.8, 1, 3} {
		r := rng.NewKey(7, "beta-test", uint64(alpha*10)).Rand()
		const n = 40000
		var sum, sq float64
		for range n {
			v := betaSym(r, alpha)
			if v < 0 || v > 1 {
				t.Fatalf("α=%v: draw %v outside [0, 1]", alpha, v)
			}
			sum += v
			sq += v * v
		}
		mean := sum / n
		variance := sq/n - mean*mean
		want := 1 / (4 * (2*alpha + 1))
		// Standard errors at n = 40000 are below 0.003 for the mean and
		// 2% of the variance; the bounds are about four of them.
		if math.Abs(mean-0.5) > 0.01 || math.Abs(variance-want) > 0.08*want {
			t.Errorf("α=%v: mean %.4f variance %.4f, want 0.5 and %.4f", alpha, mean, variance, want)
		}
	}
}

// A mixup step's inputs are λ·x + (1−λ)·x_reversed, and its loss and logit
// gradient are λ times those of the labels plus (1−λ) times those of the
// partners' labels, each computed on the mixed input.
func TestMixupBatchAndLoss(t *testing.T) {
	set := data.Synthetic("mixup", 32, 4, 4, 1, 3, nil, nil)
	cfg := Defaults()
	cfg.Model, cfg.Data, cfg.Batch, cfg.Mixup, cfg.L2 = "mlp", "synthetic", 5, 0.4, 0
	cfg.Method = optim.Spec{Name: "sgd"}
	tr, err := newTrainer(cfg, set)
	if err != nil {
		t.Fatal(err)
	}
	idx := []int{3, 9, 0, 17, 30}
	plain := make([]float32, len(tr.host))
	plainLab := make([]int32, len(idx))
	set.FillBatch(plain, plainLab, idx, data.Augment{}, cfg.Seed, 0)

	tr.step = 11
	if err := tr.load(idx, 0); err != nil {
		t.Fatal(err)
	}
	lam := tr.mixLambda
	if !(lam > 0 && lam < 1) {
		t.Fatalf("λ = %v", lam)
	}
	size := set.ImageSize()
	n := len(idx)
	for i := range n {
		if tr.labels[i] != plainLab[i] || tr.mixLabels[i] != plainLab[n-1-i] {
			t.Fatalf("labels %v partners %v from %v", tr.labels, tr.mixLabels, plainLab)
		}
		for k := range size {
			want := lam*plain[i*size+k] + (1-lam)*plain[(n-1-i)*size+k]
			if got := tr.host[i*size+k]; math.Abs(float64(got-want)) > 1e-6 {
				t.Fatalf("sample %d value %d: %v, want %v", i, k, got, want)
			}
		}
	}

	res := tr.runPass(optim.PassOptions{})
	b := tr.b
	got := make([]float32, n*3)
	b.Download(got, tr.dlogits[n])
	// The MLP has neither dropout nor batch-norm: a second forward pass
	// gives the logits the step saw.
	logits := tr.net.Forward(&nn.Pass{B: b, Train: true}, tr.x)
	d1, d2 := b.New(n, 3), b.New(n, 3)
	l1 := b.SoftmaxCrossEntropy(logits, tr.labels[:n], 0, d1, nil)
	l2 := b.SoftmaxCrossEntropy(logits, tr.mixLabels, 0, d2, nil)
	want := float64(lam)*l1 + float64(1-lam)*l2
	if math.Abs(res.Loss-want) > 1e-5*math.Abs(want) {
		t.Fatalf("mixed loss %v, want λ·%v + (1−λ)·%v = %v", res.Loss, l1, l2, want)
	}
	g1, g2 := make([]float32, n*3), make([]float32, n*3)
	b.Download(g1, d1)
	b.Download(g2, d2)
	for i := range got {
		if w := lam*g1[i] + (1-lam)*g2[i]; math.Abs(float64(got[i]-w)) > 1e-6 {
			t.Fatalf("logit gradient %d: %v, want %v", i, got[i], w)
		}
	}

	// λ is a function of (seed, step) alone.
	lamAt11 := lam
	tr.step = 12
	_ = tr.load(idx, 0)
	other := tr.mixLambda
	tr.step = 11
	_ = tr.load(idx, 0)
	if tr.mixLambda != lamAt11 || other == lamAt11 {
		t.Fatalf("λ at step 11: %v then %v; at step 12: %v", lamAt11, tr.mixLambda, other)
	}
}
