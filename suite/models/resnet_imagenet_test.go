package models

import (
	"math"
	"strings"
	"testing"

	"github.com/rst-bench/rst/suite/nn"
)

// bottleneckParams counts a torchvision bottleneck ResNet from its
// description, independently of the builder: the 7×7 stem with BN, three
// convolutions with BN per block, a 1×1 conv+BN projection in the first
// block of every stage, and the classifier.
func bottleneckParams(c int, blocks []int, classes int) int {
	n := archConv(7, c, 64) + archBN(64)
	in := 64
	for s, nb := range blocks {
		width := 64 << s
		out := 4 * width
		for b := 0; b < nb; b++ {
			n += archConv(1, in, width) + archBN(width) + archConv(3, width, width) + archBN(width) +
				archConv(1, width, out) + archBN(out)
			if b == 0 {
				n += archConv(1, in, out) + archBN(out)
			}
			in = out
		}
	}
	return n + archFC(in, classes)
}

// treeParams counts the trainable scalars of a layer tree without building
// it (VGG16 at 224×224 has 138M of them: a built net would hold 1.1 GB).
func treeParams(l nn.Layer) int {
	n := 0
	for _, p := range l.Params() {
		if p.Kind != nn.Stat {
			k := 1
			for _, d := range p.Shape {
				k *= d
			}
			n += k
		}
	}
	return n
}

func build(t *testing.T, name string, in []int, classes int) nn.Layer {
	t.Helper()
	e, ok := registry[name]
	if !ok {
		t.Fatalf("%s is not registered", name)
	}
	root, err := e.build(in, classes)
	if err != nil {
		t.Fatalf("%s%v: %v", name, in, err)
	}
	return root
}

// torchvision's counts (sum of p.numel() over model.parameters(); batch-norm
// running statistics are buffers there, and nn.Net keeps them apart in S).
func TestImageNetModelParameterCounts(t *testing.T) {
	b := nn.NewCPU()
	for _, c := range []struct {
		name        string
		torchvision int
		arch        int
	}{
		{"resnet50", 25_557_032, bottleneckParams(3, []int{3, 4, 6, 3}, 1000)},
		{"resnet101", 44_549_160, bottleneckParams(3, []int{3, 4, 23, 3}, 1000)},
	} {
		if c.arch != c.torchvision {
			t.Errorf("%s: the arithmetic gives %d, torchvision %d", c.name, c.arch, c.torchvision)
		}
		net, err := New(b, c.name, []int{224, 224, 3}, 1000, 1)
		if err != nil {
			t.Fatal(err)
		}
		if got := net.NumParams(); got != c.torchvision {
			t.Errorf("%s at 224×224×3, 1000 classes: %d parameters, torchvision has %d", c.name, got, c.torchvision)
		}
		// Running mean and variance of every BN: as many as its γ and β.
		bn := 0
		for _, p := range net.Params {
			if p.Kind == nn.Norm {
				bn += p.W.Len()
			}
		}
		if net.S.Len() != bn {
			t.Errorf("%s: %d running statistics for %d BN parameters", c.name, net.S.Len(), bn)
		}
		// The input size does not change the count; the classes only the head.
		if got := treeParams(build(t, c.name, []int{32, 32, 3}, 10)); got != c.torchvision-990*2049 {
			t.Errorf("%s at 32×32×3, 10 classes: %d parameters, want %d", c.name, got, c.torchvision-990*2049)
		}
		t.Logf("%s: %d parameters, %d running statistics", c.name, net.NumParams(), net.S.Len())
	}

	// vgg16_bn: torchvision's 138,365,992 includes a bias in each of the 13
	// convolutions (64+64+128+128+256·3+512·6 = 4,224), which the suite's
	// bias-free convolutions leave to BN's β.
	const convBiases = 2*64 + 2*128 + 3*256 + 6*512
	want := vggConvParams(3) + archFC(512*7*7, 4096) + archFC(4096, 4096) + archFC(4096, 1000)
	if want != 138_365_992-convBiases {
		t.Errorf("vgg16-bn-imagenet: the arithmetic gives %d, torchvision's count less its conv biases %d", want, 138_365_992-convBiases)
	}
	if got := treeParams(build(t, "vgg16-bn-imagenet", []int{224, 224, 3}, 1000)); got != want {
		t.Errorf("vgg16-bn-imagenet at 224×224×3, 1000 classes: %d parameters, want %d", got, want)
	}
	if !testing.Short() {
		net, err := New(b, "vgg16-bn-imagenet", []int{224, 224, 3}, 1000, 1)
		if err != nil {
			t.Fatal(err)
		}
		if net.NumParams() != want {
			t.Errorf("vgg16-bn-imagenet built: %d parameters, want %d", net.NumParams(), want)
		}
	}
}

