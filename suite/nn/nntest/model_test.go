package nntest

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/rst-bench/rst/suite/nn"
)

// Tests of the model check itself. They wrap the CPU backend and so read
// Data, which the suite proper never does.

// noisyCPU perturbs the outputs of the GEMM-based and batch-norm kernels
// by a relative 4e-6 (√K·u for K ≈ 4600, the longest sums in the models):
// the rounding differences another float32 backend shows. The model check
// must accept it.
type noisyCPU struct {
	*nn.CPU
	r     *rand.Rand
	scale float32 // noise; or, when wrong is set, the factor on dw
	wrong bool
}

func (c *noisyCPU) Name() string { return "cpu+noise" }

func (c *noisyCPU) noise(ts ...*nn.Tensor) {
	for _, t := range ts {
		if t == nil || c.scale == 0 {
			continue
		}
		for i := range t.Data {
			t.Data[i] *= 1 + c.scale*float32(c.r.NormFloat64())
		}
	}
}

func (c *noisyCPU) MatMul(ta, tb bool, alpha float32, a, b *nn.Tensor, beta float32, out *nn.Tensor) {
	c.CPU.MatMul(ta, tb, alpha, a, b, beta, out)
	c.noise(out)
}

func (c *noisyCPU) Conv2D(x, w, y *nn.Tensor, g nn.ConvGeom) {
	c.CPU.Conv2D(x, w, y, g)
	c.noise(y)
}

func (c *noisyCPU) Conv2DBackward(x, w, dy, dx, dw *nn.Tensor, g nn.ConvGeom) {
	c.CPU.Conv2DBackward(x, w, dy, dx, dw, g)
	if c.wrong {
		// A kernel bug: the weight gradient of 3×3 convolutions 10% large.
		if g.KH == 3 {
			for i := range dw.Data {
				dw.Data[i] *= 1.1
			}
		}
		return
	}
	c.noise(dx, dw)
}

func (c *noisyCPU) BatchNormTrain(x, y, gamma, beta, mean, variance *nn.Tensor, eps float32, relu bool) {
	c.CPU.BatchNormTrain(x, y, gamma, beta, mean, variance, eps, relu)
	c.noise(y)
}

func (c *noisyCPU) BatchNormBackward(x, y, dy, dx, gamma, mean, variance, dgamma, dbeta *nn.Tensor, eps float32, relu bool) {
	c.CPU.BatchNormBackward(x, y, dy, dx, gamma, mean, variance, dgamma, dbeta, eps, relu)
	c.noise(dx, dgamma, dbeta)
}

func TestModelAcceptsRoundingDifferences(t *testing.T) {
	if testing.Short() {
		t.Skip("two more model runs: not under -short")
	}
	Model(t, &noisyCPU{CPU: nn.NewCPU(), r: rand.New(rand.NewPCG(1, 1)), scale: 4e-6}, nn.NewCPU())
}

// recorder counts failures instead of failing.
type recorder struct {
	errs []string
}

func (r *recorder) Helper()                      {}
func (r *recorder) Logf(string, ...any)          {}
func (r *recorder) Errorf(f string, args ...any) { r.errs = append(r.errs, fmt.Sprintf(f, args...)) }

// A 10% error in one kernel's weight gradient must fail both the comparison
// with a correct backend and the finite-difference check.
func TestModelCatchesAWrongKernel(t *testing.T) {
	if testing.Short() {
		t.Skip("two more model runs: not under -short")
	}
	mc := modelCases[0]
	bad := &noisyCPU{CPU: nn.NewCPU(), wrong: true}
	got, err := trainSteps(bad, mc)
	if err != nil {
		t.Fatal(err)
	}
	want, err := trainSteps(nn.NewCPU(), mc)
	if err != nil {
		t.Fatal(err)
	}
	var cmp, fd recorder
	compareRuns(&cmp, got, want)
	modelFD(&fd, got)
	if len(cmp.errs) == 0 {
		t.Error("the comparison with a correct backend accepted a 10% error in Conv2DBackward's dw")
	}
	if len(fd.errs) == 0 {
		t.Error("the finite-difference check accepted a 10% error in Conv2DBackward's dw")
	}
	t.Logf("comparison: %d failures, e.g. %v", len(cmp.errs), cmp.errs[:min(1, len(cmp.errs))])
	t.Logf("finite differences: %d failures, e.g. %v", len(fd.errs), fd.errs[:min(1, len(fd.errs))])
}

// A model that reads memory it never wrote fails the model check on
// DirtyNewCPU against the plain CPU backend. (vit-mini's one-element S,
// never written, did on an H100.)
func TestModelReadsNoUnwrittenMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("trains three models twice")
	}
	Model(t, &DirtyNewCPU{CPU: nn.NewCPU()}, nn.NewCPU())
}
