package durable

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrLocked is wrapped by TryLock's error when another process holds the
// lock.
var ErrLocked = errors.New("locked by another process")

// Lock is an advisory lock on a file (flock). The kernel drops it when the
// holding process exits, however it exits, so a crashed run never blocks
// the next one.
type Lock struct {
	f    *os.File
	path string
}

// TryLock takes the lock at path without waiting, creating the file. The
// file records the holder's pid, host and start time, so that a refusal can
// name the process that holds it. what describes the locked thing in
// errors (e.g. "run 3f2a…").
func TryLock(path, what string) (*Lock, error) {
	if err := EnsureDir(path); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, withHint(fmt.Errorf("lock %s: %w", path, err))
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			h := strings.TrimSpace(string(holder))
			if h == "" {
				h = "a process that has not yet written its name"
			}
			return nil, fmt.Errorf("%s is in use by %s (%w; lock file %s): wait for it to finish, or stop that process", what, h, ErrLocked, path)
		}
		return nil, withHint(fmt.Errorf("lock %s: %w", path, err))
	}
	host, _ := os.Hostname()
	f.Truncate(0)
	f.WriteAt([]byte("pid "+strconv.Itoa(os.Getpid())+" on "+host+" since "+time.Now().Format(time.RFC3339)+"\n"), 0)
	return &Lock{f: f, path: path}, nil
}

// Unlock releases the lock. The file stays: removing it would let a
// process that opened it before the removal lock a file nobody else sees.
func (l *Lock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	l.f.Truncate(0)
	err := l.f.Close() // closing the descriptor releases the flock
	l.f = nil
	return err
}

// Held reports whether another process holds the lock at path, and who
// (the pid, host and start time it wrote), without taking it or creating
// anything. A lock file that a holder released is empty (Unlock truncates
// it), so only a non-empty one is probed with a shared flock: a probe can
// then only meet a live holder, whose lock it cannot disturb, or one that
// died, and never makes a worker that is just taking a free lock fail.
func Held(path string) (holder string, held bool) {
	f, err := os.Open(path)
	if err != nil {
		return "", false
	}
	defer f.Close()
	b := make([]byte, 256)
	n, _ := f.ReadAt(b, 0)
	if n == 0 {
		return "", false
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err == nil {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		return "", false
	}
	return strings.TrimSpace(string(b[:n])), true
}