// Forward multiply-adds of one 224×224 image against torchvision's
// published GFLOPS (which count multiply-adds): ResNet-50 4.09, ResNet-101
// 7.80, VGG16-BN 15.47. ResNet v1, with the stride on the first 1×1
// convolution, would be 3.86 and 7.57: this checks where the strides are.
func TestImageNetModelWork(t *testing.T) {
	for _, c := range []struct {
		name string
		gmac float64
	}{{"resnet50", 4.09}, {"resnet101", 7.80}, {"vgg16-bn-imagenet", 15.47}} {
		in := []int{224, 224, 3}
		// FLOPs reads only the tree and the input shape: no need to build.
		net := &nn.Net{Root: build(t, c.name, in, 1000), InShape: in}
		fwd, _ := net.FLOPs(1)
		got := float64(fwd) / 2e9
		if math.Abs(got-c.gmac) > 0.005*c.gmac {
			t.Errorf("%s: %.3f G multiply-adds per 224×224 image, torchvision %.2f", c.name, got, c.gmac)
		}
		t.Logf("%s: %.3f G multiply-adds per 224×224 image", c.name, got)
	}
}

// The spatial sizes of the doc comment: the stem and pool take 224 to 56,
// the stages end at 7; 32 ends at 1 and odd sizes round up.
func TestImageNetResNetShapes(t *testing.T) {
	for _, c := range []struct {
		in             []int
		afterPool, end []int
	}{
		{[]int{224, 224, 3}, []int{56, 56}, []int{7, 7}},
		{[]int{32, 32, 3}, []int{8, 8}, []int{1, 1}},
		{[]int{64, 64, 3}, []int{16, 16}, []int{2, 2}},
		{[]int{33, 47, 1}, []int{9, 12}, []int{2, 2}},
		{[]int{256, 160, 3}, []int{64, 40}, []int{8, 5}},
	} {
		root := build(t, "resnet50", c.in, 10).(*nn.Sequential)
		x := append([]int{2}, c.in...)
		for i, l := range root.Layers {
			if i == 3 && (x[1] != c.afterPool[0] || x[2] != c.afterPool[1] || x[3] != 64) {
				t.Errorf("resnet50%v: after the stem and max-pool %v, want %v×64", c.in, x, c.afterPool)
			}
			if _, ok := l.(*nn.GlobalAvgPool); ok && (x[1] != c.end[0] || x[2] != c.end[1] || x[3] != 2048) {
				t.Errorf("resnet50%v: last stage %v, want %v×2048", c.in, x, c.end)
			}
			x = l.OutShape(x)
		}
		if len(x) != 2 || x[0] != 2 || x[1] != 10 {
			t.Errorf("resnet50%v: output %v, want [2 10]", c.in, x)
		}
	}
	for _, c := range []struct {
		name string
		in   []int
		want string
	}{
		{"resnet50", []int{31, 224, 3}, "at least 32x32"},
		{"resnet101", []int{28, 28, 1}, "at least 32x32"},
		{"resnet50", []int{3072}, "want an image"},
		{"vgg16-bn-imagenet", []int{32, 32, 3}, "224x224"},
		{"vgg16-bn-imagenet", []int{256, 224, 3}, "224x224"},
	} {
		_, err := New(nn.NewCPU(), c.name, c.in, 10, 1)
		if err == nil {
			t.Errorf("%s accepted input %v", c.name, c.in)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.name) {
			t.Errorf("%s%v: error %q should name the model and say %q", c.name, c.in, err, c.want)
		}
	}
	// 255 still floors to a 7×7 map.
	if got := build(t, "vgg16-bn-imagenet", []int{255, 224, 3}, 10).OutShape([]int{1, 255, 224, 3}); got[1] != 10 {
		t.Errorf("vgg16-bn-imagenet on 255×224: output %v", got)
	}
}

