package train

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rst-bench/rst/suite/data"
	"github.com/rst-bench/rst/suite/durable"
)

// mnistSubset loads the real MNIST shipped with the GoMNIST module.
func mnistSubset(t *testing.T) (train, test *data.Set) {
	t.Helper()
	dir, err := data.MNISTModuleDir()
	if err != nil {
		t.Fatal(err)
	}
	tr, te, err := data.LoadMNIST(dir)
	if err != nil {
		t.Fatal(err)
	}
	return tr, te
}

func smokeConfig() Config {
	c := Defaults()
	c.Profile = "smoke"
	c.Subset, c.TestSubset = 1600, 200
	c.Batch, c.Steps = 16, 100
	return c
}

func TestSameSeedSameWeightsDifferentSeedDifferent(t *testing.T) {
	tr, te := mnistSubset(t)
	weights := func(seed uint64) []float32 {
		c := smokeConfig()
		c.Seed = seed
		_, net, err := RunModel(context.Background(), c, tr, te, nil)
		if err != nil {
			t.Fatal(err)
		}
		return append([]float32(nil), net.W.Data...)
	}
	a, b, c := weights(1), weights(1), weights(2)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same seed: weight %d differs after 100 steps: %v vs %v", i, a[i], b[i])
		}
	}
	same := 0
	for i := range a {
		if a[i] == c[i] {
			same++
		}
	}
	if same > len(a)/100 {
		t.Fatalf("seeds 1 and 2 share %d of %d weights after 100 steps", same, len(a))
	}
}

