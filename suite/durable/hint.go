package durable

import (
	"errors"
	"fmt"
	"syscall"
)

// Hint says what to do about an error from the file system, for the
// failures a user can fix: a read-only file system, a full disk, a quota,
// missing permission. It returns "" for any other error.
func Hint(err error) string {
	switch {
	case errors.Is(err, syscall.EROFS):
		return "the file system is read-only: use a folder on a writable file system (or remount it read-write)"
	case errors.Is(err, syscall.ENOSPC):
		return "the disk is full: free space on it and run the command again (finished runs and checkpoints are kept), or use a folder on another disk"
	case errors.Is(err, syscall.EDQUOT):
		return "the disk quota is exhausted: free space within the quota, or use a folder on another file system"
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return "permission denied: make the folder writable for this user, or use another folder"
	case errors.Is(err, syscall.ENOTDIR):
		return "a file stands where a folder is needed: move it away, or use another folder"
	}
	return ""
}

// withHint appends Hint's advice to err, keeping err wrapped.
func withHint(err error) error {
	if h := Hint(err); h != "" {
		return fmt.Errorf("%w: %s", err, h)
	}
	return err
}

// also is Hint's advice as a parenthesis after a message's own fix.
func also(err error) string {
	if h := Hint(err); h != "" {
		return " (" + h + ")"
	}
	return ""
}
