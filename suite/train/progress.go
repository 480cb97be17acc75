package train

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"
)

// Progress receives a run's events. Terminal draws a live line on a
// terminal; Lines logs plain lines for files and CI; Silent drops them.
type Progress interface {
	Start(cfg Config, totalSteps, stepsPerEpoch int)
	Step(step, epoch int, loss float64)
	Epoch(e Epoch)
	Done(r *Record)
}

// Resumer is a Progress that wants to know when a run continues from a
// checkpoint after epoch/step (its ETA must count only the steps left).
type Resumer interface {
	Resume(epoch, step int)
}

// Silent ignores progress.
type Silent struct{}

func (Silent) Start(Config, int, int) {}
func (Silent) Step(int, int, float64) {}
func (Silent) Epoch(Epoch)            {}
func (Silent) Done(*Record)           {}

// ForWriter picks Terminal when w is a terminal and Lines otherwise.
func ForWriter(w io.Writer) Progress {
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			return &Terminal{W: w}
		}
	}
	return &Lines{Log: slog.New(slog.NewTextHandler(w, nil)), Every: 10 * time.Second}
}

type clock struct {
	total, perEpoch int
	start           time.Time
	// epoch, sum and seen give the mean loss of the current epoch's steps
	// so far: at the epoch's end it is exactly the train_loss the record
	// holds, so the live number and the record never disagree.
	epoch int
	sum   float64
	seen  int
	done  int // steps already done when this process started
}

func (c *clock) begin(total, perEpoch int) {
	c.total, c.perEpoch, c.start, c.seen, c.sum = total, perEpoch, time.Now(), 0, 0
}

func (c *clock) observe(epoch int, loss float64) {
	if epoch != c.epoch || c.seen == 0 {
		c.epoch, c.sum, c.seen = epoch, 0, 0
	}
	c.sum += loss
	c.seen++
}

// loss is the running mean of the current epoch's step losses.
func (c *clock) loss() float64 {
	if c.seen == 0 {
		return 0
	}
	return c.sum / float64(c.seen)
}

func (c *clock) eta(step int) time.Duration {
	if step <= c.done {
		return 0
	}
	el := time.Since(c.start)
	return time.Duration(float64(el) / float64(step-c.done) * float64(c.total-step)).Round(time.Second)
}

// Terminal redraws one status line: epoch, step, the epoch's mean loss so
// far, ETA.
type Terminal struct {
	W    io.Writer
	c    clock
	last time.Time
	cfg  Config
}

func (p *Terminal) Start(cfg Config, total, perEpoch int) {
	p.cfg = cfg
	p.c.begin(total, perEpoch)
	fmt.Fprintf(p.W, "training %s on %s with %s, %d steps (%d per epoch), seed %d, %s\n",
		cfg.Model, cfg.Data, cfg.Method.Name, total, perEpoch, cfg.Seed, cfg.Device)
}

func (p *Terminal) Step(step, epoch int, loss float64) {
	p.c.observe(epoch, loss)
	if time.Since(p.last) < 200*time.Millisecond && step != p.c.total {
		return
	}
	p.last = time.Now()
	const width = 24
	filled := width * step / p.c.total
	fmt.Fprintf(p.W, "\r[%s%s] %3d%% epoch %d step %d/%d epoch mean loss %.4f ETA %s   ",
		strings.Repeat("=", filled), strings.Repeat(" ", width-filled), 100*step/p.c.total,
		epoch+1, step, p.c.total, p.c.loss(), p.c.eta(step))
}

func (p *Terminal) Resume(epoch, step int) {
	p.c.done = step
	fmt.Fprintf(p.W, "resuming from the checkpoint after epoch %d (step %d)\n", epoch, step)
}

func (p *Terminal) Epoch(e Epoch) {
	if !e.TestError.Finite() {
		fmt.Fprintf(p.W, "\repoch %d: train loss %.4f, not evaluated (--eval-every), %.1fs%s\n",
			e.Epoch, e.TrainLoss, e.Seconds, strings.Repeat(" ", 30))
		return
	}
	fmt.Fprintf(p.W, "\repoch %d: train loss %.4f, test loss %.4f, test error %.2f%%, %.1fs%s\n",
		e.Epoch, e.TrainLoss, e.TestLoss, e.TestError, e.Seconds, strings.Repeat(" ", 30))
}

func (p *Terminal) Done(r *Record) { fmt.Fprintln(p.W, summary(r)) }

// Lines logs a line at most every Every, and one per epoch.
type Lines struct {
	Log   *slog.Logger
	Every time.Duration
	c     clock
	last  time.Time
}

func (p *Lines) Start(cfg Config, total, perEpoch int) {
	p.c.begin(total, perEpoch)
	p.last = time.Now()
	p.Log.Info("training", "model", cfg.Model, "data", cfg.Data, "method", cfg.Method.Name,
		"steps", total, "steps_per_epoch", perEpoch, "seed", cfg.Seed, "device", cfg.Device)
}

func (p *Lines) Step(step, epoch int, loss float64) {
	p.c.observe(epoch, loss)
	if time.Since(p.last) < p.Every {
		return
	}
	p.last = time.Now()
	p.Log.Info("progress", "epoch", epoch+1, "step", step, "of", p.c.total, "epoch_mean_loss", fmt.Sprintf("%.4f", p.c.loss()), "eta", p.c.eta(step).String())
}

func (p *Lines) Resume(epoch, step int) {
	p.c.done = step
	p.Log.Info("resuming from checkpoint", "epoch", epoch, "step", step)
}

func (p *Lines) Epoch(e Epoch) {
	if !e.TestError.Finite() {
		p.Log.Info("epoch", "epoch", e.Epoch, "train_loss", fmt.Sprintf("%.4f", e.TrainLoss), "test", "not evaluated (--eval-every)", "seconds", fmt.Sprintf("%.1f", e.Seconds))
		return
	}
	p.Log.Info("epoch", "epoch", e.Epoch, "train_loss", fmt.Sprintf("%.4f", e.TrainLoss),
		"test_loss", fmt.Sprintf("%.4f", e.TestLoss), "test_error", fmt.Sprintf("%.2f%%", e.TestError), "seconds", fmt.Sprintf("%.1f", e.Seconds))
}

func (p *Lines) Done(r *Record) { p.Log.Info(summary(r)) }

func summary(r *Record) string {
	return fmt.Sprintf("done: test error %.2f%% (loss %.4f) after %d steps, %.0f forward-backward pairs (Δη %.3f), %.1fs training, %.1fs in all",
		r.TestError, r.TestLoss, r.Steps, r.Pairs, r.DeltaEtaRealised, r.TrainSeconds, r.WallSeconds)
}
