//go:build !openblas

package nn

// blasName names the GEMM implementation this binary was built with.
const blasName = "gonum pure-Go BLAS"
