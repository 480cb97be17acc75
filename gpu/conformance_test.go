package gpu

import (
	"os"
	"strings"
	"testing"

	"github.com/rst-bench/rst/suite/nn"
	"github.com/rst-bench/rst/suite/nn/nntest"
	"github.com/rst-bench/rst/suite/rng"
)

// The conformance suite of nn/nntest on the GPU. These tests skip on a
// machine without one, unless RST_REQUIRE_GPU=1 (gpu-check/run.sh sets
// it), when a device that does not open is a failure.

func openOrSkip(t *testing.T, o Options) *Backend {
	t.Helper()
	b, err := Open(o)
	if err != nil {
		if os.Getenv("RST_REQUIRE_GPU") == "1" {
			t.Fatalf("RST_REQUIRE_GPU=1 and the cuda device does not open: %v", err)
		}
		t.Skipf("no usable CUDA device here; this check runs on a GPU machine (make gpu-check): %v", err)
	}
	t.Logf("%s", b.Describe())
	return b
}

func TestConformanceKernels(t *testing.T) {
	nntest.Kernels(t, openOrSkip(t, Options{}))
}

// With TF32 the GEMM-based kernels round their inputs to 10-bit mantissas.
func TestConformanceKernelsTF32(t *testing.T) {
	nntest.KernelsWith(t, openOrSkip(t, Options{TF32: true}), nntest.Options{GEMMInputRounding: 0x1p-11})
}

// resnet18, vgg16-bn and vit-mini: losses and every gradient after 3 steps against
// the CPU backend.
func TestConformanceModel(t *testing.T) {
	nntest.Model(t, openOrSkip(t, Options{}), nn.NewCPU())
}

// The masks are the CPU backend's bit for bit, at a size where the device
// splits the work into many blocks, with many ties for TopKMask.
func TestConformanceMasksMatchCPU(t *testing.T) {
	b := openOrSkip(t, Options{})
	cpu := nn.NewCPU()
	const n = 1<<20 + 12345
	key := rng.NewKey(7, "conformance", 1)
	scores := make([]float32, n)
	r := key.Rand()
	for i := range scores {
		scores[i] = float32(r.IntN(1000)) / 8 // many exact ties
		if i%97 == 0 {
			scores[i] = -scores[i]
		}
	}
	both := func(name string, f func(be nn.Backend, out *nn.Tensor)) {
		want := cpu.New(n)
		f(cpu, want)
		got := b.New(n)
		f(b, got)
		g := make([]float32, n)
		b.Download(g, got)
		if err := b.Err(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for i := range g {
			if g[i] != want.Data[i] {
				t.Errorf("%s: element %d is %v on the GPU, %v on the CPU", name, i, g[i], want.Data[i])
				return
			}
		}
		b.Free(got)
	}
	both("DropoutMask", func(be nn.Backend, out *nn.Tensor) { be.DropoutMask(out, 0.3, key, 12345) })
	both("Bernoulli", func(be nn.Backend, out *nn.Tensor) { be.Bernoulli(out, 0.25, key) })
	both("Uniform", func(be nn.Backend, out *nn.Tensor) { be.Uniform(out, key) })
	both("Normal", func(be nn.Backend, out *nn.Tensor) { be.Normal(out, key, 1<<33+5) })
	for _, keep := range []int{1, 1000, n / 3, n / 2, n - 1} {
		both("TopKMask", func(be nn.Backend, out *nn.Tensor) {
			s := be.New(n)
			be.Upload(s, scores)
			be.TopKMask(s, out, keep)
		})
	}
}

// TestReportConvAlgorithms logs, for ResNet-18's convolutions at batch
// 64, the algorithms cuDNN's Find offers in each direction and the one the
// backend chose: what the CPU double cannot tell. It only reports (on a
// GPU; gpu-check's summary shows it), and fails only if a step fails.
func TestReportConvAlgorithms(t *testing.T) {
	if os.Getenv("RST_REQUIRE_GPU") != "1" || os.Getenv("RST_CUDA_DOUBLE") != "" {
		t.Skip("a report from a real GPU (make gpu-check sets RST_REQUIRE_GPU=1); the CPU double's algorithms are its own")
	}
	for _, o := range []Options{{}, {TF32: true}} {
		b := openOrSkip(t, o)
		if err := nntest.TrainStep(b, "resnet18", []int{32, 32, 3}, 64); err != nil {
			t.Fatalf("resnet18 step on %s: %v", b.Name(), err)
		}
		report := b.ConvReport()
		t.Logf("cuDNN algorithms on %s (TF32 %v; * = chosen):\n%s", b.Describe(), o.TF32, report)
		// Every shape has a chosen algorithm in each of its three directions.
		shapes, chosen := strings.Count(report, "conv n="), strings.Count(report, "[*algo")
		if shapes == 0 || chosen != 3*shapes {
			t.Errorf("%d convolution shapes with %d chosen algorithms, want 3 per shape", shapes, chosen)
		}
	}
}
