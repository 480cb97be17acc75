// Package nn is the suite's small training engine: float32 tensors, layers
// with explicit forward and backward passes, a Backend interface that holds
// every numeric kernel, and the CPU backend.
//
// Images are NHWC (batch, height, width, channels) so that a 3×3 convolution
// on the CPU is one im2col copy of contiguous channel runs followed by one
// GEMM whose output is already NHWC; fully connected tensors are [N, F].
//
// A model is a tree of Layers. Build gathers every trainable parameter into
// one flat weight buffer and one flat gradient buffer of the same layout
// (and batch-norm running statistics into a third), and gives each layer
// views into them. Optimizers therefore update a whole model in one pass
// over one buffer, and a SAM step perturbs and restores the weights in
// place. Layers allocate their activation buffers the first time they see a
// batch size and reuse them afterwards, so a warmed-up step allocates
// (almost) nothing.
//
// Layers never touch tensor memory themselves: every loop is a Backend
// method. A GPU backend registers itself with Register (as database/sql
// drivers do) and the same model definition runs on it unchanged.
package nn
