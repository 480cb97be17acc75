package durable

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A full disk and a read-only file system are errors a user can fix:
// the message names the file and says what to do, beside the system's
// own words.
func TestWriteErrorsSayWhatToDo(t *testing.T) {
	saved := createTemp
	defer func() { createTemp = saved }()
	for _, c := range []struct {
		name string
		fail func(dir, pattern string) (file, error)
		says []string
	}{
		{"full disk", func(dir, pattern string) (file, error) {
			f, err := os.CreateTemp(dir, pattern)
			return &fullDisk{File: f, limit: 10}, err
		}, []string{"no space left on device", "the disk is full", "free space"}},
		{"read-only", func(dir, pattern string) (file, error) {
			return nil, &fs.PathError{Op: "open", Path: filepath.Join(dir, pattern), Err: syscall.EROFS}
		}, []string{"read-only file system", "use a folder on a writable file system"}},
	} {
		createTemp = c.fail
		path := filepath.Join(t.TempDir(), "rec.json")
		err := WriteBytes(path, make([]byte, 100))
		if err == nil {
			t.Fatalf("%s: the write succeeded", c.name)
		}
		for _, s := range append(c.says, path) {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%s: error %q does not say %q", c.name, err, s)
			}
		}
	}
}

// CheckDir finds what would stop a command from writing its outputs
// without creating the folders, so that a refused command leaves nothing.
func TestCheckDirCreatesNothing(t *testing.T) {
	dir := t.TempDir()
	deep := filepath.Join(dir, "a", "b", "c")
	if err := CheckDir(deep); err != nil {
		t.Fatalf("a folder that can be created: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "a")); err == nil {
		t.Errorf("CheckDir created %s", filepath.Join(dir, "a"))
	}
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	for _, c := range []struct{ dir, says string }{
		{file, "is a file, not a folder"},
		{filepath.Join(file, "sub"), file + " is a file"},
	} {
		err := CheckDir(c.dir)
		if err == nil || !strings.Contains(err.Error(), c.says) || !strings.Contains(err.Error(), "choose another folder") {
			t.Errorf("CheckDir(%s) = %v, want an error saying %q and the fix", c.dir, err, c.says)
		}
	}
	if err := CheckDir(dir); err != nil {
		t.Errorf("an existing writable folder: %v", err)
	}
}

// Held tells a live holder from a released or abandoned lock file, and
// creates nothing when there is no lock file.
func TestHeldSeesOnlyALiveHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "locks", "run.lock")
	if _, held := Held(path); held {
		t.Errorf("a lock file that does not exist is held")
	}
	if _, err := os.Stat(filepath.Dir(path)); err == nil {
		t.Errorf("Held created %s", filepath.Dir(path))
	}
	l, err := TryLock(path, "run x")
	if err != nil {
		t.Fatal(err)
	}
	holder, held := Held(path)
	if !held || !strings.Contains(holder, "pid ") {
		t.Errorf("Held of a live lock = %q, %v; want the holder's pid", holder, held)
	}
	// The probe must not keep a worker from taking the lock afterwards,
	// nor disturb the holder.
	if _, err := TryLock(path, "run x"); err == nil {
		t.Errorf("a second TryLock took a held lock after the probe")
	}
	l.Unlock()
	if _, held := Held(path); held {
		t.Errorf("a released lock is held")
	}
	// A holder killed before Unlock leaves its line in the file.
	os.WriteFile(path, []byte("pid 1 on elsewhere since then\n"), 0o644)
	if _, held := Held(path); held {
		t.Errorf("an abandoned lock file (no process holds it) is held")
	}
	l2, err := TryLock(path, "run x")
	if err != nil {
		t.Fatalf("TryLock after the probes: %v", err)
	}
	l2.Unlock()
}
