package experiments

import (
	"fmt"
	"maps"
	"strings"

	"github.com/rst-bench/rst/suite/optim"
	"github.com/rst-bench/rst/suite/train"
)

// Profile is one scale of every target's run matrix.
type Profile struct {
	Name  string
	Seeds int // default number of seeds
	// SweepSeeds, when set, is the default for the long sweeps (targets
	// with Sweep set): fewer seeds where a profile's budget needs it.
	SweepSeeds int
	About      string
	// Models and Data map the paper's names to what this profile trains;
	// a name absent from the map cannot run in this profile.
	Models, Data map[string]string
	// Why says, for a paper name a profile lacks, what it would need.
	Why map[string]string
	// Steps is the length T of one run, which the schedules' p(t) spans:
	// epochs × (training images / batch), the last short batch dropped.
	Steps int
	base  func(model, data string) train.Config
	// method, when set, adjusts a cell's method spec for a stand-in model
	// to the profile (the paper profile's official variants, the cpu
	// profile's radius); it must not modify its argument.
	method func(s optim.Spec, model string) optim.Spec
	// noteOf, when set, says how the profile's data differs from the
	// stand-in dataset itself for a paper model (the cpu profile's label
	// noise), for every table row and panel that names the data.
	noteOf func(paperModel string) string
}

func (p *Profile) dataNote(paperModel string) string {
	if p.noteOf == nil {
		return ""
	}
	return p.noteOf(paperModel)
}

// Profiles by name.
var Profiles = map[string]*Profile{
	"paper": paperProfile,
	"cpu":   cpuProfile,
	"smoke": smokeProfile,
}

// ProfileNames lists the profiles, most faithful first.
var ProfileNames = []string{"paper", "cpu", "smoke"}

// LookupProfile returns the named profile or an error listing them.
func LookupProfile(name string) (*Profile, error) {
	p, ok := Profiles[name]
	if !ok {
		return nil, fmt.Errorf("--profile %q: choose one of %s", name, strings.Join(ProfileNames, ", "))
	}
	return p, nil
}

// paper names of models and datasets, as the targets spell them.
const (
	ResNet18  = "resnet18"
	WRN2810   = "wrn28-10"
	VGG16BN   = "vgg16-bn"
	ViTS      = "vit-s16"
	ResNet50  = "resnet50"
	ResNet101 = "resnet101"
	CIFAR10   = "cifar10"
	CIFAR100  = "cifar100"
	ImageNet  = "imagenet"
)

// Display names for tables and figures.
var display = map[string]string{
	ResNet18: "ResNet-18", WRN2810: "WRN-28-10", VGG16BN: "VGG16-BN", ViTS: "ViT-S16",
	ResNet50: "ResNet-50", ResNet101: "ResNet-101",
	CIFAR10: "CIFAR-10", CIFAR100: "CIFAR-100", ImageNet: "ImageNet",
	"smallcnn": "small CNN", "wrn10-1": "WRN-10-1", "mlp": "MLP",
	"fashion-mnist": "Fashion-MNIST", "mnist": "MNIST",
}

// Display is the name a table prints for a model or dataset.
func Display(name string) string {
	if d, ok := display[name]; ok {
		return d
	}
	return name
}

// noImageNet is why the profiles that train here lack the ImageNet cells.
var noImageNet = map[string]string{
	ResNet50:  "needs: imagenet (cannot be downloaded here; run table4 with --profile paper where a copy is, see REPRODUCE.md)",
	ResNet101: "needs: imagenet (cannot be downloaded here; run table4 with --profile paper where a copy is, see REPRODUCE.md)",
	ImageNet:  "needs: imagenet (cannot be downloaded here; run table4 with --profile paper where a copy is, see REPRODUCE.md)",
}

