package models

import (
	"math"
	"strings"
	"testing"

	"github.com/rst-bench/rst/suite/nn"
)

// Expected sizes from the architectures' arithmetic, written independently
// of the builders: convolutions are bias-free (K²·in·out), each BN has γ and
// β (2·c), linear layers have a bias.

func archConv(k, in, out int) int { return k * k * in * out }
func archBN(c int) int            { return 2 * c }
func archFC(in, out int) int      { return in*out + out }

func resnetParams(c int, blocks []int, classes int) int {
	widths := []int{64, 128, 256, 512}
	n := archConv(3, c, 64) + archBN(64)
	in := 64
	for s, nb := range blocks {
		out := widths[s]
		for b := 0; b < nb; b++ {
			n += archConv(3, in, out) + archBN(out) + archConv(3, out, out) + archBN(out)
			if in != out { // first block of stages 2–4
				n += archConv(1, in, out) + archBN(out)
			}
			in = out
		}
	}
	return n + archFC(512, classes)
}

func wrnParams(c, depth, k, classes int) int {
	n := archConv(3, c, 16)
	in := 16
	for _, out := range []int{16 * k, 32 * k, 64 * k} {
		for b := 0; b < (depth-4)/6; b++ {
			n += archBN(in) + archConv(3, in, out) + archBN(out) + archConv(3, out, out)
			if in != out {
				n += archConv(1, in, out)
			}
			in = out
		}
	}
	return n + archBN(in) + archFC(in, classes)
}

func vggConvParams(c int) int {
	n, in := 0, c
	for _, out := range []int{64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512} {
		n += archConv(3, in, out) + archBN(out)
		in = out
	}
	return n
}

func nearPublished(got int, published float64, tol float64) bool {
	return math.Abs(float64(got)-published) <= tol*published
}

