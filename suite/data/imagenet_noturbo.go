//go:build !turbojpeg || !cgo

package data

// turboJPEG is false: this build decodes JPEGs with the standard library
// (build with -tags turbojpeg and cgo for libjpeg-turbo).
const turboJPEG = false

const turboScaling = false

// JPEGDecoder names the JPEG decoder this build uses, for notes and records.
func JPEGDecoder() string { return "Go image/jpeg" }

type turboState struct{}

func turboHeader(*folderScratch) (w, h int, ok bool) { return 0, 0, false }

func turboDecode(*folderScratch, int, int, int) (decoded, bool) { return decoded{}, false }

func turboDecodeRegion(*folderScratch, int, int, int, int, int, int, int, bool) (decoded, bool) {
	return decoded{}, false
}

func turboEncode([]byte, int, int, int, int, bool) ([]byte, bool) { return nil, false }

func turboPlanes(*folderScratch) (planes [3][]byte, widths [3]int, ok bool) {
	return planes, widths, false
}

// cResample is false: the resize runs in Go.
const cResample = false

func resampleRowsC([]byte, []byte, int, int, int, []int32, []int32, int, int, int, []int32, int) {}

func resampleColumnsC([]float32, []byte, []int32, []int32, []int32, int, int, int, bool, *[3 * 256]float32) {
}
