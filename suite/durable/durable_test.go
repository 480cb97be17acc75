package durable

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fullDisk accepts limit bytes and then fails as a full disk does.
type fullDisk struct {
	*os.File
	limit int
}

func (d *fullDisk) Write(b []byte) (int, error) {
	if len(b) > d.limit {
		n, _ := d.File.Write(b[:d.limit])
		d.limit = 0
		return n, syscall.ENOSPC
	}
	d.limit -= len(b)
	return d.File.Write(b)
}

func TestWriteFileFullDiskKeepsOldAndLeavesNoTemp(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rec.json")
	if err := WriteBytes(path, []byte("old")); err != nil {
		t.Fatal(err)
	}
	saved := createTemp
	defer func() { createTemp = saved }()
	createTemp = func(dir, pattern string) (file, error) {
		f, err := os.CreateTemp(dir, pattern)
		return &fullDisk{File: f, limit: 1000}, err
	}
	err := WriteBytes(path, make([]byte, 1<<20))
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v, want ENOSPC naming %s", err, path)
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Errorf("content after a failed write = %q, want the old %q", b, "old")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("folder holds %d entries after a failed write, want only rec.json: %v", len(entries), entries)
	}
}

func TestWriteFileProducerErrorLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "new.json")
	want := errors.New("encoder failed")
	err := WriteFile(path, func(w io.Writer) error { w.Write([]byte("half")); return want })
	if !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("target exists after a failed first write: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("leftovers: %v", entries)
	}
}

func TestCheckWritable(t *testing.T) {
	dir := t.TempDir()
	if err := CheckWritable(filepath.Join(dir, "a", "b", "rec.json")); err != nil {
		t.Fatalf("nested new folder: %v", err)
	}
	if st, err := os.Stat(filepath.Join(dir, "a", "b")); err != nil || !st.IsDir() {
		t.Fatalf("folder not created: %v", err)
	}
	// A file where a folder is expected cannot be written into, even by root.
	blocker := filepath.Join(dir, "file")
	os.WriteFile(blocker, nil, 0o644)
	err := CheckWritable(filepath.Join(blocker, "rec.json"))
	if err == nil || !strings.Contains(err.Error(), blocker) {
		t.Fatalf("err = %v, want one naming %s", err, blocker)
	}
}

func TestCheckedRoundTripAndEveryBitFlipCaught(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.ckpt")
	payload := []byte("weights and optimizer state \x00\x01\x02")
	if err := WriteChecked(path, "RSTCKPT1", payload); err != nil {
		t.Fatal(err)
	}
	got, err := ReadChecked(path, "RSTCKPT1")
	if err != nil || string(got) != string(payload) {
		t.Fatalf("round trip: %q, %v", got, err)
	}
	raw, _ := os.ReadFile(path)
	for i := range raw {
		for bit := 0; bit < 8; bit++ {
			b := append([]byte(nil), raw...)
			b[i] ^= 1 << bit
			if _, err := ParseChecked(b, path, "RSTCKPT1"); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("flipping bit %d of byte %d was accepted (err %v)", bit, i, err)
			}
		}
	}
	for _, cut := range []int{0, 5, len(raw) - 1} {
		if _, err := ParseChecked(raw[:cut], path, "RSTCKPT1"); !errors.Is(err, ErrCorrupt) {
			t.Errorf("truncated to %d bytes: err = %v, want ErrCorrupt", cut, err)
		}
	}
	if _, err := ParseChecked(raw, path, "OTHER"); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
		t.Errorf("wrong magic: err = %v", err)
	}
}

func TestLockRefusesSecondHolderAndNamesIt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.lock")
	l, err := TryLock(path, "run abc")
	if err != nil {
		t.Fatal(err)
	}
	// flock locks belong to open file descriptions, so a second open in
	// this process conflicts just as another process would.
	_, err = TryLock(path, "run abc")
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "pid ") || !strings.Contains(err.Error(), "run abc") {
		t.Fatalf("second lock: err = %v, want ErrLocked naming the holder", err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	l2, err := TryLock(path, "run abc")
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	l2.Unlock()
}

// A process killed while holding the lock releases it. The holder is this
// test binary itself (TestHelperHoldLock), so no child of the holder can
// keep a copy of the descriptor alive after the kill, as a forked command
// of flock(1) can for a moment.
func TestLockReleasedByDeadProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.lock")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHoldLock$")
	cmd.Env = append(os.Environ(), "DURABLE_HOLD_LOCK="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	// The helper prints "locked" once it holds the lock.
	line := make([]byte, 6)
	if _, err := io.ReadFull(out, line); err != nil || string(line) != "locked" {
		t.Fatalf("helper did not take the lock: %q, %v", line, err)
	}
	if _, err := TryLock(path, "run x"); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "pid ") {
		t.Fatalf("lock of a live holder: err = %v, want ErrLocked naming its pid", err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	l, err := TryLock(path, "run x")
	if err != nil {
		t.Fatalf("lock still held after its holder was killed: %v", err)
	}
	l.Unlock()
}

// TestHelperHoldLock is the lock holder of TestLockReleasedByDeadProcess;
// it does nothing in a normal test run.
func TestHelperHoldLock(t *testing.T) {
	path := os.Getenv("DURABLE_HOLD_LOCK")
	if path == "" {
		return
	}
	if _, err := TryLock(path, "helper"); err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("locked")
	time.Sleep(time.Minute)
}
