package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rst-bench/rst/suite/data"
	"github.com/rst-bench/rst/suite/durable"
	"github.com/rst-bench/rst/suite/optim"
	"github.com/rst-bench/rst/suite/train"
)

// tinyConfig is a resolved run of a few MLP steps on real MNIST digits.
func tinyConfig(t testing.TB) train.Config {
	t.Helper()
	c := train.Defaults()
	c.Profile, c.Model, c.Data = "smoke", "mlp", "mnist"
	c.Subset, c.TestSubset, c.Batch, c.Epochs = 128, 64, 64, 1
	c.Method = optim.Spec{Name: "rst", Schedule: "constant:0.5"}
	c, err := c.Resolved()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// sampleRecord is a finished record with every kind of value a record
// holds: NaN and infinite metrics, a divergence, draws, provenance.
func sampleRecord(t testing.TB) *train.Record {
	t.Helper()
	cfg := tinyConfig(t)
	return &train.Record{
		ID: cfg.ID(), Config: cfg,
		Epochs:    []train.Epoch{{Epoch: 1, TrainLoss: 2.25, TestLoss: train.Metric(math.Inf(1)), TestError: 12.5, Seconds: 0.5, Pairs: 3.5}},
		TestError: train.Metric(math.NaN()), TestLoss: train.Metric(math.NaN()),
		Diverged: &train.Divergence{Step: 2, Epoch: 1, Loss: train.Metric(math.Inf(-1))},
		Steps:    3, Pairs: 4.5, DeltaEtaRealised: 0.5, DeltaEtaExpected: 0.5, Draws: "Y2AEAA==",
		Provenance: train.Provenance{GitCommit: "abc", Start: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)},
	}
}

