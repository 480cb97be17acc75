package data

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"os"
	"path/filepath"
)

// summedFile is an open data file whose reads feed a SHA-256, so that a
// loader learns the file's checksum from the one pass that parses it.
type summedFile struct {
	f    *os.File
	path string
	h    hash.Hash
	n    int64
	tee  io.Reader
}

func openSummed(path string) (*summedFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	s := &summedFile{f: f, path: path, h: sha256.New()}
	s.tee = io.TeeReader(f, s)
	return s, nil
}

// Write counts and hashes what the TeeReader passes on.
func (s *summedFile) Write(b []byte) (int, error) {
	s.n += int64(len(b))
	return s.h.Write(b)
}

// Read reads the file through the hash.
func (s *summedFile) Read(b []byte) (int, error) { return s.tee.Read(b) }

// finish reads whatever the parser left unread (normally nothing) so that
// the sum covers the whole file, closes it and returns the sum.
func (s *summedFile) finish() (FileSum, error) {
	defer s.f.Close()
	if _, err := io.Copy(io.Discard, s.tee); err != nil {
		return FileSum{}, err
	}
	p := s.path
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	return FileSum{Path: p, SHA256: hex.EncodeToString(s.h.Sum(nil)), Bytes: s.n}, nil
}

func (s *summedFile) close() { s.f.Close() }

// readAllSummed reads a whole file and its sum in one pass.
func readAllSummed(path string) ([]byte, FileSum, error) {
	s, err := openSummed(path)
	if err != nil {
		return nil, FileSum{}, err
	}
	defer s.close()
	var b []byte
	if st, err := s.f.Stat(); err == nil && st.Size() > 0 {
		b = make([]byte, 0, st.Size()+1) // +1: ReadAll's EOF probe needs no regrowth
	}
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := s.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, FileSum{}, err
		}
	}
	sum, err := s.finish()
	return b, sum, err
}
