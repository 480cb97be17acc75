package train

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/rst-bench/rst/suite/models"
	"github.com/rst-bench/rst/suite/optim"
)

// Config is everything that decides a run's result. Its canonical JSON is
// the run's identity (see ID); fields that do not change the result, such
// as where data lives, are not part of it.
type Config struct {
	Profile string `json:"profile"` // smoke, cpu or paper: printed on every table

	Model string `json:"model"`
	// ModelAbout is the model's description (models.About): part of the
	// identity, so a changed architecture behind the same name is a new run.
	ModelAbout string `json:"model_about,omitempty"`
	Data       string `json:"data"`
	Subset     int    `json:"subset,omitempty"`      // training samples used, 0 = all
	TestSubset int    `json:"test_subset,omitempty"` // test samples used, 0 = all
	Augment    string `json:"augment"`               // none, crop-flip, crop-flip-cutout, ...
	// LabelNoise is the fraction of training labels replaced by another
	// class drawn uniformly (symmetric noise, from the stream (seed,
	// "label-noise")); the test labels are never touched. 0 = clean.
	LabelNoise float64 `json:"label_noise,omitempty"`

	Epochs int `json:"epochs,omitempty"`
	// EvalEvery evaluates on the test split after every EvalEvery-th epoch
	// and the last one only (0 or 1 = every epoch): long runs of short
	// epochs would otherwise spend as much time evaluating as training.
	// The other epochs record their training loss and NaN test metrics.
	EvalEvery int `json:"eval_every,omitempty"`
	Steps     int `json:"steps,omitempty"` // when > 0, the run is this many steps instead of whole epochs
	Batch     int `json:"batch"`

	Optimizer   string  `json:"optimizer"` // sgd or adamw
	LR          float64 `json:"lr"`
	LRSchedule  string  `json:"lr_schedule"`
	Warmup      int     `json:"warmup,omitempty"`
	Momentum    float64 `json:"momentum"`
	Nesterov    bool    `json:"nesterov"`
	L2          float64 `json:"l2"`           // λ of λ/2·‖θ‖² in the loss
	WeightDecay float64 `json:"weight_decay"` // decoupled decay (AdamW-style)
	Clip        float64 `json:"clip"`         // global-norm clip, 0 = none
	Smoothing   float64 `json:"label_smoothing"`

	// Choices where the suite and the official code differ
	// (docs/DEVIATIONS.md). Each is left out of the JSON at the suite's
	// default, so the runs recorded before it existed keep their ids.

	// WarmupStyle is "" (the suite's: lr·(t+1)/W over the first W steps,
	// sharp steps allowed) or "official" (lr·t/W, and plain SGD steps
	// only until the warm-up ends).
	WarmupStyle string `json:"warmup_style,omitempty"`
	// OptClip is a second global-norm clip applied after Clip (the
	// official SGD optimizer's grad_norm_clip); 0 = none.
	OptClip float64 `json:"opt_clip,omitempty"`
	// Dropout is "" (one mask for all the passes of a step, as the official
	// code's single PRNG key per step gives: SAM's second pass sees the
	// network the first one did) or "per-pass" (a new mask for every pass).
	Dropout string `json:"dropout_masks,omitempty"`
	// Init is "" (the suite's: linear weights and biases uniform in
	// ±1/√fan_in) or "official" (linear kernels U(−1,1)/√fan_out, biases
	// zero). Convolutions are Kaiming-normal with fan-out either way.
	Init string `json:"init,omitempty"`
	// Mixup is α of mixup (0 = off): each step's batch is mixed with
	// itself in reverse order, x = λ·x + (1−λ)·x_rev with λ ~ Beta(α, α)
	// drawn once per step, and the loss is λ·CE(y) + (1−λ)·CE(y_rev).
	// Table 3's 1200-epoch ViT runs use it.
	Mixup float64 `json:"mixup,omitempty"`
	// ImageSize is the side of ImageNet's crops; 0 = 224.
	ImageSize int `json:"image_size,omitempty"`

	Method optim.Spec `json:"method"`
	Seed   uint64     `json:"seed"`
	Device string     `json:"device"`
	// DryRun marks a run of rst run --dry-run: a few steps at a small
	// batch that check a device or data path end to end. Its numbers mean
	// nothing, it is filed in a store of its own, and its (test) subset is
	// capped at what the data holds.
	DryRun bool `json:"dry_run,omitempty"`

	DataDir string `json:"-"`
	// OnCorrupt is what an ImageNet run does with an image it cannot
	// decode: "" or "fail" stops with the file's path; "skip" reports it,
	// trains on the next image of its class instead and lists it in the
	// record's provenance.
	OnCorrupt string `json:"-"`
	// Checkpoint, when set, is a file the run saves its state to after
	// every epoch and resumes from if it exists.
	Checkpoint string `json:"-"`
}

