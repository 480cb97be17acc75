package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rst-bench/rst/suite/store"
	"github.com/rst-bench/rst/suite/train"
)

// A record file that is not valid JSON, or whose content was changed by
// one digit, is refused by rst run with a message naming the file and the
// fix, and is neither overwritten nor trained over; rst render lists it as
// unreadable instead of averaging it.
func TestBadRecordRefused(t *testing.T) {
	digit := regexp.MustCompile(`"test_error": (\d)`)
	for _, c := range []struct {
		name   string
		damage func([]byte) []byte
		says   string
	}{
		{"malformed", func(b []byte) []byte { return b[:len(b)/2] }, "is not valid JSON"},
		{"tampered", func(b []byte) []byte {
			m := digit.FindSubmatchIndex(b)
			if m == nil {
				t.Fatalf("no test_error digit in %s", b)
			}
			out := bytes.Clone(b)
			out[m[2]] = '0' + (b[m[2]]-'0'+1)%10
			return out
		}, "checksum mismatch"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			results := filepath.Join(dir, "results")
			st := craftStore(t, results, 1, nil)
			ids, _ := st.IDs(profile)
			path := st.RecordPath(profile, ids[0])
			b, _ := os.ReadFile(path)
			if err := os.WriteFile(path, c.damage(b), 0o644); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, results)
			r := rst(t, dir, runArgs(results, 1)...)
			if r.code == 0 {
				t.Fatalf("rst run accepted a %s record:\n%s", c.name, r.stderr)
			}
			mustContain(t, "rst run's error", r.stderr, path, c.says, "delete it to run the run again", "nothing was trained")
			sameSnapshot(t, "rst run on a "+c.name+" record", before, snapshot(t, results))

			// rst render writes the table, marks the record, and fails.
			r = rst(t, dir, "render", target, "--profile", profile, "--seeds", "1", "--results", results,
				"--tables", filepath.Join(dir, "tables"), "--figures", filepath.Join(dir, "figures"))
			if r.code == 0 {
				t.Errorf("rst render with a %s record: exit 0, want a failure", c.name)
			}
			mustContain(t, "rst render's notes", r.stdout, "run "+ids[0]+": unreadable record, counted as missing", path, c.says, "INCOMPLETE")
			mustContain(t, "rst render's error", r.stderr, path, "delete it to run the run again")
			sameSnapshot(t, "rst render", before, snapshot(t, results))
		})
	}
}

