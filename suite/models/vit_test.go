package models

import (
	"math"
	"strings"
	"testing"

	"github.com/rst-bench/rst/suite/nn"
)

// vitLayers returns the top-level layers of a built ViT.
func vitLayers(t *testing.T, net *nn.Net) []nn.Layer {
	t.Helper()
	s, ok := net.Root.(*nn.Sequential)
	if !ok {
		t.Fatalf("root is %T", net.Root)
	}
	return s.Layers
}

// ViT-S/16 at 224×224×3 with 1000 classes has timm's vit_small_patch16_224
// parameter count exactly; on CIFAR-size inputs it takes 4×4 patches.
func TestViTParameterCountsAndShapes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds ViT-S/16 at 224×224 (22M parameters)")
	}
	b := nn.NewCPU()
	for _, c := range []struct {
		name          string
		in            []int
		classes       int
		params        int
		patch, tokens int
	}{
		{"vit-s16", []int{224, 224, 3}, 1000, 22_050_664, 16, 196},
		// patch 4·4·3·384+384; cls 384; pos 65·384; 12 blocks of 1,774,464;
		// final norm 768; head 384·10+10.
		{"vit-s16", []int{32, 32, 3}, 10, 18432 + 384 + 384 + 65*384 + 12*1_774_464 + 768 + 3850, 4, 64},
		{"vit-s16", []int{64, 64, 3}, 10, 18432 + 384 + 384 + 257*384 + 12*1_774_464 + 768 + 3850, 4, 256},
		{"vit-s16", []int{96, 96, 3}, 10, 294912 + 384 + 384 + 37*384 + 12*1_774_464 + 768 + 3850, 16, 36},
	} {
		net, err := New(b, c.name, c.in, c.classes, 1)
		if err != nil {
			t.Fatalf("%s%v: %v", c.name, c.in, err)
		}
		if got := net.NumParams(); got != c.params {
			t.Errorf("%s%v: %d parameters, want %d", c.name, c.in, got, c.params)
		}
		layers := vitLayers(t, net)
		pe := layers[0].(*nn.PatchEmbed)
		if pe.P != c.patch || pe.Out != 384 {
			t.Errorf("%s%v: %d×%d patches of %d features, want %d×%d of 384", c.name, c.in, pe.P, pe.P, pe.Out, c.patch, c.patch)
		}
		if ct := layers[1].(*nn.ClassToken); ct.T != c.tokens {
			t.Errorf("%s%v: %d patch tokens, want %d", c.name, c.in, ct.T, c.tokens)
		}
		if blocks := len(layers) - 6; blocks != 12 {
			t.Errorf("%s%v: %d blocks", c.name, c.in, blocks)
		}
		shape := append([]int{2}, c.in...)
		for _, l := range layers {
			shape = l.OutShape(shape)
		}
		if len(shape) != 2 || shape[0] != 2 || shape[1] != c.classes {
			t.Errorf("%s%v: output shape %v", c.name, c.in, shape)
		}
	}
}

