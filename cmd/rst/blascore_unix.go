//go:build unix

package main

import (
	"os"
	"strings"
	"syscall"

	"github.com/rst-bench/rst/suite/nn"
)

// useBLASEnv restarts rst, once, with the environment OpenBLAS should
// start with (nn.BLASEnv): OPENBLAS_CORETYPE where OpenBLAS did not
// recognise the CPU and chose kernels without AVX (seen on virtual machines
// that report a generic model), whose products run several times slower
// than the CPU allows; and OPENBLAS_THREAD_TIMEOUT, so that OpenBLAS's idle
// threads sleep instead of yielding the cores to the backend's other
// workers turn by turn. OpenBLAS reads both only when the process loads it,
// hence the restart. A variable the user has set is left alone, and a
// failed exec leaves OpenBLAS's defaults (rst version and rst bench then
// say so).
func useBLASEnv() {
	var add []string
	for _, kv := range nn.BLASEnv() {
		name, _, _ := strings.Cut(kv, "=")
		if _, set := os.LookupEnv(name); !set {
			add = append(add, kv)
		}
	}
	if len(add) == 0 {
		return
	}
	exe, err := os.Executable()
	if err != nil {
		return
	}
	_ = syscall.Exec(exe, os.Args, append(os.Environ(), add...))
}
