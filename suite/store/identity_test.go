package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rst-bench/rst/suite/durable"
	"github.com/rst-bench/rst/suite/train"
)

// otherRecord is sampleRecord's run with another seed: a different run.
func otherRecord(t *testing.T) *train.Record {
	rec := sampleRecord(t)
	rec.Config.Seed = 2
	rec.ID = rec.Config.ID()
	return rec
}

// A whole, valid record copied over another run's file (the attack of
// issue 24: SAM's seed-1 record over SGD's) is refused under the name it
// was copied to, naming the file and the fix, and never read as that run.
func TestRecordCopiedOverAnotherRunRefused(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	a, b := sampleRecord(t), otherRecord(t)
	for _, r := range []*train.Record{a, b} {
		if err := s.Put(r); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(s.RecordPath("smoke", b.ID))
	if err != nil {
		t.Fatal(err)
	}
	path := s.RecordPath("smoke", a.ID)
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get("smoke", a.ID)
	if err == nil {
		t.Fatalf("Get(%s) returned the record of run %s, copied over it", a.ID, got.ID)
	}
	if !errors.Is(err, ErrBadRecord) || errors.Is(err, ErrMissing) {
		t.Errorf("err = %v, want ErrBadRecord (a missing run would be trained over it silently)", err)
	}
	for _, want := range []string{path, "holds run " + b.ID, "not run " + a.ID, "delete it", "restore it"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	// Run refuses it too, without training over it.
	if _, _, err := s.Run(context.Background(), a.Config, false, nil); !errors.Is(err, ErrBadRecord) {
		t.Errorf("Run over the copied record: err = %v, want ErrBadRecord", err)
	}
	// The original is still good, and Scan tells them apart.
	if _, err := s.Get("smoke", b.ID); err != nil {
		t.Errorf("the original record: %v", err)
	}
	entries, err := s.Scan("smoke")
	if err != nil {
		t.Fatal(err)
	}
	bad := 0
	for _, e := range entries {
		if e.Err != nil {
			bad++
			if e.ID != a.ID || !errors.Is(e.Err, ErrBadRecord) {
				t.Errorf("Scan: %s: %v", e.Name, e.Err)
			}
		}
	}
	if len(entries) != 2 || bad != 1 {
		t.Errorf("Scan found %d files, %d bad; want 2 and 1", len(entries), bad)
	}
}

// A record filed under another profile's folder is refused there.
func TestRecordOfAnotherProfileRefused(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	rec := sampleRecord(t)
	if err := s.Put(rec); err != nil {
		t.Fatal(err)
	}
	dst := s.RecordPath("cpu", rec.ID)
	os.MkdirAll(filepath.Dir(dst), 0o755)
	raw, _ := os.ReadFile(s.RecordPath("smoke", rec.ID))
	os.WriteFile(dst, raw, 0o644)
	if _, err := s.Get("cpu", rec.ID); !errors.Is(err, ErrBadRecord) || !strings.Contains(err.Error(), "smoke profile") {
		t.Errorf("Get in the cpu profile of a smoke record: %v", err)
	}
}

// GetSum returns the checksum the record's file carries, which manifests
// record; Scan reports stray and temporary files apart from records.
func TestGetSumAndScan(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	rec := sampleRecord(t)
	if err := s.Put(rec); err != nil {
		t.Fatal(err)
	}
	_, sum, err := s.GetSum("smoke", rec.ID)
	raw, _ := os.ReadFile(s.RecordPath("smoke", rec.ID))
	if err != nil || len(sum) != 64 || !strings.Contains(string(raw), `"sha256": "`+sum+`"`) {
		t.Errorf("GetSum = %q, %v; want the sha256 of the file %s", sum, err, raw[:min(len(raw), 200)])
	}
	dir := filepath.Dir(s.RecordPath("smoke", rec.ID))
	os.WriteFile(filepath.Join(dir, "notes.txt"), nil, 0o644)
	os.WriteFile(filepath.Join(dir, "."+rec.ID+".json.123.tmp"), nil, 0o644)
	entries, err := s.Scan("smoke")
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]string{}
	for _, e := range entries {
		switch {
		case e.Temp:
			kinds[e.Name] = "temp"
		case e.Err != nil:
			kinds[e.Name] = "bad: " + e.Err.Error()
		case e.Sum == sum && e.Rec.ID == rec.ID:
			kinds[e.Name] = "record"
		}
	}
	if kinds[rec.ID+".json"] != "record" || kinds["."+rec.ID+".json.123.tmp"] != "temp" || !strings.Contains(kinds["notes.txt"], "not a record file") {
		t.Errorf("Scan: %v", kinds)
	}
	if entries, err := (&Store{Dir: filepath.Join(t.TempDir(), "none")}).Scan("smoke"); err != nil || len(entries) != 0 {
		t.Errorf("Scan of a store that does not exist: %v, %v", entries, err)
	}
}

// InProgress sees another process's hold on a run without taking it;
// At opens a store without creating it.
func TestInProgressAndAt(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "results")
	s, err := At(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("At created %s", dir)
	}
	cfg := tinyConfig(t)
	id := cfg.ID()
	if _, ok := s.InProgress("smoke", id); ok {
		t.Errorf("a run nobody holds is in progress")
	}
	l, err := durable.TryLock(s.lockPath("smoke", id), "test")
	if err != nil {
		t.Fatal(err)
	}
	if holder, ok := s.InProgress("smoke", id); !ok || !strings.Contains(holder, "pid ") {
		t.Errorf("InProgress of a held run = %q, %v", holder, ok)
	}
	l.Unlock()
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	if _, err := At(file); err == nil || !strings.Contains(err.Error(), "choose a writable --results") {
		t.Errorf("At on a file: %v", err)
	}
}

// A checkpoint of another run in a run's place in the store is refused
// with the store's fix: rst run has no --checkpoint flag to change.
func TestForeignCheckpointNamesTheStoresFix(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	data := smallMNIST(t)
	mine, other := tinyConfig(t), tinyConfig(t)
	other.Seed = 7
	mine.DataDir, other.DataDir = data, data
	ckpt := s.CheckpointPath("smoke", mine.ID())
	os.MkdirAll(filepath.Dir(ckpt), 0o755)
	other.Checkpoint = ckpt
	if _, err := train.Run(context.Background(), other, nil); err != nil {
		t.Fatal(err)
	}
	_, _, err := s.Run(context.Background(), mine, false, nil)
	if err == nil {
		t.Fatalf("Run resumed from another run's checkpoint")
	}
	for _, want := range []string{ckpt, "belongs to run " + other.ID(), "delete it"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "--checkpoint") {
		t.Errorf("error %q points rst run's users to --checkpoint, a flag rst run does not have", err)
	}
}
