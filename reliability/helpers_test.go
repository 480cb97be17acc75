package reliability

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rst-bench/rst/experiments"
	"github.com/rst-bench/rst/suite/data"
	"github.com/rst-bench/rst/suite/store"
	"github.com/rst-bench/rst/suite/train"
)

// The long versions run with -args -long (make reliability) or with
// RST_RELIABILITY_LONG=1; without either, every test runs at the small
// size that make test can afford on a loaded two-core machine.
var longFlag = flag.Bool("long", false, "run the reliability tests at full size (minutes)")

func long() bool { return *longFlag || os.Getenv("RST_RELIABILITY_LONG") != "" }

// size is how much each test does.
type size struct {
	seeds       int // seeds of the crash and concurrency target (table1 smoke)
	randomKills int // SIGKILLs at random moments
	writeKills  int // SIGKILLs right after a checkpoint or record appears
	trainTrials int // multi-epoch rst train runs killed and resumed
	concTrials  int // rounds of workers sharing one store
	workers     int // workers per round
	agreeSeeds  int // seeds of table3 in the rounds of workers that must agree
	agreeTrials int // those rounds
}

func sizes() size {
	if long() {
		return size{seeds: 2, randomKills: 100, writeKills: 40, trainTrials: 20, concTrials: 10, workers: 4, agreeSeeds: 2, agreeTrials: 3}
	}
	return size{seeds: 1, randomKills: 5, writeKills: 3, trainTrials: 1, concTrials: 1, workers: 3, agreeSeeds: 1, agreeTrials: 1}
}

// target is the run matrix the process-level tests train: table1 on the
// smoke profile has two distinct runs per seed (SGD and SAM; its
// WRN-28-10 rows share the MLP stand-in's runs) of about a second each.
const (
	target  = "table1"
	profile = "smoke"
)

var (
	rstBin  string // the rst binary, built once by TestMain
	tmpRoot string // shared scratch (the reference store), removed at the end
	dataDir string // a data dir with 2,048 + 512 real MNIST digits
)

