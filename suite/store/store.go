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

// At returns the store rooted at dir without creating anything: for the
// commands that only read a store (render, plan, list, verify), which
// must leave no folder behind. A dir that does not exist is an empty
// store; a file in its place is an error naming it.
func At(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("store: empty results folder: give --results DIR")
	}
	if st, err := os.Stat(dir); err == nil && !st.IsDir() {
		return nil, fmt.Errorf("--results %s is a file, not a folder: choose a writable --results folder", dir)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
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

// ErrBadRecord is wrapped by the error for a record file that exists but
// cannot be used: not JSON, another format, a checksum that does not
// match, an id that is not its config's hash or not the one it is filed
// under.
var ErrBadRecord = errors.New("unusable record")

// recordFix is what to do about a bad record file.
const recordFix = "delete it to run the run again, or restore it from version control"

// badRecord is an error that wraps ErrBadRecord without saying so in its
// message, which already names the file and the fix.
type badRecord struct{ msg string }

func (e *badRecord) Error() string        { return e.msg }
func (e *badRecord) Is(target error) bool { return target == ErrBadRecord }

func badf(format string, a ...any) error { return &badRecord{fmt.Sprintf(format, a...)} }

// Decode checks and reads a record file's bytes; name is used in errors.
// It refuses a file of another format, a checksum that does not match the
// content, and a record whose id is not the hash of its own config.
func Decode(b []byte, name string) (*train.Record, error) {
	rec, _, err := decode(b, name)
	return rec, err
}

// decode is Decode that also returns the record's checksum.
func decode(b []byte, name string) (*train.Record, string, error) {
	bad := func(format string, a ...any) (*train.Record, string, error) {
		return nil, "", badf("record %s%s: %s", name, fmt.Sprintf(format, a...), recordFix)
	}
	var env envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return bad(" is not valid JSON (%v)", err)
	}
	if env.Format != Format {
		return bad(" has format %q, want %q", env.Format, Format)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, env.Record); err != nil {
		return bad(": %v", err)
	}
	sum := sha256.Sum256(compact.Bytes())
	if hex.EncodeToString(sum[:]) != env.SHA256 {
		return bad(": checksum mismatch: its content was changed after it was written")
	}
	var rec train.Record
	dec := json.NewDecoder(bytes.NewReader(env.Record))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rec); err != nil {
		return bad(": %v", err)
	}
	if rec.ID != env.ID || rec.Config.ID() != rec.ID {
		return bad(": its id %s is not the hash %s of its config", rec.ID, rec.Config.ID())
	}
	return &rec, env.SHA256, nil
}

// Get reads the record of run id, or returns an error wrapping ErrMissing
// (no record) or ErrBadRecord (a record that cannot be used).
func (s *Store) Get(profile, id string) (*train.Record, error) {
	rec, _, err := s.GetSum(profile, id)
	return rec, err
}

// GetSum is Get that also returns the record's SHA-256 (the checksum its
// file carries), which manifests record to tie an output to the records
// behind it.
func (s *Store) GetSum(profile, id string) (*train.Record, string, error) {
	path := s.RecordPath(profile, id)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", fmt.Errorf("run %s: %w in %s", id, ErrMissing, filepath.Dir(path))
	}
	if err != nil {
		return nil, "", fmt.Errorf("record %s: %w", path, err)
	}
	rec, sum, err := decode(b, path)
	if err != nil {
		return nil, "", err
	}
	// A whole, valid record filed under another run's name (copied or
	// renamed over it) would otherwise stand in for that run in every
	// table.
	if rec.ID != id {
		return nil, "", badf("record %s holds run %s, not run %s as its file name says (it was copied or renamed over that run's record): %s", path, rec.ID, id, recordFix)
	}
	if rec.Config.Profile != profile {
		return nil, "", badf("record %s is a run of the %s profile, filed under the %s profile: %s", path, rec.Config.Profile, profile, recordFix)
	}
	return rec, sum, nil
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

// InProgress reports whether another process holds run id (it is being
// trained elsewhere), and which, without taking its lock.
func (s *Store) InProgress(profile, id string) (holder string, ok bool) {
	return durable.Held(s.lockPath(profile, id))
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
		return nil, Trained, storeFix(err, ckpt)
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

// storeFix rewrites the trainer's advice for the store's own checkpoint:
// the trainer tells users of rst train to "use another --checkpoint path",
// a flag that rst run does not have; here the only fix is to delete it.
func storeFix(err error, ckpt string) error {
	msg := err.Error()
	if strings.Contains(msg, ckpt) && strings.Contains(msg, "use another --checkpoint path or delete it") {
		return fmt.Errorf("%s (the store's checkpoint of this run holds another run's state, copied or moved there)",
			strings.Replace(msg, "use another --checkpoint path or delete it", "delete it to start the run afresh", 1))
	}
	return err
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

// Entry is one file of a profile's runs/ folder, as Scan found it.
type Entry struct {
	Name string        // the file's name in runs/
	ID   string        // the run id its name gives ("" for a file that is not ID.json)
	Rec  *train.Record // the record, when it passed every check
	Sum  string        // the record's SHA-256, when it passed
	Err  error         // why it did not pass (wraps ErrBadRecord for a bad record)
	Temp bool          // a temporary file of a write in progress or of a killed writer
}

// Scan reads every file of profile's runs/ folder through Get's checks,
// in name order: what rst verify reports on.
func (s *Store) Scan(profile string) ([]Entry, error) {
	dir := s.profileDir(profile, "runs")
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store folder %s: %w", dir, err)
	}
	var out []Entry
	for _, e := range entries {
		en := Entry{Name: e.Name()}
		id, isJSON := strings.CutSuffix(e.Name(), ".json")
		switch {
		case strings.HasPrefix(e.Name(), ".") && strings.HasSuffix(e.Name(), ".tmp"):
			en.Temp = true
		case !isJSON || !validID(id) || e.IsDir():
			en.Err = badf("%s is not a record file (runs/ holds only ID.json files, ID 16 hex digits): move it out of the store", filepath.Join(dir, e.Name()))
		default:
			en.ID = id
			en.Rec, en.Sum, en.Err = s.GetSum(profile, id)
		}
		out = append(out, en)
	}
	return out, nil
}

// validID reports whether id has the form of a run id: 16 lower-case hex
// digits (train.Config.ID).
func validID(id string) bool {
	if len(id) != 16 {
		return false
	}
	for _, r := range id {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}
