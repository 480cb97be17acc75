//go:build dnnl

package nn

// oneDNN (the C API of Debian's libdnnl-dev) runs the CPU backend's
// convolutions when the binary is built with -tags dnnl. Primitives are
// created once per shape and thread count and kept; their memory objects
// carry no buffer between calls (handles are set for one execution and
// cleared, so C never keeps a Go pointer); the scratchpad and reordered
// weights live in a Go buffer that grows to the largest request.

// #cgo LDFLAGS: -ldnnl -lgomp
// #include <stdio.h>
// #include <stdlib.h>
// #include <string.h>
// #include <oneapi/dnnl/dnnl.h>
// #include <oneapi/dnnl/dnnl_debug.h>
//
// // Debian's libdnnl uses OpenMP, whose thread count is a per-thread
// // setting: it is set before every call, on the calling thread.
// extern void omp_set_num_threads(int);
//
// // A primitive with one memory object per argument, in a fixed order.
// typedef struct {
// 	dnnl_primitive_t p;
// 	int n;
// 	int arg[8];
// 	dnnl_memory_t m[8];
// 	size_t scratch; // scratchpad bytes; its memory is the last argument
// 	char impl[64];
// } rst_prim;
//
// // rst_prim_make creates the primitive of pd and a memory object for each
// // argument, with the descriptor pd reports for the query q[i].
// static dnnl_status_t rst_prim_make(rst_prim *r, dnnl_engine_t eng, dnnl_primitive_desc_t pd,
// 		int n, const int *args, const int *q) {
// 	memset(r, 0, sizeof *r);
// 	dnnl_status_t s = dnnl_primitive_create(&r->p, pd);
// 	if (s != dnnl_success) return s;
// 	for (int i = 0; i < n; i++) {
// 		const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, (dnnl_query_t)q[i], 0);
// 		s = dnnl_memory_create(&r->m[i], md, eng, DNNL_MEMORY_NONE);
// 		if (s != dnnl_success) return s;
// 		r->arg[i] = args[i];
// 	}
// 	r->n = n;
// 	const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
// 	r->scratch = smd ? dnnl_memory_desc_get_size(smd) : 0;
// 	if (r->scratch > 0) {
// 		s = dnnl_memory_create(&r->m[n], smd, eng, DNNL_MEMORY_NONE);
// 		if (s != dnnl_success) return s;
// 		r->arg[n] = DNNL_ARG_SCRATCHPAD;
// 		r->n = n + 1;
// 	}
// 	const char *impl = NULL;
// 	dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
// 	if (impl) strncpy(r->impl, impl, sizeof r->impl - 1);
// 	return dnnl_success;
// }
//
// static void rst_prim_free(rst_prim *r) {
// 	for (int i = 0; i < r->n; i++) dnnl_memory_destroy(r->m[i]);
// 	if (r->p) dnnl_primitive_destroy(r->p);
// 	memset(r, 0, sizeof *r);
// }
//
// // rst_exec runs r once on the buffers h[0..] (the scratchpad last) and
// // clears the handles again.
// static dnnl_status_t rst_exec(rst_prim *r, dnnl_stream_t st, int nthr,
// 		void *h0, void *h1, void *h2, void *h3, void *h4, void *h5) {
// 	void *h[6] = {h0, h1, h2, h3, h4, h5};
// 	dnnl_exec_arg_t a[8];
// 	for (int i = 0; i < r->n; i++) {
// 		dnnl_memory_set_data_handle(r->m[i], h[i]);
// 		a[i].arg = r->arg[i];
// 		a[i].memory = r->m[i];
// 	}
// 	omp_set_num_threads(nthr);
// 	dnnl_status_t s = dnnl_primitive_execute(r->p, st, r->n, a);
// 	if (s == dnnl_success) s = dnnl_stream_wait(st);
// 	for (int i = 0; i < r->n; i++) dnnl_memory_set_data_handle(r->m[i], DNNL_MEMORY_NONE);
// 	return s;
// }
//
// static dnnl_primitive_attr_t rst_attr(void) {
// 	dnnl_primitive_attr_t a = NULL;
// 	if (dnnl_primitive_attr_create(&a) != dnnl_success) return NULL;
// 	dnnl_primitive_attr_set_scratchpad_mode(a, dnnl_scratchpad_mode_user);
// 	return a;
// }
//
// // rst_reorder makes r convert from to to, or leaves r empty when the two
// // layouts are the same.
// static dnnl_status_t rst_reorder(rst_prim *r, dnnl_engine_t eng,
// 		const dnnl_memory_desc_t *from, const dnnl_memory_desc_t *to) {
// 	memset(r, 0, sizeof *r);
// 	if (dnnl_memory_desc_equal(from, to)) return dnnl_success;
// 	dnnl_primitive_attr_t attr = rst_attr();
// 	dnnl_primitive_desc_t pd = NULL;
// 	dnnl_status_t s = dnnl_reorder_primitive_desc_create(&pd, from, eng, to, eng, attr);
// 	dnnl_primitive_attr_destroy(attr);
// 	if (s != dnnl_success) return s;
// 	int args[2] = {DNNL_ARG_FROM, DNNL_ARG_TO};
// 	int q[2] = {dnnl_query_src_md, dnnl_query_dst_md};
// 	s = rst_prim_make(r, eng, pd, 2, args, q);
// 	dnnl_primitive_desc_destroy(pd);
// 	return s;
// }
//
// // The convolution of one shape: d is N, Cin, H, W, Cout, OH, OW, KH, KW,
// // stride, pad. Images are NHWC, user weights OHWI; the primitives pick
// // their own weight layout and reorders convert.
// typedef struct {
// 	dnnl_memory_desc_t x, y, w, any;
// 	dnnl_dims_t strides, pad;
// 	dnnl_primitive_desc_t fwd_pd; // the hint of the backward primitives
// 	rst_prim fwd, fwd_w;           // y = conv(x, w'), w' = reorder(w)
// 	rst_prim bwd, bwd_w;           // dx = conv_bwd_data(dy, w''), w'' = reorder(w)
// 	rst_prim bww, bww_w;           // dw' = conv_bwd_weights(x, dy), dw = reorder(dw')
// 	size_t wfwd, wbwd, wbww;       // bytes of w', w'', dw'
// } rst_conv;
//
// static dnnl_status_t rst_conv_fwd_make(rst_conv *c, dnnl_engine_t eng, int nthr, const int64_t *d, const char **where) {
// 	memset(c, 0, sizeof *c);
// 	omp_set_num_threads(nthr);
// 	dnnl_dims_t xd = {d[0], d[1], d[2], d[3]}, yd = {d[0], d[4], d[5], d[6]}, wd = {d[4], d[1], d[7], d[8]};
// 	c->strides[0] = c->strides[1] = d[9];
// 	c->pad[0] = c->pad[1] = d[10];
// 	dnnl_status_t s;
// 	*where = "memory descriptors";
// 	if ((s = dnnl_memory_desc_init_by_tag(&c->x, 4, xd, dnnl_f32, dnnl_nhwc)) != dnnl_success) return s;
// 	if ((s = dnnl_memory_desc_init_by_tag(&c->y, 4, yd, dnnl_f32, dnnl_nhwc)) != dnnl_success) return s;
// 	if ((s = dnnl_memory_desc_init_by_tag(&c->w, 4, wd, dnnl_f32, dnnl_ohwi)) != dnnl_success) return s;
// 	if ((s = dnnl_memory_desc_init_by_tag(&c->any, 4, wd, dnnl_f32, dnnl_format_tag_any)) != dnnl_success) return s;
// 	*where = "forward";
// 	dnnl_convolution_desc_t cd;
// 	s = dnnl_convolution_forward_desc_init(&cd, dnnl_forward_training, dnnl_convolution_direct,
// 		&c->x, &c->any, NULL, &c->y, c->strides, c->pad, c->pad);
// 	if (s != dnnl_success) return s;
// 	dnnl_primitive_attr_t attr = rst_attr();
// 	s = dnnl_primitive_desc_create(&c->fwd_pd, &cd, attr, eng, NULL);
// 	dnnl_primitive_attr_destroy(attr);
// 	if (s != dnnl_success) return s;
// 	int args[3] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST};
// 	int q[3] = {dnnl_query_src_md, dnnl_query_weights_md, dnnl_query_dst_md};
// 	if ((s = rst_prim_make(&c->fwd, eng, c->fwd_pd, 3, args, q)) != dnnl_success) return s;
// 	const dnnl_memory_desc_t *wmd = dnnl_primitive_desc_query_md(c->fwd_pd, dnnl_query_weights_md, 0);
// 	c->wfwd = dnnl_memory_desc_get_size(wmd);
// 	*where = "forward weight reorder";
// 	return rst_reorder(&c->fwd_w, eng, &c->w, wmd);
// }
//
// static dnnl_status_t rst_conv_bwd_make(rst_conv *c, dnnl_engine_t eng, int nthr, const char **where) {
// 	omp_set_num_threads(nthr);
// 	dnnl_status_t s;
// 	dnnl_convolution_desc_t cd;
// 	dnnl_primitive_attr_t attr = rst_attr();
// 	dnnl_primitive_desc_t pd = NULL;
// 	*where = "backward data";
// 	s = dnnl_convolution_backward_data_desc_init(&cd, dnnl_convolution_direct,
// 		&c->x, &c->any, &c->y, c->strides, c->pad, c->pad);
// 	if (s == dnnl_success) s = dnnl_primitive_desc_create(&pd, &cd, attr, eng, c->fwd_pd);
// 	if (s == dnnl_success) {
// 		int args[3] = {DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC};
// 		int q[3] = {dnnl_query_diff_dst_md, dnnl_query_weights_md, dnnl_query_diff_src_md};
// 		s = rst_prim_make(&c->bwd, eng, pd, 3, args, q);
// 	}
// 	if (s == dnnl_success) {
// 		const dnnl_memory_desc_t *wmd = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
// 		c->wbwd = dnnl_memory_desc_get_size(wmd);
// 		*where = "backward data weight reorder";
// 		s = rst_reorder(&c->bwd_w, eng, &c->w, wmd);
// 	}
// 	if (pd) dnnl_primitive_desc_destroy(pd);
// 	pd = NULL;
// 	if (s != dnnl_success) {
// 		dnnl_primitive_attr_destroy(attr);
// 		return s;
// 	}
// 	*where = "backward weights";
// 	s = dnnl_convolution_backward_weights_desc_init(&cd, dnnl_convolution_direct,
// 		&c->x, &c->any, NULL, &c->y, c->strides, c->pad, c->pad);
// 	if (s == dnnl_success) s = dnnl_primitive_desc_create(&pd, &cd, attr, eng, c->fwd_pd);
// 	dnnl_primitive_attr_destroy(attr);
// 	if (s == dnnl_success) {
// 		int args[3] = {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS};
// 		int q[3] = {dnnl_query_src_md, dnnl_query_diff_dst_md, dnnl_query_diff_weights_md};
// 		s = rst_prim_make(&c->bww, eng, pd, 3, args, q);
// 	}
// 	if (s == dnnl_success) {
// 		const dnnl_memory_desc_t *wmd = dnnl_primitive_desc_query_md(pd, dnnl_query_diff_weights_md, 0);
// 		c->wbww = dnnl_memory_desc_get_size(wmd);
// 		*where = "backward weights reorder";
// 		s = rst_reorder(&c->bww_w, eng, wmd, &c->w);
// 	}
// 	if (pd) dnnl_primitive_desc_destroy(pd);
// 	return s;
// }
//
// static void rst_conv_free(rst_conv *c) {
// 	rst_prim_free(&c->fwd); rst_prim_free(&c->fwd_w);
// 	rst_prim_free(&c->bwd); rst_prim_free(&c->bwd_w);
// 	rst_prim_free(&c->bww); rst_prim_free(&c->bww_w);
// 	if (c->fwd_pd) dnnl_primitive_desc_destroy(c->fwd_pd);
// 	free(c);
// }
//
// static rst_conv *rst_conv_new(void) { return calloc(1, sizeof(rst_conv)); }
//
// static dnnl_engine_t rst_engine(void) {
// 	dnnl_engine_t e = NULL;
// 	if (dnnl_engine_create(&e, dnnl_cpu, 0) != dnnl_success) return NULL;
// 	return e;
// }
//
// static dnnl_stream_t rst_stream(dnnl_engine_t e) {
// 	dnnl_stream_t s = NULL;
// 	if (dnnl_stream_create(&s, e, dnnl_stream_default_flags) != dnnl_success) return NULL;
// 	return s;
// }
//
// static const char *rst_version(void) {
// 	static char buf[32];
// 	const dnnl_version_t *v = dnnl_version();
// 	snprintf(buf, sizeof buf, "%d.%d.%d", v->major, v->minor, v->patch);
// 	return buf;
// }
import "C"

