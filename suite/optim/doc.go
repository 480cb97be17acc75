// Package optim holds the base optimizers (SGD with momentum and Nesterov,
// AdamW), learning-rate schedules, gradient clipping, and the training
// methods that decide how a step's gradient is made: plain SGD, SAM and the
// rest of the sharpness-aware family, and RST, which chooses between a plain
// and a sharp step by a Bernoulli draw at every iteration.
//
// Everything works on a network's flat buffers (nn.Net.W and nn.Net.G), so
// a method's step is a few whole-buffer operations whatever the model.
//
// Methods and their --param names (defaults in brackets; ρ is --rho):
//
//	sgd                      the plain step
//	sam                      ε = ρĝ
//	gnr      gamma [2ρ], normalized [0]      G = (1−γ/ρ)g + (γ/ρ)g′; normalized=1 mixes ĝ (official code)
//	asam     eta [0.01]                      T_w = |w|+η on weights only
//	gsam     alpha [0.4], rho_max [ρ], rho_min [rho_max], lr_max [max seen], lr_min [0]
//	looksam  k [5], alpha [0.7]
//	esam     beta [0.6], gamma [0.5]
//	ssam-f   sparsity [0.5], num_samples [16], refresh [1 epoch], refresh_steps [0 = use refresh]
//	ssam-d   sparsity [0.5], drop [0.5], refresh [1 epoch], refresh_steps
//	rst      --schedule P (required), --sharp sam|gnr|asam|gsam|looksam|esam|ssam-f|ssam-d [sam],
//	         and the sharp method's params
//	grst     as rst with --sharp [gnr] and k [2]: the sharp step's degree ×k (GNR with γ = kρ;
//	         other variants K·G + (1−K)·g); looksam's interval is then looksam_k
//
// Unknown --param names and values outside their range are errors.
package optim