func TestRecordAccountsForWorkAndLearns(t *testing.T) {
	tr, te := mnistSubset(t)
	c := smokeConfig()
	c.Steps, c.Epochs = 0, 2
	rec, err := RunOn(context.Background(), c, tr, te, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Steps != 2*1600/16 || rec.Pairs != float64(rec.Steps) || rec.DeltaEtaRealised != 0 {
		t.Errorf("SGD run: %d steps, %v pairs, Δη %v; want 200, 200, 0", rec.Steps, rec.Pairs, rec.DeltaEtaRealised)
	}
	if len(rec.Epochs) != 2 || rec.Epochs[1].Pairs != 200 {
		t.Errorf("epochs %+v", rec.Epochs)
	}
	// 200 steps on 1,600 real digits: far better than chance (90%).
	if rec.TestError > 25 {
		t.Errorf("test error %.1f%% after 2 epochs on 1,600 digits", rec.TestError)
	}
	// The id is the hash of the resolved config: every default filled in.
	resolved, err := c.Resolved()
	if err != nil {
		t.Fatal(err)
	}
	if rec.ID != resolved.ID() || rec.Config.ModelAbout == "" || rec.ID == c.ID() {
		t.Errorf("record id %s, resolved config's %s, unresolved %s; model description %q", rec.ID, resolved.ID(), c.ID(), rec.Config.ModelAbout)
	}
	p := rec.Provenance
	if p.GoVersion == "" || p.Backend == "" || p.GitCommit == "" || p.Threads < 1 || p.Device != "cpu" || p.End.Before(p.Start) {
		t.Errorf("provenance incomplete: %+v", p)
	}
	if len(p.Data) != 4 || len(p.Data) != len(tr.Files)+len(te.Files) || len(p.Data[0].SHA256) != 64 {
		t.Errorf("provenance lists %d data files, the sets read %d", len(p.Data), len(tr.Files)+len(te.Files))
	}

	c.Method.Name, c.Method.Rho = "sam", 0.05
	c.Epochs = 1
	rec, err = RunOn(context.Background(), c, tr, te, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Pairs != 2*float64(rec.Steps) || rec.DeltaEtaRealised != 1 {
		t.Errorf("SAM run: %v pairs for %d steps, Δη %v; want twice, 1", rec.Pairs, rec.Steps, rec.DeltaEtaRealised)
	}
	draws, err := DecodeDraws(rec.Draws, rec.Steps)
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range draws {
		if !d {
			t.Fatalf("SAM step %d recorded as a plain step", i)
		}
	}
}

func TestDrawsRoundTrip(t *testing.T) {
	in := make([]bool, 1001)
	for i := range in {
		in[i] = i%3 == 0 || i%7 == 0
	}
	out, err := DecodeDraws(encodeDraws(in), len(in))
	if err != nil {
		t.Fatal(err)
	}
	for i := range in {
		if in[i] != out[i] {
			t.Fatalf("draw %d: %v became %v", i, in[i], out[i])
		}
	}
}

func TestBadConfigsAreRefusedWithTheFlagNamed(t *testing.T) {
	tr, te := mnistSubset(t)
	for _, c := range []struct {
		mutate func(*Config)
		want   string
	}{
		{func(c *Config) { c.Batch = 0 }, "--batch"},
		{func(c *Config) { c.Batch = -5 }, "--batch"},
		{func(c *Config) { c.LR = 0 }, "--lr"},
		{func(c *Config) { c.LR = -0.1 }, "--lr"},
		{func(c *Config) { c.Epochs, c.Steps = 0, 0 }, "--epochs"},
		{func(c *Config) { c.Model = "resnet9000" }, "unknown model"},
		{func(c *Config) { c.Augment = "rotate" }, "--augment"},
		{func(c *Config) { c.Batch = 5000 }, "--batch 5000"},
		{func(c *Config) { c.Method.Name = "adam-sam" }, "--method"},
		{func(c *Config) { c.Method.Name, c.Method.Rho = "sam", -0.05 }, "--rho"},
		{func(c *Config) { c.LRSchedule = "exp" }, "--lr-schedule"},
		{func(c *Config) { c.Device = "tpu" }, "--device"},
		{func(c *Config) { c.Optimizer = "lion" }, "--optimizer"},
	} {
		cfg := smokeConfig()
		c.mutate(&cfg)
		_, err := RunOn(context.Background(), cfg, tr, te, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("config %+v: error %v, want one mentioning %q", cfg, err, c.want)
		}
	}
	cfg := smokeConfig()
	cfg.Data = "imagenet21k"
	if _, err := Run(context.Background(), cfg, nil); err == nil || !strings.Contains(err.Error(), "imagenet21k") {
		t.Errorf("unknown dataset: error %v", err)
	}
}

// An interrupted run resumed from its checkpoint ends bit-identical to an
// uninterrupted one.
func TestResumeFromCheckpointIsBitIdentical(t *testing.T) {
	tr, te := mnistSubset(t)
	c := smokeConfig()
	c.Steps, c.Epochs, c.Subset, c.TestSubset = 0, 3, 160, 50
	c.Method.Name, c.Method.Rho = "sam", 0.05
	// The cpu profile's options too: noisy labels, drawn again on resume,
	// and a test evaluation every second epoch only.
	c.LabelNoise, c.EvalEvery = 0.2, 2
	full, netFull, err := RunModel(context.Background(), c, tr, te, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Checkpoint = t.TempDir() + "/run.ckpt"
	// Stop the run during its second epoch: the first epoch's checkpoint
	// is on disk, the second is lost.
	ctx, cancel := context.WithCancel(context.Background())
	stopper := &cancelAt{step: 15, cancel: cancel}
	if _, _, err := RunModel(ctx, c, tr, te, stopper); err == nil {
		t.Fatal("the interrupted run did not report its interruption")
	}
	resumed, netResumed, err := RunModel(context.Background(), c, tr, te, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range netFull.W.Data {
		if netFull.W.Data[i] != netResumed.W.Data[i] {
			t.Fatalf("weight %d: uninterrupted %v, resumed %v", i, netFull.W.Data[i], netResumed.W.Data[i])
		}
	}
	if resumed.Pairs != full.Pairs || resumed.Draws != full.Draws || len(resumed.Epochs) != 3 ||
		resumed.TestError != full.TestError {
		t.Fatalf("resumed record differs: pairs %v/%v, epochs %d, error %v/%v",
			resumed.Pairs, full.Pairs, len(resumed.Epochs), resumed.TestError, full.TestError)
	}
	if resumed.FinalTrain == nil || full.FinalTrain == nil || *resumed.FinalTrain != *full.FinalTrain {
		t.Fatalf("fit on the training set: resumed %+v, uninterrupted %+v", resumed.FinalTrain, full.FinalTrain)
	}
	// --eval-every 2 over 3 epochs: epoch 1 is not evaluated, 2 and 3 are.
	if e := full.Epochs; e[0].TestError.Finite() || !e[1].TestError.Finite() || !e[2].TestError.Finite() {
		t.Fatalf("evaluated epochs with --eval-every 2: %+v", e)
	}
	// A checkpoint of another run is refused, not silently used.
	c.Seed = 99
	if _, err := RunOn(context.Background(), c, tr, te, nil); err == nil || !strings.Contains(err.Error(), "belongs to run") {
		t.Fatalf("foreign checkpoint: error %v", err)
	}
}

// cancelAt cancels the run's context when a given step completes.
type cancelAt struct {
	Silent
	step   int
	cancel func()
}

func (c *cancelAt) Step(step, _ int, _ float64) {
	if step == c.step {
		c.cancel()
	}
}

// A checkpoint another process is using is refused before any training,
// with a message naming the holder; a damaged checkpoint is refused with
// the fix.
func TestCheckpointInUseOrDamagedIsRefused(t *testing.T) {
	tr, te := mnistSubset(t)
	c := smokeConfig()
	c.Steps = 4
	c.Checkpoint = filepath.Join(t.TempDir(), "sub", "run.ckpt")
	lock, err := durable.TryLock(c.Checkpoint+".lock", "test")
	if err != nil {
		t.Fatal(err)
	}
	_, err = RunOn(context.Background(), c, tr, te, nil)
	lock.Unlock()
	if err == nil || !strings.Contains(err.Error(), "in use by pid") || !strings.Contains(err.Error(), c.Checkpoint) {
		t.Fatalf("second user of a checkpoint: err = %v, want one naming the holder and the file", err)
	}
	if err := os.WriteFile(c.Checkpoint, []byte("RSTCKPT1 sha256=00 bytes=3\nabc"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = RunOn(context.Background(), c, tr, te, nil)
	if err == nil || !strings.Contains(err.Error(), c.Checkpoint) || !strings.Contains(err.Error(), "delete it") {
		t.Fatalf("damaged checkpoint: err = %v, want one naming the file and the fix", err)
	}
}

// --label-noise changes exactly its fraction of the training subset's
// labels, on the same images, and a bad fraction is refused with the flag.
func TestLabelNoiseReachesTheTrainingLabelsOnly(t *testing.T) {
	tr, _ := mnistSubset(t)
	c := smokeConfig()
	clean, err := trainSource(c, tr)
	if err != nil {
		t.Fatal(err)
	}
	c.LabelNoise = 0.25
	noisy, err := trainSource(c, tr)
	if err != nil {
		t.Fatal(err)
	}
	changed := 0
	for i := range clean.set.Labels {
		if noisy.set.Labels[i] != clean.set.Labels[i] {
			changed++
		}
	}
	if want := c.Subset / 4; changed != want || !slices.Equal(noisy.set.Pixels, clean.set.Pixels) {
		t.Errorf("label noise 0.25 on %d images changed %d labels (want %d) or the images", c.Subset, changed, want)
	}
	for _, bad := range []float64{-0.1, 1} {
		c.LabelNoise = bad
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "--label-noise") {
			t.Errorf("--label-noise %v: %v", bad, err)
		}
	}
}
