package train

import "fmt"

// prefetchFolders turns prefetching on for folder sources; a test turns it
// off to compare.
var prefetchFolders = true

// prefetched is a batch being decoded in the background while the trainer
// computes the step before it.
type prefetched struct {
	idx    []int
	epoch  int
	host   []float32
	labels []int32
	done   chan error
}

// prefetch starts filling the batch idx of epoch e into the spare buffers,
// for a source whose batches are slow to make (a folder decoded per batch):
// the decoding then overlaps the previous step. Fill is deterministic, so
// the batch is the same as a direct load's.
func (t *trainer) prefetch(idx []int, e int) {
	p := t.spare
	if p == nil {
		p = &prefetched{host: make([]float32, len(t.host)), labels: make([]int32, len(t.labels)), done: make(chan error, 1)}
	}
	t.spare = nil
	p.idx, p.epoch = idx, e
	go func() { p.done <- t.src.Fill(p.host, p.labels, idx, t.cfg.Seed, e) }()
	t.pending = p
}

// takePrefetched makes the pending batch the loaded one when it is the
// batch idx of epoch e, and reports whether it did.
func (t *trainer) takePrefetched(idx []int, e int) (bool, error) {
	p := t.pending
	if p == nil {
		return false, nil
	}
	t.pending = nil
	err := <-p.done // wait even for a batch not wanted: its buffers are reused
	if p.epoch != e || len(p.idx) != len(idx) || (len(idx) > 0 && &p.idx[0] != &idx[0]) {
		t.spare = p
		return false, nil
	}
	if err != nil {
		t.spare = p
		return true, fmt.Errorf("loading the batch of step %d: %w", t.step, err)
	}
	t.host, p.host = p.host, t.host
	t.labels, p.labels = p.labels, t.labels
	t.spare = p
	return true, nil
}
