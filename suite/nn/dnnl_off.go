//go:build !dnnl

package nn

// Without the dnnl tag every kernel is the suite's own Go code.

const dnnlOn = false

func kernelsName() string { return "Go kernels" }

func (c *CPU) dnnlConv2D(x, w, y *Tensor, g ConvGeom) bool { return false }

func (c *CPU) dnnlConv2DBackward(x, w, dy, dx, dw *Tensor, g ConvGeom) bool { return false }
