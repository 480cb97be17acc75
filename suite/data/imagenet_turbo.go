//go:build turbojpeg && cgo

package data

// #cgo pkg-config: libturbojpeg
// #cgo CFLAGS: -O3
// #include <stdint.h>
// #include <stdlib.h>
// #include <turbojpeg.h>
//
// // The resize's two passes, the same integer arithmetic as resampleRows
// // and resampleColumns (so the same bytes, TestCResampleMatchesGo), in C
// // because gcc vectorises the vertical pass and drops the bounds checks;
// // target_clones adds an AVX2 copy where the CPU has it.
// #define RST_PREC 22
// static inline uint8_t rst_clip8(int32_t v) {
//   v >>= RST_PREC;
//   return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)v;
// }
// // bpp 4 (libjpeg-turbo's RGBX): a pixel's four bytes are one vector
// // (gcc's vector extension; the taps are too few to vectorise over).
// typedef int32_t rst_v4 __attribute__((vector_size(16)));
// __attribute__((target_clones("avx2", "default")))
// static void rst_rows(uint8_t *dst, const uint8_t *src, long stride, int bpp, int rows,
//                      const int32_t *kk, const int32_t *bounds, int ks, int sx0, int S) {
//   const int32_t half = 1 << (RST_PREC - 1);
//   for (int r = 0; r < rows; r++) {
//     const uint8_t *srow = src + (long)r * stride;
//     uint8_t *d = dst + (long)r * S * 3;
//     for (int j = 0; j < S; j++) {
//       const uint8_t *p = srow + (long)(bounds[2 * j] - sx0) * bpp;
//       const int32_t *k = kk + (long)j * ks;
//       int n = bounds[2 * j + 1];
//       rst_v4 s = {half, half, half, half};
//       if (bpp == 4) {
//         for (int t = 0; t < n; t++) {
//           const uint8_t *q = p + 4 * t;
//           rst_v4 px = {q[0], q[1], q[2], q[3]};
//           s += px * k[t];
//         }
//       } else {
//         for (int t = 0; t < n; t++) {
//           int32_t w = k[t];
//           const uint8_t *q = p + 3 * t;
//           s[0] += (int32_t)q[0] * w;
//           s[1] += (int32_t)q[1] * w;
//           s[2] += (int32_t)q[2] * w;
//         }
//       }
//       d[3 * j] = rst_clip8(s[0]);
//       d[3 * j + 1] = rst_clip8(s[1]);
//       d[3 * j + 2] = rst_clip8(s[2]);
//     }
//   }
// }
// __attribute__((target_clones("avx2", "default")))
// static void rst_cols(float *out, const uint8_t *src, int32_t *acc, const int32_t *kk,
//                      const int32_t *bounds, int ks, int sy0, int S, int flip, const float *lut) {
//   const int32_t half = 1 << (RST_PREC - 1);
//   int row = S * 3;
//   for (int r = 0; r < S; r++) {
//     int ymin = bounds[2 * r] - sy0, n = bounds[2 * r + 1];
//     const int32_t *k = kk + (long)r * ks;
//     for (int x = 0; x < row; x++) acc[x] = half;
//     for (int t = 0; t < n; t++) {
//       const uint8_t *s = src + (long)(ymin + t) * row;
//       int32_t w = k[t];
//       for (int x = 0; x < row; x++) acc[x] += (int32_t)s[x] * w;
//     }
//     float *o = out + (long)r * row;
//     for (int x = 0; x < S; x++) {
//       int xo = flip ? S - 1 - x : x;
//       o[3 * xo] = lut[rst_clip8(acc[3 * x])];
//       o[3 * xo + 1] = lut[256 + rst_clip8(acc[3 * x + 1])];
//       o[3 * xo + 2] = lut[512 + rst_clip8(acc[3 * x + 2])];
//     }
//   }
// }
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
// RGBX at scale num/8. ok is false on any error or warning (a
// truncated file, extraneous bytes): the Go decoder then judges the file,
// so that what is corrupt is what it was before libjpeg-turbo.
func turboDecode(sc *folderScratch, w, h, num int) (decoded, bool) {
	if !turboScaling {
		num = 8
	}
	num = turboFactor(w, h, num)
	pw, ph := scaledSide(w, num), scaledSide(h, num)
	// RGBX: the resize's horizontal pass takes a pixel as one vector.
	sc.pix = growTo(sc.pix, pw*ph*4)
	rc := C.tjDecompress2(sc.handle(), (*C.uchar)(unsafe.Pointer(&sc.file[0])), C.ulong(len(sc.file)),
		(*C.uchar)(unsafe.Pointer(&sc.pix[0])), C.int(pw), C.int(pw*4), C.int(ph), C.TJPF_RGBX, C.TJFLAG_STOPONWARNING)
	if rc != 0 {
		return decoded{}, false
	}
	return decoded{rgb: sc.pix, bpp: 4, pw: pw, ph: ph, w: w, h: h, num: num}, true
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

// cResample is true: render runs the resize's passes in C (rst_rows,
// rst_cols).
const cResample = true

// resampleRowsC is resampleRows in C; the arguments' extents are
// resampleRows's, which render has checked.
func resampleRowsC(dst, src []byte, stride, bpp, rows int, kk, bounds []int32, ks, sx0, S int) {
	C.rst_rows((*C.uint8_t)(&dst[0]), (*C.uint8_t)(&src[0]), C.long(stride), C.int(bpp), C.int(rows),
		(*C.int32_t)(&kk[0]), (*C.int32_t)(&bounds[0]), C.int(ks), C.int(sx0), C.int(S))
}

// resampleColumnsC is resampleColumns in C.
func resampleColumnsC(out []float32, src []byte, acc, kk, bounds []int32, ks, sy0, S int, flip bool, lut *[3 * 256]float32) {
	fl := C.int(0)
	if flip {
		fl = 1
	}
	C.rst_cols((*C.float)(&out[0]), (*C.uint8_t)(&src[0]), (*C.int32_t)(&acc[0]), (*C.int32_t)(&kk[0]),
		(*C.int32_t)(&bounds[0]), C.int(ks), C.int(sy0), C.int(S), fl, (*C.float)(&lut[0]))
}
