package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/rst-bench/rst/experiments"
	"github.com/rst-bench/rst/suite/durable"
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
	k, v, err := parseParam(s)
	if err != nil {
		return err
	}
	if old, ok := p[k]; ok && old != v {
		return fmt.Errorf("%s is given twice (%v and %v): keep one", k, old, v)
	}
	p[k] = v
	return nil
}

// parseParam reads one NAME=VALUE of --param. The value must be a finite
// number: NaN would pass every range check of the methods (NaN < lo is
// false) and poison the run silently.
func parseParam(s string) (string, float64, error) {
	k, v, ok := strings.Cut(s, "=")
	k, v = strings.TrimSpace(k), strings.TrimSpace(v)
	if !ok || k == "" {
		return "", 0, fmt.Errorf("%q: want NAME=NUMBER, e.g. --param k=5", s)
	}
	if k == "k" && strings.EqualFold(v, "auto") {
		// G-RST's k = penalty/p(t): recorded as the switch k_auto = 1.
		return "k_auto", 1, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return "", 0, fmt.Errorf("%s=%s: the value is not a number; want NAME=NUMBER, e.g. --param k=5 (or k=auto for grst)", k, v)
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "", 0, fmt.Errorf("%s=%s: the value must be a finite number", k, v)
	}
	return k, f, nil
}

// trainFlags declares the flags shared by train and bench on cfg.
func trainFlags(fs *flag.FlagSet, cfg *train.Config) paramFlag {
	fs.StringVar(&cfg.Model, "model", cfg.Model, "model: "+strings.Join(models.Names(), ", "))
	fs.StringVar(&cfg.Data, "data", cfg.Data, "dataset: mnist, fashion-mnist, cifar10, cifar100, imagenet (read from --data-dir/imagenet/{train,val}/<class>/*.JPEG, decoded per batch)")
	fs.StringVar(&cfg.DataDir, "data-dir", "", "where datasets live (default $RST_DATA_DIR or ~/.cache/rst/data)")
	fs.IntVar(&cfg.Subset, "subset", cfg.Subset, "use this many training samples (0 = all)")
	fs.IntVar(&cfg.TestSubset, "test-subset", cfg.TestSubset, "use this many test samples (0 = all)")
	fs.StringVar(&cfg.Augment, "augment", cfg.Augment, "none, crop-flip, crop-flip-cutout, crop-flip-cutout-batch; random-resized-crop-flip for imagenet")
	fs.IntVar(&cfg.Epochs, "epochs", cfg.Epochs, "epochs to train")
	fs.IntVar(&cfg.Steps, "steps", cfg.Steps, "train this many steps instead of whole epochs (0 = use --epochs)")
	fs.IntVar(&cfg.Batch, "batch", cfg.Batch, "batch size")
	fs.StringVar(&cfg.Optimizer, "optimizer", cfg.Optimizer, "base optimizer: sgd or adamw")
	fs.Float64Var(&cfg.LR, "lr", cfg.LR, "peak learning rate")
	fs.StringVar(&cfg.LRSchedule, "lr-schedule", cfg.LRSchedule, "cosine (to 0), constant, or step:F1,F2[/GAMMA]")
	fs.IntVar(&cfg.Warmup, "warmup", cfg.Warmup, "linear warm-up steps")
	fs.StringVar(&cfg.WarmupStyle, "warmup-style", cfg.WarmupStyle, "suite (lr·(t+1)/W, sharp steps allowed; the default) or official (lr·t/W, plain steps only during warm-up)")
	fs.Float64Var(&cfg.OptClip, "opt-clip", cfg.OptClip, "a second global-norm clip after --clip (0 = off; the official optimizer's grad_norm_clip is 2)")
	fs.StringVar(&cfg.Dropout, "dropout-masks", cfg.Dropout, "per-step (one dropout mask for all passes of a step, as the official code; the default) or per-pass (a new mask for each pass)")
	fs.StringVar(&cfg.Init, "init", cfg.Init, "suite (linear layers ±1/√fan_in, weights and bias; the default) or official (linear kernels U(−1,1)/√fan_out, zero bias)")
	fs.Float64Var(&cfg.Momentum, "momentum", cfg.Momentum, "SGD momentum")
	fs.BoolVar(&cfg.Nesterov, "nesterov", cfg.Nesterov, "Nesterov momentum")
	fs.Float64Var(&cfg.L2, "l2", cfg.L2, "L2 coefficient λ of λ/2·‖θ‖² in the loss")
	fs.Float64Var(&cfg.WeightDecay, "wd", cfg.WeightDecay, "decoupled weight decay")
	fs.Float64Var(&cfg.Clip, "clip", cfg.Clip, "clip the gradient at this global norm (0 = off)")
	fs.Float64Var(&cfg.Smoothing, "smoothing", cfg.Smoothing, "label smoothing")
	fs.IntVar(&cfg.ImageSize, "image-size", cfg.ImageSize, "imagenet: the side of the training and evaluation crops (0 = 224)")
	fs.StringVar(&cfg.OnCorrupt, "on-corrupt", cfg.OnCorrupt, "imagenet: what to do with an image that cannot be decoded: fail (stop, naming the file) or skip (report it and use the next image of its class)")
	fs.IntVar(&cfg.EvalEvery, "eval-every", cfg.EvalEvery, "evaluate on the test split after every K-th epoch and the last (0 = every epoch)")
	fs.Float64Var(&cfg.LabelNoise, "label-noise", cfg.LabelNoise, "replace this fraction of the training labels by another class drawn uniformly (symmetric noise from the run's seed; 0 = clean labels)")
	fs.Float64Var(&cfg.Mixup, "mixup", cfg.Mixup, "mixup α: mix each batch with itself reversed, λ ~ Beta(α, α) per step (0 = off)")
	fs.StringVar(&cfg.Method.Name, "method", cfg.Method.Name, "training method: "+strings.Join(optim.MethodNames(), ", "))
	fs.StringVar(&cfg.Method.Sharp, "sharp", cfg.Method.Sharp, optim.SharpHelp())
	fs.StringVar(&cfg.Method.Schedule, "schedule", cfg.Method.Schedule, optim.ScheduleHelp())
	fs.Float64Var(&cfg.Method.Rho, "rho", cfg.Method.Rho, optim.RhoHelp())
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "random seed: data order, initialisation, draws")
	fs.StringVar(&cfg.Device, "device", cfg.Device, "cpu or cuda")
	fs.StringVar(&cfg.Profile, "profile", cfg.Profile, "profile label recorded with the run: smoke, cpu or paper (rst train: paper also sets the official code's options not given as flags: batch 256, --init official, --opt-clip 2, --warmup-style official, the official method variant)")
	params := paramFlag{}
	fs.Var(params, "param", optim.ParamHelp())
	return params
}

