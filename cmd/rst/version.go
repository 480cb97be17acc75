package main

import (
	"flag"
	"fmt"
	"runtime"

	"github.com/rst-bench/rst/suite/buildinfo"
	"github.com/rst-bench/rst/suite/nn"
)

func init() {
	register("version", "print the version, the BLAS and CPU kernels this binary uses and the devices it has", runVersion)
}

func runVersion(args []string) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	// The commit is the one this binary was built from (see buildinfo),
	// never that of the folder it runs in.
	fmt.Printf("rst commit %s (%s)\n", buildinfo.Commit(), runtime.Version())
	fmt.Printf("blas: %s\n", nn.BLASName())
	if idle := nn.BLASIdle(); idle != "" {
		fmt.Printf("  idle threads: %s\n", idle)
	}
	if note := nn.BLASNote(); note != "" {
		fmt.Printf("  note: %s\n", note)
	}
	fmt.Printf("cpu kernels: %s\n", nn.KernelsName())
	fmt.Printf("devices: %v\n", nn.Devices())
	return nil
}
