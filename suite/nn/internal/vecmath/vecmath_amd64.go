//go:build amd64 && !purego

package vecmath

import "golang.org/x/sys/cpu"

// Available says whether the kernels run here: the CPU has AVX2 and the
// operating system saves the YMM registers (x/sys/cpu checks both, as the
// BLAS note in suite/nn does).
var Available = cpu.X86.HasAVX2

// The kernels take n > 0, a multiple of 8, and the first elements of
// slices of at least n.

//go:noescape
func geluAVX2(y, x *float32, n int)

//go:noescape
func geluBackwardAVX2(dx, x, dy *float32, n int)

//go:noescape
func expNegShiftAVX2(y, x *float32, n int, shift float32)