func runTrain(args []string) error {
	cfg := train.Defaults()
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	params := trainFlags(fs, &cfg)
	asJSON := fs.Bool("json", false, "print the whole run record as JSON on stdout instead of a short summary")
	out := fs.String("out", "", "also write the record to this JSON file (its folder is created)")
	fs.StringVar(&cfg.Checkpoint, "checkpoint", "", "save the run's state to this file after every epoch and resume from it if it exists")
	fs.Usage = func() { // to fs.Output(), which parseFlags silences on a bad flag
		fmt.Fprintf(fs.Output(), "usage of rst train:\n")
		fs.PrintDefaults()
		printModels(fs.Output())
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (flags start with --)", fs.Arg(0))
	}
	if len(params) > 0 {
		cfg.Method.Params = params
	}
	if cfg.Profile == "paper" {
		given := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
		if applied := experiments.PaperDefaults(&cfg, given); len(applied) > 0 {
			fmt.Fprintf(os.Stderr, "--profile paper: the official code's settings %s (docs/DEVIATIONS.md; give a flag to override)\n", strings.Join(applied, " "))
		}
	}
	if cfg.Method.Rho == 0 {
		cfg.Method.Rho = optim.DefaultRho(cfg.Method.Name, cfg.Method.Sharp)
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	// Prove the outputs writable before hours of training, not after.
	for _, o := range []struct{ flag, path string }{{"--out", *out}, {"--checkpoint", cfg.Checkpoint}} {
		if o.path != "" {
			if err := durable.CheckWritable(o.path); err != nil {
				return fmt.Errorf("%s: %w", o.flag, err)
			}
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		if context.Cause(ctx) != context.Canceled { // a signal, not the deferred stop
			// The loop stops between steps; a second Ctrl-C, now back to
			// its default, ends the process at once.
			fmt.Fprintln(os.Stderr, "\ninterrupt: stopping after the current step (Ctrl-C again to stop at once)")
		}
		stop()
	}()
	w := &watcher{Progress: train.ForWriter(os.Stderr)}
	rec, err := train.Run(ctx, cfg, w)
	if err != nil {
		if ctx.Err() != nil {
			return interrupted(w, cfg.Checkpoint)
		}
		return err
	}
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return fmt.Errorf("the run finished but its record cannot be encoded: %w", err)
	}
	if *out != "" {
		if err := durable.WriteBytes(*out, append(b, '\n')); err != nil {
			// Never lose a finished run: the record goes to stdout instead.
			fmt.Printf("%s\n", b)
			return fmt.Errorf("the run finished but its record could not be written: %v; the whole record is on stdout above, save it from there", err)
		}
	}
	if *asJSON {
		fmt.Printf("%s\n", b)
	} else {
		printSummary(os.Stdout, rec, *out)
	}
	return nil
}

// printModels lists every model with its description (models.About),
// which every run's record also carries as model_about.
func printModels(w io.Writer) {
	fmt.Fprintf(w, "\nmodels (--model; the description is recorded with every run):\n")
	for _, n := range models.Names() {
		fmt.Fprintf(w, "  %s\n      %s\n", n, models.About(n))
	}
}

// printSummary is what rst train prints on stdout without --json: the
// numbers one looks for first, and where the whole record is.
func printSummary(w io.Writer, r *train.Record, out string) {
	where := out
	if where == "" {
		where = "not written (use --out FILE, or --json to print it)"
	}
	fmt.Fprintf(w, "run %s: %s %s on %s, %d steps\n", r.ID, r.Config.Method.Name, r.Config.Model, r.Config.Data, r.Steps)
	fmt.Fprintf(w, "  test error %.2f%%, test loss %.4f\n", float64(r.TestError), float64(r.TestLoss))
	if f := r.FinalTrain; f != nil {
		fmt.Fprintf(w, "  training set: error %.2f%%, loss %.4f\n", float64(f.Error), float64(f.Loss))
	}
	fmt.Fprintf(w, "  %.0f forward-backward pairs, Δη realised %.3f, expected %.3f\n", r.Pairs, r.DeltaEtaRealised, r.DeltaEtaExpected)
	fmt.Fprintf(w, "  %.1fs training, %.1fs in all\n", r.TrainSeconds, r.WallSeconds)
	fmt.Fprintf(w, "  record: %s\n", where)
}

// watcher passes progress on and remembers how far the run got, so an
// interrupt can say what is kept.
type watcher struct {
	train.Progress
	step  int // steps done
	epoch int // epochs done, each saved to the checkpoint when there is one
}

func (w *watcher) Step(step, epoch int, loss float64) {
	w.step = step
	w.Progress.Step(step, epoch, loss)
}

func (w *watcher) Epoch(e train.Epoch) {
	w.epoch = e.Epoch
	w.Progress.Epoch(e)
}

func (w *watcher) Resume(epoch, step int) {
	w.epoch, w.step = epoch, step
	if r, ok := w.Progress.(train.Resumer); ok {
		r.Resume(epoch, step)
	}
}

// interrupted says what an interrupted run leaves behind. The loop checks
// for the interrupt only between steps, and saves the checkpoint right
// after each epoch's evaluation, so the last finished epoch is on disk.
func interrupted(w *watcher, checkpoint string) error {
	var msg string
	switch {
	case checkpoint == "":
		msg = fmt.Sprintf("interrupted at step %d: no --checkpoint was given, nothing was kept; add --checkpoint FILE to make a run resumable", w.step)
	case w.epoch == 0:
		msg = fmt.Sprintf("interrupted at step %d, before the first epoch ended: nothing was kept yet (%s is written after every epoch); run the same command again to start over", w.step, checkpoint)
	default:
		msg = fmt.Sprintf("interrupted at step %d: the checkpoint of epoch %d in %s is kept; run the same command again to resume", w.step, w.epoch, checkpoint)
	}
	return &exitError{code: 130, msg: msg}
}
