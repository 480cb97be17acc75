//go:build unix

package main

import (
	"os"
	"syscall"

	"github.com/rst-bench/rst/suite/nn"
)

// useNativeBLASKernels restarts rst, once, with OPENBLAS_CORETYPE set to
// the CPU's kernels when OpenBLAS did not recognise the CPU and chose kernels
// without AVX (seen on virtual machines that report a generic model): its
// products would otherwise run several times slower than the CPU allows.
// OpenBLAS reads the variable only when the process loads it, hence the
// restart. A user's own OPENBLAS_CORETYPE is left alone, and a failed exec
// leaves OpenBLAS's choice (rst version and rst bench then say so).
func useNativeBLASKernels() {
	core := nn.NativeBLASCore()
	if core == "" {
		return
	}
	if _, set := os.LookupEnv("OPENBLAS_CORETYPE"); set {
		return
	}
	exe, err := os.Executable()
	if err != nil {
		return
	}
	_ = syscall.Exec(exe, os.Args, append(os.Environ(), "OPENBLAS_CORETYPE="+core))
}