func TestMain(m *testing.M) {
	flag.Parse()
	var err error
	tmpRoot, err = os.MkdirTemp("", "rst-reliability-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	rstBin = filepath.Join(tmpRoot, "rst")
	build := exec.Command(goTool(), "build", "-o", rstBin, "github.com/rst-bench/rst/cmd/rst")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building rst: %v\n%s", err, out)
		os.RemoveAll(tmpRoot)
		os.Exit(1)
	}
	dataDir = filepath.Join(tmpRoot, "data")
	if err := writeSmallMNIST(filepath.Join(dataDir, "mnist")); err != nil {
		fmt.Fprintf(os.Stderr, "writing the test's MNIST: %v\n", err)
		os.RemoveAll(tmpRoot)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(tmpRoot)
	os.Exit(code)
}

// writeSmallMNIST writes real MNIST digits, enough for the smoke
// profile's 512 + 256, uncompressed: every start of rst then spends
// milliseconds instead of most of a second decoding all 70,000 images,
// so the kills land in training rather than in data loading.
func writeSmallMNIST(dir string) error {
	src, err := data.MNISTModuleDir()
	if err != nil {
		return err
	}
	tr, te, err := data.LoadMNIST(src)
	if err != nil {
		return err
	}
	if tr, err = tr.Subset(2048, 1); err != nil {
		return err
	}
	if te, err = te.Subset(512, 1); err != nil {
		return err
	}
	return data.WriteMNIST(dir, tr, te, false)
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// result is what one rst invocation did.
type result struct {
	stdout, stderr string
	code           int
}

// rst runs the binary in dir (where render writes tables/ and figures/)
// and waits for it.
func rst(t *testing.T, dir string, args ...string) result {
	t.Helper()
	cmd := rstCmd(dir, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("rst %s: %v", strings.Join(args, " "), err)
		}
		r.code = ee.ExitCode()
	}
	return r
}

func rstCmd(dir string, args ...string) *exec.Cmd {
	cmd := exec.Command(rstBin, args...)
	cmd.Dir = dir
	env := slices.DeleteFunc(os.Environ(), func(s string) bool { return strings.HasPrefix(s, "RST_RESULTS=") })
	cmd.Env = env
	return cmd
}

// runArgs are the flags of `rst run` on the test target into results.
func runArgs(results string, seeds int, extra ...string) []string {
	return append([]string{"run", target, "--profile", profile, "--seeds", fmt.Sprint(seeds), "--results", results, "--data-dir", dataDir,
		"--tables", filepath.Join(results, "..", "tables"), "--figures", filepath.Join(results, "..", "figures")}, extra...)
}

// planned lists the distinct runs of the target with seeds 1..seeds.
func planned(t *testing.T, seeds int) []experiments.Planned { return distinct(t, target, seeds) }

var (
	refOnce sync.Once
	refDir  string
	refErr  error
	refTime time.Duration
)

// referenceStore is the store of one uninterrupted `rst run` of the target
// with the size's seeds, made once and shared read-only by the tests.
func referenceStore(t *testing.T) string {
	t.Helper()
	refOnce.Do(func() {
		dir := filepath.Join(tmpRoot, "reference")
		results := filepath.Join(dir, "results")
		os.MkdirAll(dir, 0o755)
		start := time.Now()
		cmd := rstCmd(dir, runArgs(results, sizes().seeds, "--no-render")...)
		out, err := cmd.CombinedOutput()
		refTime = time.Since(start)
		if err != nil {
			refErr = fmt.Errorf("the uninterrupted reference run failed: %v\n%s", err, out)
			return
		}
		refDir = results
	})
	if refErr != nil {
		t.Fatal(refErr)
	}
	return refDir
}

// sameResult lists where two records of one run differ in anything the
// run computed: its identity, every epoch's losses, errors and pairs, the
// final metrics, the step and pair counts, Δη and the draws. Timings and
// provenance are not results and may differ.
func sameResult(a, b *train.Record) []string {
	var diffs []string
	bits := func(what string, x, y float64) {
		if !sameFloat(x, y) {
			diffs = append(diffs, fmt.Sprintf("%s: %v vs %v", what, x, y))
		}
	}
	if a.ID != b.ID {
		diffs = append(diffs, "id: "+a.ID+" vs "+b.ID)
	}
	ca, _ := json.Marshal(a.Config)
	cb, _ := json.Marshal(b.Config)
	if !bytes.Equal(ca, cb) {
		diffs = append(diffs, fmt.Sprintf("config: %s vs %s", ca, cb))
	}
	if len(a.Epochs) != len(b.Epochs) {
		diffs = append(diffs, fmt.Sprintf("epochs: %d vs %d", len(a.Epochs), len(b.Epochs)))
	} else {
		for i := range a.Epochs {
			ea, eb := a.Epochs[i], b.Epochs[i]
			p := fmt.Sprintf("epoch %d ", i+1)
			if ea.Epoch != eb.Epoch {
				diffs = append(diffs, fmt.Sprintf("%snumber: %d vs %d", p, ea.Epoch, eb.Epoch))
			}
			bits(p+"train_loss", float64(ea.TrainLoss), float64(eb.TrainLoss))
			bits(p+"test_loss", float64(ea.TestLoss), float64(eb.TestLoss))
			bits(p+"test_error", float64(ea.TestError), float64(eb.TestError))
			bits(p+"pairs", ea.Pairs, eb.Pairs)
		}
	}
	bits("test_error", float64(a.TestError), float64(b.TestError))
	bits("test_loss", float64(a.TestLoss), float64(b.TestLoss))
	if (a.Diverged == nil) != (b.Diverged == nil) ||
		a.Diverged != nil && (a.Diverged.Step != b.Diverged.Step || a.Diverged.Epoch != b.Diverged.Epoch ||
			!sameFloat(float64(a.Diverged.Loss), float64(b.Diverged.Loss))) {
		diffs = append(diffs, fmt.Sprintf("diverged: %+v vs %+v", a.Diverged, b.Diverged))
	}
	if a.Steps != b.Steps {
		diffs = append(diffs, fmt.Sprintf("steps: %d vs %d", a.Steps, b.Steps))
	}
	bits("pairs", a.Pairs, b.Pairs)
	bits("delta_eta_realised", a.DeltaEtaRealised, b.DeltaEtaRealised)
	bits("delta_eta_expected", a.DeltaEtaExpected, b.DeltaEtaExpected)
	if a.Draws != b.Draws {
		diffs = append(diffs, fmt.Sprintf("draws: %q vs %q", a.Draws, b.Draws))
	}
	return diffs
}

// sameFloat is bit equality, except that any NaN equals any other: a
// diverged run's NaN loses its payload bits once written as "NaN".
func sameFloat(x, y float64) bool {
	return math.Float64bits(x) == math.Float64bits(y) || math.IsNaN(x) && math.IsNaN(y)
}

// checkStore compares the store at got with the reference store at want:
// the same set of runs, each read back through the store's checks with a
// bit-identical result, and nothing in runs/ but ID.json files. It
// returns the number of runs lost (in want, not readable in got) and the
// files left in ckpt/ (stale checkpoints and temporary files).
func checkStore(t *testing.T, want, got string) (lost int, leftovers []string) {
	t.Helper()
	ws, gs := &store.Store{Dir: want}, &store.Store{Dir: got}
	wids, err := ws.IDs(profile)
	if err != nil || len(wids) == 0 {
		t.Fatalf("reference store %s: %d ids, %v", want, len(wids), err)
	}
	gids, err := gs.IDs(profile)
	if err != nil {
		t.Fatalf("store %s: %v", got, err)
	}
	if !slices.Equal(wids, gids) {
		t.Errorf("store %s holds runs %v, the uninterrupted run %v", got, gids, wids)
	}
	for _, id := range wids {
		w, err := ws.Get(profile, id)
		if err != nil {
			t.Fatalf("reference: %v", err)
		}
		g, err := gs.Get(profile, id)
		if err != nil {
			lost++
			t.Errorf("run %s lost: %v", id, err)
			continue
		}
		if d := sameResult(w, g); len(d) > 0 {
			t.Errorf("run %s differs from the uninterrupted run:\n  %s", id, strings.Join(d, "\n  "))
		}
	}
	runs := filepath.Join(got, profile, "runs")
	entries, _ := os.ReadDir(runs)
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || !slices.Contains(gids, id) {
			t.Errorf("stray file %s in %s: only ID.json records belong there", e.Name(), runs)
		}
	}
	ck, _ := os.ReadDir(filepath.Join(got, profile, "ckpt"))
	for _, e := range ck {
		leftovers = append(leftovers, e.Name())
	}
	return lost, leftovers
}

