package models

import (
	"fmt"

	"github.com/rst-bench/rst/suite/nn"
)

// The official code's architectures, each under its own name beside the
// suite's (docs/DEVIATIONS.md): the ResNet-18 of the paper's official code
// and the WideResNet of the SAM repository it forks.

func init() {
	Register("resnet18-official",
		"CIFAR ResNet-18 as the paper's official code builds it: 3×3 conv 16 stem + BN, no ReLU; [2,2,2,2] basic blocks of 64/128/256/512 filters, the first block of stage 1 projecting 16→64 and stride 2 at stages 2–4, all projections 1×1 conv+BN; global average pool, linear",
		func(in []int, classes int) (nn.Layer, error) {
			return ResNetOfficial(in, []int{64, 128, 256, 512}, []int{2, 2, 2, 2}, classes)
		})
	for _, v := range []struct{ depth, k int }{{28, 10}, {16, 4}, {10, 1}} {
		n := (v.depth - 4) / 6
		about := fmt.Sprintf("WideResNet-%d-%d as the SAM repository builds it (sam_jax/models/wide_resnet.py): 3×3 conv 16 stem; 3 groups of %d pre-activation blocks BN-ReLU-conv3×3-BN-ReLU-conv3×3 of %d/%d/%d filters, stride 2 at groups 2–3; the first block of group 1 activates before branching; parameter-free shortcuts: 2×2 average pool where the block strides and zero channels appended where it widens; final BN-ReLU, global average pool, linear; no dropout",
			v.depth, v.k, n, 16*v.k, 32*v.k, 64*v.k)
		Register(fmt.Sprintf("wrn%d-%d-official", v.depth, v.k), about, func(in []int, classes int) (nn.Layer, error) {
			return WideResNetOfficial(in, v.depth, v.k, classes)
		})
	}
}

// ResNetOfficial is ResNetCIFAR with the official code's stem: 16 filters
// and BN without a ReLU, so the first block of stage 1 widens 16→widths[0]
// through a 1×1 conv+BN projection.
func ResNetOfficial(in []int, widths, blocks []int, classes int) (nn.Layer, error) {
	return resnet(in, widths, blocks, classes, func(c int) ([]nn.Layer, int) {
		return []nn.Layer{nn.NewConv2D(c, 16, 3, 1, 1), nn.NewBatchNorm(16)}, 16
	})
}

// WideResNetOfficial is WRN-depth-k as the SAM repository writes it: the
// blocks are pre-activation like WideResNet's, but no shortcut has
// weights. Where a block changes the shape, its input x (raw, not
// pre-activated) goes through a 2×2 average pool when the block strides
// and gets zero channels appended when it widens. The first block of the
// first group applies BN-ReLU before branching, so that block's shortcut
// carries the activated input. Each stride-2 group needs an even side:
// the input must be a multiple of 4 pixels a side.
func WideResNetOfficial(in []int, depth, k, classes int) (nn.Layer, error) {
	h, w, c, err := image(in)
	if err != nil {
		return nil, err
	}
	if depth < 10 || (depth-4)%6 != 0 || k < 1 {
		return nil, fmt.Errorf("WRN-%d-%d: depth must be 6n+4 with n ≥ 1 and the widening factor k ≥ 1", depth, k)
	}
	if h < 4 || w < 4 || h%4 != 0 || w%4 != 0 {
		return nil, fmt.Errorf("input %dx%d: the official WRN average-pools its shortcuts twice by 2 and needs sides that are multiples of 4 (at least 4x4)", h, w)
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
			conv := []nn.Layer{nn.NewConv2D(cin, width, 3, stride, 1), nn.NewBatchNormReLU(width), nn.NewConv2D(width, width, 3, 1, 1)}
			var shortcut nn.Layer
			var sc []nn.Layer
			if stride != 1 {
				sc = append(sc, nn.NewAvgPool(stride, stride))
			}
			if width != cin {
				sc = append(sc, &ChannelPad{In: cin, Out: width})
			}
			if len(sc) > 0 {
				shortcut = nn.Seq(sc...)
			}
			if g == 0 && b == 0 {
				// activate_before_residual: BN-ReLU once, shared by both branches.
				layers = append(layers, nn.NewBatchNormReLU(cin), &nn.Residual{Body: nn.Seq(conv...), Shortcut: shortcut})
			} else {
				body := nn.Seq(append([]nn.Layer{nn.NewBatchNormReLU(cin)}, conv...)...)
				layers = append(layers, &nn.Residual{Body: body, Shortcut: shortcut})
			}
			cin = width
		}
	}
	layers = append(layers, nn.NewBatchNormReLU(cin), &nn.GlobalAvgPool{}, nn.NewLinear(cin, classes))
	return nn.Seq(layers...), nil
}

// ChannelPad appends Out − In zero channels to an NHWC tensor: the
// parameter-free widening of the official WRN's shortcuts. It runs as a
// product with the fixed In×Out matrix [I 0], whose backward keeps the
// first In channels of the incoming gradient; both are exact.
type ChannelPad struct {
	In, Out int
	embed   *nn.Tensor
	views   map[*nn.Tensor]*nn.Tensor
	outs    map[padKey]*nn.Tensor
	inShape []int
}

func (l *ChannelPad) Params() []*nn.Param { return nil }

func (l *ChannelPad) OutShape(in []int) []int {
	out := append([]int(nil), in...)
	out[len(out)-1] = l.Out
	return out
}

// matrix is t viewed as [rows, channels], cached so a step allocates nothing.
func (l *ChannelPad) matrix(b nn.Backend, t *nn.Tensor) *nn.Tensor {
	if v, ok := l.views[t]; ok && v.Len() == t.Len() {
		return v
	}
	if l.views == nil {
		l.views = map[*nn.Tensor]*nn.Tensor{}
	}
	v := b.View(t, 0, t.Rows(), t.Cols())
	l.views[t] = v
	return v
}

type padKey struct{ tag, n, h, w, c int }

// buffer is the layer's output (tag 1) or input-gradient (tag 2) tensor
// for a 4-dimensional shape, allocated once.
func (l *ChannelPad) buffer(b nn.Backend, shape []int, tag int) *nn.Tensor {
	key := padKey{tag, shape[0], shape[1], shape[2], shape[3]}
	if t, ok := l.outs[key]; ok {
		return t
	}
	if l.outs == nil {
		l.outs = map[padKey]*nn.Tensor{}
	}
	t := b.New(shape...)
	l.outs[key] = t
	return t
}

func (l *ChannelPad) Forward(p *nn.Pass, x *nn.Tensor) *nn.Tensor {
	b := p.B
	if l.embed == nil {
		e := make([]float32, l.In*l.Out)
		for i := 0; i < l.In; i++ {
			e[i*l.Out+i] = 1
		}
		l.embed = b.New(l.In, l.Out)
		b.Upload(l.embed, e)
	}
	l.inShape = x.Shape
	y := l.buffer(b, l.OutShape(x.Shape), 1)
	b.MatMul(false, false, 1, l.matrix(b, x), l.embed, 0, l.matrix(b, y))
	return y
}

func (l *ChannelPad) Backward(p *nn.Pass, dy *nn.Tensor, needDX bool) *nn.Tensor {
	if !needDX {
		return nil
	}
	b := p.B
	dx := l.buffer(b, l.inShape, 2)
	b.MatMul(false, true, 1, l.matrix(b, dy), l.embed, 0, l.matrix(b, dx))
	return dx
}
