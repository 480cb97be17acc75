package main

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// sbatchOptions reads a job script's #SBATCH options as sbatch does
// (Slurm 22.05, checked by make test-slurm): up to the first line that
// is neither blank nor a comment, each option is one word in which
// quotes group characters, a backslash escapes the next one, and an
// unquoted '#' starts a comment. Options map --name to its value.
func sbatchOptions(script string) map[string][]string {
	opts := map[string][]string{}
	for _, line := range strings.Split(script, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed != "" && !strings.HasPrefix(trimmed, "#") {
			break
		}
		rest, ok := strings.CutPrefix(line, "#SBATCH")
		if !ok {
			continue
		}
		for _, w := range sbatchWords(rest) {
			name, value, _ := strings.Cut(strings.TrimPrefix(w, "--"), "=")
			opts[name] = append(opts[name], value)
		}
	}
	return opts
}

func sbatchWords(s string) []string {
	var words []string
	var cur strings.Builder
	in, quote, escaped, inWord := false, rune(0), false, false
	for _, r := range s {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case r == '\\':
			escaped, inWord = true, true
		case in && r == quote:
			in = false
		case in:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			in, quote, inWord = true, r, true
		case r == '#':
			goto end
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
end:
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// fakeRst writes an rst stand-in that records its arguments, NUL-separated,
// into the file named by $FAKE_ARGS, and does nothing else.
func fakeRst(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "fake rst")
	if err := os.WriteFile(path, []byte("#!/bin/bash\nprintf '%s\\0' \"$@\" >\"$FAKE_ARGS\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// pwned lists the files an injected command created in dir.
func pwned(dir string) []string {
	var found []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), "PWNED") && !d.IsDir() {
			found = append(found, p)
		}
		return nil
	})
	return found
}

// runTask runs a job script as Slurm runs array task 0, in dir, and
// returns the arguments its rst received.
func runTask(t *testing.T, dir, script string) ([]string, string) {
	t.Helper()
	args := filepath.Join(dir, "args")
	os.Remove(args)
	cmd := exec.Command("bash", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SLURM_ARRAY_TASK_ID=0", "FAKE_ARGS="+args)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, string(out) + err.Error()
	}
	b, _ := os.ReadFile(args)
	return strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00"), string(out)
}

var firstID = regexp.MustCompile(`(?m)^\s+([0-9a-f]{16})\s+#`)

// Paths with spaces, quotes, $, ;, %, # and command substitutions reach
// the #SBATCH lines as sbatch must read them (% doubled) and the task's
// rst as one argument each; running the script as a task runs rst and
// nothing else. A newline, which would end the #SBATCH line and make
// the rest a shell command, is refused, and nothing is created.
func TestSlurmScriptHostilePaths(t *testing.T) {
	for _, name := range []string{"with space", "it's", `say "hi"`, "cost $HOME", "a;touch PWNED1;b", "100%", "x#y", "$(touch PWNED2)", "`touch PWNED3`"} {
		sandbox := t.TempDir()
		results := filepath.Join(sandbox, name, "results")
		fake := fakeRst(t, sandbox)
		stdout, stderr, code := run(t, "plan", "table1", "--profile", "smoke", "--seeds", "1", "--results", results, "--slurm", "--rst", fake)
		if code != 0 {
			t.Errorf("%q: rst plan exit %d: %s", name, code, stderr)
			continue
		}
		script := filepath.Join(sandbox, "job.sh")
		os.WriteFile(script, []byte(stdout), 0o644)
		if out, err := exec.Command("bash", "-n", script).CombinedOutput(); err != nil {
			t.Errorf("%q: bash -n: %v\n%s", name, err, out)
		}
		opts := sbatchOptions(stdout)
		wantOut := strings.ReplaceAll(results, "%", "%%") + "/slurm/%A_%a.out"
		if !slices.Equal(opts["output"], []string{wantOut}) || !slices.Equal(opts["cpus-per-task"], []string{"1"}) {
			t.Errorf("%q: sbatch reads --output %q and --cpus-per-task %q, want %q and 1\n%s", name, opts["output"], opts["cpus-per-task"], wantOut, stdout)
		}
		if st, err := os.Stat(filepath.Join(results, "slurm")); err != nil || !st.IsDir() {
			t.Errorf("%q: the task output folder was not created: %v", name, err)
		}
		m := firstID.FindStringSubmatch(stdout)
		if m == nil {
			t.Fatalf("%q: no run id in the script:\n%s", name, stdout)
		}
		got, out := runTask(t, sandbox, script)
		want := []string{"run", "--results", results, "--profile", "smoke", "--seeds", "1", "--device", "cpu", "--id", m[1], "table1"}
		if !slices.Equal(got, want) {
			t.Errorf("%q: the task ran rst with %q, want %q\n%s", name, got, want, out)
		}
		if p := pwned(sandbox); len(p) > 0 {
			t.Errorf("%q: running the script as a task ran an injected command: %v", name, p)
		}
	}
	sandbox := t.TempDir()
	results := filepath.Join(sandbox, "a\ntouch PWNED4\n#", "results")
	stdout, stderr, code := run(t, "plan", "table1", "--profile", "smoke", "--seeds", "1", "--results", results, "--slurm", "--rst", fakeRst(t, sandbox))
	if code == 0 {
		t.Errorf("a --results path with a newline was accepted")
		script := filepath.Join(sandbox, "job.sh")
		os.WriteFile(script, []byte(stdout), 0o644)
		if _, out := runTask(t, sandbox, script); len(pwned(sandbox)) > 0 {
			t.Errorf("and running its script as a task ran the injected command: %v\n%s", pwned(sandbox), out)
		}
	} else {
		for _, w := range []string{"--results", "control character", "choose a name without one"} {
			if !strings.Contains(stderr, w) {
				t.Errorf("the refusal of a newline does not say %q: %s", w, stderr)
			}
		}
	}
	if _, err := os.Stat(filepath.Dir(results)); err == nil {
		t.Errorf("the refused plan created %s", filepath.Dir(results))
	}
}

