package models

import (
	"fmt"

	"github.com/rst-bench/rst/suite/nn"
)

// ViTConfig is the shape of a Vision Transformer: Patch×Patch patches,
// Dim features per token, Depth encoder blocks of Heads attention heads
// and MLP hidden features, and the dropout rate Drop on the embeddings,
// after the attention projection and in the MLP.
type ViTConfig struct {
	Patch, Dim, Depth, Heads, MLP int
	Drop                          float32
}

// vitS is ViT-S (Touvron et al. 2021's DeiT-S, timm's vit_small): 384
// features, 12 blocks of 6 heads, MLP 1536.
var vitS = ViTConfig{Dim: 384, Depth: 12, Heads: 6, MLP: 1536, Drop: 0.1}

// vitMini is the cpu profile's ViT; see its About string. Measured on 2
// cores at batch 128 (BenchmarkPassViTMini, OpenBLAS and oneDNN build): 4×4
// patches of 64 features in 4 blocks (MLP 128) took 0.22 s a step and
// learned slower per step than 7×7 patches; with 7×7 patches, 64 features
// took 0.06 s (5.0% MNIST test error after 3 epochs of AdamW at lr 1e-3,
// 3.1% at 3e-3), 96 features with MLP 192 0.10 s (2.8% at 3e-3), 6 blocks
// of 64 0.10 s (3.0%).
var vitMini = ViTConfig{Patch: 7, Dim: 96, Depth: 4, Heads: 4, MLP: 192, Drop: 0}

func init() {
	Register("vit-s16",
		"ViT-S (timm vit_small: 384 features, 12 pre-norm blocks of 6 heads, MLP 1536, GELU, LayerNorm ε 1e-6, class token, learned position embedding, final LayerNorm, linear head on the class token); patches 16×16 on inputs larger than 64 pixels a side (ViT-S/16, 22,050,664 parameters at 224×224×3 with 1000 classes) and 4×4 on smaller ones (the paper's CIFAR setting); dropout 0.1 on the embeddings, after the attention projection and in the MLP; timm's initialisation (linear weights and position embedding truncated normal std 0.02, zero biases, class token normal std 1e-6, patch projection uniform ±1/√fan_in)",
		func(in []int, classes int) (nn.Layer, error) {
			h, w, _, err := image(in)
			if err != nil {
				return nil, err
			}
			cfg := vitS
			cfg.Patch = 16
			if h <= 64 && w <= 64 {
				cfg.Patch = 4
			}
			return ViT(in, cfg, classes)
		})
	Register("vit-mini",
		"small ViT for the cpu profile [ours]: 7×7 patches (16 tokens and a class token on 28×28 inputs), 96 features, 4 pre-norm blocks of 4 heads, MLP 192, GELU, LayerNorm ε 1e-6, learned position embedding, final LayerNorm, linear head on the class token; no dropout; timm's ViT initialisation",
		func(in []int, classes int) (nn.Layer, error) {
			return ViT(in, vitMini, classes)
		})
}

// ViT is a Vision Transformer for images in = [H, W, C] (timm's
// VisionTransformer with a class token and no distillation token):
// patch embedding, class token, position embedding and dropout, Depth
// pre-norm blocks, a final LayerNorm on the class token and a linear head.
// LayerNorm acts per token, so normalising the class token alone gives
// what timm's norm-then-select gives.
func ViT(in []int, cfg ViTConfig, classes int) (nn.Layer, error) {
	h, w, c, err := image(in)
	if err != nil {
		return nil, err
	}
	p := cfg.Patch
	if p < 1 || h%p != 0 || w%p != 0 {
		return nil, fmt.Errorf("input %dx%d: ViT patches of %dx%d need sides that are multiples of %d", h, w, p, p, p)
	}
	if cfg.Heads < 1 || cfg.Dim%cfg.Heads != 0 {
		return nil, fmt.Errorf("ViT: %d features do not split into %d heads", cfg.Dim, cfg.Heads)
	}
	t := (h / p) * (w / p)
	layers := []nn.Layer{nn.NewPatchEmbed(c, cfg.Dim, p), nn.NewClassToken(t, cfg.Dim), &nn.Dropout{P: cfg.Drop}}
	for range cfg.Depth {
		layers = append(layers, nn.NewTransformerBlock(cfg.Dim, cfg.Heads, cfg.MLP, cfg.Drop))
	}
	layers = append(layers, &nn.SelectClassToken{}, nn.NewLayerNorm(cfg.Dim), nn.NewTokenLinear(cfg.Dim, classes))
	return nn.Seq(layers...), nil
}
