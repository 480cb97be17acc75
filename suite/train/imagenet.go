package train

import (
	"context"
	"fmt"

	"github.com/rst-bench/rst/suite/data"
)

// ImageNetAugment is the only --augment an ImageNet run takes: the folder
// loader's training transform, random-resized crop and flip.
const ImageNetAugment = "random-resized-crop-flip"

// folderSource is an image folder decoded batch by batch.
type folderSource struct {
	f       *data.Folder
	classes int
}

func newFolderSource(f *data.Folder) folderSource {
	return folderSource{f: f, classes: len(f.Classes())}
}

func (s folderSource) Len() int { return s.f.Len() }
func (s folderSource) Shape() []int {
	h, w, c := s.f.Shape()
	return []int{h, w, c}
}
func (s folderSource) Classes() int { return s.classes }
func (s folderSource) Fill(dst []float32, labels []int32, idx []int, seed uint64, epoch int) error {
	return s.f.FillBatch(dst, labels, idx, seed, epoch)
}

// Files is the split's manifest: one digest over its file list, since
// hashing a million images' contents would take longer than an epoch.
func (s folderSource) Files() []data.FileSum { return []data.FileSum{s.f.Manifest()} }

// runImageNet trains on ImageNet read from its folders.
func runImageNet(ctx context.Context, cfg Config, progress Progress) (*Record, error) {
	if cfg.Augment != ImageNetAugment {
		return nil, fmt.Errorf("--augment %q: ImageNet runs take --augment %s (the loader's random-resized crop and flip)", cfg.Augment, ImageNetAugment)
	}
	if cfg.Subset > 0 || cfg.TestSubset > 0 {
		return nil, fmt.Errorf("--subset and --test-subset are for the in-memory datasets; for a smaller ImageNet run use --steps, or a folder holding fewer images")
	}
	size := cfg.ImageSize
	if size == 0 {
		size = data.ImageNetSize
	}
	root := data.ImageNetRoot(cfg.DataDir)
	if data.Notes != nil { // the listing stats every file: seconds for ImageNet's 1.3 million
		fmt.Fprintf(data.Notes, "imagenet: listing %s/train and %s/val\n", root, root)
	}
	// The listing is cached: an unchanged tree is not listed again.
	tr, val, err := data.OpenImageNetOptions(root, data.FolderOptions{Size: size, OnCorrupt: cfg.OnCorrupt, ListingCache: data.DefaultListingCache()})
	if err != nil {
		return nil, err
	}
	if data.Notes != nil {
		fmt.Fprintf(data.Notes, "imagenet: %d training and %d validation images in %d classes; JPEGs decoded by %s\n", tr.Len(), val.Len(), len(tr.Classes()), data.JPEGDecoder())
	}
	rec, _, err := runSources(ctx, cfg, newFolderSource(tr), newFolderSource(val), progress)
	if err != nil {
		return nil, err
	}
	if s := append(tr.Skipped(), val.Skipped()...); len(s) > 0 {
		rec.Provenance.Skipped = s
	}
	// The two decoders give slightly different pixels (within ±1), so
	// runs of the two builds differ: the record says which one read them.
	rec.Provenance.JPEGDecoder = data.JPEGDecoder()
	return rec, nil
}
