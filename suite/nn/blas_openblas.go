//go:build openblas

package nn

import (
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/netlib/blas/netlib"
)

// blasName names the GEMM implementation this binary was built with.
const blasName = "OpenBLAS (cgo, gonum.org/v1/netlib)"

func init() { blas32.Use(netlib.Implementation{}) }
