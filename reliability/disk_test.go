package reliability

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// mountTmpfs mounts a tmpfs with opts at dir until the test ends, or
// skips the test where mounting is not allowed.
func mountTmpfs(t *testing.T, dir, opts string) {
	t.Helper()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", opts, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v: %s)", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
}

// A store on a full disk and a partial store on a read-only file system:
// issue 24 found both errors bare ("no space left on device", "lock …:
// read-only file system"). Now the full disk's error says to free space
// (the kept checkpoints resume), and the read-only store is refused
// before anything trains, saying what to do; it still renders elsewhere.
// It mounts file systems, so it runs as root in the long version only.
func TestFullDiskAndReadOnlyStore(t *testing.T) {
	if !long() {
		t.Skip("long version only (make reliability): it mounts file systems")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs")
	}
	dir := t.TempDir()
	out := []string{"--tables", filepath.Join(dir, "tables"), "--figures", filepath.Join(dir, "figures")}

	full := filepath.Join(dir, "full")
	os.Mkdir(full, 0o755)
	mountTmpfs(t, full, "size=3m") // less than one smoke checkpoint
	results := filepath.Join(full, "results")
	r := rst(t, dir, runArgs(results, 1, append(out, "--no-render")...)...)
	if r.code == 0 {
		t.Fatalf("rst run on a full disk succeeded:\n%s", r.stderr)
	}
	mustContain(t, "rst run on a full disk", r.stderr, "no space left on device", "the disk is full", "free space on it", results)
	leftovers := 0
	filepath.WalkDir(results, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".tmp") {
			leftovers++
		}
		return nil
	})
	if leftovers > 0 {
		t.Errorf("the failed writes left %d temporary files", leftovers)
	}

	ro := filepath.Join(dir, "ro")
	os.Mkdir(ro, 0o755)
	mountTmpfs(t, ro, "size=16m")
	results = filepath.Join(ro, "results")
	st := craftStore(t, results, 1, nil)
	ids, _ := st.IDs(profile)
	os.Remove(st.RecordPath(profile, ids[0]))
	if b, err := exec.Command("mount", "-o", "remount,ro", ro).CombinedOutput(); err != nil {
		t.Skipf("cannot remount read-only: %v: %s", err, b)
	}
	before := snapshot(t, results)
	r = rst(t, dir, runArgs(results, 1, out...)...)
	if r.code == 0 || strings.Contains(r.stderr, "training") {
		t.Errorf("rst run on a read-only partial store: exit %d, want a refusal before training:\n%s", r.code, r.stderr)
	}
	mustContain(t, "rst run on a read-only store", r.stderr, "--results "+results, "read-only file system", "use a folder on a writable file system")
	r = rst(t, dir, append([]string{"render", target, "--profile", profile, "--seeds", "1", "--results", results}, out...)...)
	if r.code != 0 {
		t.Errorf("rst render of a read-only store into a writable folder: exit %d\n%s", r.code, r.stderr)
	}
	sameSnapshot(t, "rst run and render on a read-only store", before, snapshot(t, results))
	figures(t, "disk: full-disk run refused with the fix, %d temp files left; read-only partial store refused before training, rendered elsewhere", leftovers)
}