// A GPU plan asks Slurm for a GPU per task, the CPUs that feed it and
// memory, passes site options through, and plans the runs that a cuda
// task records (the device is part of a run's id). The paper profile
// plans for cuda unless told otherwise, and says so.
func TestSlurmScriptRequestsAGPUPerTask(t *testing.T) {
	dir := t.TempDir()
	results := filepath.Join(dir, "results")
	stdout, stderr, code := run(t, "plan", "table3", "--profile", "paper", "--results", results, "--slurm",
		"--sbatch-arg=--partition=gpu", "--sbatch-arg", "--time=24:00:00", "--sbatch-arg=--account=my lab #1")
	if code != 0 {
		t.Fatalf("rst plan --slurm on the paper profile: exit %d: %s", code, stderr)
	}
	opts := sbatchOptions(stdout)
	for name, want := range map[string]string{"gres": "gpu:1", "cpus-per-task": "8", "mem": "32G", "partition": "gpu", "time": "24:00:00", "account": "my lab #1"} {
		if !slices.Equal(opts[name], []string{want}) {
			t.Errorf("--%s: sbatch reads %q, want %q\n%s", name, opts[name], want, stdout)
		}
	}
	if !strings.Contains(stderr, "--device cuda: the paper profile's default") || !strings.Contains(stdout, "# --device cuda: the paper profile's default") {
		t.Errorf("the plan does not say that it chose --device cuda:\nstderr: %s\nscript: %.400s", stderr, stdout)
	}
	if !strings.Contains(stdout, " --device cuda ") {
		t.Errorf("the tasks do not run with --device cuda:\n%s", stdout)
	}
	// The script's runs are the cuda runs, not the cpu runs of the same cells.
	list, _, _ := run(t, "plan", "table3", "--profile", "paper", "--results", results, "--device", "cuda")
	cpuList, _, _ := run(t, "plan", "table3", "--profile", "paper", "--results", results, "--device", "cpu")
	ids := func(s string) []string {
		var out []string
		for _, m := range regexp.MustCompile(`(?m)^\s*([0-9a-f]{16})\b`).FindAllStringSubmatch(s, -1) {
			out = append(out, m[1])
		}
		return out
	}
	if got, want := ids(stdout), ids(list); len(got) == 0 || !slices.Equal(got, want) || slices.Equal(got, ids(cpuList)) {
		t.Errorf("the script plans runs %v, rst plan --device cuda lists %v (cpu: %v)", got, want, ids(cpuList))
	}

	// An option of the script's own kind replaces it.
	stdout, stderr, code = run(t, "plan", "table3", "--profile", "paper", "--results", results, "--slurm",
		"--sbatch-arg=--gpus-per-task=1", "--sbatch-arg=--cpus-per-task=16", "--sbatch-arg=--mem-per-gpu=40G")
	opts = sbatchOptions(stdout)
	if code != 0 || opts["gres"] != nil || opts["mem"] != nil || !slices.Equal(opts["gpus-per-task"], []string{"1"}) || !slices.Equal(opts["cpus-per-task"], []string{"16"}) {
		t.Errorf("replacing the GPU, CPU and memory requests: exit %d, options %v: %s", code, opts, stderr)
	}

	// --device cpu plans CPU tasks: one core, no GPU.
	stdout, _, code = run(t, "plan", "table3", "--profile", "paper", "--device", "cpu", "--results", results, "--slurm")
	opts = sbatchOptions(stdout)
	if code != 0 || opts["gres"] != nil || !slices.Equal(opts["cpus-per-task"], []string{"1"}) || strings.Contains(stdout, "cuda") {
		t.Errorf("--device cpu: exit %d, options %v", code, opts)
	}

	// Options that cannot be written safely, or that the script owns.
	fresh := filepath.Join(dir, "fresh")
	for _, c := range []struct{ arg, says string }{
		{"--partition=gpu\n#SBATCH --wrap=x", "control character"},
		{"-p gpu", "long form"},
		{"--array=0-3", "sets --array itself"},
		{"--time=", "no value"},
	} {
		_, stderr, code := run(t, "plan", "table3", "--profile", "paper", "--results", fresh, "--slurm", "--sbatch-arg", c.arg)
		if code == 0 || !strings.Contains(stderr, "--sbatch-arg") || !strings.Contains(stderr, c.says) {
			t.Errorf("--sbatch-arg %q: exit %d, %q; want a refusal saying %q", c.arg, code, stderr, c.says)
		}
	}
	if _, err := os.Stat(fresh); err == nil {
		t.Errorf("a refused plan created %s", fresh)
	}
	if bytes.Contains([]byte(stderr), []byte("\n#SBATCH")) {
		t.Errorf("the refusal echoes the injected line raw: %q", stderr)
	}
}
