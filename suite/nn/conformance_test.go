package nn_test

import (
	"testing"

	"github.com/rst-bench/rst/suite/nn"
	"github.com/rst-bench/rst/suite/nn/nntest"
)

// The CPU backend passes the conformance suite that any backend must pass.
func TestCPUConformanceKernels(t *testing.T) { nntest.Kernels(t, nn.NewCPU()) }

// Against itself the model comparison is vacuous; Model then checks the
// gradients by finite differences instead.
func TestCPUConformanceModel(t *testing.T) { nntest.Model(t, nn.NewCPU(), nn.NewCPU()) }