// Every block is a residual whose body ends in a BN without ReLU (so the
// sum goes into that BN's buffer), strides on its 3×3 convolution, and has
// a projection exactly where the shape changes: the first block of each
// stage.
func TestBottleneckWiring(t *testing.T) {
	root := build(t, "resnet101", []int{224, 224, 3}, 1000).(*nn.Sequential)
	blocks, projections := 0, 0
	for _, l := range root.Layers {
		r, ok := l.(*nn.Residual)
		if !ok {
			continue
		}
		blocks++
		body := r.Body.(*nn.Sequential).Layers
		if bn, ok := body[len(body)-1].(*nn.BatchNorm); !ok || bn.ReLU || !r.ReLU {
			t.Fatalf("block %d: the body must end in a plain BN and the join apply the ReLU", blocks)
		}
		c1, c3 := body[0].(*nn.Conv2D), body[2].(*nn.Conv2D)
		if c1.K != 1 || c1.Stride != 1 || c3.K != 3 || c3.Pad != 1 {
			t.Errorf("block %d: convolutions %d×%d/%d, %d×%d/%d", blocks, c1.K, c1.K, c1.Stride, c3.K, c3.K, c3.Stride)
		}
		if r.Shortcut != nil {
			projections++
			sc := r.Shortcut.(*nn.Sequential).Layers[0].(*nn.Conv2D)
			if sc.Stride != c3.Stride || sc.K != 1 {
				t.Errorf("block %d: projection %d×%d/%d for a body striding %d", blocks, sc.K, sc.K, sc.Stride, c3.Stride)
			}
		} else if c3.Stride != 1 {
			t.Errorf("block %d strides with an identity shortcut", blocks)
		}
	}
	if blocks != 33 || projections != 4 {
		t.Errorf("resnet101: %d blocks with %d projections, want 33 and 4", blocks, projections)
	}
}

// One training pass of each ResNet on two small images (64×64 keeps the
// last stage 2×2, so its batch-norms see 8 values a channel): finite loss,
// and a finite gradient that reaches every parameter tensor.
func TestImageNetModelsForwardBackward(t *testing.T) {
	b := nn.NewCPU()
	for _, c := range []struct {
		name string
		in   []int
	}{{"resnet50", []int{64, 64, 3}}, {"resnet101", []int{32, 32, 3}}, {"vgg16-bn-imagenet", []int{224, 224, 3}}} {
		if testing.Short() && c.name == "vgg16-bn-imagenet" {
			continue // 138M parameters, 46 GFLOP a pass: its size and work are checked above
		}
		net, err := New(b, c.name, c.in, 1000, 1)
		if err != nil {
			t.Fatal(err)
		}
		x := b.New(append([]int{2}, c.in...)...)
		for i := range x.Data {
			x.Data[i] = float32(math.Sin(float64(i) * 0.37))
		}
		p := &nn.Pass{B: b, Train: true, Dropout: nn.DropoutKey(1, 0, 0)}
		logits := net.Forward(p, x)
		if len(logits.Shape) != 2 || logits.Shape[0] != 2 || logits.Shape[1] != 1000 {
			t.Fatalf("%s: logits %v, want [2 1000]", c.name, logits.Shape)
		}
		d := b.New(logits.Shape...)
		loss := b.SoftmaxCrossEntropy(logits, []int32{3, 999}, 0, d, nil)
		// At initialisation the logits are small: the loss is near ln 1000.
		if math.IsNaN(loss) || math.IsInf(loss, 0) || loss > 3*math.Log(1000) {
			t.Fatalf("%s: loss %v at initialisation (ln 1000 = %.2f)", c.name, loss, math.Log(1000))
		}
		b.Fill(net.G, 0)
		net.Backward(p, d)
		checkGradientsLive(t, c.name, net)
		t.Logf("%s%v: loss %.3f", c.name, c.in, loss)
	}
}

func TestImageNetModelsDescribeThemselves(t *testing.T) {
	for name, want := range map[string][]string{
		"resnet50":          {"ResNet-50", "[3,4,6,3]", "v1.5", "no zero-init"},
		"resnet101":         {"ResNet-101", "[3,4,23,3]", "v1.5"},
		"vgg16-bn-imagenet": {"224", "[ours", "bias-free"},
	} {
		for _, w := range want {
			if !strings.Contains(About(name), w) {
				t.Errorf("About(%q) = %q: should mention %q", name, About(name), w)
			}
		}
	}
}
