package train

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/rst-bench/rst/suite/data"
	"github.com/rst-bench/rst/suite/models"
	"github.com/rst-bench/rst/suite/nn"
	"github.com/rst-bench/rst/suite/optim"
)

func officialSets() (train, test *data.Set) {
	return data.Synthetic("synthetic", 160, 8, 8, 1, 10, nil, nil), data.Synthetic("synthetic", 32, 8, 8, 1, 10, nil, nil)
}

func officialConfig() Config {
	cfg := Defaults()
	cfg.Model, cfg.Data, cfg.Batch, cfg.Steps, cfg.Epochs = "smallcnn", "synthetic", 16, 8, 0
	return cfg
}

// --warmup-style official: no sharp step while warming up, and the rate
// ramps as t/W from 0; the suite's style keeps the sharp steps and ramps
// as (t+1)/W.
func TestOfficialWarmup(t *testing.T) {
	tr, te := officialSets()
	for _, style := range []string{"", "official"} {
		cfg := officialConfig()
		cfg.Method = optim.Spec{Name: "rst", Schedule: "constant:1"}
		cfg.Warmup, cfg.WarmupStyle = 3, style
		rec, err := RunOn(context.Background(), cfg, tr, te, nil)
		if err != nil {
			t.Fatal(err)
		}
		wantDraws, wantPairs := "11111111", 16.0
		if style == "official" {
			wantDraws, wantPairs = "00011111", 13
		}
		if got := drawString(rec); got != wantDraws || rec.Pairs != wantPairs {
			t.Errorf("warm-up style %q: draws %s, %v pairs; want %s, %v", style, got, rec.Pairs, wantDraws, wantPairs)
		}
	}
	for _, c := range []struct {
		fromZero bool
		want     []float64 // the first four rates of a constant 0.4 warmed up over 4 steps
	}{{false, []float64{0.1, 0.2, 0.3, 0.4}}, {true, []float64{0, 0.1, 0.2, 0.3}}} {
		lr, err := optim.ParseLRStyle("constant", 0.4, 4, c.fromZero)
		if err != nil {
			t.Fatal(err)
		}
		for s, w := range append(c.want, 0.4) {
			if got := lr.At(s, 100); math.Abs(got-w) > 1e-15 {
				t.Errorf("warm-up from zero %v: lr at step %d = %v, want %v", c.fromZero, s, got, w)
			}
		}
	}
}

func drawString(r *Record) string {
	var b strings.Builder
	draws, _ := DecodeDraws(r.Draws, r.Steps)
	for _, d := range draws {
		if d {
			b.WriteByte('1')
		} else {
			b.WriteByte('0')
		}
	}
	return b.String()
}

// --opt-clip is a second global-norm clip after --clip: with momentum and
// L2 off and a constant rate, one step moves the weights by lr times the
// gradient clipped at the smaller of the two.
func TestOptClip(t *testing.T) {
	tr, _ := officialSets()
	for _, c := range []struct{ clip, opt, want float64 }{
		{5, 0, 0},       // only the first clip (the gradient is below 5: unclipped)
		{5, 0.01, 0.01}, // the second clip binds
		{0.02, 0.05, 0.02},
	} {
		cfg := officialConfig()
		cfg.Momentum, cfg.Nesterov, cfg.L2, cfg.LRSchedule = 0, false, 0, "constant"
		cfg.Clip, cfg.OptClip = c.clip, c.opt
		s, err := NewStepper(cfg, tr, 8, 10)
		if err != nil {
			t.Fatal(err)
		}
		s.Load([]int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15})
		before := append([]float32(nil), s.Net().W.Data...)
		s.Step(s.Method(), 0)
		var d2 float64
		for i, w := range s.Net().W.Data {
			d := float64(w - before[i])
			d2 += d * d
		}
		got := math.Sqrt(d2) / cfg.LR
		if c.want == 0 {
			if got < 0.05 || got > 5 {
				t.Errorf("clip %v: step norm %v, want an unclipped gradient's", c.clip, got)
			}
			continue
		}
		if math.Abs(got-c.want) > 1e-3*c.want {
			t.Errorf("--clip %v --opt-clip %v: the update's norm is %v·lr, want %v·lr", c.clip, c.opt, got, c.want)
		}
	}
}

// twoPasses is a method that runs two passes at the same weights and
// reports in Loss the largest difference between their gradients: with one
// dropout mask per step it is 0.
type twoPasses struct{ g []float32 }