func TestCIFARModelParameterCounts(t *testing.T) {
	b := nn.NewCPU()
	for _, c := range []struct {
		name      string
		classes   int
		want      int
		published float64 // the usual figure for the architecture
	}{
		{"resnet18", 10, resnetParams(3, []int{2, 2, 2, 2}, 10), 11.17e6},
		{"resnet18", 100, resnetParams(3, []int{2, 2, 2, 2}, 100), 11.22e6},
		{"resnet34", 10, resnetParams(3, []int{3, 4, 6, 3}, 10), 21.28e6},
		{"wrn28-10", 10, wrnParams(3, 28, 10, 10), 36.5e6},
		{"wrn28-10", 100, wrnParams(3, 28, 10, 100), 36.5e6},
		{"wrn16-4", 10, wrnParams(3, 16, 4, 10), 2.75e6},
		{"vgg16-bn", 10, vggConvParams(3) + archFC(512, 4096) + archFC(4096, 4096) + archFC(4096, 10), 33.6e6},
	} {
		net, err := New(b, c.name, []int{32, 32, 3}, c.classes, 1)
		if err != nil {
			t.Fatal(err)
		}
		got := net.NumParams()
		if got != c.want {
			t.Errorf("%s/%d classes: %d parameters, the architecture has %d", c.name, c.classes, got, c.want)
		}
		if !nearPublished(got, c.published, 0.01) {
			t.Errorf("%s/%d classes: %d parameters, more than 1%% from the published %.2fM", c.name, c.classes, got, c.published/1e6)
		}
		t.Logf("%s (%d classes): %d parameters", c.name, c.classes, got)
	}

	// VGG16-BN's convolutional part alone: 14.7M in the literature.
	net, err := New(b, "vgg16-bn", []int{32, 32, 3}, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	convPart := 0
	for _, l := range net.Root.(*nn.Sequential).Layers {
		if _, ok := l.(*nn.Flatten); ok {
			break
		}
		for _, p := range l.Params() {
			if p.Kind != nn.Stat {
				convPart += p.W.Len()
			}
		}
	}
	if want := vggConvParams(3); convPart != want || !nearPublished(convPart, 14.7e6, 0.01) {
		t.Errorf("vgg16-bn convolutions: %d parameters, want %d (≈ 14.7M)", convPart, want)
	}
	t.Logf("vgg16-bn convolutions: %d parameters", convPart)
}

// Forward multiply-adds per 32×32 image as usually quoted (0.56G for the
// CIFAR ResNet-18, 5.25G for WRN-28-10, 0.31G for VGG16's convolutions, to
// which docs/PAPER.md's two FC-4096 layers add 0.019G): a check that the strides
// and widths are where they should be, not only the weights.
func TestCIFARModelWork(t *testing.T) {
	for _, c := range []struct {
		name string
		gmac float64
	}{{"resnet18", 0.56}, {"wrn28-10", 5.25}, {"vgg16-bn", 0.313 + 0.019}} {
		net, err := New(nn.NewCPU(), c.name, []int{32, 32, 3}, 10, 1)
		if err != nil {
			t.Fatal(err)
		}
		fwd, _ := net.FLOPs(1)
		if got := float64(fwd) / 2e9; math.Abs(got-c.gmac) > 0.02*c.gmac {
			t.Errorf("%s: %.3f G multiply-adds per image, published %.2f", c.name, got, c.gmac)
		}
	}
}

func TestCIFARModelShapes(t *testing.T) {
	b := nn.NewCPU()
	for _, c := range []struct {
		name    string
		in      []int
		classes int
	}{
		{"resnet18", []int{32, 32, 3}, 10},
		{"resnet18", []int{28, 28, 1}, 10}, // MNIST-shaped
		{"resnet18", []int{8, 8, 3}, 7},    // the smallest it accepts
		{"resnet34", []int{33, 17, 3}, 100},
		{"wrn16-4", []int{32, 32, 3}, 100},
		{"wrn16-4", []int{5, 9, 2}, 3},
		{"vgg16-bn", []int{32, 32, 3}, 10},
		{"vgg16-bn", []int{64, 48, 3}, 10}, // FC input 512·2·1
	} {
		net, err := New(b, c.name, c.in, c.classes, 1)
		if err != nil {
			t.Errorf("%s%v: %v", c.name, c.in, err)
			continue
		}
		x := b.New(append([]int{2}, c.in...)...)
		y := net.Forward(&nn.Pass{B: b}, x)
		if len(y.Shape) != 2 || y.Shape[0] != 2 || y.Shape[1] != c.classes {
			t.Errorf("%s%v: output shape %v, want [2 %d]", c.name, c.in, y.Shape, c.classes)
		}
	}
	// VGG's classifier input follows the image size.
	net, err := New(b, "vgg16-bn", []int{64, 48, 3}, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range net.Root.(*nn.Sequential).Layers {
		if lin, ok := l.(*nn.Linear); ok {
			if lin.In != 512*2*1 {
				t.Errorf("vgg16-bn on 64×48: classifier input %d, want %d", lin.In, 512*2*1)
			}
			break
		}
	}
}

func TestCIFARModelsRejectTooSmallInputs(t *testing.T) {
	b := nn.NewCPU()
	for _, c := range []struct {
		name string
		in   []int
		want string // part of the message
	}{
		{"resnet18", []int{4, 32, 3}, "at least 8x8"},
		{"resnet18", []int{3072}, "want an image"},
		{"wrn28-10", []int{3, 3, 3}, "at least 4x4"},
		{"wrn16-4", []int{32, 32}, "want an image"},
		{"vgg16-bn", []int{28, 28, 1}, "at least 32x32"},
		{"vgg16-bn", []int{32, 31, 3}, "at least 32x32"},
	} {
		_, err := New(b, c.name, c.in, 10, 1)
		if err == nil {
			t.Errorf("%s accepted input %v", c.name, c.in)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.name) {
			t.Errorf("%s%v: error %q should name the model and say %q", c.name, c.in, err, c.want)
		}
	}
	if _, err := WideResNet([]int{32, 32, 3}, 20, 4, 10); err == nil {
		t.Error("WRN-20-4 (depth not 6n+4) accepted")
	}
}

// TestCIFARModelsForwardBackward runs one training pass of each model on two
// images and checks that every trainable parameter receives a finite
// gradient and that the gradient reaches every parameter tensor (a miswired
// residual or a dead branch leaves one all zero).
func TestCIFARModelsForwardBackward(t *testing.T) {
	names := []string{"resnet18", "resnet34", "wrn16-4", "vgg16-bn", "wrn28-10"}
	if testing.Short() {
		names = names[:4] // WRN-28-10 takes a few seconds more; its size is checked above
	}
	b := nn.NewCPU()
	for _, name := range names {
		net, err := New(b, name, []int{32, 32, 3}, 10, 1)
		if err != nil {
			t.Fatal(err)
		}
		x := b.New(2, 32, 32, 3)
		for i := range x.Data {
			x.Data[i] = float32(math.Sin(float64(i) * 0.37))
		}
		p := &nn.Pass{B: b, Train: true, Dropout: nn.DropoutKey(1, 0, 0)}
		logits := net.Forward(p, x)
		d := b.New(logits.Shape...)
		loss := b.SoftmaxCrossEntropy(logits, []int32{3, 7}, 0, d, nil)
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			t.Fatalf("%s: loss %v", name, loss)
		}
		b.Fill(net.G, 0)
		net.Backward(p, d)
		checkGradientsLive(t, name, net)
	}
}

func TestCIFARModelsDescribeTheirChoices(t *testing.T) {
	for name, want := range map[string]string{
		"resnet18": "[ours", // the stem choice docs/PAPER.md marks [ours]
		"wrn28-10": "no dropout",
		"vgg16-bn": "FC-4096",
	} {
		if !strings.Contains(About(name), want) {
			t.Errorf("About(%q) = %q: should mention %q", name, About(name), want)
		}
	}
}

// checkGradientsLive fails when a gradient is not finite or a parameter's
// gradient is all zero (a layer cut off from the loss).
func checkGradientsLive(t *testing.T, name string, net *nn.Net) {
	t.Helper()
	for _, v := range net.G.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("%s: non-finite gradient", name)
		}
	}
	for i, prm := range net.Params {
		nonzero := false
		for _, v := range prm.G.Data {
			if v != 0 {
				nonzero = true
				break
			}
		}
		if !nonzero {
			t.Errorf("%s: parameter %d (%s %v) has an all-zero gradient", name, i, prm.Name, prm.Shape)
		}
	}
}
