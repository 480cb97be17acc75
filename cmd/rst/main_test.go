package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/cpu"
)

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
	buildDir  string
)

func TestMain(m *testing.M) {
	var err error
	if buildDir, err = os.MkdirTemp("", "rst-cmd-test"); err != nil {
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(buildDir)
	os.Exit(code)
}

// rstBinary builds the real program once per test process: these tests
// check what a user sees, exit statuses and files included.
func rstBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		builtBin = filepath.Join(buildDir, "rst")
		if out, err := exec.Command("go", "build", "-o", builtBin, ".").CombinedOutput(); err != nil {
			buildErr = errors.New(err.Error() + "\n" + string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("build: %v", buildErr)
	}
	return builtBin
}

// run runs the binary and returns stdout, stderr and the exit status.
func run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runEnv(t, "", nil, args...)
}

// tiny is a short real run: the MLP on 200 MNIST samples, two steps.
var tiny = []string{"train", "--model", "mlp", "--subset", "200", "--test-subset", "100", "--batch", "100"}

// long is a run long enough to act on while it trains: 1000 epochs of
// ten steps, meant to be stopped.
func long(epochs string) []string {
	return []string{"train", "--model", "mlp", "--subset", "1000", "--test-subset", "200", "--batch", "100", "--epochs", epochs}
}

// started is the line the progress log writes before the first step.
const started = "msg=training"

// TestBadInputFailsWithoutRecord runs the real binary: a bad input must
// exit non-zero, say what is wrong and how to fix it, and write no record.
func TestBadInputFailsWithoutRecord(t *testing.T) {
	dir := t.TempDir()
	bin := rstBinary(t)
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

// --out and --checkpoint in folders that do not exist: the folders are
// created and the files written.
func TestOutputFoldersAreCreated(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "new", "deeper", "run.json")
	ckpt := filepath.Join(dir, "other", "run.ckpt")
	stdout, stderr, code := run(t, append(tiny, "--steps", "2", "--out", out, "--checkpoint", ckpt)...)
	if code != 0 {
		t.Fatalf("exit status %d\n%s", code, stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("--out: %v", err)
	}
	var rec map[string]any
	if err := json.Unmarshal(b, &rec); err != nil || rec["id"] == nil {
		t.Errorf("--out %s holds no record (%v): %.200s", out, err, b)
	}
	if _, err := os.Stat(ckpt); err != nil {
		t.Errorf("--checkpoint: %v", err)
	}
	if !strings.Contains(stdout, "record: "+out) {
		t.Errorf("the summary does not say where the record is:\n%s", stdout)
	}
}

// An output that cannot be written is refused before the first step,
// not after the whole run.
func TestUnwritableOutputFailsBeforeTraining(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a-file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, flag := range []string{"--out", "--checkpoint"} {
		_, stderr, code := run(t, append(tiny, "--steps", "2", flag, filepath.Join(file, "run.json"))...)
		if code == 0 || !strings.Contains(stderr, flag) || !strings.Contains(stderr, "writable") {
			t.Errorf("%s under a file: exit %d, want a failure naming %s and asking for a writable path:\n%s", flag, code, flag, stderr)
		}
		if strings.Contains(stderr, started) {
			t.Errorf("%s under a file: training started before the check:\n%s", flag, stderr)
		}
	}
}

// startAndWatch starts rst with args and calls act once a line of its
// stderr contains trigger; it returns stdout, all of stderr and the exit
// status.
func startAndWatch(t *testing.T, args []string, trigger string, act func(p *os.Process)) (string, string, int) {
	t.Helper()
	cmd := exec.Command(rstBinary(t), args...)
	var o bytes.Buffer
	cmd.Stdout = &o
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(2*time.Minute, func() { cmd.Process.Kill() })
	defer timer.Stop()
	var e strings.Builder
	sc := bufio.NewScanner(pipe)
	acted := false
	for sc.Scan() {
		e.WriteString(sc.Text() + "\n")
		if !acted && strings.Contains(sc.Text(), trigger) {
			acted = true
			act(cmd.Process)
		}
	}
	io.Copy(&e, pipe)
	err = cmd.Wait()
	if !acted {
		t.Fatalf("rst %v never wrote %q:\n%s", args, trigger, e.String())
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

// If the record cannot be written when the run ends, the finished run is
// not lost: the record goes to stdout and stderr says why.
func TestRecordPrintedWhenOutFailsAtTheEnd(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "records")
	out := filepath.Join(dir, "run.json")
	stdout, stderr, code := startAndWatch(t, append(long("15"), "--out", out), started, func(*os.Process) {
		// The folder passed the check at the start; now it becomes a file.
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dir, []byte("not a folder"), 0o644); err != nil {
			t.Fatal(err)
		}
	})
	if code == 0 {
		t.Errorf("exit status 0 although --out was not written")
	}
	if !strings.Contains(stderr, "could not be written") || !strings.Contains(stderr, out) {
		t.Errorf("stderr does not say the record could not be written to %s:\n%s", out, stderr)
	}
	var rec struct {
		ID    string `json:"id"`
		Steps int    `json:"steps"`
	}
	if err := json.Unmarshal([]byte(stdout), &rec); err != nil || rec.ID == "" || rec.Steps != 150 {
		t.Errorf("stdout is not the finished run's record (%v, %+v):\n%.300s", err, rec, stdout)
	}
}

// NaN or infinity in any number is refused before training, with the flag
// named.
func TestNonFiniteNumbersRefused(t *testing.T) {
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"--lr", "NaN"}, []string{"--lr NaN", "finite"}},
		{[]string{"--lr", "Inf"}, []string{"--lr +Inf", "finite"}},
		{[]string{"--rho", "NaN", "--method", "sam"}, []string{"--rho NaN", "finite"}},
		{[]string{"--l2", "NaN"}, []string{"--l2 NaN", "finite"}},
		{[]string{"--clip", "Inf"}, []string{"--clip +Inf", "finite"}},
		{[]string{"--wd", "NaN"}, []string{"--wd NaN", "finite"}},
		{[]string{"--momentum", "NaN"}, []string{"--momentum NaN", "finite"}},
		{[]string{"--smoothing", "NaN"}, []string{"--smoothing NaN", "finite"}},
		{[]string{"--method", "gnr", "--param", "gamma=NaN"}, []string{"-param", "gamma=NaN", "finite"}},
		{[]string{"--method", "looksam", "--param", "k=-Inf"}, []string{"-param", "k=-Inf", "finite"}},
		{[]string{"--lr-schedule", "step:0.5/NaN"}, []string{"--lr-schedule", "step:0.5/NaN", "positive"}},
		{[]string{"--lr-schedule", "step:NaN"}, []string{"--lr-schedule", "step:NaN", "(0,1)"}},
		{[]string{"--lr-schedule", "step:0.5/Inf"}, []string{"--lr-schedule", "step:0.5/Inf", "positive"}},
		{[]string{"--method", "rst", "--schedule", "expr:x*2"}, []string{"expr", "from x = 0.5001 to x = 1"}},
	} {
		_, stderr, code := run(t, append(append(tiny, "--steps", "1"), c.args...)...)
		if code == 0 {
			t.Errorf("%v: exit status 0, want a refusal", c.args)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%v: the error does not mention %q:\n%s", c.args, w, stderr)
			}
		}
		if strings.Contains(stderr, started) {
			t.Errorf("%v: training started before the refusal:\n%s", c.args, stderr)
		}
	}
}

