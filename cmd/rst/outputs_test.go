package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runIn runs the binary in dir and returns stdout, stderr and the status.
func runIn(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	return runEnv(t, dir, []string{"RST_RESULTS="}, args...)
}

// runEnv runs the binary in dir ("" = this folder) with env added to the
// environment, and returns stdout, stderr and the exit status.
func runEnv(t *testing.T, dir string, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(rstBinary(t), args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	code := 0
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

// fakeRepo is a folder shaped like this repository: its go.mod and a
// committed table the tests must never overwrite.
func fakeRepo(t *testing.T) (root, committed string) {
	t.Helper()
	root = t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte(repoModule+"\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	committed = filepath.Join(root, "tables", "smoke", "table1.md")
	os.MkdirAll(filepath.Dir(committed), 0o755)
	os.WriteFile(committed, []byte("the committed table\n"), 0o644)
	return root, committed
}

// Rendering a scratch store from the repository (as a test or a user in
// a checkout does) writes beside that store, never over the repository's
// committed tables; the repository's own store renders into them.
func TestRenderWritesBesideItsStore(t *testing.T) {
	root, committed := fakeRepo(t)
	scratch := filepath.Join(t.TempDir(), "scratch")
	_, stderr, code := runIn(t, root, "render", "table1", "--profile", "smoke", "--results", scratch)
	if code != 0 {
		t.Fatalf("rst render of a scratch store: exit %d: %s", code, stderr)
	}
	if b, _ := os.ReadFile(committed); string(b) != "the committed table\n" {
		t.Errorf("rendering the scratch store %s overwrote the repository's %s", scratch, committed)
	}
	if _, err := os.Stat(filepath.Join(root, "figures")); err == nil {
		t.Errorf("rendering the scratch store wrote into the repository's figures/")
	}
	for _, p := range []string{filepath.Join(scratch, "tables", "smoke", "table1.md"), filepath.Join(scratch, "tables", "smoke", "table1.manifest.json")} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("the scratch store's output: %v", err)
		}
	}
	// The repository's own store, named from anywhere.
	stdout, stderr, code := runIn(t, t.TempDir(), "render", "table1", "--profile", "smoke", "--results", filepath.Join(root, "results"))
	if code != 0 {
		t.Fatalf("rst render of the repository's store: exit %d: %s", code, stderr)
	}
	if b, _ := os.ReadFile(committed); string(b) == "the committed table\n" || !strings.Contains(stdout, committed[:len(committed)-3]) {
		t.Errorf("rendering the repository's own store did not write %s:\n%s", committed, stdout)
	}
	// --tables, when given, wins.
	mine := filepath.Join(t.TempDir(), "mine")
	if _, stderr, code := runIn(t, root, "render", "table1", "--profile", "smoke", "--results", scratch, "--tables", mine); code != 0 {
		t.Fatalf("--tables: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(mine, "smoke", "table1.csv")); err != nil {
		t.Errorf("--tables: %v", err)
	}
}

// A command refused for a bad flag creates nothing (not even an empty
// results folder), and one whose outputs cannot be written is refused
// before its first run trains, naming the flag and the fix.
func TestRefusedRunCreatesNothing(t *testing.T) {
	dir := t.TempDir()
	results := filepath.Join(dir, "results")
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("a file\n"), 0o644)
	for _, c := range []struct {
		args []string
		says []string
	}{
		{[]string{"--jobs", "0"}, []string{"--jobs 0", "want at least 1"}},
		{[]string{"--jobs", "-5"}, []string{"--jobs -5", "want at least 1"}},
		{[]string{"--id", "0123456789abcdef"}, []string{"--id 0123456789abcdef", "not a run of table1", "rst plan lists them"}},
		{[]string{"--device", "tpu"}, []string{`--device "tpu"`, "choose one of", "cpu"}},
		{[]string{"--outcome", filepath.Join(dir, "o")}, []string{"--outcome", "--id"}},
		{[]string{"--tables", file}, []string{"--tables " + file, "is a file", "give --tables a writable folder"}},
		{[]string{"--figures", filepath.Join(file, "sub")}, []string{"--figures " + filepath.Join(file, "sub"), file + " is a file", "give --figures a writable folder"}},
	} {
		args := append([]string{"run", "table1", "--profile", "smoke", "--seeds", "1", "--results", results}, c.args...)
		_, stderr, code := runIn(t, dir, args...)
		what := "rst run " + strings.Join(c.args, " ")
		if code == 0 {
			t.Errorf("%s: accepted", what)
		}
		for _, s := range c.says {
			if !strings.Contains(stderr, s) {
				t.Errorf("%s: the error does not say %q: %s", what, s, stderr)
			}
		}
		if strings.Contains(stderr, "training") {
			t.Errorf("%s: trained before refusing: %s", what, stderr)
		}
		if _, err := os.Stat(results); err == nil {
			t.Errorf("%s: created %s before refusing", what, results)
			os.RemoveAll(results)
		}
	}
	if b, _ := os.ReadFile(file); string(b) != "a file\n" {
		t.Errorf("the file in the way was changed: %q", b)
	}
}