// Defaults is the suite's default configuration: docs/PAPER.md §3's optimizer
// settings [code] on MNIST with the small CNN.
func Defaults() Config {
	return Config{
		Profile: "cpu", Model: "smallcnn", Data: "mnist", Augment: "none",
		Epochs: 1, Batch: 128, Optimizer: "sgd", LR: 0.1, LRSchedule: "cosine",
		Momentum: 0.9, Nesterov: true, L2: 1e-3, Clip: 5,
		Method: optim.Spec{Name: "sgd"}, Seed: 1, Device: "cpu",
	}
}

// ID is a short hash of the canonical JSON of the config. Callers hash a
// resolved config (see Resolved) so that every default is part of it.
func (c Config) ID() string {
	b, err := json.Marshal(c) // struct fields marshal in a fixed order; maps are sorted
	if err != nil {
		// Only a non-finite number fails to marshal, and Validate refuses
		// those; hash the Go syntax rather than crash if one slips through.
		b = fmt.Appendf(nil, "%#v", c)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:8])
}

// Resolved returns the config with every default filled in: the method's
// radius and parameters (optim.Resolve) and the model's description. A run
// is identified by its resolved config.
func (c Config) Resolved() (Config, error) {
	m, err := optim.Resolve(c.Method)
	if err != nil {
		return c, err
	}
	c.Method = m
	about := models.About(c.Model)
	if about == "" {
		return c, fmt.Errorf("--model %q: unknown model; choose one of %s", c.Model, strings.Join(models.Names(), ", "))
	}
	c.ModelAbout = about
	// The suite's defaults are spelt "" so that they stay out of the id.
	if c.WarmupStyle == "suite" {
		c.WarmupStyle = ""
	}
	if c.Dropout == "per-step" {
		c.Dropout = ""
	}
	if c.Init == "suite" {
		c.Init = ""
	}
	return c, nil
}

