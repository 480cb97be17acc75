//go:build !amd64 || purego

package vecmath

// Available is false: no vector kernels on this architecture or build.
var Available = false

func geluAVX2(y, x *float32, n int)                       { panic("vecmath: no vector kernels") }
func geluBackwardAVX2(dx, x, dy *float32, n int)          { panic("vecmath: no vector kernels") }
func expNegShiftAVX2(y, x *float32, n int, shift float32) { panic("vecmath: no vector kernels") }