// Ctrl-C says what is kept and exits 130, with and without a checkpoint.
func TestInterruptSaysWhatIsKept(t *testing.T) {
	interrupt := func(p *os.Process) {
		if err := p.Signal(os.Interrupt); err != nil {
			t.Error(err)
		}
	}
	ckpt := filepath.Join(t.TempDir(), "ckpts", "run.ckpt")
	_, stderr, code := startAndWatch(t, append(long("1000"), "--checkpoint", ckpt), "msg=epoch", interrupt)
	want := regexp.MustCompile(`interrupted at step \d+: the checkpoint of epoch [1-9]\d* in ` + regexp.QuoteMeta(ckpt) + ` is kept; run the same command again to resume`)
	if code != 130 || !want.MatchString(stderr) {
		t.Errorf("with --checkpoint: exit %d, want 130 and a line matching %s:\n%s", code, want, stderr)
	}
	if strings.Contains(stderr, "context canceled") {
		t.Errorf("with --checkpoint: the bare context error is shown:\n%s", stderr)
	}
	if _, err := os.Stat(ckpt); err != nil {
		t.Errorf("the checkpoint the message promises is not there: %v", err)
	}

	_, stderr, code = startAndWatch(t, long("1000"), started, interrupt)
	want = regexp.MustCompile(`interrupted at step \d+: no --checkpoint was given, nothing was kept; add --checkpoint FILE to make a run resumable`)
	if code != 130 || !want.MatchString(stderr) {
		t.Errorf("without --checkpoint: exit %d, want 130 and a line matching %s:\n%s", code, want, stderr)
	}
}

