//go:build amd64 && !purego

package vecmath

// Available says whether the kernels run here: the CPU has AVX2 and the
// operating system saves the YMM registers.
var Available = hasAVX2()

func hasAVX2() bool {
	_, _, c1, _ := cpuid(1, 0)
	const osxsave, avx = 1 << 27, 1 << 28
	if c1&osxsave == 0 || c1&avx == 0 {
		return false
	}
	if lo, _ := xgetbv0(); lo&6 != 6 { // XMM and YMM state enabled
		return false
	}
	max, _, _, _ := cpuid(0, 0)
	if max < 7 {
		return false
	}
	_, b7, _, _ := cpuid(7, 0)
	return b7&(1<<5) != 0
}

func cpuid(leaf, sub uint32) (a, b, c, d uint32)
func xgetbv0() (lo, hi uint32)

// The kernels take n > 0, a multiple of 8, and the first elements of
// slices of at least n.

//go:noescape
func geluAVX2(y, x *float32, n int)

//go:noescape
func geluBackwardAVX2(dx, x, dy *float32, n int)

//go:noescape
func expNegShiftAVX2(y, x *float32, n int, shift float32)
