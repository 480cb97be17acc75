package train

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rst-bench/rst/suite/data"
	"github.com/rst-bench/rst/suite/models"
	"github.com/rst-bench/rst/suite/nn"
	"github.com/rst-bench/rst/suite/rng"
)

// narrowResNet18 is ResNet-18's topology at 1/8 of its width: the same
// blocks, strides and projections at about 1/64 of the work, so a test can
// train it for tens of steps.
const narrowResNet18 = "test-resnet18-w8"

func init() {
	models.Register(narrowResNet18, "ResNet-18 at 1/8 width (tests only)", func(in []int, classes int) (nn.Layer, error) {
		return models.ResNetCIFAR(in, []int{8, 16, 32, 64}, []int{2, 2, 2, 2}, classes)
	})
}

// colourSet is a learnable CIFAR-shaped task that survives crop and flip:
// image i has class i%3 and that colour channel (R, G or B) bright, the
// other two dark, with per-pixel noise. The labels use 3 of CIFAR-10's 10
// classes, so chance is 2/3 error.
func colourSet(name string, n int, seed uint64) *data.Set {
	s := &data.Set{Name: name, H: 32, W: 32, C: 3, Classes: 10,
		Pixels: make([]uint8, n*32*32*3), Labels: make([]int32, n),
		Mean: data.CIFAR10Mean, Std: data.CIFAR10Std}
	r := rng.New(seed, "colour-set")
	for i := range n {
		k := i % 3
		s.Labels[i] = int32(k)
		img := s.Image(i)
		for p := range img {
			v := 40 + r.IntN(60)
			if p%3 == k {
				v += 110
			}
			img[p] = uint8(v)
		}
	}
	return s
}

// writeColourCIFAR10 writes the colour task as a CIFAR-10 binary data dir
// and returns the dir.
func writeColourCIFAR10(t *testing.T, nTrain, nTest int) string {
	t.Helper()
	dir := t.TempDir()
	if err := data.WriteCIFAR10(dir, colourSet("train", nTrain, 1), colourSet("test", nTest, 2)); err != nil {
		t.Fatal(err)
	}
	return dir
}

// progressLog is a Progress that remembers what it was told.
type progressLog struct {
	started bool
	losses  []float64
}

func (r *progressLog) Start(Config, int, int)      { r.started = true }
func (r *progressLog) Step(_, _ int, loss float64) { r.losses = append(r.losses, loss) }
func (r *progressLog) Epoch(Epoch)                 {}
func (r *progressLog) Done(*Record)                {}

func cifarConfig(dir string) Config {
	cfg := Defaults()
	cfg.Data, cfg.DataDir, cfg.Augment = "cifar10", dir, "crop-flip"
	cfg.Epochs = 0
	return cfg
}

