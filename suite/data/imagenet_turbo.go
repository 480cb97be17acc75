//go:build turbojpeg && cgo

package data

// #cgo pkg-config: libturbojpeg libjpeg
// #cgo CFLAGS: -O3
// #include <stdint.h>
// #include <stdlib.h>
// #include <stdio.h>
// #include <setjmp.h>
// #include <jpeglib.h>
// #include <turbojpeg.h>
//
// // A libjpeg error or warning ends the decode (as TJFLAG_STOPONWARNING
// // does): the Go decoder then judges the file.
// typedef struct { struct jpeg_error_mgr pub; jmp_buf jb; } rst_jerr;
// static void rst_jerr_exit(j_common_ptr c) { longjmp(((rst_jerr *)c->err)->jb, 1); }
// static void rst_jerr_emit(j_common_ptr c, int level) {
//   if (level < 0) longjmp(((rst_jerr *)c->err)->jb, 1);
// }
// static void rst_jerr_quiet(j_common_ptr c) {}
//
// // rst_decode_region decodes rows [y0, y0+h) and at least columns
// // [x0, x0+w) of the image scaled by num/8 as RGBX rows into out (cap
// // bytes), with the settings tjDecompress2 uses (islow IDCT, fancy
// // upsampling). libjpeg widens the columns to whole iMCUs: the first
// // column and the width decoded are returned in *ox and *ow. Rows above
// // are entropy-decoded only; rows below are not read at all unless whole
// // is set, in which case they are entropy-decoded and the file is read to
// // its end, so that damage anywhere in it ends the decode as it would a
// // whole-image decode. Returns 0, or -1 on any error or warning, -2 for
// // CMYK/YCCK files, -3 when out is too small (it needs a row more than
// // the region, for whole).
// static int rst_decode_region(const unsigned char *buf, unsigned long len, int num,
//                              int x0, int y0, int w, int h, unsigned char *out, long cap,
//                              int whole, int *ox, int *ow) {
//   struct jpeg_decompress_struct d;
//   rst_jerr e;
//   d.err = jpeg_std_error(&e.pub);
//   e.pub.error_exit = rst_jerr_exit;
//   e.pub.emit_message = rst_jerr_emit;
//   e.pub.output_message = rst_jerr_quiet;
//   if (setjmp(e.jb)) {
//     jpeg_destroy_decompress(&d);
//     return -1;
//   }
//   jpeg_create_decompress(&d);
//   jpeg_mem_src(&d, buf, len);
//   jpeg_read_header(&d, TRUE);
//   if (d.jpeg_color_space == JCS_CMYK || d.jpeg_color_space == JCS_YCCK) {
//     jpeg_destroy_decompress(&d);
//     return -2;
//   }
//   d.scale_num = num;
//   d.scale_denom = 8;
//   d.out_color_space = JCS_EXT_RGBX;
//   jpeg_start_decompress(&d);
//   JDIMENSION xo = x0, cw = w;
//   if (x0 > 0 || (JDIMENSION)w < d.output_width) jpeg_crop_scanline(&d, &xo, &cw);
//   else cw = d.output_width;
//   if ((long)cw * 4 * (h + 1) > cap || y0 + h > (int)d.output_height) {
//     jpeg_destroy_decompress(&d);
//     return -3;
//   }
//   if (y0 > 0 && jpeg_skip_scanlines(&d, y0) != (JDIMENSION)y0) {
//     jpeg_destroy_decompress(&d);
//     return -1;
//   }
//   JSAMPROW rows[16];
//   for (int r = 0; r < h;) {
//     int n = h - r < 16 ? h - r : 16;
//     for (int i = 0; i < n; i++) rows[i] = out + (long)(r + i) * cw * 4;
//     JDIMENSION got = jpeg_read_scanlines(&d, rows, n);
//     if (got == 0) {
//       jpeg_destroy_decompress(&d);
//       return -1;
//     }
//     r += got;
//   }
//   if (whole) {
//     // Skipping to the last row returns at once without reading the file
//     // (libjpeg-turbo's shortcut): skip to the row before and read the
//     // last into the spare row after the region.
//     JDIMENSION left = d.output_height - d.output_scanline;
//     if (left > 1 && jpeg_skip_scanlines(&d, left - 1) != left - 1) {
//       jpeg_destroy_decompress(&d);
//       return -1;
//     }
//     if (left > 0) {
//       rows[0] = out + (long)h * cw * 4;
//       if (jpeg_read_scanlines(&d, rows, 1) != 1) {
//         jpeg_destroy_decompress(&d);
//         return -1;
//       }
//     }
//     jpeg_finish_decompress(&d);
//   }
//   jpeg_destroy_decompress(&d);
//   *ox = xo;
//   *ow = cw;
//   return 0;
// }
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
// // (gcc's vector extension; the taps are too few to vectorise over). Each
// // row is first widened to int32 in wide (rw pixels), so that a tap is one
// // vector load, not four byte loads put together.
// typedef int32_t rst_v4 __attribute__((vector_size(16)));
// typedef int32_t rst_v4u __attribute__((vector_size(16), aligned(4)));
// __attribute__((target_clones("avx2", "default")))
// static void rst_rows(uint8_t *dst, const uint8_t *src, long stride, int bpp, int rows,
//                      const int32_t *kk, const int32_t *bounds, int ks, int sx0, int S,
//                      int32_t *wide, int rw) {
//   const int32_t half = 1 << (RST_PREC - 1);
//   for (int r = 0; r < rows; r++) {
//     const uint8_t *srow = src + (long)r * stride;
//     uint8_t *d = dst + (long)r * S * 3;
//     if (bpp == 4) {
//       for (int i = 0; i < rw * 4; i++) wide[i] = srow[i];
//     }
//     for (int j = 0; j < S; j++) {
//       const int32_t *k = kk + (long)j * ks;
//       int n = bounds[2 * j + 1];
//       rst_v4 s = {half, half, half, half};
//       if (bpp == 4) {
//         const int32_t *p = wide + (long)(bounds[2 * j] - sx0) * 4;
//         for (int t = 0; t < n; t++) s += *(const rst_v4u *)(p + 4 * t) * k[t];
//       } else {
//         const uint8_t *p = srow + (long)(bounds[2 * j] - sx0) * 3;
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
	num = turboScale(w, h, num)
	pw, ph := scaledSide(w, num), scaledSide(h, num)
	// RGBX: the resize's horizontal pass takes a pixel as one vector.
	sc.pix = growTo(sc.pix, pw*ph*4)
	rc := C.tjDecompress2(sc.handle(), (*C.uchar)(unsafe.Pointer(&sc.file[0])), C.ulong(len(sc.file)),
		(*C.uchar)(unsafe.Pointer(&sc.pix[0])), C.int(pw), C.int(pw*4), C.int(ph), C.TJPF_RGBX, C.TJFLAG_STOPONWARNING)
	if rc != 0 {
		return decoded{}, false
	}
	return decoded{rgb: sc.pix, bpp: 4, pw: pw, ph: ph, w: w, h: h, num: num, rw: pw, rh: ph}, true
}