// A whole, valid record copied over another run's file (issue 24: SAM's
// seed-1 record over SGD's) made the SGD row show SAM's numbers with exit
// 0. The store now refuses the file under the name it was copied to:
// rst render marks the table and fails, rst run trains nothing, and rst
// verify names the file; the intact store passes verify.
func TestRecordCopiedOverAnother(t *testing.T) {
	dir := t.TempDir()
	results := filepath.Join(dir, "results")
	st := craftStore(t, results, 1, nil)
	out := []string{"--tables", filepath.Join(dir, "tables"), "--figures", filepath.Join(dir, "figures")}
	var sgd, sam string
	for _, p := range planned(t, 1) {
		switch p.Config.Method.Name {
		case "sgd":
			sgd = p.ID
		case "sam":
			sam = p.ID
		}
	}
	b, err := os.ReadFile(st.RecordPath(profile, sam))
	if err != nil {
		t.Fatal(err)
	}
	path := st.RecordPath(profile, sgd)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	says := []string{path, "holds run " + sam, "not run " + sgd, "delete it to run the run again"}
	before := snapshot(t, results)

	r := rst(t, dir, append([]string{"render", target, "--profile", profile, "--seeds", "1", "--results", results}, out...)...)
	if r.code == 0 {
		t.Errorf("rst render with a record copied over another: exit 0, want a failure")
	}
	mustContain(t, "rst render's table", r.stdout, append(says, "INCOMPLETE", "run "+sgd+": unreadable record, counted as missing")...)
	renderCode := r.code
	mb, err := os.ReadFile(filepath.Join(dir, "tables", profile, target+".manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Runs []struct{ ID, Status, SHA256 string }
	}
	json.Unmarshal(mb, &m)
	for _, run := range m.Runs {
		switch {
		case run.ID == sgd && run.Status != "unreadable":
			t.Errorf("the manifest lists run %s as %q, want unreadable", sgd, run.Status)
		case run.ID == sam && (run.Status != "done" || len(run.SHA256) != 64):
			t.Errorf("the manifest lists run %s as %q with sha256 %q, want done with its record's checksum", sam, run.Status, run.SHA256)
		}
	}

	r = rst(t, dir, runArgs(results, 1)...)
	runCode := r.code
	if r.code == 0 || trainedLine.MatchString(r.stderr) {
		t.Errorf("rst run over a record copied over another: exit %d, want a refusal before training\n%s", r.code, r.stderr)
	}
	mustContain(t, "rst run's error", r.stderr, append(says, "nothing was trained")...)

	r = rst(t, dir, "verify", "--profile", profile, "--results", results)
	if r.code == 0 {
		t.Errorf("rst verify passed a store with a record copied over another:\n%s", r.stdout)
	}
	mustContain(t, "rst verify's report", r.stdout, says...)
	sameSnapshot(t, "render, run and verify", before, snapshot(t, results))
	intact := filepath.Join(t.TempDir(), "results")
	craftStore(t, intact, 1, nil)
	if r := rst(t, dir, "verify", "--results", intact); r.code != 0 {
		t.Errorf("rst verify on an intact store: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	figures(t, "copied-record: render exit %d (table marked INCOMPLETE), run exit %d (nothing trained), verify exit %d; store unchanged", renderCode, runCode, r.code)
}

// checkpointFor trains run p of the target in this process with a
// checkpoint in a store's place for it, as a killed rst run would have
// left, and returns the checkpoint's bytes.
func checkpointFor(t *testing.T, cfg train.Config, path string) []byte {
	t.Helper()
	cfg.Checkpoint, cfg.DataDir = path, dataDir
	if _, err := train.Run(context.Background(), cfg, nil); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// damages of a checkpoint: cut short, or one bit flipped in its payload.
var ckptDamages = []struct {
	name   string
	damage func([]byte) []byte
	says   string
}{
	{"truncated", func(b []byte) []byte { return b[:len(b)*2/3] }, "truncated"},
	{"bit-flipped", func(b []byte) []byte {
		out := bytes.Clone(b)
		out[len(out)/2] ^= 0x10
		return out
	}, "checksum mismatch"},
}

// A truncated checkpoint, or one with a flipped bit, is refused when a run
// resumes from it, through rst train --checkpoint and through rst run's
// store: the error names the file and says to delete it, and no record is
// written.
func TestBadCheckpointRefused(t *testing.T) {
	base := t.TempDir()
	good := checkpointFor(t, planned(t, 1)[0].Config, filepath.Join(base, "good.ckpt"))
	for _, c := range ckptDamages {
		t.Run("train/"+c.name, func(t *testing.T) {
			dir := t.TempDir()
			ckpt, out := filepath.Join(dir, "run.ckpt"), filepath.Join(dir, "run.json")
			// rst train's own checkpoint of the same run: made by a
			// finished run, then damaged.
			if r := rst(t, dir, trainArgs("--epochs", "1", "--checkpoint", ckpt)...); r.code != 0 {
				t.Fatalf("making the checkpoint: exit %d\n%s", r.code, r.stderr)
			}
			b, _ := os.ReadFile(ckpt)
			os.WriteFile(ckpt, c.damage(b), 0o644)
			before := snapshot(t, dir)
			r := rst(t, dir, trainArgs("--epochs", "1", "--checkpoint", ckpt, "--out", out)...)
			if r.code == 0 {
				t.Fatalf("rst train resumed from a %s checkpoint", c.name)
			}
			mustContain(t, "rst train's error", r.stderr, ckpt, c.says, "delete it")
			sameSnapshot(t, "rst train on a "+c.name+" checkpoint", before, snapshot(t, dir))
		})
		t.Run("run/"+c.name, func(t *testing.T) {
			dir := t.TempDir()
			results := filepath.Join(dir, "results")
			st, _ := store.Open(results)
			p := planned(t, 1)[0]
			ckpt := st.CheckpointPath(profile, p.ID)
			os.MkdirAll(filepath.Dir(ckpt), 0o755)
			os.WriteFile(ckpt, c.damage(good), 0o644)
			r := rst(t, dir, runArgs(results, 1, "--no-render")...)
			if r.code == 0 {
				t.Fatalf("rst run resumed from a %s checkpoint:\n%s", c.name, r.stderr)
			}
			mustContain(t, "rst run's error", r.stderr, ckpt, c.says, "delete it")
			if _, err := st.Get(profile, p.ID); err == nil {
				t.Errorf("run %s has a record though its checkpoint was refused", p.ID)
			}
			if b, _ := os.ReadFile(ckpt); !bytes.Equal(b, c.damage(good)) {
				t.Errorf("the refused checkpoint %s was changed", ckpt)
			}
		})
	}
}

// A results folder that cannot be created (a regular file stands where it
// or its parent should be; root ignores permission bits, a file in the
// way stops everyone) is refused before anything runs.
func TestResultsNotWritable(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "blocker")
	os.WriteFile(blocker, []byte("not a folder\n"), 0o644)
	for _, results := range []string{blocker, filepath.Join(blocker, "results")} {
		for _, cmd := range [][]string{runArgs(results, 1), {"plan", target, "--profile", profile, "--results", results}} {
			r := rst(t, dir, cmd...)
			if r.code == 0 {
				t.Fatalf("rst %s accepted --results %s", cmd[0], results)
			}
			mustContain(t, "rst "+cmd[0]+"'s error", r.stderr, results, "choose a writable --results")
		}
	}
	for _, flag := range []string{"--out", "--checkpoint"} {
		r := rst(t, dir, trainArgs(flag, filepath.Join(blocker, "sub", "x"))...)
		if r.code == 0 {
			t.Fatalf("rst train accepted %s under a file", flag)
		}
		mustContain(t, "rst train's error", r.stderr, flag, blocker, "choose a writable path")
		if strings.Contains(r.stderr, "training") {
			t.Errorf("rst train started training before refusing %s:\n%s", flag, r.stderr)
		}
	}
	if b, _ := os.ReadFile(blocker); string(b) != "not a folder\n" {
		t.Errorf("the file in the way was changed: %q", b)
	}
}

// Wrong names and numbers on the command line are refused with a message
// naming the input and the fix, before anything is created: no results
// folder is left behind, and nothing trains.
func TestBadExperimentFlags(t *testing.T) {
	dir := t.TempDir()
	results := filepath.Join(dir, "results")
	for _, c := range []struct {
		args []string
		says []string
	}{
		{[]string{"run", "table99", "--profile", profile}, []string{`unknown target "table99"`, "choose from", "table1", "rst list"}},
		{[]string{"run", target, "--profile", "nope"}, []string{`--profile "nope"`, "choose one of paper, cpu, smoke"}},
		{[]string{"run", target, "--profile", profile, "--seeds", "-1"}, []string{"--seeds -1", "want a positive number of seeds"}},
		{[]string{"run", "--profile", profile}, []string{"name at least one target", "rst list"}},
		{[]string{"render", "nope", "--profile", profile}, []string{`unknown target "nope"`}},
		{[]string{"plan", target, "--profile", "paper2"}, []string{`--profile "paper2"`}},
		{[]string{"run", target, "--profile", profile, "--jobs", "0"}, []string{"--jobs 0", "want at least 1"}},
		{[]string{"run", target, "--profile", profile, "--jobs", "-5"}, []string{"--jobs -5", "want at least 1"}},
		{[]string{"run", target, "--profile", profile, "--id", "0123456789abcdef"}, []string{"--id 0123456789abcdef", "not a run of table1", "rst plan lists them"}},
		{[]string{"plan", target, "--profile", profile, "--slurm", "--sbatch-arg", "--array=1"}, []string{"--sbatch-arg", "sets --array itself"}},
	} {
		args := append(c.args, "--results", results)
		r := rst(t, dir, args...)
		what := "rst " + strings.Join(c.args, " ")
		if r.code == 0 {
			t.Errorf("%s: accepted", what)
			continue
		}
		mustContain(t, what, r.stderr, c.says...)
		if _, err := os.Stat(results); err == nil {
			t.Errorf("%s created the results folder before refusing", what)
			os.RemoveAll(results)
		}
		if ids, _ := (&store.Store{Dir: results}).IDs(profile); len(ids) > 0 {
			t.Errorf("%s wrote records %v", what, ids)
		}
	}
	// --seeds 0 is not an error: it means the profile's default (2 for
	// smoke), as rst run -h says.
	r := rst(t, dir, "plan", target, "--profile", profile, "--seeds", "0", "--results", results)
	if r.code != 0 || !strings.Contains(r.stdout, "smoke profile, 2 seeds") {
		t.Errorf("--seeds 0: exit %d, output %q; want the smoke default of 2 seeds", r.code, r.stdout)
	}
}