func TestResNet18TrainsOnCIFARFormat(t *testing.T) {
	dir := writeColourCIFAR10(t, 150, 60)
	trainSet, testSet, err := data.Load("cifar10", dir)
	if err != nil {
		t.Fatal(err)
	}
	if trainSet.Len() != 150 || testSet.Len() != 60 || trainSet.H != 32 || trainSet.C != 3 || trainSet.Classes != 10 {
		t.Fatalf("loaded %d/%d images of %dx%dx%d, %d classes", trainSet.Len(), testSet.Len(), trainSet.H, trainSet.W, trainSet.C, trainSet.Classes)
	}
	want := colourSet("train", 150, 1)
	for i := range want.Labels {
		if trainSet.Labels[i] != want.Labels[i] {
			t.Fatalf("train label %d is %d, wrote %d", i, trainSet.Labels[i], want.Labels[i])
		}
	}

	// The narrow ResNet-18 learns the task: 3 epochs of 10 steps.
	cfg := cifarConfig(dir)
	cfg.Model, cfg.Batch, cfg.Steps, cfg.LR = narrowResNet18, 15, 30, 0.05
	rec, err := RunOn(context.Background(), cfg, trainSet, testSet, nil)
	if err != nil {
		t.Fatal(err)
	}
	first, last := rec.Epochs[0], rec.Epochs[len(rec.Epochs)-1]
	t.Logf("%s: train loss %.3f → %.3f, test error %.1f%% → %.1f%% in %.1fs",
		cfg.Model, first.TrainLoss, last.TrainLoss, first.TestError, last.TestError, rec.TrainSeconds)
	if len(rec.Epochs) != 3 || rec.Steps != 30 {
		t.Errorf("%d epochs, %d steps; want 3 and 30", len(rec.Epochs), rec.Steps)
	}
	if !(last.TrainLoss < 0.5*first.TrainLoss) {
		t.Errorf("train loss %.3f → %.3f: did not halve", first.TrainLoss, last.TrainLoss)
	}
	if last.TestError > 20 { // chance is 66.7%
		t.Errorf("test error %.1f%% after training, chance is 66.7%%", last.TestError)
	}

	// ResNet-18 itself, full width: a few steps on one batch of 8 (a new
	// augmentation of the same images each step), which must lower the loss.
	cfg = cifarConfig(dir)
	cfg.Model, cfg.Batch, cfg.Steps, cfg.Subset, cfg.TestSubset, cfg.LR = "resnet18", 8, 3, 8, 8, 0.02
	prog := &progressLog{}
	rec, err = RunOn(context.Background(), cfg, trainSet, testSet, prog)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("resnet18: step losses %.3f in %.1fs", prog.losses, rec.TrainSeconds)
	if len(prog.losses) != 3 {
		t.Fatalf("%d steps reported, want 3", len(prog.losses))
	}
	if !(prog.losses[2] < prog.losses[0]) {
		t.Errorf("resnet18 step losses %.3f: no decrease", prog.losses)
	}
}

// TestCIFARBadInputTrainsNothing damages one file of a valid data dir at a
// time: loading fails with an error that names the file and says how to fix
// it, and training on that dir stops before the first step.
func TestCIFARBadInputTrainsNothing(t *testing.T) {
	const nTrain, nTest = 20, 6 // 4 records per train batch file
	rec100, err := data.CIFARRecords(colourSet("x", 4, 3), 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, file string
		damage     func(b []byte) []byte // nil: delete the file
		want       string
	}{
		{"cut mid-record", "data_batch_3.bin", func(b []byte) []byte { return b[:len(b)-100] }, "not a positive multiple"},
		{"cut at a record boundary", "data_batch_2.bin", func(b []byte) []byte { return b[:len(b)-3073] }, "truncated"},
		{"empty", "test_batch.bin", func([]byte) []byte { return nil }, "not a positive multiple"},
		// CIFAR-100 records carry two label bytes: 3074 bytes, not 3073.
		{"wrong record size", "data_batch_1.bin", func([]byte) []byte { return rec100 }, "3073-byte record"},
		{"label out of range", "test_batch.bin", func(b []byte) []byte { b[0] = 10; return b }, "label 10"},
		{"missing", "data_batch_5.bin", nil, "data_batch_5.bin"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := writeColourCIFAR10(t, nTrain, nTest)
			path := filepath.Join(dir, data.CIFAR10Dir, c.file)
			if c.damage == nil {
				if err := os.Remove(path); err != nil {
					t.Fatal(err)
				}
			} else {
				b, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, c.damage(b), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, _, err := data.Load("cifar10", dir)
			if err == nil {
				t.Fatal("damaged data loaded without error")
			}
			msg := err.Error()
			for _, s := range []string{path, c.want, "rst data fetch cifar10"} {
				if !strings.Contains(msg, s) {
					t.Errorf("error %q does not say %q", msg, s)
				}
			}

			cfg := cifarConfig(dir)
			cfg.Model, cfg.Batch, cfg.Steps = narrowResNet18, 4, 2
			prog := &progressLog{}
			rec, err := Run(context.Background(), cfg, prog)
			if err == nil || rec != nil {
				t.Fatalf("Run on damaged data: record %v, error %v", rec != nil, err)
			}
			if prog.started || len(prog.losses) > 0 {
				t.Errorf("training started on damaged data (%d steps)", len(prog.losses))
			}
		})
	}
}