// ViT-S/16's blocks: 6 heads of 64, MLP 1536, dropout 0.1 where timm has
// it; a forward pass at 32×32 gives [N, classes].
func TestViTSmallStructure(t *testing.T) {
	b := nn.NewCPU()
	net, err := New(b, "vit-s16", []int{32, 32, 3}, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	layers := vitLayers(t, net)
	if d, ok := layers[2].(*nn.Dropout); !ok || d.P != 0.1 {
		t.Errorf("embedding dropout %v", layers[2])
	}
	block := layers[3].(*nn.Sequential)
	attn := block.Layers[0].(*nn.Residual).Body.(*nn.Sequential)
	mhsa := attn.Layers[1].(*nn.MultiHeadSelfAttention)
	if mhsa.C != 384 || mhsa.Heads != 6 || mhsa.Drop.P != 0 {
		t.Errorf("attention %d features, %d heads, dropout %v", mhsa.C, mhsa.Heads, mhsa.Drop.P)
	}
	if ln := attn.Layers[0].(*nn.LayerNorm); ln.Eps != 1e-6 {
		t.Errorf("LayerNorm ε %v", ln.Eps)
	}
	mlp := block.Layers[1].(*nn.Residual).Body.(*nn.Sequential)
	if fc1 := mlp.Layers[1].(*nn.Linear); fc1.In != 384 || fc1.Out != 1536 {
		t.Errorf("MLP %d→%d", fc1.In, fc1.Out)
	}
	for _, i := range []int{3, 5} {
		if d := mlp.Layers[i].(*nn.Dropout); d.P != 0.1 {
			t.Errorf("MLP dropout %d: %v", i, d.P)
		}
	}
	if d := attn.Layers[2].(*nn.Dropout); d.P != 0.1 {
		t.Errorf("projection dropout %v", d.P)
	}
	x := b.New(2, 32, 32, 3)
	y := net.Forward(&nn.Pass{B: b}, x)
	if len(y.Shape) != 2 || y.Shape[0] != 2 || y.Shape[1] != 10 {
		t.Errorf("output %v", y.Shape)
	}
}

func TestViTRejectsBadInputs(t *testing.T) {
	b := nn.NewCPU()
	for _, c := range []struct {
		name string
		in   []int
		want string
	}{
		{"vit-s16", []int{30, 32, 3}, "multiples of 4"},
		{"vit-s16", []int{100, 224, 3}, "multiples of 16"},
		{"vit-s16", []int{784}, "want an image"},
		{"vit-mini", []int{32, 32, 3}, "multiples of 7"},
	} {
		_, err := New(b, c.name, c.in, 10, 1)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s%v: error %v, want one saying %q", c.name, c.in, err, c.want)
		}
	}
	if _, err := ViT([]int{8, 8, 1}, ViTConfig{Patch: 4, Dim: 10, Depth: 1, Heads: 3, MLP: 8}, 2); err == nil {
		t.Error("10 features in 3 heads accepted")
	}
}

