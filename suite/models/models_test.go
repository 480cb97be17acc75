package models

import (
	"testing"

	"github.com/rst-bench/rst/suite/nn"
)

func TestShapesAndSizes(t *testing.T) {
	b := nn.NewCPU()
	for _, c := range []struct {
		name    string
		in      []int
		classes int
		params  int
		fwd     int64 // GFLOP·1e9 per forward at batch 128, when checked
	}{
		{"mlp", []int{28, 28, 1}, 10, 784*512 + 512 + 512*512 + 512 + 512*10 + 10, 0},
		// convs 3·9·32 + 32·9·32 + 32·9·64, BN 2·(32+32+64), linear 64·8·8·10+10
		{"smallcnn", []int{32, 32, 3}, 10, 864 + 9216 + 18432 + 256 + 40970, 0},
		{"smallcnn", []int{28, 28, 1}, 10, 288 + 9216 + 18432 + 256 + 64*7*7*10 + 10, 0},
	} {
		net, err := New(b, c.name, c.in, c.classes, 1)
		if err != nil {
			t.Fatal(err)
		}
		if got := net.NumParams(); got != c.params {
			t.Errorf("%s%v: %d parameters, want %d", c.name, c.in, got, c.params)
		}
		x := b.New(append([]int{5}, c.in...)...)
		y := net.Forward(&nn.Pass{B: b}, x)
		if len(y.Shape) != 2 || y.Shape[0] != 5 || y.Shape[1] != c.classes {
			t.Errorf("%s%v: output shape %v, want [5 %d]", c.name, c.in, y.Shape, c.classes)
		}
	}
}

func TestSmallCNNWorkIsTheReferenceWorkload(t *testing.T) {
	net, err := New(nn.NewCPU(), "smallcnn", []int{32, 32, 3}, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	fwd, bwd := net.FLOPs(128)
	// 30.1 MFLOP per image forward; the first convolution's input gradient
	// is not computed, so backward is a little under twice forward.
	if fwd != 128*(2*1024*27*32+2*1024*288*32+2*256*288*64+2*4096*10) {
		t.Errorf("forward %d FLOP", fwd)
	}
	if total := float64(fwd+bwd) / 1e9; total < 11.2 || total > 11.7 {
		t.Errorf("forward+backward %.2f GFLOP, docs/DESIGN.md's reference is 11.6", total)
	}
}

func TestUnknownModelAndBadShapes(t *testing.T) {
	b := nn.NewCPU()
	if _, err := New(b, "resnet9000", []int{32, 32, 3}, 10, 1); err == nil {
		t.Error("unknown model accepted")
	}
	if _, err := New(b, "smallcnn", []int{784}, 10, 1); err == nil {
		t.Error("smallcnn accepted a flat input")
	}
	if _, err := New(b, "mlp", []int{28, 28, 1}, 1, 1); err == nil {
		t.Error("one class accepted")
	}
}