// A bad flag value prints its one-line error and where the flags are
// listed, not the list itself; -h prints the list and succeeds.
func TestBadFlagValueIsOneLine(t *testing.T) {
	for _, cmd := range []string{"train", "bench"} {
		_, stderr, code := run(t, cmd, "--batch", "x")
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		if code == 0 || len(lines) != 1 || !strings.Contains(stderr, "-batch") || !strings.Contains(stderr, "run `rst "+cmd+" -h` for the flags") {
			t.Errorf("rst %s --batch x: exit %d, want one line naming -batch and pointing to -h:\n%s", cmd, code, stderr)
		}
		_, stderr, code = run(t, cmd, "-h")
		if code != 0 || !strings.Contains(stderr, "-momentum") || !strings.Contains(stderr, "-model") {
			t.Errorf("rst %s -h: exit %d, want the flags listed:\n%s", cmd, code, stderr)
		}
	}
	// Every other command parses its flags the same way.
	for _, cmd := range [][]string{{"version"}, {"theory"}, {"data", "info"}, {"data", "fetch"}} {
		_, stderr, code := run(t, append(cmd, "--bogus")...)
		name := strings.Join(cmd, " ")
		if lines := strings.Split(strings.TrimSpace(stderr), "\n"); code == 0 || len(lines) != 1 || !strings.Contains(stderr, "run `rst "+name+" -h` for the flags") {
			t.Errorf("rst %s --bogus: exit %d, want one line pointing to -h:\n%s", name, code, stderr)
		}
	}
}

// Without --json, train prints a short summary of the record on stdout;
// with it, the whole record as JSON.
func TestTrainPrintsItsResult(t *testing.T) {
	stdout, stderr, code := run(t, append(tiny, "--steps", "2")...)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	for _, w := range []string{"run ", "mlp", "2 steps", "test error", "test loss", "forward-backward pairs", "Δη realised 0.000, expected 0.000", "training", "record: not written"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("the summary does not mention %q:\n%s", w, stdout)
		}
	}
	stdout, _, code = run(t, append(tiny, "--steps", "2", "--json")...)
	var rec struct {
		ID     string          `json:"id"`
		Config json.RawMessage `json:"config"`
	}
	if err := json.Unmarshal([]byte(stdout), &rec); code != 0 || err != nil || rec.ID == "" || len(rec.Config) == 0 {
		t.Errorf("--json: exit %d, %v; stdout is not the record:\n%.300s", code, err, stdout)
	}
}

