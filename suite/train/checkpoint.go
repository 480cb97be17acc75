package train

import (
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"time"

	"github.com/rst-bench/rst/suite/durable"
	"github.com/rst-bench/rst/suite/nn"
	"github.com/rst-bench/rst/suite/optim"
)

// checkpoint is a run's whole state at the end of an epoch. Random streams
// are keyed by (seed, epoch, step), so no generator state is needed: a run
// resumed from it continues bit-identically on the same machine and build.
type checkpoint struct {
	ID           string
	Epoch        int // epochs completed
	Step         int
	Pairs        float64
	Draws        []bool
	Epochs       []Epoch
	TrainSeconds float64
	Start        time.Time
	Resumed      int
	AdamSteps    int
	Weights      []float32
	Stats        []float32
	Optimizer    [][]float32 // the base optimizer's State()
	Method       [][]float32 // the method's State(), when it keeps any
}

// stateful is a method that keeps buffers across steps (LookSAM's g_v,
// SSAM's mask, ...): they go into checkpoints.
type stateful interface{ State() []*nn.Tensor }

func download(b nn.Backend, ts []*nn.Tensor) [][]float32 {
	out := make([][]float32, len(ts))
	for i, t := range ts {
		out[i] = make([]float32, t.Len())
		b.Download(out[i], t)
	}
	return out
}

func upload(b nn.Backend, ts []*nn.Tensor, vals [][]float32, what string) error {
	if len(vals) != len(ts) {
		return fmt.Errorf("%s: %d buffers saved, %d expected", what, len(vals), len(ts))
	}
	for i, t := range ts {
		if len(vals[i]) != t.Len() {
			return fmt.Errorf("%s: buffer %d has %d values, %d expected", what, i, len(vals[i]), t.Len())
		}
		b.Upload(t, vals[i])
	}
	return nil
}

// save writes the checkpoint through a temporary file and a rename, so a
// crash while writing leaves the previous checkpoint intact.
func (t *trainer) save(path string, c *checkpoint) error {
	b := t.b
	c.Weights = make([]float32, t.net.W.Len())
	b.Download(c.Weights, t.net.W)
	c.Stats = make([]float32, t.net.S.Len())
	b.Download(c.Stats, t.net.S)
	c.Optimizer = download(b, t.base.State())
	if m, ok := t.method.(stateful); ok {
		c.Method = download(b, m.State())
	}
	if a, ok := t.base.(*optim.AdamW); ok {
		c.AdamSteps = a.StepCount()
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(c); err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	if err := durable.WriteChecked(path, checkpointMagic, buf.Bytes()); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// consistent checks the counters of a checkpoint against the run it claims
// to belong to. The checksum proves the file is as written; this catches a
// file written by a different build or by hand, whose counters would
// otherwise shift the draws, overrun the run or index past its epochs.
func (c *checkpoint) consistent(perEpoch, total, epochs int) error {
	switch {
	case c.Epoch < 1 || c.Epoch > epochs:
		return fmt.Errorf("it records %d epochs done of a %d-epoch run", c.Epoch, epochs)
	case c.Step != min(c.Epoch*perEpoch, total):
		return fmt.Errorf("it records step %d after epoch %d, want %d", c.Step, c.Epoch, min(c.Epoch*perEpoch, total))
	case len(c.Draws) != c.Step:
		return fmt.Errorf("it holds %d draws for %d steps", len(c.Draws), c.Step)
	case len(c.Epochs) != c.Epoch:
		return fmt.Errorf("it holds %d epoch records for %d epochs", len(c.Epochs), c.Epoch)
	case !(c.Pairs >= float64(c.Step) && c.Pairs <= 2*float64(c.Step)):
		return fmt.Errorf("it counts %v forward-backward pairs for %d steps", c.Pairs, c.Step)
	case !(c.TrainSeconds >= 0) || math.IsInf(c.TrainSeconds, 0):
		return fmt.Errorf("its training time %v is not a duration", c.TrainSeconds)
	case c.Resumed < 0:
		return fmt.Errorf("it counts %d resumes", c.Resumed)
	}
	for i, e := range c.Epochs {
		if e.Epoch != i+1 {
			return fmt.Errorf("its epoch record %d is numbered %d", i+1, e.Epoch)
		}
	}
	return nil
}

// checkpointMagic heads every checkpoint file with its format version; the
// checksum after it covers the whole state, so a flipped bit or a torn
// file is refused instead of silently changing the run's result.
const checkpointMagic = "RSTCKPT1"

// restore loads path into the trainer, or returns (nil, nil) when there is
// no checkpoint yet.
func (t *trainer) restore(path string) (*checkpoint, error) {
	payload, err := durable.ReadChecked(path, checkpointMagic)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if errors.Is(err, durable.ErrCorrupt) {
		return nil, fmt.Errorf("checkpoint %v: delete it to start the run afresh", err)
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	var c checkpoint
	if err := gob.NewDecoder(bytes.NewReader(payload)).Decode(&c); err != nil {
		return nil, fmt.Errorf("checkpoint %s is unreadable (%v): delete it to start the run afresh", path, err)
	}
	if c.ID != t.cfg.ID() {
		return nil, fmt.Errorf("checkpoint %s belongs to run %s, not to this run %s: use another --checkpoint path or delete it", path, c.ID, t.cfg.ID())
	}
	if err := c.consistent(t.length()); err != nil {
		return nil, fmt.Errorf("checkpoint %s: %v: delete it to start the run afresh", path, err)
	}
	b := t.b
	fix := func(err error) error {
		return fmt.Errorf("checkpoint %s does not fit this model (%v): delete it to start afresh", path, err)
	}
	if err := upload(b, []*nn.Tensor{t.net.W, t.net.S}, [][]float32{c.Weights, c.Stats}, "weights"); err != nil {
		return nil, fix(err)
	}
	if err := upload(b, t.base.State(), c.Optimizer, "optimizer"); err != nil {
		return nil, fix(err)
	}
	if m, ok := t.method.(stateful); ok {
		if err := upload(b, m.State(), c.Method, "method"); err != nil {
			return nil, fix(err)
		}
	}
	if a, ok := t.base.(*optim.AdamW); ok {
		a.SetStepCount(c.AdamSteps)
	}
	t.step = c.Step
	return &c, nil
}
