package train

import (
	"github.com/rst-bench/rst/suite/data"
)

// source is a split the trainer draws batches from: a data.Set held in
// memory (MNIST, CIFAR) or a folder of images decoded batch by batch
// (ImageNet, which does not fit in memory).
type source interface {
	Len() int
	// Shape is one sample's [H, W, C].
	Shape() []int
	Classes() int
	// Fill writes the samples idx of epoch e, augmented with the stream of
	// seed, into dst (NHWC, normalised) and their labels into labels.
	Fill(dst []float32, labels []int32, idx []int, seed uint64, epoch int) error
	// Files identifies the data the split was read from, for the record.
	Files() []data.FileSum
}

// setSource is an in-memory set with the run's augmentation (none for
// evaluation).
type setSource struct {
	set *data.Set
	aug data.Augment
}

func (s setSource) Len() int              { return s.set.Len() }
func (s setSource) Shape() []int          { return []int{s.set.H, s.set.W, s.set.C} }
func (s setSource) Classes() int          { return s.set.Classes }
func (s setSource) Files() []data.FileSum { return s.set.Files }

func (s setSource) Fill(dst []float32, labels []int32, idx []int, seed uint64, epoch int) error {
	s.set.FillBatch(dst, labels, idx, s.aug, seed, epoch)
	return nil
}
