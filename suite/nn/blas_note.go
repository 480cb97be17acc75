package nn

import (
	"fmt"
	"slices"

	"golang.org/x/sys/cpu"
)

// BLASNote is a warning for the user when OpenBLAS runs kernels far older
// than the CPU (it did not recognise the CPU, as happens on some virtual
// machines that report a generic model name): every linear layer and
// `rst bench`'s SGEMM rate then run several times slower than the CPU
// allows. Empty when there is nothing to say.
func BLASNote() string {
	return blasCoreNote(blasCore, cpuAVX512(), cpu.X86.HasAVX2 && cpu.X86.HasFMA, cpu.X86.HasAVX)
}

// NativeBLASCore is the OpenBLAS kernel set (an OPENBLAS_CORETYPE value)
// for this CPU when OpenBLAS chose kernels without AVX on a CPU that has it,
// else "".
func NativeBLASCore() string {
	return blasCoreFor(blasCore, cpuAVX512(), cpu.X86.HasAVX2 && cpu.X86.HasFMA, cpu.X86.HasAVX)
}

func cpuAVX512() bool {
	return cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512DQ && cpu.X86.HasAVX512VL
}

// preAVXCores are OpenBLAS's kernel sets for x86 CPUs without AVX.
var preAVXCores = []string{"Katmai", "Coppermine", "Northwood", "Prescott", "Banias", "Atom",
	"Core2", "Penryn", "Dunnington", "Nehalem", "Opteron", "Opteron_SSE3", "Barcelona", "Bobcat", "Nano"}

// blasCoreFor is NativeBLASCore for a core name and the CPU's features.
func blasCoreFor(core string, avx512, avx2, avx bool) string {
	switch {
	case !avx || !slices.Contains(preAVXCores, core):
		return ""
	case avx512:
		return "SkylakeX"
	case avx2:
		return "Haswell"
	}
	return "Sandybridge"
}

// blasCoreNote is BLASNote for a core name and the CPU's features. The rst
// command restarts itself with the CPU's kernels (cmd/rst's main), so the
// note is seen where that was refused: OPENBLAS_CORETYPE set by the user,
// or a test binary.
func blasCoreNote(core string, avx512, avx2, avx bool) string {
	want := blasCoreFor(core, avx512, avx2, avx)
	if want == "" {
		return ""
	}
	return fmt.Sprintf("OpenBLAS runs its %s kernels, which use no AVX, on a CPU that has it (it did not recognise the CPU): "+
		"linear layers and SGEMM run several times slower than they could; OPENBLAS_CORETYPE=%s (which rst sets itself "+
		"unless OPENBLAS_CORETYPE is already set) has it use the CPU's own; products then round differently, and records name the kernels", core, want)
}
