package models

import (
	"fmt"
	"strings"

	"github.com/rst-bench/rst/suite/nn"
)

// The ImageNet models of the paper's Table 4 (ResNet-50 and ResNet-101) and
// torchvision's VGG16-BN, built as torchvision builds them. The suite's
// initialisation is torchvision's for the ResNets: Kaiming-normal fan-out
// convolutions, batch-norm γ = 1 and β = 0 (the blocks' last γ is not
// zeroed: torchvision's zero_init_residual is off by default), and the
// classifier uniform in ±1/√fan_in, weights and bias (PyTorch's nn.Linear
// default). VGG16-BN's classifier keeps that suite init, where torchvision
// draws N(0, 0.01) weights and zero biases.

// bottleneckExpansion is the ratio of a bottleneck block's output channels
// to its width.
const bottleneckExpansion = 4

func init() {
	for _, v := range []struct {
		name   string
		blocks []int
	}{
		{"resnet50", []int{3, 4, 6, 3}},
		{"resnet101", []int{3, 4, 23, 3}},
	} {
		depth := bottleneckDepth(v.blocks)
		about := fmt.Sprintf("ImageNet ResNet-%d as torchvision's resnet%d (v1.5): 7×7/2 conv 64 stem (pad 3) + BN + ReLU, 3×3/2 max-pool (pad 1); [%s] bottleneck blocks 1×1 conv-BN-ReLU, 3×3 conv-BN-ReLU, 1×1 conv-BN of widths 64/128/256/512 expanded ×4 to 256/512/1024/2048, stride 2 on the 3×3 conv of the first block of stages 2–4, 1×1 conv+BN projection where the shape changes, ReLU after the join; global average pool, linear; bias-free convs; the blocks' last BN γ starts at 1 (no zero-init, torchvision's default); inputs of at least 32×32, final map ⌈H/32⌉×⌈W/32⌉ (7×7 at 224)",
			depth, depth, strings.Trim(strings.Join(strings.Fields(fmt.Sprint(v.blocks)), ","), "[]"))
		Register(v.name, about, func(in []int, classes int) (nn.Layer, error) {
			return ResNetImageNet(in, []int{64, 128, 256, 512}, v.blocks, classes)
		})
	}
	Register("vgg16-bn-imagenet",
		"ImageNet VGG16-BN as torchvision's vgg16_bn at 224×224: 13 conv3×3+BN+ReLU (64,64,M,128,128,M,256×3,M,512×3,M,512×3,M with 2×2 max-pools), the 7×7×512 map flattened (torchvision's adaptive 7×7 average pool is the identity there; sides 224–255 only), FC-4096+ReLU+dropout 0.5, FC-4096+ReLU+dropout 0.5, linear; [ours: bias-free convs, BN's β is the bias (torchvision's 13 conv biases, 4,224 weights, are redundant before BN); the suite's ±1/√fan_in classifier init, not torchvision's N(0, 0.01)]",
		VGG16ImageNet)
}

// bottleneckDepth counts the weighted layers of a bottleneck ResNet: the
// stem, three convolutions per block and the classifier.
func bottleneckDepth(blocks []int) int {
	d := 2
	for _, b := range blocks {
		d += 3 * b
	}
	return d
}

// ResNetImageNet is the bottleneck ResNet of He et al. (2016) as
// torchvision builds it (v1.5, the stride on the 3×3 convolution): a 7×7
// stride-2 stem of widths[0] filters with BN and ReLU, a 3×3 stride-2
// max-pool with padding 1, then one stage per entry of blocks of
// bottleneck blocks of width widths[i] and 4·widths[i] outputs, the first
// block of every stage after the first striding by 2; then global average
// pooling and a linear classifier. ResNet-50 is widths 64/128/256/512 and
// blocks [3,4,6,3]; narrower widths give the same topology at lower cost
// (tests use them).
//
// Every stride-2 layer maps a side s to ⌈s/2⌉, so a side s ends at ⌈s/32⌉:
// 224 → 112 (stem) → 56 (pool) → 56, 28, 14, 7 (stages). These are ImageNet
// models; inputs down to 32×32 are accepted (the last stage is then 1×1:
// 32 → 16 → 8 → 8, 4, 2, 1), smaller ones are refused.
func ResNetImageNet(in []int, widths, blocks []int, classes int) (nn.Layer, error) {
	h, w, c, err := image(in)
	if err != nil {
		return nil, err
	}
	if len(widths) != len(blocks) || len(blocks) == 0 {
		return nil, fmt.Errorf("resnet: %d widths for %d stages", len(widths), len(blocks))
	}
	if h < 32 || w < 32 {
		return nil, fmt.Errorf("input %dx%d: this ImageNet ResNet needs at least 32x32 (its stem, max-pool and stages leave ⌈H/32⌉×⌈W/32⌉; 7×7 at 224×224)", h, w)
	}
	layers := []nn.Layer{
		nn.NewConv2D(c, widths[0], 7, 2, 3), nn.NewBatchNormReLU(widths[0]),
		&nn.Pool{Max: true, K: 3, Stride: 2, Pad: 1},
	}
	cin := widths[0]
	for s, n := range blocks {
		for b := 0; b < n; b++ {
			stride := 1
			if s > 0 && b == 0 {
				stride = 2
			}
			layers = append(layers, Bottleneck(cin, widths[s], stride))
			cin = bottleneckExpansion * widths[s]
		}
	}
	layers = append(layers, &nn.GlobalAvgPool{}, nn.NewLinear(cin, classes))
	return nn.Seq(layers...), nil
}

// Bottleneck is torchvision's post-activation bottleneck block: 1×1 conv
// to width, BN, ReLU; 3×3 conv with the block's stride, BN, ReLU; 1×1 conv
// to 4·width, BN; plus the shortcut, then ReLU. The shortcut is the
// identity when the shape is kept, else a 1×1 convolution with the
// block's stride and BN. The body ends in a BN without ReLU, so
// nn.Residual writes the sum into that BN's output buffer.
func Bottleneck(in, width, stride int) nn.Layer {
	out := bottleneckExpansion * width
	body := nn.Seq(
		nn.NewConv2D(in, width, 1, 1, 0), nn.NewBatchNormReLU(width),
		nn.NewConv2D(width, width, 3, stride, 1), nn.NewBatchNormReLU(width),
		nn.NewConv2D(width, out, 1, 1, 0), nn.NewBatchNorm(out),
	)
	var shortcut nn.Layer
	if stride != 1 || in != out {
		shortcut = nn.Seq(nn.NewConv2D(in, out, 1, stride, 0), nn.NewBatchNorm(out))
	}
	return &nn.Residual{Body: body, Shortcut: shortcut, ReLU: true}
}

// VGG16ImageNet is torchvision's vgg16_bn for 224×224 inputs: VGG with
// the vgg16 convolutions and two hidden FC-4096 layers with dropout 0.5.
// Five 2×2 max-pools floor the side to ⌊s/32⌋, which must be 7, the map
// torchvision's adaptive average pool produces; sides 224–255 give it
// without that pool (torchvision's pool is then the identity).
func VGG16ImageNet(in []int, classes int) (nn.Layer, error) {
	h, w, _, err := image(in)
	if err != nil {
		return nil, err
	}
	if h/32 != 7 || w/32 != 7 {
		return nil, fmt.Errorf("input %dx%d: this ImageNet VGG's classifier takes the 7×7 map of a 224x224 input (sides 224–255); other sizes would need torchvision's adaptive average pool, which the suite lacks", h, w)
	}
	return VGG(in, vgg16, []int{4096, 4096}, 0.5, classes)
}
