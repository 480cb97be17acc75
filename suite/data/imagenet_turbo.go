//go:build turbojpeg && cgo

package data

// #cgo pkg-config: libturbojpeg
// #include <stdlib.h>
// #include <turbojpeg.h>
//
// // rst_scale_ok says whether libjpeg-turbo offers every factor n/8,
// // n = 1..8, which the loader's choice of scale assumes.
// static int rst_scale_ok(void) {
//   int n = 0, seen = 0;
//   tjscalingfactor *sf = tjGetScalingFactors(&n);
//   if (sf == NULL) return 0;
//   for (int i = 0; i < n; i++) {
//     for (int k = 1; k <= 8; k++) {
//       if (sf[i].num * 8 == k * sf[i].denom) seen |= 1 << k;
//     }
//   }
//   return seen == 0x1fe;
// }
import "C"

import (
	"runtime"
	"unsafe"
)

// turboJPEG says that JPEGs are decoded by libjpeg-turbo (this build has
// the turbojpeg tag), with DCT-domain scaling where the scaling factors are
// all there.
const turboJPEG = true

var turboScaling = C.rst_scale_ok() == 1

// JPEGDecoder names the JPEG decoder this build uses, for notes and records.
func JPEGDecoder() string {
	if turboScaling {
		return "libjpeg-turbo (DCT-domain scaling)"
	}
	return "libjpeg-turbo"
}

// turboState is a decode goroutine's libjpeg-turbo decompressor.
type turboState struct {
	h C.tjhandle
}

// handle is sc's decompressor, made on first use and destroyed when the
// scratch is collected (a sync.Pool drops scratches at will).
func (sc *folderScratch) handle() C.tjhandle {
	if sc.turbo.h == nil {
		h := C.tjInitDecompress()
		if h == nil {
			return nil
		}
		sc.turbo.h = h
		runtime.AddCleanup(sc, func(h C.tjhandle) { C.tjDestroy(h) }, h)
	}
	return sc.turbo.h
}

// turboHeader reads sc.file's JPEG header: its size, and whether
// libjpeg-turbo can decode it to RGB (not CMYK or YCCK, which the Go
// decoder converts as PIL does).
func turboHeader(sc *folderScratch) (w, h int, ok bool) {
	hd := sc.handle()
	if hd == nil || len(sc.file) == 0 {
		return 0, 0, false
	}
	var cw, ch, samp, cs C.int
	if C.tjDecompressHeader3(hd, (*C.uchar)(unsafe.Pointer(&sc.file[0])), C.ulong(len(sc.file)), &cw, &ch, &samp, &cs) != 0 {
		return 0, 0, false
	}
	if cs == C.TJCS_CMYK || cs == C.TJCS_YCCK {
		return 0, 0, false
	}
	return int(cw), int(ch), true
}

// turboDecode decodes sc.file (a w×h JPEG, turboHeader's) into sc.pix as
// packed RGB at scale num/8. ok is false on any error or warning (a
// truncated file, extraneous bytes): the Go decoder then judges the file,
// so that what is corrupt is what it was before libjpeg-turbo.
func turboDecode(sc *folderScratch, w, h, num int) (decoded, bool) {
	if !turboScaling {
		num = 8
	}
	num = turboFactor(w, h, num)
	pw, ph := scaledSide(w, num), scaledSide(h, num)
	sc.pix = growTo(sc.pix, pw*ph*3)
	rc := C.tjDecompress2(sc.handle(), (*C.uchar)(unsafe.Pointer(&sc.file[0])), C.ulong(len(sc.file)),
		(*C.uchar)(unsafe.Pointer(&sc.pix[0])), C.int(pw), C.int(pw*3), C.int(ph), C.TJPF_RGB, C.TJFLAG_STOPONWARNING)
	if rc != 0 {
		return decoded{}, false
	}
	return decoded{rgb: sc.pix, pw: pw, ph: ph, w: w, h: h, num: num}, true
}

// turboPlanes decodes sc.file to its Y, Cb and Cr planes at full size,
// before upsampling and colour conversion (for the test that compares
// libjpeg-turbo's samples with the Go decoder's), each with its width; a
// greyscale file has only Y.
func turboPlanes(sc *folderScratch) (planes [3][]byte, widths [3]int, ok bool) {
	w, h, ok := turboHeader(sc)
	if !ok {
		return planes, widths, false
	}
	var cw, ch, samp, cs C.int
	hd := sc.handle()
	if C.tjDecompressHeader3(hd, (*C.uchar)(unsafe.Pointer(&sc.file[0])), C.ulong(len(sc.file)), &cw, &ch, &samp, &cs) != 0 {
		return planes, widths, false
	}
	var ptrs [3]*C.uchar
	var strides [3]C.int
	n := 3
	if samp == C.TJSAMP_GRAY {
		n = 1
	}
	for c := range n {
		pw := int(C.tjPlaneWidth(C.int(c), C.int(w), samp))
		ph := int(C.tjPlaneHeight(C.int(c), C.int(h), samp))
		if pw <= 0 || ph <= 0 {
			return planes, widths, false
		}
		// C memory: cgo forbids passing C an array of Go pointers.
		ptrs[c] = (*C.uchar)(C.malloc(C.size_t(pw * ph)))
		defer C.free(unsafe.Pointer(ptrs[c]))
		strides[c], widths[c] = C.int(pw), pw
		planes[c] = unsafe.Slice((*byte)(unsafe.Pointer(ptrs[c])), pw*ph)
	}
	if C.tjDecompressToYUVPlanes(hd, (*C.uchar)(unsafe.Pointer(&sc.file[0])), C.ulong(len(sc.file)), &ptrs[0], C.int(w), &strides[0], C.int(h), C.TJFLAG_STOPONWARNING) != 0 {
		return planes, widths, false
	}
	for c := range n {
		planes[c] = append([]byte(nil), planes[c]...)
	}
	return planes, widths, true
}
