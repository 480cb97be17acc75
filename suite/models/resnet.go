package models

import (
	"fmt"
	"strings"

	"github.com/rst-bench/rst/suite/nn"
)

// The stem is the usual CIFAR one (64 filters, BN, ReLU), not the official
// code's (16 filters, no ReLU): docs/PAPER.md §3 marks this choice [ours], so the
// description recorded with every run says so.
const resnetStemNote = "3×3 conv 64 stem + BN + ReLU [ours: the usual CIFAR stem; the paper's official code uses 16 filters and no ReLU]"

func init() {
	for _, v := range []struct {
		name   string
		blocks []int
	}{
		{"resnet18", []int{2, 2, 2, 2}},
		{"resnet34", []int{3, 4, 6, 3}},
	} {
		about := fmt.Sprintf("CIFAR ResNet-%d: %s; [%s] basic blocks of 64/128/256/512 filters, stride 2 at stages 2–4 with 1×1 conv+BN projection shortcuts; global average pool, linear",
			resnetDepth(v.blocks), resnetStemNote, strings.Trim(strings.Join(strings.Fields(fmt.Sprint(v.blocks)), ","), "[]"))
		Register(v.name, about, func(in []int, classes int) (nn.Layer, error) {
			return ResNetCIFAR(in, []int{64, 128, 256, 512}, v.blocks, classes)
		})
	}
}

// resnetDepth counts the weighted layers of a basic-block ResNet: the stem,
// two convolutions per block and the classifier.
func resnetDepth(blocks []int) int {
	d := 2
	for _, b := range blocks {
		d += 2 * b
	}
	return d
}

// ResNetCIFAR is the CIFAR variant of a basic-block ResNet (He et al. 2016
// as adapted to 32×32 inputs): a stride-1 3×3 stem of widths[0] filters
// with BN and ReLU (no max-pool), then one stage per entry of blocks with
// widths[i] filters, the first block of every stage after the first
// striding by 2; then global average pooling and a linear classifier.
// Narrower widths give the same topology at lower cost (tests use them).
//
// A stride-2 stage maps a side s to ⌈s/2⌉, so any size gives consistent
// shapes; the builder still asks for at least 2^(stages−1) pixels a side so
// that every stride-2 stage really halves the image.
func ResNetCIFAR(in []int, widths, blocks []int, classes int) (nn.Layer, error) {
	return resnet(in, widths, blocks, classes, func(c int) ([]nn.Layer, int) {
		return ConvBNReLU(c, widths[0], 1), widths[0]
	})
}

// resnet builds the stages and the head after the stem that stem returns
// (its layers and its output channels) for c input channels.
func resnet(in []int, widths, blocks []int, classes int, stem func(c int) ([]nn.Layer, int)) (nn.Layer, error) {
	h, w, c, err := image(in)
	if err != nil {
		return nil, err
	}
	if len(widths) != len(blocks) || len(blocks) == 0 {
		return nil, fmt.Errorf("resnet: %d widths for %d stages", len(widths), len(blocks))
	}
	if need := 1 << (len(blocks) - 1); h < need || w < need {
		return nil, fmt.Errorf("input %dx%d: this ResNet halves the image %d times and needs at least %dx%d", h, w, len(blocks)-1, need, need)
	}
	layers, cin := stem(c)
	for s, n := range blocks {
		for b := 0; b < n; b++ {
			stride := 1
			if s > 0 && b == 0 {
				stride = 2
			}
			layers = append(layers, BasicBlock(cin, widths[s], stride)...)
			cin = widths[s]
		}
	}
	layers = append(layers, &nn.GlobalAvgPool{}, nn.NewLinear(cin, classes))
	return nn.Seq(layers...), nil
}

// BasicBlock is ResNet's post-activation basic block: conv3×3-BN-ReLU-
// conv3×3-BN plus the shortcut, then ReLU. The shortcut is the identity
// when the shape is kept, else a 1×1 convolution with BN (option B of He
// et al.; the usual CIFAR ResNet-18).
func BasicBlock(in, out, stride int) []nn.Layer {
	body := nn.Seq(
		nn.NewConv2D(in, out, 3, stride, 1), nn.NewBatchNormReLU(out),
		nn.NewConv2D(out, out, 3, 1, 1), nn.NewBatchNorm(out),
	)
	var shortcut nn.Layer
	if stride != 1 || in != out {
		shortcut = nn.Seq(nn.NewConv2D(in, out, 1, stride, 0), nn.NewBatchNorm(out))
	}
	return []nn.Layer{&nn.Residual{Body: body, Shortcut: shortcut, ReLU: true}}
}