// kinds counts files by kind: stale checkpoints (a record exists, so no
// run will ever resume from them), their lock files, write probes and
// temporary files.
func kinds(names []string, into map[string]int) {
	for _, n := range names {
		switch {
		case strings.HasSuffix(n, ".ckpt"):
			into["checkpoint"]++
		case strings.HasSuffix(n, ".ckpt.lock"):
			into["checkpoint-lock"]++
		case strings.HasSuffix(n, ".probe"):
			into["probe"]++
		case strings.HasSuffix(n, ".tmp"):
			into["temp"]++
		default:
			into["other"]++
		}
	}
}

// snapshot maps every file under dir to the SHA-256 of its content, to
// prove that a refused command wrote nothing.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			m[rel+"/"] = "dir"
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			m[rel] = "unreadable: " + err.Error()
			return nil
		}
		s := sha256.Sum256(b)
		m[rel] = hex.EncodeToString(s[:])
		return nil
	})
	return m
}

func sameSnapshot(t *testing.T, what string, before, after map[string]string) {
	t.Helper()
	for k, v := range after {
		if before[k] != v {
			t.Errorf("%s: %s was written (before: %q)", what, k, before[k])
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			t.Errorf("%s: %s was removed", what, k)
		}
	}
}

// craftStore puts a finished record for every run of the target with
// seeds 1..seeds into a new store, without training: the error of each
// run is made up, which is all that the bad-input and table tests need.
func craftStore(t *testing.T, results string, seeds int, edit func(p experiments.Planned, r *train.Record)) *store.Store {
	t.Helper()
	st, err := store.Open(results)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range planned(t, seeds) {
		r := &train.Record{ID: p.ID, Config: p.Config, Steps: 8, Pairs: 8,
			TestError: train.Metric(10 + float64(i)), TestLoss: 0.5,
			Epochs: []train.Epoch{{Epoch: 1, TrainLoss: 1, TestLoss: 0.5, TestError: train.Metric(10 + float64(i)), Pairs: 8}}}
		if edit != nil {
			edit(p, r)
		}
		if err := st.Put(r); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

// mustContain fails unless s contains every part.
func mustContain(t *testing.T, what, s string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(s, p) {
			t.Errorf("%s does not contain %q:\n%s", what, p, s)
		}
	}
}

// trainedLine matches rst run's report of a run it trained itself, in
// its first pass or after taking over a run whose holder stopped.
var trainedLine = regexp.MustCompile(`(?m)^\[(?:wait )?\d+/\d+\] ([0-9a-f]{16}) .*: trained: `)

// figures logs a line that RELIABILITY.md quotes.
func figures(t *testing.T, format string, a ...any) {
	t.Helper()
	t.Logf("FIGURES "+format, a...)
}

// ctxTimeout is a context for one test's processes.
func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