// The paper profile follows the official code wherever the suite offers
// both (docs/DEVIATIONS.md): the official ResNet-18 and WRN-28-10, the
// dense initialisation, the optimizer's second clip at 2, one dropout mask
// per step, the official warm-up form (no warm-up is used), and the
// official variants of G-RST's GNR step (ĝ), ASAM (BN γ rescaled) and GSAM
// (adaptive). SAM's perturbation is taken over the whole batch of 256
// (m = 256): the official code perturbs per device, and the authors'
// device count is not known.
var paperProfile = &Profile{
	Name: "paper", Seeds: 5,
	About: "the paper's protocol with the official code's settings: CIFAR-10/100, 200 epochs, batch 256, crop+flip, lr 0.1 cosine, no warm-up, Nesterov 0.9, L2 1e-3, clip 5 then the optimizer's clip 2, ρ 0.05; official ResNet-18 stem and WRN shortcuts, dense layers U(±1/√fan_out) with zero bias, one dropout mask per step, G-RST mixing ĝ; the perturbation over the whole batch (m = 256, the device count of the official runs being unknown)",
	Models: map[string]string{ResNet18: "resnet18-official", WRN2810: "wrn28-10-official", VGG16BN: "vgg16-bn",
		ViTS: "vit-s16", ResNet50: "resnet50", ResNet101: "resnet101"},
	Data:  map[string]string{CIFAR10: "cifar10", CIFAR100: "cifar100", ImageNet: "imagenet"},
	Steps: 200 * (50000 / 256),
	base: func(model, data string) train.Config {
		c := train.Defaults()
		c.Profile, c.Model, c.Data = "paper", model, data
		c.Epochs, c.Batch, c.Augment = 200, 256, "crop-flip"
		c.Init, c.OptClip, c.WarmupStyle = "official", 2, "official" // one dropout mask per step is the suite's default too
		return c
	},
	method: func(s optim.Spec, _ string) optim.Spec { return officialMethod(s) },
}

// PaperDefaults applies the paper profile's official-code settings to a
// single run's config (`rst train --profile paper`), leaving alone every
// flag named in given, which the user set. It returns what it set, as
// flags, for the user to see.
func PaperDefaults(c *train.Config, given map[string]bool) []string {
	var applied []string
	apply := func(flag string, set func(), shown string) {
		if !given[flag] {
			set()
			applied = append(applied, "--"+flag+" "+shown)
		}
	}
	apply("batch", func() { c.Batch = 256 }, "256")
	if !strings.HasPrefix(c.Model, "vit-") { // the ViT keeps its own initialisation, as in the paper profile's ViT cells
		apply("init", func() { c.Init = "official" }, "official")
	}
	apply("opt-clip", func() { c.OptClip = 2 }, "2")
	apply("warmup-style", func() { c.WarmupStyle = "official" }, "official")
	before := c.Method.Params
	c.Method = officialMethod(c.Method)
	for k, v := range c.Method.Params {
		if _, ok := before[k]; !ok {
			applied = append(applied, fmt.Sprintf("--param %s=%g", k, v))
		}
	}
	return applied
}

// officialMethod sets the official code's variant of a method where the
// suite's default differs: GNR mixing ĝ (norm_perturbations=True), ASAM
// rescaling BN's γ, GSAM's adaptive perturbation.
func officialMethod(s optim.Spec) optim.Spec {
	set := func(k string, v float64) {
		p := maps.Clone(s.Params)
		if p == nil {
			p = map[string]float64{}
		}
		if _, given := p[k]; !given {
			p[k] = v
		}
		s.Params = p
	}
	sharp := s.Sharp
	if sharp == "" && s.Name == "grst" {
		sharp = "gnr"
	}
	switch {
	case s.Name == "gnr" || (s.Name == "grst" && sharp == "gnr"):
		set("normalized", 1)
	case s.Name == "asam" || sharp == "asam":
		set("bn_gamma", 1)
	case s.Name == "gsam" || sharp == "gsam":
		set("adaptive", 1)
	}
	return s
}

// The cpu profile: Fashion-MNIST (real, installable offline) stands in for
// CIFAR-10; there is no offline 100-class stand-in, so CIFAR-100 cells are
// listed as needing CIFAR-100. The small CNN stands in for ResNet-18 and
// VGG16-BN (a VGG-style conv-BN-ReLU-pool stack), WRN-10-1 for WRN-28-10
// (the same family, narrow and shallow), vit-mini for ViT-S16. Each trains
// in a regime the calibration target chose (calibrate.go): the CNNs on
// 1,000 images with 20% noisy labels, long enough to fit them, where SAM
// (at ρ 0.2) clearly beats SGD; the ViT in the original short regime,
// which the budget allows for its rows of tables 3 and 11.
var cpuProfile = &Profile{
	Name: "cpu", Seeds: 5, SweepSeeds: 3, // figure2 and figure3 on 5 seeds would be 1,155 of the 1,359 SGD-run equivalents
	Models: cpuModels,
	Data:   map[string]string{CIFAR10: "fashion-mnist"},
	Why: merge(noImageNet, map[string]string{
		CIFAR100: "needs: cifar100 (no 100-class dataset is available offline; run the paper profile)",
	}),
	base: func(model, data string) train.Config {
		c := calibrationBase(model, data)
		cpuRegimeFor(model).apply(&c)
		return c
	},
	method: cpuMethod,
	noteOf: cpuNote,
}

