package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rst-bench/rst/experiments"
	"github.com/rst-bench/rst/suite/store"
	"github.com/rst-bench/rst/suite/train"
)

// A run whose loss becomes NaN is a result: the store records where it
// diverged, writes its NaN test error as "NaN", reads it back, and never
// trains it again.
func TestDivergedRunIsRecordedOnce(t *testing.T) {
	p := planned(t, 1)[0]
	cfg := p.Config
	cfg.LR, cfg.Clip = 1e6, 0 // the first steps overflow
	cfg.DataDir = dataDir
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rec, outcome, err := st.Run(context.Background(), cfg, false, nil)
	if err != nil || outcome != store.Trained {
		t.Fatalf("Run: outcome %v, err %v", outcome, err)
	}
	if rec.Diverged == nil {
		t.Fatalf("lr 1e6 without clipping did not diverge: test error %v after %d steps", rec.TestError, rec.Steps)
	}
	if !math.IsNaN(float64(rec.TestError)) || !math.IsNaN(float64(rec.TestLoss)) || rec.Diverged.Epoch != 1 ||
		rec.Diverged.Step != rec.Steps-1 || rec.Diverged.Loss.Finite() {
		t.Errorf("diverged record: test error %v, loss %v, divergence %+v after %d steps", rec.TestError, rec.TestLoss, rec.Diverged, rec.Steps)
	}
	path := st.RecordPath(cfg.Profile, rec.ID)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, path, string(b), `"test_error": "NaN"`, `"diverged": {`)
	got, err := st.Get(cfg.Profile, rec.ID)
	if err != nil {
		t.Fatalf("the diverged record does not read back: %v", err)
	}
	if d := sameResult(rec, got); len(d) > 0 {
		t.Errorf("read back differs:\n  %s", strings.Join(d, "\n  "))
	}
	again, outcome, err := st.Run(context.Background(), cfg, false, nil)
	if err != nil || outcome != store.Done || !again.Provenance.Start.Equal(rec.Provenance.Start) {
		t.Errorf("second Run of a diverged run: outcome %v (want Done), err %v", outcome, err)
	}
	figures(t, "divergence: lr=1e6 clip=0 diverged at step %d (loss %v), recorded, read back, not re-run", rec.Diverged.Step, rec.Diverged.Loss)
}

