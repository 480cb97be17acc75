package main

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/rst-bench/rst/experiments"
)

// slurmJob is what rst plan --slurm puts into a job-array script: one
// task per missing run, all writing into one shared store. The run ids
// are fixed in the script, so a task runs the same run whatever the store
// holds by then; a run that another task or worker finished is skipped.
type slurmJob struct {
	rst, results, dataDir string // absolute paths
	profile, device       string
	seeds                 int
	targets               []string
	todo                  []experiments.Planned
	extra                 sbatchArgs // --sbatch-arg options
	summary, note         string     // comment lines at the top
}

// What a task asks for by default. A GPU task gets the CPUs that decode
// and augment its batches (about 195 ImageNet images a second per core)
// and the memory for them; a CPU task gets one core, as the cpu
// profile's runs are timed on.
const (
	gpuTaskCPUs   = 8
	gpuTaskMemory = "32G"
)

// sbatchArgs is the repeatable --sbatch-arg flag.
type sbatchArgs []string

func (a *sbatchArgs) String() string { return strings.Join(*a, " ") }

func (a *sbatchArgs) Set(v string) error {
	if _, _, err := parseSbatchArg(v); err != nil {
		return err
	}
	*a = append(*a, v)
	return nil
}

// parseSbatchArg splits "--name=value" or "--name" and checks that it can
// be written into an #SBATCH line as it is meant.
func parseSbatchArg(v string) (name, value string, err error) {
	if err := scriptSafe(v); err != nil {
		return "", "", fmt.Errorf("--sbatch-arg %q: %v", v, err)
	}
	rest, ok := strings.CutPrefix(v, "--")
	name, value, hasValue := strings.Cut(rest, "=")
	if !ok || name == "" || strings.IndexFunc(name, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') }) >= 0 {
		return "", "", fmt.Errorf("--sbatch-arg %q: give one sbatch option in its long form, --name or --name=value (e.g. --sbatch-arg=--partition=gpu)", v)
	}
	if hasValue && value == "" {
		return "", "", fmt.Errorf("--sbatch-arg %q: the option has no value after '='", v)
	}
	switch name {
	case "array":
		return "", "", fmt.Errorf("--sbatch-arg %q: the script sets --array itself (one task per missing run); to limit how many run at once, use scontrol update JobId=ID ArrayTaskThrottle=N after submitting", v)
	case "wrap":
		return "", "", fmt.Errorf("--sbatch-arg %q: the script is the job; --wrap would replace it", v)
	}
	return name, value, nil
}

// scriptSafe refuses text that would not stay on its line of the script:
// a newline ends an #SBATCH line (the rest becomes a shell command, and
// every #SBATCH line after it is ignored), and other control characters
// are never part of a sane path or option.
func scriptSafe(s string) error {
	if !utf8.ValidString(s) {
		return errors.New("it is not valid UTF-8")
	}
	if i := strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) }); i >= 0 {
		return fmt.Errorf("it holds a control character (%q at byte %d), which would break the script's lines: choose a name without one", s[i:i+1], i)
	}
	return nil
}

// sbatchGroups are options that replace a default of the script: giving
// any member of a group drops the script's own option of that group.
var sbatchGroups = map[string]string{
	"job-name": "name", "output": "output", "cpus-per-task": "cpus",
	"mem": "mem", "mem-per-cpu": "mem", "mem-per-gpu": "mem",
	"gres": "gpu", "gpus": "gpu", "gpus-per-task": "gpu", "gpus-per-node": "gpu", "gpus-per-socket": "gpu",
}

// directive is one #SBATCH option of the script.
type directive struct{ name, value string }