// cpuNote names the cpu profile's label noise wherever its data is named.
func cpuNote(paperModel string) string {
	m, ok := cpuModels[paperModel]
	if !ok {
		return ""
	}
	if n := cpuRegimeFor(m).LabelNoise; n > 0 {
		return fmt.Sprintf("%g%% noisy training labels", 100*n)
	}
	return ""
}

// cpuMethod scales every sharp method's default radius by the stand-in's
// regime's ρ over SAM's usual 0.05 (ASAM's 0.5 by as much), leaving a
// radius the cell sets itself alone.
func cpuMethod(s optim.Spec, model string) optim.Spec {
	rho := cpuRegimeFor(model).Rho
	if rho == 0 || s.Name == "sgd" || s.Rho != 0 {
		return s
	}
	def, sam := optim.DefaultRho(s.Name, s.Sharp), optim.DefaultRho("sam", "")
	if def == sam {
		s.Rho = rho // exactly the regime's, so the runs it shares with the calibration keep one id
	} else {
		s.Rho = def * (rho / sam)
	}
	return s
}

// cpuModels are the cpu profile's stand-ins.
var cpuModels = map[string]string{ResNet18: "smallcnn", WRN2810: "wrn10-1", VGG16BN: "smallcnn", ViTS: "vit-mini"}

// The calibration regimes (calibrate.go) the cpu profile trains in: the
// CNN stand-ins', and the ViT stand-in's. tables/cpu/calibration.md shows
// why these.
const (
	cpuRegime    = "noise 20%, ρ 0.2"
	cpuViTRegime = "noise 20%"
)

func cpuRegimeFor(model string) Regime {
	name := cpuRegime
	if strings.HasPrefix(model, "vit-") {
		name = cpuViTRegime
	}
	g, ok := LookupRegime(name)
	if !ok {
		panic("experiments: the cpu profile's regime " + name + " is not a calibration regime")
	}
	return g
}

func init() {
	cpuProfile.Steps = cpuRegimeFor("smallcnn").Steps()
	cpuProfile.About = cpuAbout()
}

// cpuAbout describes the cpu profile from its regimes, for every caption.
func cpuAbout() string {
	g, v := cpuRegimeFor("smallcnn"), cpuRegimeFor("vit-mini")
	return "Fashion-MNIST stands in for CIFAR-10 (2,000 clean test images). " +
		"CNN stand-ins (small CNN for ResNet-18 and VGG16-BN, WRN-10-1 for WRN-28-10), calibration regime " + regimeText(g, false) + ". " +
		"ViT-S16: vit-mini, regime " + regimeText(v, true)
}

// regimeText is what a regime trains, in a caption's words.
func regimeText(g Regime, vit bool) string {
	c, _ := g.Config(ResNet18)
	s := fmt.Sprintf("%q: ", g.Name)
	if c.LabelNoise > 0 {
		s += fmt.Sprintf("a label-noise stand-in, %s training images with %g%% of their labels replaced at random (SAM's gain under noisy labels is the effect this profile can show on two cores; tables/cpu/calibration.md), ", thousands(c.Subset), 100*c.LabelNoise)
	} else {
		s += fmt.Sprintf("%s clean training images, ", thousands(c.Subset))
	}
	s += fmt.Sprintf("%d epochs of batch %d (T = %d)", c.Epochs, c.Batch, g.Steps())
	if c.Warmup > 0 {
		s += fmt.Sprintf(", warm-up %d steps", c.Warmup)
	}
	if vit {
		s += ", AdamW lr 1e-3 with decoupled decay 0.3, no mixup"
	} else {
		s += fmt.Sprintf(", lr %g cosine, Nesterov 0.9, L2 1e-3, clip 5", c.LR)
	}
	if g.Rho != 0 {
		return s + fmt.Sprintf(", ρ %g (every sharp method's default radius ×%g)", g.Rho, g.Rho/optim.DefaultRho("sam", ""))
	}
	return s + ", ρ 0.05"
}

