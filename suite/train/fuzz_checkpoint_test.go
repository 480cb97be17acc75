package train

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/gob"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/rst-bench/rst/suite/data"
	"github.com/rst-bench/rst/suite/durable"
	"github.com/rst-bench/rst/suite/models"
	"github.com/rst-bench/rst/suite/nn"
	"github.com/rst-bench/rst/suite/optim"
)

// The checkpoint fuzz targets resume a tiny run from whatever bytes the
// fuzzer makes: a run with RST draws over LookSAM (whose direction buffer
// is method state), two epochs of four steps, on a synthetic 2×2 data
// set, so that one resume costs microseconds of training.

func init() {
	models.Register("fuzz-mlp", "test only: flatten, 4-ReLU, linear", func(in []int, classes int) (nn.Layer, error) {
		return models.MLP(in, []int{4}, classes), nil
	})
}

func fuzzConfig() Config {
	c := Defaults()
	c.Profile, c.Model, c.Data = "smoke", "fuzz-mlp", "fuzz"
	c.Batch, c.Epochs = 16, 2
	c.Method = optim.Spec{Name: "rst", Sharp: "looksam", Schedule: "constant:0.5"}
	c, err := c.Resolved()
	if err != nil {
		panic(err)
	}
	return c
}

func fuzzSets() (train, test *data.Set) {
	return data.Synthetic("fuzz", 64, 2, 2, 1, 3, nil, nil), data.Synthetic("fuzz", 32, 2, 2, 1, 3, nil, nil)
}

// epochCopier saves a copy of the checkpoint file as it stands when
// epoch 2 ends, which is still the checkpoint of epoch 1.
type epochCopier struct {
	Silent
	path, copy string
}

func (p epochCopier) Epoch(e Epoch) {
	if e.Epoch == 2 {
		if b, err := os.ReadFile(p.path); err == nil {
			os.WriteFile(p.copy, b, 0o644)
		}
	}
}

var (
	fuzzSeedOnce sync.Once
	fuzzSeeds    [][]byte // checkpoint files after epochs 1 and 2
	fuzzWant     *Record  // the uninterrupted run's record
	fuzzSeedErr  error
)

// checkpointSeeds trains the tiny run once and returns its two real
// checkpoint files.
func checkpointSeeds(tb testing.TB) ([][]byte, *Record) {
	fuzzSeedOnce.Do(func() {
		dir, err := os.MkdirTemp("", "rst-fuzz-ckpt-")
		if err != nil {
			fuzzSeedErr = err
			return
		}
		defer os.RemoveAll(dir)
		cfg := fuzzConfig()
		cfg.Checkpoint = filepath.Join(dir, "run.ckpt")
		tr, te := fuzzSets()
		first := filepath.Join(dir, "epoch1.ckpt")
		fuzzWant, fuzzSeedErr = RunOn(context.Background(), cfg, tr, te, epochCopier{path: cfg.Checkpoint, copy: first})
		if fuzzSeedErr != nil {
			return
		}
		for _, p := range []string{first, cfg.Checkpoint} {
			b, err := os.ReadFile(p)
			if err != nil {
				fuzzSeedErr = err
				return
			}
			fuzzSeeds = append(fuzzSeeds, b)
		}
	})
	if fuzzSeedErr != nil {
		tb.Fatal(fuzzSeedErr)
	}
	return fuzzSeeds, fuzzWant
}

// restoreFrom writes file as the run's checkpoint and restores a fresh
// trainer of the run from it, as a resumed run starts. A refusal must name
// the file and say what to do; an accepted checkpoint must be one the
// training loop can continue from: this run's id, 0 ≤ epochs done ≤ the
// run's epochs, one step count, draw and epoch entry per step and epoch
// done. (The loop itself is not run: a checkpoint claiming −10⁹ epochs
// done would make it evaluate for hours instead of failing.)
func restoreFrom(t *testing.T, dir string, file []byte) {
	cfg := fuzzConfig()
	path := filepath.Join(dir, "run.ckpt")
	if err := os.WriteFile(path, file, 0o644); err != nil {
		t.Fatal(err)
	}
	tr, _ := fuzzSets()
	tn, err := newTrainer(cfg, tr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := tn.restore(path)
	if err != nil {
		msg := err.Error()
		if !strings.Contains(msg, path) {
			t.Fatalf("refusal does not name the checkpoint %s: %v", path, err)
		}
		if !strings.Contains(msg, "delete it") && !strings.Contains(msg, "use another --checkpoint path") {
			t.Fatalf("refusal does not say what to do: %v", err)
		}
		return
	}
	if c == nil {
		t.Fatalf("restore of an existing file returned no checkpoint and no error")
	}
	perEpoch := tn.src.Len() / cfg.Batch
	switch {
	case c.ID != cfg.ID():
		t.Fatalf("accepted a checkpoint of run %q for run %s", c.ID, cfg.ID())
	case c.Epoch < 0 || c.Epoch > cfg.Epochs:
		t.Fatalf("accepted a checkpoint with %d epochs done of a %d-epoch run", c.Epoch, cfg.Epochs)
	case c.Step != c.Epoch*perEpoch || tn.step != c.Step:
		t.Fatalf("accepted a checkpoint at step %d after %d epochs of %d steps", c.Step, c.Epoch, perEpoch)
	case len(c.Draws) != c.Step:
		t.Fatalf("accepted a checkpoint with %d draws for %d steps", len(c.Draws), c.Step)
	case len(c.Epochs) != c.Epoch:
		t.Fatalf("accepted a checkpoint with %d epoch records for %d epochs done", len(c.Epochs), c.Epoch)
	case !(c.Pairs >= float64(c.Step) && c.Pairs <= 2*float64(c.Step)) || c.TrainSeconds < 0 || c.Resumed < 0:
		t.Fatalf("accepted a checkpoint with %v pairs for %d steps, %v s, %d resumes", c.Pairs, c.Step, c.TrainSeconds, c.Resumed)
	}
	for i, e := range c.Epochs {
		if e.Epoch != i+1 {
			t.Fatalf("accepted a checkpoint whose epoch %d is numbered %d", i+1, e.Epoch)
		}
	}
}

// FuzzCheckpointFile resumes from arbitrary checkpoint files: the
// checksum must turn away every damaged one before it is decoded.
func FuzzCheckpointFile(f *testing.F) {
	seeds, _ := checkpointSeeds(f)
	for _, s := range seeds {
		f.Add(s)
		f.Add(s[:len(s)/2])
	}
	f.Add([]byte(checkpointMagic + " sha256=00 bytes=0\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		restoreFrom(t, dir, b)
	})
}

// FuzzCheckpointPayload resumes from checkpoints whose checksum is right
// but whose content is arbitrary, as a file written by another build or
// crafted by hand would be: the state must be refused or fit the run.
func FuzzCheckpointPayload(f *testing.F) {
	seeds, _ := checkpointSeeds(f)
	for _, s := range seeds {
		p, err := durable.ParseChecked(s, "seed", checkpointMagic)
		if err != nil {
			f.Fatal(err)
		}
		if !bytes.Equal(checked(p), s) {
			f.Fatalf("checked() no longer writes durable's format:\n%q\n%q", checked(p)[:80], s[:80])
		}
		f.Add(p)
	}
	f.Add([]byte{})
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, payload []byte) {
		restoreFrom(t, dir, checked(payload))
	})
}

