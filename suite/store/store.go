package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/rst-bench/rst/suite/durable"
	"github.com/rst-bench/rst/suite/train"
)

// Format names the record file layout; a reader refuses any other.
const Format = "rst-record/1"

// ErrMissing is returned by Get for a run the store has no record of.
var ErrMissing = errors.New("no record")

// ErrBusy is wrapped by Run's error when another process is running the
// same run.
var ErrBusy = durable.ErrLocked

// Store is a folder of run records.
type Store struct {
	Dir string
}

// Open returns the store rooted at dir, creating it when needed.
func Open(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("store: empty results folder: give --results DIR")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("results folder %s: %w; choose a writable --results", dir, err)
	}
	return &Store{Dir: dir}, nil
}

func (s *Store) profileDir(profile, kind string) string {
	return filepath.Join(s.Dir, profile, kind)
}

// RecordPath is where the record of run id of profile lives.
func (s *Store) RecordPath(profile, id string) string {
	return filepath.Join(s.profileDir(profile, "runs"), id+".json")
}

// CheckpointPath is where an unfinished run keeps its state.
func (s *Store) CheckpointPath(profile, id string) string {
	return filepath.Join(s.profileDir(profile, "ckpt"), id+".ckpt")
}

func (s *Store) lockPath(profile, id string) string {
	return filepath.Join(s.profileDir(profile, "locks"), id+".lock")
}

// envelope is a record file: the record's JSON and the SHA-256 of its
// compact form. Hashing the compact form makes the check independent of
// indentation while catching any change of a value.
type envelope struct {
	Format string          `json:"format"`
	ID     string          `json:"id"`
	SHA256 string          `json:"sha256"`
	Record json.RawMessage `json:"record"`
}

// Encode returns the bytes of a record file for rec.
func Encode(rec *train.Record) ([]byte, error) {
	raw, err := json.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", rec.ID, err)
	}
	sum := sha256.Sum256(raw)
	b, err := json.MarshalIndent(envelope{Format: Format, ID: rec.ID, SHA256: hex.EncodeToString(sum[:]), Record: raw}, "", " ")
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", rec.ID, err)
	}
	return append(b, '\n'), nil
}

// Decode checks and reads a record file's bytes; name is used in errors.
// It refuses a file of another format, a checksum that does not match the
// content, and a record whose id is not the hash of its own config.
func Decode(b []byte, name string) (*train.Record, error) {
	fix := "delete it to run the run again, or restore it from version control"
	var env envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, fmt.Errorf("record %s is not valid JSON (%v): %s", name, err, fix)
	}
	if env.Format != Format {
		return nil, fmt.Errorf("record %s has format %q, want %q: %s", name, env.Format, Format, fix)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, env.Record); err != nil {
		return nil, fmt.Errorf("record %s: %v: %s", name, err, fix)
	}
	sum := sha256.Sum256(compact.Bytes())
	if hex.EncodeToString(sum[:]) != env.SHA256 {
		return nil, fmt.Errorf("record %s: checksum mismatch: its content was changed after it was written: %s", name, fix)
	}
	var rec train.Record
	dec := json.NewDecoder(bytes.NewReader(env.Record))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rec); err != nil {
		return nil, fmt.Errorf("record %s: %v: %s", name, err, fix)
	}
	if rec.ID != env.ID || rec.Config.ID() != rec.ID {
		return nil, fmt.Errorf("record %s: its id %s is not the hash %s of its config: %s", name, rec.ID, rec.Config.ID(), fix)
	}
	return &rec, nil
}

// Get reads the record of run id, or returns an error wrapping ErrMissing.
func (s *Store) Get(profile, id string) (*train.Record, error) {
	path := s.RecordPath(profile, id)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("run %s: %w in %s", id, ErrMissing, filepath.Dir(path))
	}
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", path, err)
	}
	return Decode(b, path)
}

// Put writes rec atomically, replacing any earlier record of the run.
func (s *Store) Put(rec *train.Record) error {
	b, err := Encode(rec)
	if err != nil {
		return err
	}
	path := s.RecordPath(rec.Config.Profile, rec.ID)
	if err := durable.EnsureDir(path); err != nil {
		return err
	}
	return durable.WriteBytes(path, b)
}

