package main

import (
	"flag"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/rst-bench/rst/suite/nn"
)

func init() {
	register("version", "print the version, the BLAS this binary uses and the devices it has", runVersion)
}

func runVersion(args []string) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	if err := fs.Parse(args); err != nil {
		return err
	}
	rev := "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				rev = s.Value
			}
		}
	}
	fmt.Printf("rst %s (%s)\n", rev, runtime.Version())
	fmt.Printf("blas: %s\n", nn.BLASName())
	fmt.Printf("devices: %v\n", nn.Devices())
	return nil
}