import (
	"fmt"
	"runtime"
	"sync"
	"unsafe"
	"weak"
)

// dnnlOn reports that this binary runs convolutions through oneDNN.
const dnnlOn = true

var (
	dnnlEngineOnce sync.Once
	dnnlEngine     C.dnnl_engine_t
)

func engine() C.dnnl_engine_t {
	dnnlEngineOnce.Do(func() {
		dnnlEngine = C.rst_engine()
		if dnnlEngine == nil {
			panic("nn: oneDNN: cannot create the CPU engine")
		}
	})
	return dnnlEngine
}

// kernelsName names the kernels of this build, for Describe.
func kernelsName() string {
	return "oneDNN " + C.GoString(C.rst_version()) + " (conv)"
}

type convKey struct {
	n, h, w, cin, cout int
	g                  ConvGeom
	threads            int
}

// dnnlState is one CPU backend's oneDNN objects: a stream, the primitives
// of every shape it has run, and the buffer their scratchpads share.
type dnnlState struct {
	stream C.dnnl_stream_t
	convs  map[convKey]*C.rst_conv
	buf    []byte
}

func (s *dnnlState) free() {
	for _, c := range s.convs {
		C.rst_conv_free(c)
	}
	if s.stream != nil {
		C.dnnl_stream_destroy(s.stream)
	}
}

