package models

import (
	"fmt"
	"sort"
	"strings"

	"github.com/rst-bench/rst/suite/nn"
)

// Builder makes a model's layer tree for one sample's input shape (H, W, C)
// and a number of classes.
type Builder func(in []int, classes int) (nn.Layer, error)

type entry struct {
	build Builder
	about string
}

var registry = map[string]entry{}

// Register adds a model under name; about is the one-line description shown
// by `rst train -h` and recorded in run configs (say there which choices are
// the suite's own).
func Register(name, about string, b Builder) { registry[name] = entry{build: b, about: about} }

// Names lists the registered models.
func Names() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// About is a model's one-line description.
func About(name string) string { return registry[name].about }

// New builds model name on backend b for inputs of shape in, with its
// parameters initialised from seed.
func New(b nn.Backend, name string, in []int, classes int, seed uint64) (*nn.Net, error) {
	e, ok := registry[name]
	if !ok {
		return nil, fmt.Errorf("unknown model %q: choose one of %s", name, strings.Join(Names(), ", "))
	}
	if classes < 2 {
		return nil, fmt.Errorf("model %s: %d classes: need at least 2", name, classes)
	}
	root, err := e.build(in, classes)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", name, err)
	}
	net, err := nn.Build(b, root, in)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", name, err)
	}
	net.Init(seed)
	return net, nil
}

func image(in []int) (h, w, c int, err error) {
	if len(in) != 3 || in[0] < 1 || in[1] < 1 || in[2] < 1 {
		return 0, 0, 0, fmt.Errorf("input shape %v: want an image [H, W, C]", in)
	}
	return in[0], in[1], in[2], nil
}

func init() {
	Register("mlp", "MLP: flatten, 512-ReLU, 512-ReLU, linear", func(in []int, classes int) (nn.Layer, error) {
		return MLP(in, []int{512, 512}, classes), nil
	})
	Register("smallcnn", "reference small CNN of docs/DESIGN.md: conv32, conv32, pool, conv64, pool, linear; BN+ReLU after each conv",
		func(in []int, classes int) (nn.Layer, error) {
			h, w, c, err := image(in)
			if err != nil {
				return nil, err
			}
			if h < 4 || w < 4 {
				return nil, fmt.Errorf("input %dx%d: smallcnn pools twice and needs at least 4x4", h, w)
			}
			return SmallCNN(h, w, c, classes), nil
		})
	// Wider small CNNs, for the cpu profile's calibration: more parameters
	// per image fit a small training set sooner, the regime in which
	// sharpness-aware training is known to help.
	for _, k := range []int{2, 4} {
		Register(fmt.Sprintf("smallcnn-w%d", k),
			fmt.Sprintf("the small CNN at %d× its width: conv%d, conv%d, pool, conv%d, pool, linear; BN+ReLU after each conv", k, 32*k, 32*k, 64*k),
			func(in []int, classes int) (nn.Layer, error) {
				h, w, c, err := image(in)
				if err != nil {
					return nil, err
				}
				if h < 4 || w < 4 {
					return nil, fmt.Errorf("input %dx%d: smallcnn-w%d pools twice and needs at least 4x4", h, w, k)
				}
				return SmallCNNWidth(h, w, c, classes, k), nil
			})
	}
}

// MLP is a multilayer perceptron with ReLU between its hidden layers.
func MLP(in []int, hidden []int, classes int) nn.Layer {
	f := 1
	for _, d := range in {
		f *= d
	}
	layers := []nn.Layer{&nn.Flatten{}}
	for _, h := range hidden {
		layers = append(layers, nn.NewLinear(f, h), &nn.ReLU{})
		f = h
	}
	return nn.Seq(append(layers, nn.NewLinear(f, classes))...)
}

// ConvBNReLU is the 3×3 convolution, batch-norm and ReLU unit.
func ConvBNReLU(in, out, stride int) []nn.Layer {
	return []nn.Layer{nn.NewConv2D(in, out, 3, stride, 1), nn.NewBatchNormReLU(out)}
}

// SmallCNN is the reference CNN of docs/DESIGN.md: three conv-BN-ReLU units of
// 32, 32 and 64 filters with a 2×2 max-pool after the second and third,
// then a linear classifier. On 3×32×32 inputs at batch 128 one forward and
// backward pass is 11.6 GFLOP, the figure docs/DESIGN.md measured other engines on.
func SmallCNN(h, w, c, classes int) nn.Layer { return SmallCNNWidth(h, w, c, classes, 1) }

// SmallCNNWidth is the small CNN with k times its filters: 32k, 32k, 64k.
func SmallCNNWidth(h, w, c, classes, k int) nn.Layer {
	var l []nn.Layer
	l = append(l, ConvBNReLU(c, 32*k, 1)...)
	l = append(l, ConvBNReLU(32*k, 32*k, 1)...)
	l = append(l, nn.NewMaxPool(2, 2))
	l = append(l, ConvBNReLU(32*k, 64*k, 1)...)
	l = append(l, nn.NewMaxPool(2, 2), &nn.Flatten{}, nn.NewLinear(64*k*(h/4)*(w/4), classes))
	return nn.Seq(l...)
}