// script returns the job-array script, or an error naming the flag
// whose value cannot be written into it safely; nothing is written
// anywhere.
func (j slurmJob) script() ([]byte, error) {
	for _, p := range []struct{ flag, path string }{{"--rst", j.rst}, {"--results", j.results}, {"--data-dir", j.dataDir}} {
		if err := scriptSafe(p.path); err != nil {
			return nil, fmt.Errorf("%s %q: %v", p.flag, p.path, err)
		}
	}
	// Slurm reads a backslash anywhere in a file name pattern as "expand
	// nothing": every task would write to one file named %A_%a.out.
	if strings.Contains(j.results, `\`) {
		return nil, fmt.Errorf("--results %q: the path holds a backslash, which makes Slurm ignore the %%A_%%a in each task's output file name: choose a store path without one", j.results)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "#!/bin/bash\n# %s\n", oneLine(j.summary))
	if j.note != "" {
		fmt.Fprintf(&b, "# %s\n", oneLine(j.note))
	}
	if len(j.todo) == 0 {
		fmt.Fprintf(&b, "echo %s\nexit 0\n", shellQuote("nothing to run: every run of "+strings.Join(j.targets, " ")+" is in "+j.results))
		return b.Bytes(), nil
	}
	ds := []directive{
		{"job-name", "rst-" + strings.Join(j.targets, "-")},
		{"array", fmt.Sprintf("0-%d", len(j.todo)-1)},
		// % is sbatch's pattern character: a literal one is written %%.
		{"output", strings.ReplaceAll(j.results, "%", "%%") + "/slurm/%A_%a.out"},
	}
	if strings.HasPrefix(j.device, "cuda") {
		ds = append(ds, directive{"gres", "gpu:1"}, directive{"cpus-per-task", fmt.Sprint(gpuTaskCPUs)}, directive{"mem", gpuTaskMemory})
	} else {
		ds = append(ds, directive{"cpus-per-task", "1"})
	}
	replaced := map[string]bool{}
	var own []directive
	for _, a := range j.extra {
		name, value, err := parseSbatchArg(a)
		if err != nil {
			return nil, err
		}
		if g := sbatchGroups[name]; g != "" {
			replaced[g] = true
		}
		own = append(own, directive{name, value})
	}
	ds = append(slices.DeleteFunc(ds, func(d directive) bool { return replaced[sbatchGroups[d.name]] }), own...)
	for _, d := range ds {
		if d.value == "" {
			fmt.Fprintf(&b, "#SBATCH --%s\n", d.name)
		} else {
			fmt.Fprintf(&b, "#SBATCH --%s=%s\n", d.name, sbatchQuote(d.value))
		}
	}
	// A task gets the CPUs it asked for: without pinning (task/none) two
	// tasks on one node would otherwise each use every core, and their
	// timings would no longer measure the method.
	fmt.Fprintf(&b, "set -euo pipefail\nexport GOMAXPROCS=${SLURM_CPUS_PER_TASK:-1} OPENBLAS_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}\nIDS=(\n")
	for _, r := range j.todo {
		fmt.Fprintf(&b, "  %s  # %s, seed %d\n", r.ID, oneLine(r.Cell.Label()), r.Seed)
	}
	fmt.Fprintf(&b, ")\nexec %s run --results %s --profile %s --seeds %d --device %s", shellQuote(j.rst), shellQuote(j.results), j.profile, j.seeds, j.device)
	if j.dataDir != "" {
		fmt.Fprintf(&b, " --data-dir %s", shellQuote(j.dataDir))
	}
	fmt.Fprintf(&b, " --id \"${IDS[$SLURM_ARRAY_TASK_ID]}\" %s\n", strings.Join(j.targets, " "))
	return b.Bytes(), nil
}

// sbatchQuote writes an option's value as sbatch reads #SBATCH lines: a
// word ends at white space, an unquoted '#' starts a comment, and inside
// double quotes a backslash escapes the next character (checked against
// Slurm 22.05 by make test-slurm).
func sbatchQuote(v string) string {
	if v != "" && strings.IndexFunc(v, func(r rune) bool {
		return !(r == '/' || r == '.' || r == '-' || r == '_' || r == '+' || r == ',' || r == ':' || r == '=' || r == '@' || r == '%' ||
			r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) < 0 {
		return v
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v) + `"`
}

// oneLine keeps a comment on its line.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// shellQuote quotes s for bash: as it is when it is plainly safe, else in
// single quotes (inside which nothing is special but the quote itself).
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '/' || r == '.' || r == '-' || r == '_' || r == '+' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