// turboDecodeRegion decodes the rows [y0, y1) and at least the columns
// [x0, x1) of sc.file (a w×h JPEG) scaled by num/8 into sc.pix as RGBX.
// whole reads and checks the rest of the file as a whole-image decode
// would; without it the rows below y1 are not read at all.
func turboDecodeRegion(sc *folderScratch, w, h, num, x0, y0, x1, y1 int, whole bool) (decoded, bool) {
	num = turboScale(w, h, num)
	pw, ph := scaledSide(w, num), scaledSide(h, num)
	if x1 <= x0 || y1 <= y0 {
		return decoded{}, false
	}
	// Chroma upsampling reads neighbouring samples, and libjpeg treats a
	// region's edges as the image's: a margin of one iMCU (2·num/8·8 pixels
	// where chroma is halved) keeps the edges' effect outside the region.
	m := 2 * num
	x0, y0, x1, y1 = max(x0-m, 0), max(y0-m, 0), min(x1+m, pw), min(y1+m, ph)
	// libjpeg widens the columns to whole iMCUs: at most 2·8 pixels (4:2:0
	// at full size) on the left.
	capW := min(x1-x0+16, pw)
	sc.pix = growTo(sc.pix, capW*(y1-y0+1)*4) // and a spare row (rst_decode_region)
	var ox, ow C.int
	wh := C.int(0)
	if whole {
		wh = 1
	}
	rc := C.rst_decode_region((*C.uchar)(unsafe.Pointer(&sc.file[0])), C.ulong(len(sc.file)), C.int(num),
		C.int(x0), C.int(y0), C.int(x1-x0), C.int(y1-y0), (*C.uchar)(unsafe.Pointer(&sc.pix[0])), C.long(len(sc.pix)), wh, &ox, &ow)
	if rc != 0 {
		return decoded{}, false
	}
	return decoded{rgb: sc.pix, bpp: 4, pw: pw, ph: ph, w: w, h: h, num: num,
		x0: int(ox), y0: y0, rw: int(ow), rh: y1 - y0}, true
}

// turboEncode encodes img's pixels (RGB, w×h) as a JPEG with chroma
// subsampling samp (0: 4:4:4, 1: 4:2:2, 2: 4:2:0, 3: greyscale; TurboJPEG's
// TJSAMP values), optionally progressive: the layouts the Go encoder does
// not write, for the decoding tests.
func turboEncode(rgb []byte, w, h, samp, quality int, progressive bool) ([]byte, bool) {
	hd := C.tjInitCompress()
	if hd == nil {
		return nil, false
	}
	defer C.tjDestroy(hd)
	flags := C.int(0)
	if progressive {
		flags |= C.TJFLAG_PROGRESSIVE
	}
	var buf *C.uchar
	var size C.ulong
	if C.tjCompress2(hd, (*C.uchar)(unsafe.Pointer(&rgb[0])), C.int(w), C.int(w*3), C.int(h), C.TJPF_RGB,
		&buf, &size, C.int(samp), C.int(quality), flags) != 0 {
		return nil, false
	}
	defer C.tjFree(buf)
	return C.GoBytes(unsafe.Pointer(buf), C.int(size)), true
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
// wide is scratch for rw RGBX pixels widened to int32.
func resampleRowsC(dst, src []byte, stride, bpp, rows int, kk, bounds []int32, ks, sx0, S int, wide []int32, rw int) {
	if len(wide) < rw*4 {
		panic("data: resampleRowsC: wide holds fewer than rw pixels")
	}
	C.rst_rows((*C.uint8_t)(&dst[0]), (*C.uint8_t)(&src[0]), C.long(stride), C.int(bpp), C.int(rows),
		(*C.int32_t)(&kk[0]), (*C.int32_t)(&bounds[0]), C.int(ks), C.int(sx0), C.int(S), (*C.int32_t)(&wide[0]), C.int(rw))
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
