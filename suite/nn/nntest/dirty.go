package nntest

import (
	"math"

	"github.com/rst-bench/rst/suite/nn"
)

// DirtyNewCPU is the CPU backend with New returning NaN-filled tensors.
// The cuda device hands out reused memory without clearing it, so code
// that reads a tensor before writing it (a model's buffers, an optimizer's
// state) gives NaN or a different result here, on any machine.
type DirtyNewCPU struct{ *nn.CPU }

func (c *DirtyNewCPU) Name() string { return "cpu+dirty-new" }

func (c *DirtyNewCPU) New(shape ...int) *nn.Tensor {
	t := c.CPU.New(shape...)
	for i := range t.Data {
		t.Data[i] = float32(math.NaN())
	}
	return t
}