// The state of each CPU backend, looked up by a weak pointer so a
// dropped backend frees its primitives (CPU's fields are not this file's).
var (
	dnnlMu     sync.Mutex
	dnnlStates = map[weak.Pointer[CPU]]*dnnlState{}
)

func (c *CPU) dnnl() *dnnlState {
	k := weak.Make(c)
	dnnlMu.Lock()
	defer dnnlMu.Unlock()
	if s := dnnlStates[k]; s != nil {
		return s
	}
	s := &dnnlState{stream: C.rst_stream(engine()), convs: map[convKey]*C.rst_conv{}}
	if s.stream == nil {
		panic("nn: oneDNN: cannot create a stream")
	}
	dnnlStates[k] = s
	runtime.AddCleanup(c, func(k weak.Pointer[CPU]) {
		dnnlMu.Lock()
		s := dnnlStates[k]
		delete(dnnlStates, k)
		dnnlMu.Unlock()
		if s != nil {
			s.free()
		}
	}, k)
	return s
}

// check panics on a oneDNN failure: every descriptor is built from shapes
// the layers validated, so a failure is a programming error.
func check(st C.dnnl_status_t, what string, shape any) {
	if st != C.dnnl_success {
		panic(fmt.Sprintf("nn: oneDNN %s %v: %s", what, shape, C.GoString(C.dnnl_status2str(st))))
	}
}