// Validate catches the mistakes a user can make on the command line, with
// messages that name the flag and the fix.
func (c Config) Validate() error {
	// NaN passes every comparison below (NaN < 0 is false) and would reach
	// the optimizer as a silent poison, so non-finite numbers go first.
	for _, f := range []struct {
		flag string
		v    float64
	}{{"--lr", c.LR}, {"--momentum", c.Momentum}, {"--l2", c.L2}, {"--wd", c.WeightDecay},
		{"--clip", c.Clip}, {"--opt-clip", c.OptClip}, {"--smoothing", c.Smoothing}, {"--rho", c.Method.Rho}, {"--mixup", c.Mixup}, {"--label-noise", c.LabelNoise}} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			return fmt.Errorf("%s %v: must be a finite number", f.flag, f.v)
		}
	}
	bad := "" // the first non-finite --param by name, so the message is stable
	for k, v := range c.Method.Params {
		if (math.IsNaN(v) || math.IsInf(v, 0)) && (bad == "" || k < bad) {
			bad = k
		}
	}
	if bad != "" {
		return fmt.Errorf("--param %s=%v: must be a finite number", bad, c.Method.Params[bad])
	}
	switch {
	case c.Warmup < 0:
		return fmt.Errorf("--warmup %d: must be 0 or more steps", c.Warmup)
	case c.Batch <= 0:
		return fmt.Errorf("--batch %d: the batch size must be a positive integer (e.g. --batch 128)", c.Batch)
	case !(c.LR > 0):
		return fmt.Errorf("--lr %v: the learning rate must be positive (e.g. --lr 0.1)", c.LR)
	case c.Epochs <= 0 && c.Steps <= 0:
		return fmt.Errorf("--epochs %d and --steps %d: give a positive number of epochs or of steps", c.Epochs, c.Steps)
	case c.Epochs < 0 || c.Steps < 0:
		return fmt.Errorf("--epochs %d / --steps %d: must not be negative", c.Epochs, c.Steps)
	case c.EvalEvery < 0:
		return fmt.Errorf("--eval-every %d: evaluate after every K-th epoch, K ≥ 1 (0 = every epoch)", c.EvalEvery)
	case c.Subset < 0 || c.TestSubset < 0:
		return fmt.Errorf("--subset %d / --test-subset %d: must be 0 (all) or positive", c.Subset, c.TestSubset)
	case c.Momentum < 0 || c.Momentum >= 1:
		return fmt.Errorf("--momentum %v: must be in [0, 1)", c.Momentum)
	case c.L2 < 0 || c.WeightDecay < 0 || c.Clip < 0:
		return fmt.Errorf("--l2 %v, --wd %v, --clip %v: must not be negative", c.L2, c.WeightDecay, c.Clip)
	case c.ImageSize < 0 || (c.ImageSize > 0 && c.Data != "imagenet"):
		return fmt.Errorf("--image-size %d: a positive side in pixels, for --data imagenet only", c.ImageSize)
	case c.OnCorrupt != "" && c.OnCorrupt != "fail" && c.OnCorrupt != "skip":
		return fmt.Errorf("--on-corrupt %q: choose fail or skip", c.OnCorrupt)
	case c.LabelNoise < 0 || c.LabelNoise >= 1:
		return fmt.Errorf("--label-noise %v: the fraction of training labels to replace, in [0, 1) (e.g. --label-noise 0.2)", c.LabelNoise)
	case c.LabelNoise > 0 && c.Data == "imagenet":
		return fmt.Errorf("--label-noise %v: applies to the in-memory datasets (mnist, fashion-mnist, cifar10, cifar100), not to imagenet folders", c.LabelNoise)
	case c.Mixup < 0:
		return fmt.Errorf("--mixup %v: α must be 0 (off) or positive (e.g. --mixup 0.8)", c.Mixup)
	case c.Smoothing < 0 || c.Smoothing >= 1:
		return fmt.Errorf("--smoothing %v: must be in [0, 1)", c.Smoothing)
	case c.Optimizer != "sgd" && c.Optimizer != "adamw":
		return fmt.Errorf("--optimizer %q: choose sgd or adamw", c.Optimizer)
	case c.WarmupStyle != "" && c.WarmupStyle != "suite" && c.WarmupStyle != "official":
		return fmt.Errorf("--warmup-style %q: choose suite (lr·(t+1)/W, sharp steps allowed) or official (lr·t/W, no sharp step during warm-up)", c.WarmupStyle)
	case c.OptClip < 0:
		return fmt.Errorf("--opt-clip %v: must not be negative (0 = off; the official optimizer clips at 2)", c.OptClip)
	case c.Dropout != "" && c.Dropout != "per-pass" && c.Dropout != "per-step":
		return fmt.Errorf("--dropout-masks %q: choose per-pass (a new mask for every pass) or per-step (one mask for all passes of a step, official)", c.Dropout)
	case c.Init != "" && c.Init != "suite" && c.Init != "official":
		return fmt.Errorf("--init %q: choose suite (linear layers ±1/√fan_in, weights and bias) or official (U(−1,1)/√fan_out kernels, zero bias)", c.Init)
	}
	// Parse the lr schedule now, so a typo (or a NaN factor, which ParseLR
	// refuses) fails before the data loads.
	if _, err := optim.ParseLRStyle(c.LRSchedule, c.LR, c.Warmup, c.WarmupStyle == "official"); err != nil {
		return fmt.Errorf("--lr-schedule: %w", err)
	}
	return nil
}
