package durable

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const fuzzMagic = "RSTCKPT1"

// FuzzParseChecked: any bytes are refused as corrupt, naming the file, or
// hold a header whose length and SHA-256 match the payload returned,
// which is the tail of the input.
func FuzzParseChecked(f *testing.F) {
	for _, p := range [][]byte{nil, []byte("x"), []byte("two\nlines\n"), bytes.Repeat([]byte{0, 0xff}, 300)} {
		f.Add(checkedBytes(fuzzMagic, p))
	}
	f.Add([]byte(fuzzMagic + " sha256=" + strings.Repeat("0", 64) + " bytes=0\n"))
	f.Add([]byte(fuzzMagic + "\tsha256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  bytes=+0\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		payload, err := ParseChecked(b, "fuzz.ckpt", fuzzMagic)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "fuzz.ckpt") {
				t.Fatalf("refusal is not ErrCorrupt naming the file: %v", err)
			}
			return
		}
		if !bytes.HasSuffix(b, payload) {
			t.Fatalf("payload is not the input's tail")
		}
		header := string(b[:len(b)-len(payload)])
		sum := sha256.Sum256(payload)
		if !strings.HasPrefix(header, fuzzMagic) || !strings.HasSuffix(header, "\n") ||
			!strings.Contains(header, "sha256="+hex.EncodeToString(sum[:])) || !strings.Contains(header, fmt.Sprint(len(payload))) {
			t.Fatalf("accepted header %q for a %d-byte payload with SHA-256 %x", header, len(payload), sum)
		}
	})
}

// FuzzCheckedRoundTrip: any payload written with WriteChecked reads back
// unchanged, and the file with any one bit flipped, or cut anywhere, is
// refused.
func FuzzCheckedRoundTrip(f *testing.F) {
	f.Add([]byte("weights"), uint(3), uint(5))
	f.Add([]byte{}, uint(0), uint(0))
	f.Add([]byte("\n\n\n"), uint(200), uint(1))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, payload []byte, bit, cut uint) {
		path := filepath.Join(dir, "state.ckpt")
		if err := WriteChecked(path, fuzzMagic, payload); err != nil {
			t.Fatal(err)
		}
		got, err := ReadChecked(path, fuzzMagic)
		if err != nil || !bytes.Equal(got, payload) {
			t.Fatalf("round trip: %v", err)
		}
		file, _ := os.ReadFile(path)
		if !bytes.Equal(file, checkedBytes(fuzzMagic, payload)) {
			t.Fatalf("WriteChecked wrote %q, want %q", file, checkedBytes(fuzzMagic, payload))
		}
		flipped := bytes.Clone(file)
		i := bit % uint(8*len(file))
		flipped[i/8] ^= 1 << (i % 8)
		if _, err := ParseChecked(flipped, path, fuzzMagic); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("bit %d of byte %d flipped: err = %v, want ErrCorrupt", i%8, i/8, err)
		}
		if _, err := ParseChecked(file[:cut%uint(len(file))], path, fuzzMagic); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("cut to %d of %d bytes: err = %v, want ErrCorrupt", cut%uint(len(file)), len(file), err)
		}
	})
}

// checkedBytes is the file WriteChecked writes, built in memory; the
// round-trip target checks that the two agree.
func checkedBytes(magic string, payload []byte) []byte {
	sum := sha256.Sum256(payload)
	return append(fmt.Appendf(nil, "%s sha256=%s bytes=%d\n", magic, hex.EncodeToString(sum[:]), len(payload)), payload...)
}