const dnnlAlign = 64

// scratch returns room for three parts of the given byte sizes, each
// aligned, from the state's buffer (nil for an empty part).
func (s *dnnlState) scratch(a, b, c C.size_t) (out [3]unsafe.Pointer) {
	sizes := [3]C.size_t{a, b, c}
	total := dnnlAlign
	for _, n := range sizes {
		total += (int(n) + dnnlAlign - 1) / dnnlAlign * dnnlAlign
	}
	if cap(s.buf) < total {
		s.buf = make([]byte, total)
	}
	base := unsafe.Pointer(unsafe.SliceData(s.buf))
	off := int((dnnlAlign - uintptr(base)%dnnlAlign) % dnnlAlign)
	for i, n := range sizes {
		if n > 0 {
			out[i] = unsafe.Pointer(&s.buf[off])
		}
		off += (int(n) + dnnlAlign - 1) / dnnlAlign * dnnlAlign
	}
	return out
}

func (c *CPU) conv(x, w *Tensor, g ConvGeom, bwd bool) (*dnnlState, *C.rst_conv, convDims) {
	s := c.dnnl()
	d := dimsOf(x, w, g)
	k := convKey{n: d.n, h: d.h, w: d.w, cin: d.cin, cout: d.cout, g: g, threads: runtime.GOMAXPROCS(0)}
	cv := s.convs[k]
	if cv == nil {
		cv = C.rst_conv_new()
		dims := [11]C.int64_t{C.int64_t(d.n), C.int64_t(d.cin), C.int64_t(d.h), C.int64_t(d.w), C.int64_t(d.cout),
			C.int64_t(d.oh), C.int64_t(d.ow), C.int64_t(g.KH), C.int64_t(g.KW), C.int64_t(g.Stride), C.int64_t(g.Pad)}
		var where *C.char
		st := C.rst_conv_fwd_make(cv, engine(), C.int(k.threads), &dims[0], &where)
		if st != C.dnnl_success {
			C.rst_conv_free(cv)
			check(st, "convolution "+C.GoString(where), k)
		}
		s.convs[k] = cv
	}
	if bwd && cv.bww.p == nil {
		var where *C.char
		check(C.rst_conv_bwd_make(cv, engine(), C.int(k.threads), &where), "convolution "+C.GoString(where), k)
	}
	return s, cv, d
}