func TestPutGetRoundTrip(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rec := sampleRecord(t)
	if err := s.Put(rec); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get("smoke", rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := Encode(rec)
	b, _ := Encode(got)
	if !bytes.Equal(a, b) {
		t.Errorf("record changed on the way through the store:\nput %s\ngot %s", a, b)
	}
	if !math.IsNaN(float64(got.TestError)) || !math.IsInf(float64(got.Epochs[0].TestLoss), 1) || got.Diverged.Loss != train.Metric(math.Inf(-1)) {
		t.Errorf("non-finite metrics not kept: %v %v %+v", got.TestError, got.Epochs[0].TestLoss, got.Diverged)
	}
	ids, err := s.IDs("smoke")
	if err != nil || len(ids) != 1 || ids[0] != rec.ID {
		t.Errorf("IDs = %v, %v; want [%s]", ids, err, rec.ID)
	}
	if _, err := s.Get("smoke", "0000000000000000"); !errors.Is(err, ErrMissing) {
		t.Errorf("Get of an absent run: %v, want ErrMissing", err)
	}
	if ids, err := s.IDs("paper"); err != nil || len(ids) != 0 {
		t.Errorf("IDs of an empty profile = %v, %v", ids, err)
	}
}

// refused writes b as rec's file and checks that Get refuses it with an
// error naming the file, the reason and the fix.
func refused(t *testing.T, s *Store, rec *train.Record, b []byte, reason string) {
	t.Helper()
	path := s.RecordPath("smoke", rec.ID)
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := s.Get("smoke", rec.ID)
	if err == nil {
		t.Fatalf("a record with %s was accepted", reason)
	}
	if errors.Is(err, ErrMissing) {
		t.Errorf("a record with %s reads as missing, which would let it be overwritten silently: %v", reason, err)
	}
	for _, want := range []string{path, reason, "delete it"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestTamperedRecordRefused(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	rec := sampleRecord(t)
	good, _ := Encode(rec)
	// One digit of a metric changed, as an edit by hand would.
	b := bytes.Replace(good, []byte(`"pairs": 4.5`), []byte(`"pairs": 4.6`), 1)
	if bytes.Equal(b, good) {
		t.Fatalf("no pairs field in %s", good)
	}
	refused(t, s, rec, b, "checksum mismatch")
	refused(t, s, rec, good[:len(good)-40], "not valid JSON")
	// Re-indenting is not tampering: the checksum covers the compact form.
	var flat bytes.Buffer
	if err := json.Compact(&flat, good); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(s.RecordPath("smoke", rec.ID), flat.Bytes(), 0o644)
	if _, err := s.Get("smoke", rec.ID); err != nil {
		t.Errorf("the same record without indentation is refused: %v", err)
	}
}

func TestWrongFormatRefused(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	rec := sampleRecord(t)
	good, _ := Encode(rec)
	refused(t, s, rec, bytes.Replace(good, []byte(Format), []byte("rst-record/2"), 1), `format "rst-record/2", want "rst-record/1"`)
	// A bare train.Record (what rst train --out writes) is not a store file.
	plain, _ := json.Marshal(rec)
	refused(t, s, rec, plain, `format ""`)
}

func TestRecordWhoseIDIsNotItsConfigHashRefused(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	rec := sampleRecord(t)
	// A record filed under another run's id (the checksum is right: the
	// file was written by Encode, not edited).
	moved := *rec
	moved.ID = "0123456789abcdef"
	b, _ := Encode(&moved)
	refused(t, s, &moved, b, "is not the hash "+rec.ID+" of its config")
	// A config edited after the run, with its checksum recomputed.
	edited := *rec
	edited.Config.LR = 0.2
	b, _ = Encode(&edited)
	refused(t, s, &edited, b, "is not the hash")
}

// Run returns a stored record without training: the config's data set
// does not exist, so any attempt to train would fail.
func TestRunSkipsStoredRun(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	rec := sampleRecord(t)
	rec.Config.Data = "no-such-data"
	rec.ID = rec.Config.ID()
	if err := s.Put(rec); err != nil {
		t.Fatal(err)
	}
	got, outcome, err := s.Run(context.Background(), rec.Config, false, nil)
	if err != nil || outcome != Done || got.ID != rec.ID {
		t.Fatalf("Run of a stored run: outcome %v, err %v; want Done with its record", outcome, err)
	}
	if _, err := os.Stat(s.lockPath("smoke", rec.ID)); err == nil {
		t.Errorf("Run took the lock of a finished run")
	}
	// force does train, and fails on the missing data set, keeping the
	// old record.
	if _, _, err := s.Run(context.Background(), rec.Config, true, nil); err == nil || !strings.Contains(err.Error(), "no-such-data") {
		t.Errorf("forced Run: err = %v, want the training's data error", err)
	}
	if _, err := s.Get("smoke", rec.ID); err != nil {
		t.Errorf("a failed forced run lost the old record: %v", err)
	}
}

// A run another process holds is not touched: Run returns ErrBusy naming
// the holder.
func TestRunOnBusyRunReturnsErrBusy(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	cfg := tinyConfig(t)
	id := cfg.ID()
	lock, err := durable.TryLock(s.lockPath("smoke", id), "run "+id)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Unlock()
	ckpt := s.CheckpointPath("smoke", id)
	os.MkdirAll(filepath.Dir(ckpt), 0o755)
	tmp := filepath.Join(filepath.Dir(ckpt), "."+id+".ckpt.123.tmp")
	os.WriteFile(tmp, []byte("the holder's write in progress"), 0o644)
	_, _, err = s.Run(context.Background(), cfg, false, nil)
	if !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "run "+id) || !strings.Contains(err.Error(), "pid ") {
		t.Fatalf("Run on a locked run: err = %v, want ErrBusy naming the run and the holder", err)
	}
	if _, err := os.Stat(tmp); err != nil {
		t.Errorf("Run removed the busy holder's temporary file: %v", err)
	}
	if _, err := s.Get("smoke", id); !errors.Is(err, ErrMissing) {
		t.Errorf("a busy run got a record: %v", err)
	}
}

// The temporary files a killed writer left are removed by the next Run of
// the run, which then trains, records, and removes its checkpoint.
func TestRunRemovesKilledWritersTempsAndTrains(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	cfg := tinyConfig(t)
	cfg.DataDir = smallMNIST(t)
	id := cfg.ID()
	var temps []string
	for _, p := range []string{s.RecordPath("smoke", id), s.CheckpointPath("smoke", id)} {
		tmp := filepath.Join(filepath.Dir(p), "."+filepath.Base(p)+".4242.tmp")
		os.MkdirAll(filepath.Dir(tmp), 0o755)
		os.WriteFile(tmp, []byte("half a file"), 0o644)
		temps = append(temps, tmp)
	}
	// Another run's temporary file is not this run's to remove.
	other := filepath.Join(filepath.Dir(s.RecordPath("smoke", id)), ".ffffffffffffffff.json.1.tmp")
	os.WriteFile(other, nil, 0o644)
	if ids, _ := s.IDs("smoke"); len(ids) != 0 {
		t.Errorf("temporary files listed as records: %v", ids)
	}
	rec, outcome, err := s.Run(context.Background(), cfg, false, nil)
	if err != nil || outcome != Trained || rec.ID != id {
		t.Fatalf("Run: outcome %v, err %v", outcome, err)
	}
	for _, tmp := range temps {
		if _, err := os.Stat(tmp); err == nil {
			t.Errorf("killed writer's %s left in place", tmp)
		}
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("another run's temporary file was removed: %v", err)
	}
	if _, err := os.Stat(s.CheckpointPath("smoke", id)); err == nil {
		t.Errorf("checkpoint kept after the record was written")
	}
	got, err := s.Get("smoke", id)
	if err != nil || got.Steps != 2 || len(got.Epochs) != 1 {
		t.Errorf("stored record: %v, steps %d; want 2 steps in 1 epoch", err, got.Steps)
	}
	_, outcome, err = s.Run(context.Background(), cfg, false, nil)
	if err != nil || outcome != Done {
		t.Errorf("second Run: outcome %v, err %v; want Done", outcome, err)
	}
}

// smallMNIST writes a data dir with 256 + 128 real MNIST digits taken
// from the GoMNIST module the suite ships with.
func smallMNIST(t *testing.T) string {
	t.Helper()
	src, err := data.MNISTModuleDir()
	if err != nil {
		t.Fatal(err)
	}
	tr, te, err := data.LoadMNIST(src)
	if err != nil {
		t.Fatal(err)
	}
	if tr, err = tr.Subset(256, 1); err != nil {
		t.Fatal(err)
	}
	if te, err = te.Subset(128, 1); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := data.WriteMNIST(filepath.Join(dir, "mnist"), tr, te, false); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestOpenNamesTheFolderAndTheFix(t *testing.T) {
	if _, err := Open(""); err == nil || !strings.Contains(err.Error(), "--results") {
		t.Errorf("Open(\"\") = %v", err)
	}
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	_, err := Open(filepath.Join(file, "results"))
	if err == nil || !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), "choose a writable --results") {
		t.Errorf("Open under a file: %v", err)
	}
}

// A worker killed between writing a record and removing the run's
// checkpoint leaves the checkpoint behind; the next Run that finds the
// record removes it (a paper-profile checkpoint is hundreds of MB), but
// not while another process holds the run.
func TestRunRemovesAFinishedRunsLeftoverCheckpoint(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	rec := sampleRecord(t)
	if err := s.Put(rec); err != nil {
		t.Fatal(err)
	}
	ckpt := s.CheckpointPath("smoke", rec.ID)
	os.MkdirAll(filepath.Dir(ckpt), 0o755)
	os.WriteFile(ckpt, []byte("state"), 0o644)
	os.WriteFile(ckpt+".lock", nil, 0o644)

	held, err := durable.TryLock(s.lockPath("smoke", rec.ID), "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, outcome, err := s.Run(context.Background(), rec.Config, false, nil); err != nil || outcome != Done {
		t.Fatalf("Run: %v, %v", outcome, err)
	}
	if _, err := os.Stat(ckpt); err != nil {
		t.Fatalf("the checkpoint of a run another process holds was removed: %v", err)
	}
	held.Unlock()

	if _, outcome, err := s.Run(context.Background(), rec.Config, false, nil); err != nil || outcome != Done {
		t.Fatalf("Run: %v, %v", outcome, err)
	}
	for _, p := range []string{ckpt, ckpt + ".lock"} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s is still there after its run's record was found", p)
		}
	}
}
