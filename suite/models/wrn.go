package models

import (
	"fmt"

	"github.com/rst-bench/rst/suite/nn"
)

func init() {
	for _, v := range []struct{ depth, k int }{{28, 10}, {16, 4}, {10, 4}, {10, 1}} {
		name := fmt.Sprintf("wrn%d-%d", v.depth, v.k)
		n := (v.depth - 4) / 6
		about := fmt.Sprintf("WideResNet-%d-%d (pre-activation): 3×3 conv 16 stem; 3 groups of %d blocks BN-ReLU-conv3×3-BN-ReLU-conv3×3 of %d/%d/%d filters, stride 2 at groups 2–3, 1×1 conv projection on the pre-activated input where the shape changes; final BN-ReLU, global average pool, linear; no dropout (docs/PAPER.md §3)",
			v.depth, v.k, n, 16*v.k, 32*v.k, 64*v.k)
		Register(name, about, func(in []int, classes int) (nn.Layer, error) {
			return WideResNet(in, v.depth, v.k, classes)
		})
	}
}

// WideResNet is WRN-depth-k of Zagoruyko & Komodakis (2016) without
// dropout: a 16-filter 3×3 stem, three groups of (depth−4)/6 pre-activation
// basic blocks of 16k, 32k and 64k filters (the last two groups start with
// stride 2), a final BN-ReLU, global average pooling and a linear layer.
// Two stride-2 groups need at least 4×4 inputs.
func WideResNet(in []int, depth, k, classes int) (nn.Layer, error) {
	h, w, c, err := image(in)
	if err != nil {
		return nil, err
	}
	if depth < 10 || (depth-4)%6 != 0 || k < 1 {
		return nil, fmt.Errorf("WRN-%d-%d: depth must be 6n+4 with n ≥ 1 and the widening factor k ≥ 1", depth, k)
	}
	if h < 4 || w < 4 {
		return nil, fmt.Errorf("input %dx%d: WRN halves the image twice and needs at least 4x4", h, w)
	}
	n := (depth - 4) / 6
	layers := []nn.Layer{nn.NewConv2D(c, 16, 3, 1, 1)}
	cin := 16
	for g, width := range []int{16 * k, 32 * k, 64 * k} {
		for b := 0; b < n; b++ {
			stride := 1
			if g > 0 && b == 0 {
				stride = 2
			}
			layers = append(layers, PreActBlock(cin, width, stride))
			cin = width
		}
	}
	layers = append(layers, nn.NewBatchNormReLU(cin), &nn.GlobalAvgPool{}, nn.NewLinear(cin, classes))
	return nn.Seq(layers...), nil
}

// PreActBlock is the wide ResNet's block. With an identity shortcut it is
// x + conv(ReLU(BN(conv(ReLU(BN(x)))))). When the shape changes, the block
// pre-activates first and feeds ReLU(BN(x)) to both the body and the 1×1
// projection, as the reference implementation does; the projection has no
// BN of its own, which keeps the published parameter count (36.5M for
// WRN-28-10).
func PreActBlock(in, out, stride int) nn.Layer {
	conv := []nn.Layer{
		nn.NewConv2D(in, out, 3, stride, 1),
		nn.NewBatchNormReLU(out),
		nn.NewConv2D(out, out, 3, 1, 1),
	}
	if stride == 1 && in == out {
		return &nn.Residual{Body: nn.Seq(append([]nn.Layer{nn.NewBatchNormReLU(in)}, conv...)...)}
	}
	return nn.Seq(nn.NewBatchNormReLU(in),
		&nn.Residual{Body: nn.Seq(conv...), Shortcut: nn.NewConv2D(in, out, 1, stride, 0)})
}