func ptr(t *Tensor) unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(t.Data)) }

// run executes p on the handles (its scratchpad appended from sp).
func (s *dnnlState) run(p *C.rst_prim, what string, sp unsafe.Pointer, h ...unsafe.Pointer) {
	var a [6]unsafe.Pointer
	copy(a[:], h)
	if p.scratch > 0 {
		a[len(h)] = sp
	}
	check(C.rst_exec(p, s.stream, C.int(runtime.GOMAXPROCS(0)), a[0], a[1], a[2], a[3], a[4], a[5]), what, nil)
}

// dnnlConv2D is y = conv(x, w) through oneDNN; it reports whether it ran.
func (c *CPU) dnnlConv2D(x, w, y *Tensor, g ConvGeom) bool {
	s, cv, _ := c.conv(x, w, g, false)
	wf := ptr(w)
	sp := s.scratch(cv.wfwd, cv.fwd.scratch, cv.fwd_w.scratch)
	if cv.fwd_w.p != nil {
		wf = sp[0]
		s.run(&cv.fwd_w, "convolution weight reorder", sp[2], ptr(w), wf)
	}
	s.run(&cv.fwd, "convolution forward", sp[1], ptr(x), wf, ptr(y))
	return true
}

// dnnlConv2DBackward is the weight gradient and, unless dx is nil, the
// input gradient, through oneDNN; it reports whether it ran.
func (c *CPU) dnnlConv2DBackward(x, w, dy, dx, dw *Tensor, g ConvGeom) bool {
	s, cv, _ := c.conv(x, w, g, true)
	sp := s.scratch(cv.wbww, cv.bww.scratch, cv.bww_w.scratch)
	dwp := ptr(dw)
	if cv.bww_w.p != nil {
		dwp = sp[0]
	}
	s.run(&cv.bww, "convolution backward weights", sp[1], ptr(x), ptr(dy), dwp)
	if cv.bww_w.p != nil {
		s.run(&cv.bww_w, "convolution weight-gradient reorder", sp[2], dwp, ptr(dw))
	}
	if dx == nil {
		return true
	}
	sp = s.scratch(cv.wbwd, cv.bwd.scratch, cv.bwd_w.scratch)
	wb := ptr(w)
	if cv.bwd_w.p != nil {
		wb = sp[0]
		s.run(&cv.bwd_w, "convolution weight reorder", sp[2], ptr(w), wb)
	}
	s.run(&cv.bwd, "convolution backward data", sp[1], ptr(dy), wb, ptr(dx))
	return true
}

// dnnlImpls lists the implementations oneDNN chose for a convolution
// shape, for tests and tuning.
func (c *CPU) dnnlImpls(x, w *Tensor, g ConvGeom) string {
	_, cv, _ := c.conv(x, w, g, true)
	return fmt.Sprintf("fwd %s, bwd-data %s, bwd-weights %s", C.GoString(&cv.fwd.impl[0]), C.GoString(&cv.bwd.impl[0]), C.GoString(&cv.bww.impl[0]))
}