// FuzzCheckpointFields changes the counters of a real checkpoint (epochs
// and steps done, draws, epoch records, pairs) and re-encodes it with a
// right checksum: byte mutations of gob rarely keep it decodable, so this
// target reaches the checks a decoded checkpoint must pass.
func FuzzCheckpointFields(f *testing.F) {
	seeds, _ := checkpointSeeds(f)
	var real []checkpoint
	for _, s := range seeds {
		p, err := durable.ParseChecked(s, "seed", checkpointMagic)
		if err != nil {
			f.Fatal(err)
		}
		var c checkpoint
		if err := gob.NewDecoder(bytes.NewReader(p)).Decode(&c); err != nil {
			f.Fatal(err)
		}
		real = append(real, c)
		f.Add(uint8(len(real)-1), c.Epoch, c.Step, len(c.Draws), len(c.Epochs), c.Pairs)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, which uint8, epoch, step, draws, epochs int, pairs float64) {
		c := real[int(which)%len(real)]
		c.Epoch, c.Step, c.Pairs = epoch, step, pairs
		c.Draws = resize(c.Draws, draws)
		c.Epochs = resize(c.Epochs, epochs)
		var buf bytes.Buffer
		if err := gob.NewEncoder(&buf).Encode(&c); err != nil {
			t.Fatal(err)
		}
		restoreFrom(t, dir, checked(buf.Bytes()))
	})
}

// resize returns s cut or zero-extended to n elements (n is taken modulo
// a small bound, so that the fuzzer cannot ask for gigabytes).
func resize[E any](s []E, n int) []E {
	n = ((n % 64) + 64) % 64
	out := make([]E, n)
	copy(out, s)
	return out
}

// checked is durable.WriteChecked's file for payload, built in memory:
// the fuzz loop then costs no fsync per input.
func checked(payload []byte) []byte {
	sum := sha256.Sum256(payload)
	return append(fmt.Appendf(nil, "%s sha256=%s bytes=%d\n", checkpointMagic, hex.EncodeToString(sum[:]), len(payload)), payload...)
}

// Resuming from either real checkpoint ends bit-identical to the
// uninterrupted run, and a checkpoint of another run is refused by id,
// naming both runs.
func TestCheckpointResumesOrRefusesAnotherRun(t *testing.T) {
	seeds, want := checkpointSeeds(t)
	dir := t.TempDir()
	cfg := fuzzConfig()
	cfg.Checkpoint = filepath.Join(dir, "run.ckpt")
	tr, te := fuzzSets()
	for i, s := range seeds {
		restoreFrom(t, dir, s)
		os.WriteFile(cfg.Checkpoint, s, 0o644)
		rec, err := RunOn(context.Background(), cfg, tr, te, nil)
		if err != nil {
			t.Fatalf("resume from checkpoint %d: %v", i+1, err)
		}
		if rec.TestError != want.TestError || rec.TestLoss != want.TestLoss || rec.Pairs != want.Pairs || rec.Draws != want.Draws ||
			len(rec.Epochs) != len(want.Epochs) || rec.Epochs[0].TrainLoss != want.Epochs[0].TrainLoss || rec.Provenance.Resumed != 1 {
			t.Errorf("resumed from checkpoint %d: error %v, loss %v, pairs %v, resumed %d; uninterrupted %v, %v, %v",
				i+1, rec.TestError, rec.TestLoss, rec.Pairs, rec.Provenance.Resumed, want.TestError, want.TestLoss, want.Pairs)
		}
	}
	other := fuzzConfig()
	other.Seed = 2
	other.Checkpoint = cfg.Checkpoint
	os.WriteFile(other.Checkpoint, seeds[0], 0o644)
	_, err := RunOn(context.Background(), other, tr, te, nil)
	if err == nil || !strings.Contains(err.Error(), "belongs to run "+cfg.ID()) || !strings.Contains(err.Error(), other.ID()) {
		t.Fatalf("checkpoint of seed 1 resumed by seed 2: %v", err)
	}
	if errors.Is(err, durable.ErrCorrupt) {
		t.Errorf("a checkpoint of another run is not corrupt: %v", err)
	}
}
