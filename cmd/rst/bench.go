package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/rst-bench/rst/suite/train"
)

func init() {
	register("bench", "time a model's forward+backward pass and a method's training step", runBench)
}

func runBench(args []string) error {
	cfg := train.Defaults()
	cfg.Data = "cifar10"
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	params := trainFlags(fs, &cfg)
	steps := fs.Int("bench-steps", 20, "timed steps (after 2 warm-up steps); --steps is the run length seen by schedules")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if len(params) > 0 {
		cfg.Method.Params = params
	}
	if cfg.Method.Rho == 0 && cfg.Method.Name != "sgd" {
		cfg.Method.Rho = 0.05
	}
	n := *steps
	if cfg.Steps > 0 {
		n = cfg.Steps
	}
	r, err := train.Bench(cfg, n)
	if err != nil {
		return err
	}
	if *asJSON {
		b, _ := json.MarshalIndent(r, "", "  ")
		fmt.Printf("%s\n", b)
		return nil
	}
	fmt.Fprintf(os.Stdout, "%s %v batch %d, %d params, method %s %s on %s\n", r.Model, r.Input, r.Batch, r.Params, r.Method, r.Schedule, r.Backend)
	fmt.Fprintf(os.Stdout, "  forward+backward: %.1f ms median, %.2f GFLOP, %.1f GFLOP/s\n", r.FwdBwdMS, r.GFLOP, r.GFLOPS)
	fmt.Fprintf(os.Stdout, "  method step:      %.1f ms median, %.1f ms mean, %.2f pairs/step over %d steps\n", r.StepMS, r.MeanStepMS, r.PairsPerStep, r.Steps)
	fmt.Fprintf(os.Stdout, "  allocated/step:   %.0f bytes; peak RSS %.0f MB\n", r.AllocBytesPerStep, r.PeakRSSMB)
	return nil
}
