package durable

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
)

// ErrCorrupt marks a file whose checksum, length or header does not match:
// it was truncated, altered on disk, or is not the kind of file expected.
var ErrCorrupt = errors.New("corrupt file")

// A checked file is one header line, "MAGIC sha256=HEX bytes=N\n", then N
// bytes of payload. The checksum covers the whole payload, so any flipped
// bit or lost tail is caught before a byte of it is used.

// WriteChecked writes payload under a checksummed header, atomically.
func WriteChecked(path, magic string, payload []byte) error {
	sum := sha256.Sum256(payload)
	return WriteFile(path, func(w io.Writer) error {
		if _, err := fmt.Fprintf(w, "%s sha256=%s bytes=%d\n", magic, hex.EncodeToString(sum[:]), len(payload)); err != nil {
			return err
		}
		_, err := w.Write(payload)
		return err
	})
}

// ReadChecked reads a file written by WriteChecked and returns its payload
// after verifying the magic, the length and the checksum. A mismatch is an
// error wrapping ErrCorrupt; a missing file wraps fs.ErrNotExist.
func ReadChecked(path, magic string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseChecked(b, path, magic)
}

// ParseChecked verifies and unwraps the bytes of a checked file; name is
// used in errors.
func ParseChecked(b []byte, name, magic string) ([]byte, error) {
	bad := func(format string, a ...any) ([]byte, error) {
		return nil, fmt.Errorf("%s: %w: %s", name, ErrCorrupt, fmt.Sprintf(format, a...))
	}
	nl := bytes.IndexByte(b, '\n')
	if nl < 0 || nl > 256 {
		return bad("no %s header line", magic)
	}
	fields := bytes.Fields(b[:nl])
	if len(fields) != 3 || string(fields[0]) != magic {
		return bad("header %q is not a %s header", b[:min(nl, 80)], magic)
	}
	sumHex, ok1 := bytes.CutPrefix(fields[1], []byte("sha256="))
	lenText, ok2 := bytes.CutPrefix(fields[2], []byte("bytes="))
	n, err := strconv.Atoi(string(lenText))
	if !ok1 || !ok2 || err != nil || n < 0 || len(sumHex) != 64 {
		return bad("malformed header %q", b[:nl])
	}
	payload := b[nl+1:]
	if len(payload) != n {
		return bad("the header declares %d bytes but %d follow (truncated or appended to)", n, len(payload))
	}
	sum := sha256.Sum256(payload)
	if hex.EncodeToString(sum[:]) != string(sumHex) {
		return bad("checksum mismatch: the content was altered after it was written")
	}
	return payload, nil
}
