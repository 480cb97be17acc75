package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// serialSoftmaxCrossEntropy is the CPU backend's loss as it was before its
// rows ran in parallel: one loop over the rows, the total summed as it
// goes. The parallel kernel must give its bits.
func serialSoftmaxCrossEntropy(logits *Tensor, labels []int32, smoothing float32, dlogits *Tensor, perSample []float32) float64 {
	n, k := logits.Rows(), logits.Cols()
	var total float64
	off := float64(smoothing) / float64(k)
	on := 1 - float64(smoothing) + off
	for i := 0; i < n; i++ {
		row := logits.Data[i*k : (i+1)*k]
		mx := row[0]
		for _, v := range row {
			mx = max(mx, v)
		}
		var z float64
		for _, v := range row {
			z += math.Exp(float64(v - mx))
		}
		logZ := math.Log(z) + float64(mx)
		var loss float64
		lab := int(labels[i])
		for j, v := range row {
			q := off
			if j == lab {
				q = on
			}
			loss -= q * (float64(v) - logZ)
			if dlogits != nil {
				dlogits.Data[i*k+j] = float32((math.Exp(float64(v)-logZ) - q) / float64(n))
			}
		}
		if perSample != nil {
			perSample[i] = float32(loss)
		}
		total += loss
	}
	return total / float64(n)
}

func TestSoftmaxCrossEntropyMatchesSerial(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	c := NewCPU()
	r := rand.New(rand.NewPCG(7, 8))
	for _, sh := range [][2]int{{1, 1}, {3, 7}, {128, 10}, {256, 1000}, {1000, 100}} {
		n, k := sh[0], sh[1]
		logits := c.New(n, k)
		for i := range logits.Data {
			logits.Data[i] = float32(r.NormFloat64() * 4)
		}
		if n*k > 10 {
			logits.Data[5] = 80 // a large logit, and a tie with the row's first
			logits.Data[k] = logits.Data[k+1]
		}
		labels := make([]int32, n)
		for i := range labels {
			labels[i] = int32(r.IntN(k))
		}
		for _, s := range []float32{0, 0.1} {
			for _, withGrad := range []bool{false, true} {
				wantD, wantPer := c.New(n, k), make([]float32, n)
				var wd *Tensor
				var wp []float32
				if withGrad {
					wd, wp = wantD, wantPer
				}
				want := serialSoftmaxCrossEntropy(logits, labels, s, wd, wp)
				for _, procs := range []int{1, 2, 4} {
					runtime.GOMAXPROCS(procs)
					gotD, gotPer := c.New(n, k), make([]float32, n)
					var gd *Tensor
					var gp []float32
					if withGrad {
						gd, gp = gotD, gotPer
					}
					got := c.SoftmaxCrossEntropy(logits, labels, s, gd, gp)
					if math.Float64bits(got) != math.Float64bits(want) {
						t.Fatalf("%dx%d smoothing %v, %d threads: loss %v, serial %v", n, k, s, procs, got, want)
					}
					for i := range wantD.Data {
						if math.Float32bits(gotD.Data[i]) != math.Float32bits(wantD.Data[i]) {
							t.Fatalf("%dx%d smoothing %v, %d threads: dlogits[%d] %v, serial %v", n, k, s, procs, i, gotD.Data[i], wantD.Data[i])
						}
					}
					for i := range wantPer {
						if math.Float32bits(gotPer[i]) != math.Float32bits(wantPer[i]) {
							t.Fatalf("%dx%d smoothing %v, %d threads: perSample[%d] %v, serial %v", n, k, s, procs, i, gotPer[i], wantPer[i])
						}
					}
				}
			}
		}
	}
}

// BenchmarkSoftmaxCrossEntropy times the loss and its gradient at CIFAR's
// (128×10) and ImageNet's (256×1000) batch shapes.
func BenchmarkSoftmaxCrossEntropy(b *testing.B) {
	c := NewCPU()
	r := rand.New(rand.NewPCG(1, 2))
	for _, sh := range [][2]int{{128, 10}, {256, 1000}} {
		n, k := sh[0], sh[1]
		logits, d := c.New(n, k), c.New(n, k)
		for i := range logits.Data {
			logits.Data[i] = float32(r.NormFloat64())
		}
		labels, per := make([]int32, n), make([]float32, n)
		b.Run(fmt.Sprintf("%dx%d", n, k), func(b *testing.B) {
			for b.Loop() {
				c.SoftmaxCrossEntropy(logits, labels, 0.1, d, per)
			}
		})
	}
}
