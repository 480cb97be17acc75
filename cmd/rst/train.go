package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"

	"github.com/rst-bench/rst/suite/models"
	"github.com/rst-bench/rst/suite/optim"
	"github.com/rst-bench/rst/suite/train"
)

func init() {
	register("train", "train one model on one dataset with one method and print its record", runTrain)
}

// paramFlag collects --param name=value pairs for method variants.
type paramFlag map[string]float64

func (p paramFlag) String() string { return "" }

func (p paramFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	f, err := strconv.ParseFloat(v, 64)
	if !ok || err != nil || k == "" {
		return fmt.Errorf("want NAME=NUMBER, e.g. --param k=5")
	}
	p[k] = f
	return nil
}

// trainFlags declares the flags shared by train and bench on cfg.
func trainFlags(fs *flag.FlagSet, cfg *train.Config) paramFlag {
	fs.StringVar(&cfg.Model, "model", cfg.Model, "model: "+strings.Join(models.Names(), ", "))
	fs.StringVar(&cfg.Data, "data", cfg.Data, "dataset: mnist, cifar10, cifar100")
	fs.StringVar(&cfg.DataDir, "data-dir", "", "where datasets live (default $RST_DATA_DIR or ~/.cache/rst/data)")
	fs.IntVar(&cfg.Subset, "subset", cfg.Subset, "use this many training samples (0 = all)")
	fs.IntVar(&cfg.TestSubset, "test-subset", cfg.TestSubset, "use this many test samples (0 = all)")
	fs.StringVar(&cfg.Augment, "augment", cfg.Augment, "none, crop-flip, crop-flip-cutout, crop-flip-cutout-batch")
	fs.IntVar(&cfg.Epochs, "epochs", cfg.Epochs, "epochs to train")
	fs.IntVar(&cfg.Steps, "steps", cfg.Steps, "train this many steps instead of whole epochs (0 = use --epochs)")
	fs.IntVar(&cfg.Batch, "batch", cfg.Batch, "batch size")
	fs.StringVar(&cfg.Optimizer, "optimizer", cfg.Optimizer, "base optimizer: sgd or adamw")
	fs.Float64Var(&cfg.LR, "lr", cfg.LR, "peak learning rate")
	fs.StringVar(&cfg.LRSchedule, "lr-schedule", cfg.LRSchedule, "cosine (to 0), constant, or step:F1,F2[/GAMMA]")
	fs.IntVar(&cfg.Warmup, "warmup", cfg.Warmup, "linear warm-up steps")
	fs.Float64Var(&cfg.Momentum, "momentum", cfg.Momentum, "SGD momentum")
	fs.BoolVar(&cfg.Nesterov, "nesterov", cfg.Nesterov, "Nesterov momentum")
	fs.Float64Var(&cfg.L2, "l2", cfg.L2, "L2 coefficient λ of λ/2·‖θ‖² in the loss")
	fs.Float64Var(&cfg.WeightDecay, "wd", cfg.WeightDecay, "decoupled weight decay")
	fs.Float64Var(&cfg.Clip, "clip", cfg.Clip, "clip the gradient at this global norm (0 = off)")
	fs.Float64Var(&cfg.Smoothing, "smoothing", cfg.Smoothing, "label smoothing")
	fs.StringVar(&cfg.Method.Name, "method", cfg.Method.Name, "training method: "+strings.Join(optim.MethodNames(), ", "))
	fs.StringVar(&cfg.Method.Sharp, "sharp", cfg.Method.Sharp, "sharp step of rst/grst: sam (rst default), gnr (grst default), asam, gsam, looksam, esam, ssam-f, ssam-d")
	fs.StringVar(&cfg.Method.Schedule, "schedule", cfg.Method.Schedule, "p(t) of rst/grst, e.g. constant:0.5, piecewise:0,0.5, cos1")
	fs.Float64Var(&cfg.Method.Rho, "rho", cfg.Method.Rho, "radius ρ of the sharp step (default 0.05; 0.5 for asam)")
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "random seed: data order, initialisation, draws")
	fs.StringVar(&cfg.Device, "device", cfg.Device, "cpu or cuda")
	fs.StringVar(&cfg.Profile, "profile", cfg.Profile, "profile label recorded with the run: smoke, cpu or paper")
	params := paramFlag{}
	fs.Var(params, "param", "method hyper-parameter NAME=VALUE (repeatable): gnr gamma,normalized; asam eta; gsam alpha,rho_max,rho_min,lr_max,lr_min; looksam k,alpha; esam beta,gamma; ssam-f sparsity,num_samples,refresh,refresh_steps; ssam-d sparsity,drop,refresh,refresh_steps; grst k")
	return params
}

func runTrain(args []string) error {
	cfg := train.Defaults()
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	params := trainFlags(fs, &cfg)
	asJSON := fs.Bool("json", false, "print the run record as JSON on stdout")
	out := fs.String("out", "", "also write the record to this JSON file")
	fs.StringVar(&cfg.Checkpoint, "checkpoint", "", "save the run's state to this file after every epoch and resume from it if it exists")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (flags start with --)", fs.Arg(0))
	}
	if len(params) > 0 {
		cfg.Method.Params = params
	}
	if cfg.Method.Rho == 0 {
		cfg.Method.Rho = optim.DefaultRho(cfg.Method.Name, cfg.Method.Sharp)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rec, err := train.Run(ctx, cfg, train.ForWriter(os.Stderr))
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	if *out != "" {
		if err := writeFileAtomic(*out, append(b, '\n')); err != nil {
			return err
		}
	}
	if *asJSON {
		fmt.Printf("%s\n", b)
	}
	return nil
}

// writeFileAtomic writes through a temporary file and a rename, so a crash
// never leaves half a record.
func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