// A table marks diverged runs and leaves them out of the mean; rst render
// and the manifest say so too.
func TestDivergedRunsAreMarkedNotAveraged(t *testing.T) {
	dir := t.TempDir()
	results := filepath.Join(dir, "results")
	// Seeds 1–3 of table1: SGD finishes every seed; SAM diverges on seed
	// 2; the seeds' errors are 10, 11, 12 (SGD) and 20, –, 22 (SAM).
	craftStore(t, results, 3, func(p experiments.Planned, r *train.Record) {
		e := float64(p.Seed) + 9
		if p.Cell.Method.Name == "sam" {
			e += 10
			if p.Seed == 2 {
				r.Diverged = &train.Divergence{Step: 3, Epoch: 1, Loss: train.Metric(math.Inf(1))}
				e = math.NaN()
				r.Epochs = nil
			}
		}
		r.TestError, r.TestLoss = train.Metric(e), train.Metric(e/100)
		if r.Epochs != nil {
			r.Epochs[0].TestError = train.Metric(e)
		}
	})
	st := &store.Store{Dir: results}
	tg, _ := experiments.Lookup(target)
	res, err := experiments.Collect(st, tg, experiments.Profiles[profile], 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Bad) > 0 {
		t.Fatalf("crafted records unreadable: %v", res.Bad)
	}
	out, err := tg.Render(res)
	if err != nil {
		t.Fatal(err)
	}
	tab := out.Tables[0]
	var sam, sgd []string
	for _, row := range tab.Rows {
		if strings.HasPrefix(row[1], "CIFAR-10 ") && row[2] == "SAM" && sam == nil {
			sam = row
		}
		if strings.HasPrefix(row[1], "CIFAR-10 ") && row[2] == "SGD" && sgd == nil {
			sgd = row
		}
	}
	if sam == nil || sgd == nil {
		t.Fatalf("no CIFAR-10 SGD and SAM rows in %v", tab.Rows)
	}
	// SAM: mean of 20 and 22 = 21.00, std √2 = 1.41, n = 2, one diverged.
	if sam[3] != "21.00 ± 1.41 (diverged 1/3)" || sam[4] != "2" {
		t.Errorf("SAM row: error %q, n %q; want %q and 2", sam[3], sam[4], "21.00 ± 1.41 (diverged 1/3)")
	}
	if sgd[3] != "11.00 ± 1.00" || sgd[4] != "3" {
		t.Errorf("SGD row: error %q, n %q; want 11.00 ± 1.00 and 3", sgd[3], sgd[4])
	}
	// The paired SGD–SAM difference uses the seeds both finished (1 and 3).
	if !strings.Contains(sam[7], "+10.00") {
		t.Errorf("SAM vs SGD = %q, want +10.00 from seeds 1 and 3", sam[7])
	}
	if !slices.ContainsFunc(tab.Notes, func(n string) bool { return strings.Contains(n, "SAM: 1 run(s) diverged and are not averaged") }) {
		t.Errorf("no divergence note among %q", tab.Notes)
	}

	// The same through the binary: the Markdown table and the manifest.
	r := rst(t, dir, "render", target, "--profile", profile, "--seeds", "3", "--results", results,
		"--tables", filepath.Join(dir, "tables"), "--figures", filepath.Join(dir, "figures"))
	if r.code != 0 {
		t.Fatalf("rst render: exit %d\n%s", r.code, r.stderr)
	}
	mustContain(t, "rst render", r.stdout, "21.00 ± 1.41 (diverged 1/3)", "1 run(s) diverged and are not averaged")
	mb, err := os.ReadFile(filepath.Join(dir, "tables", profile, target+".manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Runs []struct{ ID, Status string }
	}
	if err := json.Unmarshal(mb, &m); err != nil {
		t.Fatal(err)
	}
	diverged := 0
	for _, run := range m.Runs {
		if run.Status == "diverged" {
			diverged++
		}
	}
	// table1's WRN-28-10 rows share the MLP stand-in's runs, so the one
	// diverged run is listed under both models.
	if diverged != 2 {
		t.Errorf("manifest lists %d diverged entries, want 2 (the one run, under both models): %s", diverged, mb)
	}

	// All seeds diverged: no mean at all, only the count.
	dir2 := t.TempDir()
	craftStore(t, filepath.Join(dir2, "results"), 2, func(p experiments.Planned, r *train.Record) {
		if p.Cell.Method.Name == "sam" {
			r.Diverged = &train.Divergence{Step: 0, Epoch: 1, Loss: train.Metric(math.NaN())}
			r.TestError, r.TestLoss, r.Epochs = train.Metric(math.NaN()), train.Metric(math.NaN()), nil
		}
	})
	r = rst(t, dir2, "render", target, "--profile", profile, "--seeds", "2", "--results", filepath.Join(dir2, "results"),
		"--tables", filepath.Join(dir2, "tables"), "--figures", filepath.Join(dir2, "figures"))
	if r.code != 0 {
		t.Fatalf("rst render: exit %d\n%s", r.code, r.stderr)
	}
	mustContain(t, "rst render (all SAM seeds diverged)", r.stdout, "diverged (2/2)", "2 run(s) diverged and are not averaged")
	if strings.Contains(r.stdout, "NaN") {
		t.Errorf("a NaN reached the rendered table:\n%s", r.stdout)
	}
	figures(t, "divergence-table: 1 of 3 and 2 of 2 seeds diverged: marked %q, note present, excluded from mean and paired difference", fmt.Sprint(sam[3]))
}