// vit-mini on 28×28: 16 patch tokens and a class token.
func TestViTMini(t *testing.T) {
	b := nn.NewCPU()
	net, err := New(b, "vit-mini", []int{28, 28, 1}, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	c := vitMini
	perBlock := 2*2*c.Dim + (c.Dim*3*c.Dim + 3*c.Dim) + (c.Dim*c.Dim + c.Dim) + (c.Dim*c.MLP + c.MLP) + (c.MLP*c.Dim + c.Dim)
	want := (c.Patch*c.Patch*c.Dim + c.Dim) + c.Dim + 17*c.Dim + c.Depth*perBlock + 2*c.Dim + c.Dim*10 + 10
	if got := net.NumParams(); got != want {
		t.Errorf("%d parameters, want %d", got, want)
	}
	if ct := vitLayers(t, net)[1].(*nn.ClassToken); ct.T != 16 {
		t.Errorf("%d patch tokens", ct.T)
	}
	for _, s := range []string{"[ours]", "7×7 patches", "96 features"} {
		if !strings.Contains(About("vit-mini"), s) {
			t.Errorf("About(vit-mini) should mention %q", s)
		}
	}
	if !strings.Contains(About("vit-s16"), "22,050,664") {
		t.Errorf("About(vit-s16) should give its parameter count")
	}
}

// timm's initialisation: linear weights and the position embedding N(0,
// 0.02²) (truncation at ±2 never bites), biases zero, LayerNorm γ = 1 and
// β = 0, the class token N(0, 1e-12), the patch projection uniform in
// ±1/√fan_in; and the same seed gives the same weights.
func TestViTInitialisation(t *testing.T) {
	b := nn.NewCPU()
	net, err := New(b, "vit-mini", []int{28, 28, 1}, 10, 7)
	if err != nil {
		t.Fatal(err)
	}
	stats := func(v []float32) (mean, std, most float64) {
		for _, x := range v {
			mean += float64(x)
			most = math.Max(most, math.Abs(float64(x)))
		}
		mean /= float64(len(v))
		for _, x := range v {
			std += (float64(x) - mean) * (float64(x) - mean)
		}
		return mean, math.Sqrt(std / float64(len(v))), most
	}
	var linears int
	var visit func(l nn.Layer)
	visit = func(l nn.Layer) {
		switch v := l.(type) {
		case *nn.Linear:
			linears++
			if _, std, _ := stats(v.W.W.Data); math.Abs(std-0.02) > 0.1*0.02 {
				t.Errorf("linear %d→%d: weight std %v, want 0.02", v.In, v.Out, std)
			}
			for _, x := range v.B.W.Data {
				if x != 0 {
					t.Fatalf("linear %d→%d: bias not zero", v.In, v.Out)
				}
			}
		case *nn.LayerNorm:
			for i := range v.Gamma.W.Data {
				if v.Gamma.W.Data[i] != 1 || v.Beta.W.Data[i] != 0 {
					t.Fatalf("LayerNorm γ, β = %v, %v", v.Gamma.W.Data[i], v.Beta.W.Data[i])
				}
			}
		case *nn.ClassToken:
			if _, std, _ := stats(v.Pos.W.Data); math.Abs(std-0.02) > 0.1*0.02 {
				t.Errorf("position embedding std %v", std)
			}
			if _, std, most := stats(v.Cls.W.Data); std == 0 || most > 1e-5 {
				t.Errorf("class token std %v, max %v: want about 1e-6", std, most)
			}
		case *nn.PatchEmbed:
			bound := 1 / math.Sqrt(float64(v.P*v.P*v.In))
			if _, _, most := stats(v.W.W.Data); most > bound || most < 0.9*bound {
				t.Errorf("patch projection max |w| %v, want just under %v", most, bound)
			}
		}
		if c, ok := l.(nn.Container); ok {
			for _, ch := range c.Children() {
				visit(ch)
			}
		}
	}
	visit(net.Root)
	if want := 4*vitMini.Depth + 1; linears != want {
		t.Errorf("%d linear layers, want %d", linears, want)
	}
	again, _ := New(b, "vit-mini", []int{28, 28, 1}, 10, 7)
	for i := range net.W.Data {
		if net.W.Data[i] != again.W.Data[i] {
			t.Fatal("the same seed gave different weights")
		}
	}
}

// The whole model's gradient against finite differences of the loss, on a
// narrow ViT without dropout (checkModelGradient reuses one pass, whose
// dropout draws move on; nn's tests check the layers with dropout).
func TestViTModelGradient(t *testing.T) {
	root, err := ViT([]int{8, 8, 2}, ViTConfig{Patch: 4, Dim: 8, Depth: 2, Heads: 2, MLP: 16}, 5)
	if err != nil {
		t.Fatal(err)
	}
	checkModelGradient(t, "vit (narrow)", root, []int{8, 8, 2}, 5)
}

// FLOPs: ViT-S/16 at 224×224 is about 4.6 GFLOP per image forward (timm
// reports 4.6 GMACs... counted as 2·MACs here: 9.2 GFLOP).
func TestViTFLOPs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds ViT-S/16 at 224×224")
	}
	net, err := New(nn.NewCPU(), "vit-s16", []int{224, 224, 3}, 1000, 1)
	if err != nil {
		t.Fatal(err)
	}
	fwd, bwd := net.FLOPs(1)
	if g := float64(fwd) / 1e9; g < 9.0 || g > 9.4 {
		t.Errorf("ViT-S/16 forward %.2f GFLOP per image, want about 9.2 (4.6 GMACs)", g)
	}
	if bwd < fwd || bwd > 2*fwd {
		t.Errorf("backward %d FLOP for forward %d", bwd, fwd)
	}
}

// One training pass of vit-mini at batch 128 on 28×28×1 (go test -bench
// ViTMini ./suite/models): the cpu profile's step time.
func BenchmarkPassViTMini(b *testing.B) { benchPass(b, "vit-mini", []int{28, 28, 1}) }
