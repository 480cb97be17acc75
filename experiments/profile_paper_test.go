package experiments

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/rst-bench/rst/suite/optim"
	"github.com/rst-bench/rst/suite/train"
)

// The paper profile resolves to the official code's settings, and its
// resolved config (the run's identity and record) shows each of them.
func TestPaperProfileIsOfficial(t *testing.T) {
	seen := map[string]bool{}
	for _, name := range []string{"table3", "table11", "table12"} {
		tg, err := Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		runs, err := tg.Plan(Profiles["paper"], 1)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range runs {
			if r.Needs != "" {
				continue
			}
			c := r.Config
			if r.Cell.Model == ViTS {
				checkViTRecipe(t, name, r.Cell, c)
				continue
			}
			if c.Batch != 256 || c.Init != "official" || c.OptClip != 2 || c.Clip != 5 || c.Dropout == "per-pass" || c.WarmupStyle != "official" || c.Warmup != 0 {
				t.Fatalf("%s %s: %+v is not the official setting", name, r.Cell.Label(), c)
			}
			if !strings.HasSuffix(c.Model, "-official") && c.Model != "vgg16-bn" {
				t.Errorf("%s: model %s, want the official architecture", name, c.Model)
			}
			b, _ := json.Marshal(c)
			for _, key := range []string{`"init":"official"`, `"opt_clip":2`, `"warmup_style":"official"`, `"batch":256`} {
				if !strings.Contains(string(b), key) {
					t.Errorf("%s: the resolved config %s lacks %s", name, b, key)
				}
			}
			m := c.Method
			sharp := m.Sharp
			switch {
			case m.Name == "grst" && sharp == "gnr":
				seen["grst"] = m.Params["normalized"] == 1
			case m.Name == "asam" || sharp == "asam":
				seen["asam"] = m.Params["bn_gamma"] == 1
			case m.Name == "gsam" || sharp == "gsam":
				seen["gsam"] = m.Params["adaptive"] == 1
			}
		}
	}
	for _, k := range []string{"grst", "asam", "gsam"} {
		if !seen[k] {
			t.Errorf("%s: the paper profile does not use the official variant", k)
		}
	}
	// The cells themselves are untouched: the cpu profile still plans the
	// suite's variants (and its committed ids, TestCommittedRunIDsAreStable).
	tg, _ := Lookup("table3")
	runs, _ := tg.Plan(Profiles["cpu"], 1)
	for _, r := range runs {
		if _, ok := r.Config.Method.Params["normalized"]; ok || r.Config.Init != "" {
			t.Fatalf("the cpu profile picked up an official option: %+v", r.Config)
		}
	}
}

// rst train --profile paper: the official settings for every flag the user
// did not give; the given ones are kept.
func TestPaperDefaults(t *testing.T) {
	c := train.Defaults()
	c.Method = optim.Spec{Name: "grst", Schedule: "constant:0.5"}
	c.Init = "suite"
	applied := PaperDefaults(&c, map[string]bool{"init": true})
	if c.Batch != 256 || c.OptClip != 2 || c.Dropout == "per-pass" || c.WarmupStyle != "official" || c.Init != "suite" || c.Method.Params["normalized"] != 1 {
		t.Errorf("PaperDefaults gave %+v", c)
	}
	if got := strings.Join(applied, " "); strings.Contains(got, "--init") || !strings.Contains(got, "--opt-clip 2") || !strings.Contains(got, "normalized=1") {
		t.Errorf("applied %q", got)
	}
	k := train.Defaults()
	k.Method = optim.Spec{Name: "grst", Schedule: "constant:0.5", Params: map[string]float64{"normalized": 0}}
	PaperDefaults(&k, nil)
	if k.Method.Params["normalized"] != 0 {
		t.Error("a --param the user gave was overridden")
	}
	v := train.Defaults()
	v.Model = "vit-s16"
	if applied := PaperDefaults(&v, nil); v.Init != "" || strings.Contains(strings.Join(applied, " "), "--init") {
		t.Errorf("a ViT got the CNNs' official initialisation: init %q, applied %q", v.Init, applied)
	}
}

// checkViTRecipe: SPEC §3's ViT setting, Adam with decoupled decay 0.3 at lr
// 1e-3, no L2, the ViT's own initialisation; 1200 epochs with mixup in
// Table 3, 300 without in Table 11.
func checkViTRecipe(t *testing.T, target string, cell Cell, c train.Config) {
	t.Helper()
	epochs, mixup := 300, 0.0
	if target == "table3" {
		epochs, mixup = 1200, vitMixup
	}
	if c.Model != "vit-s16" || c.Optimizer != "adamw" || c.LR != 1e-3 || c.WeightDecay != 0.3 || c.L2 != 0 || c.Init != "" ||
		c.Epochs != epochs || c.Mixup != mixup || c.Batch != 256 {
		t.Errorf("%s %s: %+v is not the paper's ViT recipe (%d epochs, mixup %v)", target, cell.Label(), c, epochs, mixup)
	}
}

// Table 4 resolves to SPEC §3's ImageNet setting in the paper profile and
// says what it needs in the profiles that train here.
func TestTable4ImageNetRecipe(t *testing.T) {
	tg, err := Lookup("table4")
	if err != nil {
		t.Fatal(err)
	}
	if n := tg.Seeds(Profiles["paper"], 0); n != 3 {
		t.Errorf("table4 runs %d seeds in the paper profile, want the paper's 3", n)
	}
	runs, err := tg.Plan(Profiles["paper"], 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 6 {
		t.Fatalf("%d runs planned, want 2 models × 3 methods", len(runs))
	}
	for _, r := range runs {
		c := r.Config
		if r.Needs != "" || (c.Model != "resnet50" && c.Model != "resnet101") || c.Data != "imagenet" || c.Epochs != 100 ||
			c.Batch != 512 || c.LR != 0.2 || c.L2 != 1e-4 || c.Augment != train.ImageNetAugment || c.Init != "" {
			t.Errorf("%s: needs %q, %+v is not the paper's ImageNet setting", r.Cell.Label(), r.Needs, c)
		}
	}
	for _, p := range []string{"cpu", "smoke"} {
		runs, err := tg.Plan(Profiles[p], 1)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range runs {
			if !strings.HasPrefix(r.Needs, "needs: imagenet") {
				t.Errorf("%s profile, %s: needs %q, want imagenet", p, r.Cell.Label(), r.Needs)
			}
		}
	}
}