// The smoke profile runs every code path in seconds: an MLP on 512 MNIST
// digits for one epoch.
var smokeProfile = &Profile{
	Name: "smoke", Seeds: 2,
	About:  "seconds: an MLP on 512 MNIST training and 256 test digits, one epoch of batch 64; every CNN is the MLP, so rows of different CNNs share their runs; ViT-S16 is vit-mini with AdamW",
	Models: map[string]string{ResNet18: "mlp", WRN2810: "mlp", VGG16BN: "mlp", ViTS: "vit-mini"},
	Data:   map[string]string{CIFAR10: "mnist"},
	Why: merge(noImageNet, map[string]string{
		CIFAR100: "needs: cifar100 (the smoke profile trains one dataset: see the cpu and paper profiles)",
	}),
	Steps: 1 * (512 / 64),
	base: func(model, data string) train.Config {
		c := train.Defaults()
		c.Profile, c.Model, c.Data = "smoke", model, data
		c.Subset, c.TestSubset, c.Epochs, c.Batch = 512, 256, 1, 64
		return c
	},
}

// merge returns a copy of a with b's entries added.
func merge(a, b map[string]string) map[string]string {
	m := maps.Clone(a)
	maps.Copy(m, b)
	return m
}

// Config is the resolved run config of one cell and seed in profile p,
// or the reason the profile cannot run it.
func (p *Profile) Config(c Cell, seed int) (train.Config, string, error) {
	model, okM := p.Models[c.Model]
	data, okD := p.Data[c.Data]
	for _, name := range []string{c.Model, c.Data} {
		if _, ok := p.Models[name]; ok {
			continue
		}
		if _, ok := p.Data[name]; ok {
			continue
		}
		why := p.Why[name]
		if why == "" {
			why = "needs: " + name
		}
		return train.Config{}, why, nil
	}
	if !okM || !okD {
		return train.Config{}, "needs: " + c.Model + " on " + c.Data, nil
	}
	cfg := p.base(model, data)
	if c.Regime != "" {
		var needs string
		if cfg, needs = regimeConfig(p, c); needs != "" {
			return train.Config{}, needs, nil
		}
	}
	cfg.Seed = uint64(seed)
	cfg.Method = c.Method
	if p.method != nil && c.Regime == "" { // a calibration regime is frozen: the profile's choices do not reach it
		cfg.Method = p.method(cfg.Method, model)
	}
	if c.Augment != "" && p.Name != "smoke" && c.Regime == "" {
		cfg.Augment = c.Augment
	}
	applyRecipe(p, c, &cfg)
	cfg, err := cfg.Resolved()
	if err != nil {
		return cfg, "", fmt.Errorf("%s profile, %s: %w", p.Name, c.Label(), err)
	}
	return cfg, "", nil
}

// Method helpers for the targets' matrices.
var (
	SGD = optim.Spec{Name: "sgd"}
	SAM = optim.Spec{Name: "sam"}
)

// RST is RST with SAM steps under schedule s (schedule.Parse syntax).
func RST(s string) optim.Spec { return optim.Spec{Name: "rst", Schedule: s} }

// GRST is G-RST (GNR steps of degree 2ρ) under schedule s.
func GRST(s string) optim.Spec { return optim.Spec{Name: "grst", Schedule: s} }

// MethodLabel is how a table names a method spec.
func MethodLabel(m optim.Spec) string {
	switch m.Name {
	case "sgd":
		return "SGD"
	case "sam":
		return "SAM"
	case "rst", "grst":
		name := "RST"
		if m.Name == "grst" {
			name = "G-RST"
		}
		if m.Sharp != "" && !(m.Name == "rst" && m.Sharp == "sam") && !(m.Name == "grst" && m.Sharp == "gnr") {
			name += "+" + strings.ToUpper(m.Sharp)
		}
		return name + " " + m.Schedule
	}
	return strings.ToUpper(m.Name)
}
