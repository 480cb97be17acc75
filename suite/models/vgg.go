package models

import (
	"fmt"

	"github.com/rst-bench/rst/suite/nn"
)

// vgg16 is configuration D of Simonyan & Zisserman: 3×3 convolution widths,
// 0 for a 2×2 max-pool.
var vgg16 = []int{64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0}

func init() {
	Register("vgg16-bn",
		"VGG16-BN: 13 conv3×3+BN+ReLU (64,64,M,128,128,M,256×3,M,512×3,M,512×3,M; bias-free convs, BN's β is the bias), then docs/PAPER.md §3's classifier: FC-4096+ReLU+dropout 0.5, FC-4096+ReLU+dropout 0.5, linear (FC input 512 for 32×32)",
		func(in []int, classes int) (nn.Layer, error) { return VGG(in, vgg16, []int{4096, 4096}, 0.5, classes) })
}

// VGG builds a VGG network with batch-norm: the convolution stack cfg (see
// vgg16), then hidden fully connected layers with ReLU and dropout p, then a
// linear classifier. Each 2×2 max-pool floors the side (s → ⌊s/2⌋), so the
// input needs at least 2^pools pixels a side; the classifier's input is
// 512·⌊H/32⌋·⌊W/32⌋ for VGG16.
func VGG(in []int, cfg []int, hidden []int, p float32, classes int) (nn.Layer, error) {
	h, w, c, err := image(in)
	if err != nil {
		return nil, err
	}
	pools := 0
	for _, v := range cfg {
		if v == 0 {
			pools++
		}
	}
	if need := 1 << pools; h < need || w < need {
		return nil, fmt.Errorf("input %dx%d: VGG max-pools %d times and needs at least %dx%d", h, w, pools, need, need)
	}
	var layers []nn.Layer
	cin := c
	for _, v := range cfg {
		if v == 0 {
			layers = append(layers, nn.NewMaxPool(2, 2))
			h, w = h/2, w/2
			continue
		}
		layers = append(layers, ConvBNReLU(cin, v, 1)...)
		cin = v
	}
	f := cin * h * w
	layers = append(layers, &nn.Flatten{})
	for _, n := range hidden {
		layers = append(layers, nn.NewLinear(f, n), &nn.ReLU{}, &nn.Dropout{P: p})
		f = n
	}
	layers = append(layers, nn.NewLinear(f, classes))
	return nn.Seq(layers...), nil
}