// IDs lists the runs with a record under profile, sorted.
func (s *Store) IDs(profile string) ([]string, error) {
	entries, err := os.ReadDir(s.profileDir(profile, "runs"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range entries {
		// Temporary files of writes in progress start with a dot.
		if id, ok := strings.CutSuffix(e.Name(), ".json"); ok && !strings.HasPrefix(id, ".") {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// Outcome says what Run did.
type Outcome int

const (
	Trained Outcome = iota // the run was trained (from scratch or resumed) and recorded
	Done                   // a record existed; nothing was run
)

// Run makes sure run cfg has a record: it returns the stored one when
// there is one (unless force), and otherwise trains it under the run's
// lock, resuming from its checkpoint, writes the record and removes the
// checkpoint. cfg must be resolved (train.Config.Resolved). When another
// process holds the run, the error wraps ErrBusy and nothing is done.
func (s *Store) Run(ctx context.Context, cfg train.Config, force bool, progress train.Progress) (*train.Record, Outcome, error) {
	id := cfg.ID()
	if !force {
		if rec, err := s.Get(cfg.Profile, id); err == nil {
			s.tidy(cfg.Profile, id)
			return rec, Done, nil
		} else if !errors.Is(err, ErrMissing) {
			return nil, Done, err
		}
	}
	lock, err := durable.TryLock(s.lockPath(cfg.Profile, id), "run "+id)
	if err != nil {
		return nil, Done, err
	}
	defer lock.Unlock()
	// Another worker may have finished it between the check and the lock.
	if !force {
		if rec, err := s.Get(cfg.Profile, id); err == nil {
			s.removeLeftovers(cfg.Profile, id)
			return rec, Done, nil
		}
	}
	ckpt := s.CheckpointPath(cfg.Profile, id)
	if force {
		os.Remove(ckpt)
	}
	s.removeTemps(cfg.Profile, id)
	cfg.Checkpoint = ckpt
	rec, err := train.Run(ctx, cfg, progress)
	if err != nil {
		return nil, Trained, err
	}
	if rec.ID != id {
		return nil, Trained, fmt.Errorf("run %s: the trainer recorded id %s: the config was not resolved", id, rec.ID)
	}
	if err := s.Put(rec); err != nil {
		return rec, Trained, err
	}
	s.removeLeftovers(cfg.Profile, id)
	return rec, Trained, nil
}

// tidy removes what a worker killed between writing a run's record and
// cleaning up left behind (a checkpoint can be hundreds of MB), when the
// run is not in use; otherwise it leaves that to the run's holder.
func (s *Store) tidy(profile, id string) {
	ckpt := s.CheckpointPath(profile, id)
	if _, err := os.Stat(ckpt); err != nil {
		return
	}
	lock, err := durable.TryLock(s.lockPath(profile, id), "run "+id)
	if err != nil {
		return
	}
	defer lock.Unlock()
	s.removeLeftovers(profile, id)
}

// removeLeftovers deletes a finished run's checkpoint and its lock file;
// the caller holds the run's lock or has just finished the run under it.
func (s *Store) removeLeftovers(profile, id string) {
	ckpt := s.CheckpointPath(profile, id)
	os.Remove(ckpt)
	os.Remove(ckpt + ".lock")
	s.removeTemps(profile, id)
}

// removeTemps deletes temporary files that a killed writer of run id left
// behind; the caller holds the run's lock, so no live writer owns them.
func (s *Store) removeTemps(profile, id string) {
	for _, p := range []string{s.RecordPath(profile, id), s.CheckpointPath(profile, id)} {
		matches, _ := filepath.Glob(filepath.Join(filepath.Dir(p), "."+filepath.Base(p)+".*.tmp"))
		for _, m := range matches {
			os.Remove(m)
		}
	}
}

// WriteJSON is a helper for manifests and other small outputs beside the
// store: indented JSON written atomically.
func WriteJSON(path string, v any) error {
	if err := durable.EnsureDir(path); err != nil {
		return err
	}
	return durable.WriteFile(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	})
}