func (*twoPasses) Name() string { return "two-passes" }
func (m *twoPasses) Step(c *optim.StepContext) optim.StepResult {
	c.Pass(optim.PassOptions{})
	m.g = append(m.g[:0], c.Net.G.Data...)
	c.Pass(optim.PassOptions{FreezeStats: true})
	var diff float64
	for i, v := range c.Net.G.Data {
		diff = math.Max(diff, math.Abs(float64(v-m.g[i])))
	}
	return optim.StepResult{Loss: diff, Pairs: 2}
}

func init() {
	optim.Register("test-two-passes", func(optim.Spec, *nn.Net) (optim.Method, error) { return &twoPasses{}, nil })
	models.Register("test-dropout-mlp", "MLP with dropout 0.5 (tests)", func(in []int, classes int) (nn.Layer, error) {
		return nn.Seq(&nn.Flatten{}, nn.NewLinear(in[0]*in[1]*in[2], 32), &nn.ReLU{}, &nn.Dropout{P: 0.5}, nn.NewLinear(32, classes)), nil
	})
}

// Both passes of a step see one dropout mask by default (the official
// code's one PRNG key per step; --dropout-masks per-step spells it out);
// per-pass draws a new one for each pass.
func TestDropoutMasksPerStep(t *testing.T) {
	tr, _ := officialSets()
	for _, mode := range []string{"", "per-pass", "per-step"} {
		cfg := officialConfig()
		cfg.Model, cfg.Dropout = "test-dropout-mlp", mode
		cfg.Method = optim.Spec{Name: "test-two-passes"}
		s, err := NewStepper(cfg, tr, 8, 10)
		if err != nil {
			t.Fatal(err)
		}
		s.Load([]int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15})
		diff := s.Step(s.Method(), 3).Loss
		if same := diff == 0; same != (mode != "per-pass") {
			t.Errorf("--dropout-masks %q: the two passes' gradients differ by %v", mode, diff)
		}
	}
}

// The new options stay out of a config's JSON, and so out of its id, at
// the suite's defaults, whichever spelling of the default is given.
func TestOfficialOptionsKeepIDs(t *testing.T) {
	base := Defaults()
	r0, err := base.Resolved()
	if err != nil {
		t.Fatal(err)
	}
	spelt := base
	spelt.WarmupStyle, spelt.Dropout, spelt.Init = "suite", "per-step", "suite"
	r1, err := spelt.Resolved()
	if err != nil {
		t.Fatal(err)
	}
	if r0.ID() != r1.ID() {
		t.Error("spelling out the suite's defaults changed the run id")
	}
	for _, f := range []func(*Config){
		func(c *Config) { c.WarmupStyle = "official" },
		func(c *Config) { c.OptClip = 2 },
		func(c *Config) { c.Dropout = "per-pass" },
		func(c *Config) { c.Init = "official" },
	} {
		c := base
		f(&c)
		r, err := c.Resolved()
		if err != nil {
			t.Fatal(err)
		}
		if r.ID() == r0.ID() {
			t.Errorf("an official option left the id unchanged: %+v", c)
		}
	}
	for flag, f := range map[string]func(*Config){
		"--warmup-style":  func(c *Config) { c.WarmupStyle = "paper" },
		"--opt-clip":      func(c *Config) { c.OptClip = -1 },
		"--dropout-masks": func(c *Config) { c.Dropout = "same" },
		"--init":          func(c *Config) { c.Init = "flax" },
	} {
		c := base
		f(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), flag) {
			t.Errorf("%s: error %v, want one naming the flag", flag, err)
		}
	}
}

// --param m runs through the trainer's sub-batch passes: a SAM run with
// m = 4 on batches of 16 trains, costs 2 pairs a step, and differs from
// whole-batch SAM.
func TestMSharpnessOnTrainer(t *testing.T) {
	tr, te := officialSets()
	var errs [2]float64
	for i, m := range []float64{0, 4} {
		cfg := officialConfig()
		cfg.Method = optim.Spec{Name: "sam"}
		if m > 0 {
			cfg.Method.Params = map[string]float64{"m": m}
		}
		rec, err := RunOn(context.Background(), cfg, tr, te, nil)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Diverged != nil || rec.Pairs != 16 {
			t.Fatalf("m=%v: diverged %v, %v pairs (want 16)", m, rec.Diverged, rec.Pairs)
		}
		errs[i] = float64(rec.TestLoss)
	}
	if errs[0] == errs[1] {
		t.Error("m = 4 gave whole-batch SAM's result")
	}
}
