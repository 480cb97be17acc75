package train

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rst-bench/rst/suite/data"
	"github.com/rst-bench/rst/suite/optim"
)

// writeFolder writes a small ImageNet-style tree, root/{train,val}/<class>/,
// of two classes with perClass[split] synthetic JPEGs each.
func writeFolder(t *testing.T, root string, perClass map[string]int) {
	t.Helper()
	for split, n := range perClass {
		if err := data.WriteImageFolder(filepath.Join(root, split), []string{"n001", "n002"}, n, 40, 30, 90, 1); err != nil {
			t.Fatal(err)
		}
	}
}

func imageNetConfig(dir string) Config {
	cfg := Defaults()
	cfg.Model, cfg.Data, cfg.DataDir = "smallcnn", "imagenet", dir
	cfg.ImageSize, cfg.Batch, cfg.Epochs, cfg.Augment = 16, 4, 2, ImageNetAugment
	cfg.Method = optim.Spec{Name: "sam", Rho: 0.05}
	return cfg
}

// An ImageNet run streams its batches from the folders: it trains, evaluates
// on val, records the splits' manifests, and is reproducible, with or
// without prefetching.
func TestImageNetRunFromFolders(t *testing.T) {
	root := t.TempDir()
	writeFolder(t, root, map[string]int{"train": 6, "val": 2})
	cfg := imageNetConfig(root)
	rec, err := Run(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Provenance.JPEGDecoder != data.JPEGDecoder() || rec.Provenance.JPEGDecoder == "" {
		t.Errorf("record's jpeg_decoder %q, want this build's %q", rec.Provenance.JPEGDecoder, data.JPEGDecoder())
	}
	if rec.Steps != 2*(12/4) || len(rec.Epochs) != 2 || len(rec.Provenance.Data) != 2 {
		t.Fatalf("steps %d, epochs %d, data %+v", rec.Steps, len(rec.Epochs), rec.Provenance.Data)
	}
	for _, d := range rec.Provenance.Data {
		if d.SHA256 == "" || !strings.Contains(d.Path, root) {
			t.Fatalf("manifest %+v does not identify a split under %s", d, root)
		}
	}
	// The same without decoding the next batch during each step.
	prefetchFolders = false
	again, err := Run(context.Background(), cfg, nil)
	prefetchFolders = true
	if err != nil {
		t.Fatal(err)
	}
	for i := range rec.Epochs {
		if rec.Epochs[i].TrainLoss != again.Epochs[i].TrainLoss || rec.Epochs[i].TestError != again.Epochs[i].TestError {
			t.Fatalf("epoch %d differs between two runs: %+v, %+v", i+1, rec.Epochs[i], again.Epochs[i])
		}
	}
}

// A corrupt image stops a run with its path by default, and is replaced and
// listed in the record with --on-corrupt skip.
func TestImageNetCorruptImage(t *testing.T) {
	root := t.TempDir()
	writeFolder(t, root, map[string]int{"train": 4, "val": 1})
	bad := filepath.Join(root, "train", "n002", "n002_1.JPEG")
	if err := os.WriteFile(bad, []byte("not a jpeg"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := imageNetConfig(root)
	cfg.Epochs = 1
	if _, err := Run(context.Background(), cfg, nil); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("corrupt image under the default policy: %v, want an error naming %s", err, bad)
	}
	cfg.OnCorrupt = "skip"
	rec, err := Run(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Provenance.Skipped) != 1 || !strings.Contains(rec.Provenance.Skipped[0], "n002_1.JPEG") {
		t.Fatalf("skipped %v, want the corrupt file", rec.Provenance.Skipped)
	}
}

func TestImageNetConfigErrors(t *testing.T) {
	root := t.TempDir()
	writeFolder(t, root, map[string]int{"train": 2, "val": 1})
	for _, tc := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.Augment = "crop-flip" }, ImageNetAugment},
		{func(c *Config) { c.Subset = 4 }, "--subset"},
		{func(c *Config) { c.OnCorrupt = "ignore" }, "--on-corrupt"},
		{func(c *Config) { c.DataDir = filepath.Join(root, "nowhere") }, "nowhere"},
		{func(c *Config) { c.Data, c.Augment = "mnist", "none" }, "--image-size"},
	} {
		cfg := imageNetConfig(root)
		tc.edit(&cfg)
		if _, err := Run(context.Background(), cfg, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error mentioning %q", cfg, err, tc.want)
		}
	}
}
