package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBadInputFailsWithoutRecord runs the real binary: a bad input must
// exit non-zero, say what is wrong and how to fix it, and write no record.
func TestBadInputFailsWithoutRecord(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "rst")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	// A data dir whose MNIST training images are cut short.
	bad := filepath.Join(dir, "data")
	mn := filepath.Join(bad, "mnist")
	if err := os.MkdirAll(mn, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"} {
		src := filepath.Join("..", "..", "testdata", "mnist", f)
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if f == "t10k-images-idx3-ubyte" {
			b = b[:len(b)-100]
		}
		if err := os.WriteFile(filepath.Join(mn, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cifarMissing := filepath.Join(dir, "empty")
	for _, c := range []struct {
		args []string
		want []string // all must appear in the error output
	}{
		{[]string{"--model", "resnet9000"}, []string{"unknown model", "smallcnn"}},
		{[]string{"--data", "svhn"}, []string{"svhn", "mnist"}},
		{[]string{"--batch", "0"}, []string{"--batch 0", "positive"}},
		{[]string{"--batch", "-3"}, []string{"--batch -3"}},
		{[]string{"--lr", "0"}, []string{"--lr 0", "positive"}},
		{[]string{"--lr", "-1"}, []string{"--lr -1"}},
		{[]string{"--data-dir", bad, "--test-subset", "3"}, []string{"t10k-images-idx3-ubyte"}},
		{[]string{"--data", "cifar10", "--data-dir", cifarMissing}, []string{"rst data fetch cifar10"}},
	} {
		rec := filepath.Join(dir, "record.json")
		args := append([]string{"train", "--out", rec, "--steps", "1"}, c.args...)
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err == nil {
			t.Errorf("rst %v: exit status 0, want failure\n%s", args, out)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(string(out), w) {
				t.Errorf("rst %v: output does not mention %q:\n%s", args, w, out)
			}
		}
		if _, err := os.Stat(rec); err == nil {
			t.Errorf("rst %v failed but wrote %s", args, rec)
			os.Remove(rec)
		}
	}
}
