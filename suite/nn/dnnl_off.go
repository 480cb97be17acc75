//go:build !dnnl

package nn

// Without the dnnl tag every kernel is the suite's own Go code.

const dnnlOn = false

func kernelsName() string { return "Go kernels" }

func (c *CPU) dnnlConv2D(x, w, y *Tensor, g ConvGeom) bool { return false }

func (c *CPU) dnnlConv2DBackward(x, w, dy, dx, dw *Tensor, g ConvGeom) bool { return false }

func (c *CPU) dnnlBatchNormTrain(x, y, gamma, beta, mean, variance *Tensor, eps float32, relu bool) bool {
	return false
}

func (c *CPU) dnnlBatchNormInfer(x, y, gamma, beta, mean, variance *Tensor, eps float32, relu bool) bool {
	return false
}

func (c *CPU) dnnlBatchNormBackward(x, y, dy, dx, gamma, mean, variance, dgamma, dbeta *Tensor, eps float32, relu bool) bool {
	return false
}

func (c *CPU) dnnlMaxPool(x, y *Tensor, g ConvGeom) bool                 { return false }
func (c *CPU) dnnlMaxPoolBackward(x, y, dy, dx *Tensor, g ConvGeom) bool { return false }
func (c *CPU) dnnlAvgPool(x, y *Tensor, g ConvGeom) bool                 { return false }
func (c *CPU) dnnlAvgPoolBackward(dy, dx *Tensor, g ConvGeom) bool       { return false }
