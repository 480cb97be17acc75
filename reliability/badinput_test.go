package reliability

import (
	"bytes"
	"context"
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
			mustContain(t, "rst run's error", r.stderr, path, c.says, "delete it to run the run again")
			sameSnapshot(t, "rst run on a "+c.name+" record", before, snapshot(t, results))

			r = rst(t, dir, "render", target, "--profile", profile, "--seeds", "1", "--results", results,
				"--tables", filepath.Join(dir, "tables"), "--figures", filepath.Join(dir, "figures"))
			if r.code != 0 {
				t.Fatalf("rst render with a %s record: exit %d\n%s", c.name, r.code, r.stderr)
			}
			mustContain(t, "rst render's notes", r.stdout, "run "+ids[0]+": unreadable record, counted as missing", path, c.says)
			sameSnapshot(t, "rst render", before, snapshot(t, results))
		})
	}
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
// naming the input and the fix; those checked before the store is opened
// leave no results folder, and none trains anything.
func TestBadExperimentFlags(t *testing.T) {
	dir := t.TempDir()
	results := filepath.Join(dir, "results")
	for _, c := range []struct {
		args  []string
		says  []string
		opens bool // the check comes after the store is opened
	}{
		{[]string{"run", "table99", "--profile", profile}, []string{`unknown target "table99"`, "choose from", "table1", "rst list"}, false},
		{[]string{"run", target, "--profile", "nope"}, []string{`--profile "nope"`, "choose one of paper, cpu, smoke"}, false},
		{[]string{"run", target, "--profile", profile, "--seeds", "-1"}, []string{"--seeds -1", "want a positive number of seeds"}, false},
		{[]string{"run", "--profile", profile}, []string{"name at least one target", "rst list"}, false},
		{[]string{"render", "nope", "--profile", profile}, []string{`unknown target "nope"`}, false},
		{[]string{"plan", target, "--profile", "paper2"}, []string{`--profile "paper2"`}, false},
		{[]string{"run", target, "--profile", profile, "--jobs", "0"}, []string{"--jobs 0", "want at least 1"}, true},
		{[]string{"run", target, "--profile", profile, "--id", "0123456789abcdef"}, []string{"--id 0123456789abcdef", "not a run of table1", "rst plan lists them"}, true},
	} {
		args := append(c.args, "--results", results)
		r := rst(t, dir, args...)
		what := "rst " + strings.Join(c.args, " ")
		if r.code == 0 {
			t.Errorf("%s: accepted", what)
			continue
		}
		mustContain(t, what, r.stderr, c.says...)
		if _, err := os.Stat(results); err == nil && !c.opens {
			t.Errorf("%s created the results folder before refusing", what)
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