// rst version prints the commit the Makefile stamps; without a stamp it
// prints go's own VCS revision or "unknown", never a guess.
func TestVersionPrintsTheCommit(t *testing.T) {
	stamped := filepath.Join(t.TempDir(), "rst")
	const commit = "0123456789abcdef0123456789abcdef01234567+dirty"
	if out, err := exec.Command("go", "build", "-ldflags", "-X github.com/rst-bench/rst/suite/buildinfo.commit="+commit, "-o", stamped, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	out, err := exec.Command(stamped, "version").Output()
	if err != nil || !strings.Contains(string(out), "commit "+commit+" ") || !strings.Contains(string(out), "blas: ") {
		t.Errorf("stamped binary: %v\n%s\nwant commit %s and the BLAS", err, out, commit)
	}
	stdout, _, _ := run(t, "version")
	if !regexp.MustCompile(`^rst commit (unknown|[0-9a-f]{40}(\+dirty)?) \(go`).MatchString(stdout) {
		t.Errorf("unstamped binary: %q, want unknown or go's VCS revision", stdout)
	}
	// The Makefile's stamp must name the variable that exists.
	if _, err := exec.LookPath("make"); err == nil {
		mk, err := exec.Command("make", "-n", "-C", filepath.Join("..", ".."), "build").Output()
		if err != nil || !strings.Contains(string(mk), "-X github.com/rst-bench/rst/suite/buildinfo.commit=") {
			t.Errorf("make -n build: %v\n%s\nwant the buildinfo.commit stamp", err, mk)
		}
	}
}

// go build -tags openblas links OpenBLAS by itself, without the Makefile's
// environment.
func TestOpenBLASBuildsWithoutTheMakefile(t *testing.T) {
	if err := exec.Command("pkg-config", "--exists", "openblas").Run(); err != nil {
		t.Skip("OpenBLAS is not installed (pkg-config openblas)")
	}
	bin := filepath.Join(t.TempDir(), "rst-openblas")
	cmd := exec.Command("go", "build", "-tags", "openblas", "-o", bin, ".")
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "CGO_LDFLAGS=") {
			cmd.Env = append(cmd.Env, e)
		}
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build -tags openblas: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil || !strings.Contains(string(out), "blas: OpenBLAS") {
		t.Errorf("%v\n%s\nwant blas: OpenBLAS", err, out)
	}

	// The kernel set: never one without AVX on a CPU with AVX, unless the
	// user asked for it (OpenBLAS falls back to Prescott's on CPUs it does
	// not recognise, and rst restarts itself with the CPU's own); a user's
	// OPENBLAS_CORETYPE is kept, with a note when it is slow.
	version := func(coretype string, more ...string) string {
		cmd := exec.Command(bin, "version")
		for _, e := range os.Environ() {
			if !strings.HasPrefix(e, "OPENBLAS_CORETYPE=") && !strings.HasPrefix(e, "OPENBLAS_THREAD_TIMEOUT=") {
				cmd.Env = append(cmd.Env, e)
			}
		}
		if coretype != "" {
			cmd.Env = append(cmd.Env, "OPENBLAS_CORETYPE="+coretype)
		}
		cmd.Env = append(cmd.Env, more...)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("rst version (OPENBLAS_CORETYPE=%q): %v\n%s", coretype, err, out)
		}
		return string(out)
	}
	avx := cpu.X86.HasAVX
	if out := version(""); avx && (strings.Contains(out, "Prescott kernels") || strings.Contains(out, "Core2 kernels") || strings.Contains(out, "Nehalem kernels")) {
		t.Errorf("rst version on a CPU with AVX runs OpenBLAS kernels without it:\n%s", out)
	}
	out2 := version("Prescott")
	if !strings.Contains(out2, "Prescott kernels") {
		t.Errorf("OPENBLAS_CORETYPE=Prescott: the user's kernel set was not kept:\n%s", out2)
	}
	if avx && !strings.Contains(out2, "note: OpenBLAS runs its Prescott kernels") {
		t.Errorf("OPENBLAS_CORETYPE=Prescott on a CPU with AVX: want a note on the slow kernels:\n%s", out2)
	}

	// Idle OpenBLAS threads sleep at once (OPENBLAS_THREAD_TIMEOUT=4, set
	// by the restart) unless the user chose otherwise.
	if out := version(""); !strings.Contains(out, "idle threads: wait 2^4 cycles for work, then sleep (OPENBLAS_THREAD_TIMEOUT=4)") {
		t.Errorf("rst version: want OpenBLAS's idle threads to sleep after 2^4 cycles:\n%s", out)
	}
	if out := version("", "OPENBLAS_THREAD_TIMEOUT=20"); !strings.Contains(out, "idle threads: wait 2^20 cycles") {
		t.Errorf("OPENBLAS_THREAD_TIMEOUT=20: the user's setting was not kept:\n%s", out)
	}
}

// In bench, --steps and --bench-steps are one number, the timed steps,
// and the inputs are said to be synthetic.
func TestBenchSteps(t *testing.T) {
	base := []string{"bench", "--model", "mlp", "--data", "mnist", "--batch", "16"}
	for _, flag := range []string{"--steps", "--bench-steps"} {
		stdout, stderr, code := run(t, append(base, flag, "3")...)
		if code != 0 || !strings.Contains(stdout, "over 3 steps") || !strings.Contains(stdout, "synthetic inputs shaped like mnist") {
			t.Errorf("bench %s 3: exit %d, want 3 timed steps on synthetic inputs:\n%s%s", flag, code, stdout, stderr)
		}
	}
	_, stderr, code := run(t, append(base, "--steps", "3", "--bench-steps", "4")...)
	if code == 0 || !strings.Contains(stderr, "--steps 3 and --bench-steps 4") {
		t.Errorf("bench --steps 3 --bench-steps 4: exit %d, want a refusal naming both:\n%s", code, stderr)
	}
	stdout, stderr, code := run(t, append(base, "--compare", "sgd,sam", "--bench-steps", "2")...)
	if code != 0 || !strings.Contains(stdout, "mlp on synthetic inputs shaped like mnist, batch 16, 2 steps per method in 2 interleaved rounds") {
		t.Errorf("bench --compare: exit %d:\n%s%s", code, stdout, stderr)
	}
}
