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
// 	int arg[12];
// 	dnnl_memory_t m[12];
// 	size_t scratch; // scratchpad bytes; its memory is the last argument
// 	char impl[64];
// } rst_prim;
//
// // rst_prim_make creates the primitive of pd and a memory object of
// // descriptor md[i] for each argument args[i].
// static dnnl_status_t rst_prim_make(rst_prim *r, dnnl_engine_t eng, dnnl_primitive_desc_t pd,
// 		int n, const int *args, const dnnl_memory_desc_t **mds) {
// 	memset(r, 0, sizeof *r);
// 	dnnl_status_t s = dnnl_primitive_create(&r->p, pd);
// 	if (s != dnnl_success) return s;
// 	for (int i = 0; i < n; i++) {
// 		s = dnnl_memory_create(&r->m[i], mds[i], eng, DNNL_MEMORY_NONE);
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
// 		void *h0, void *h1, void *h2, void *h3, void *h4, void *h5,
// 		void *h6, void *h7, void *h8, void *h9, void *h10, void *h11) {
// 	void *h[12] = {h0, h1, h2, h3, h4, h5, h6, h7, h8, h9, h10, h11};
// 	dnnl_exec_arg_t a[12];
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
// static const dnnl_memory_desc_t *rst_q(const_dnnl_primitive_desc_t pd, dnnl_query_t q, int i) {
// 	return dnnl_primitive_desc_query_md(pd, q, i);
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
// 	const dnnl_memory_desc_t *mds[2] = {from, to};
// 	s = rst_prim_make(r, eng, pd, 2, args, mds);
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
// 	const dnnl_memory_desc_t *wmd = rst_q(c->fwd_pd, dnnl_query_weights_md, 0);
// 	int args[3] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST};
// 	const dnnl_memory_desc_t *mds[3] = {&c->x, wmd, &c->y};
// 	if ((s = rst_prim_make(&c->fwd, eng, c->fwd_pd, 3, args, mds)) != dnnl_success) return s;
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
// 		const dnnl_memory_desc_t *mds[3] = {&c->y, rst_q(pd, dnnl_query_weights_md, 0), &c->x};
// 		s = rst_prim_make(&c->bwd, eng, pd, 3, args, mds);
// 	}
// 	if (s == dnnl_success) {
// 		const dnnl_memory_desc_t *wmd = rst_q(pd, dnnl_query_weights_md, 0);
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
// 		const dnnl_memory_desc_t *mds[3] = {&c->x, &c->y, rst_q(pd, dnnl_query_diff_weights_md, 0)};
// 		s = rst_prim_make(&c->bww, eng, pd, 3, args, mds);
// 	}
// 	if (s == dnnl_success) {
// 		const dnnl_memory_desc_t *wmd = rst_q(pd, dnnl_query_diff_weights_md, 0);
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
// // Batch-norm of one shape: d is N, C, H, W of an NHWC tensor. The
// // fused ReLU of training keeps a bit mask in the workspace, which the
// // backward primitive reads.
// typedef struct {
// 	dnnl_memory_desc_t x, c;
// 	float eps;
// 	unsigned flags;
// 	dnnl_primitive_desc_t train_pd;
// 	rst_prim train, infer, bwd;
// 	size_t ws;
// } rst_bn;
//
// static rst_bn *rst_bn_new(void) { return calloc(1, sizeof(rst_bn)); }
//
// static dnnl_status_t rst_bn_train_make(rst_bn *b, dnnl_engine_t eng, int nthr, const int64_t *d, float eps, int relu) {
// 	omp_set_num_threads(nthr);
// 	dnnl_dims_t xd = {d[0], d[1], d[2], d[3]}, cd = {d[1]};
// 	dnnl_status_t s;
// 	if ((s = dnnl_memory_desc_init_by_tag(&b->x, 4, xd, dnnl_f32, dnnl_nhwc)) != dnnl_success) return s;
// 	if ((s = dnnl_memory_desc_init_by_tag(&b->c, 1, cd, dnnl_f32, dnnl_x)) != dnnl_success) return s;
// 	b->eps = eps;
// 	b->flags = dnnl_use_scale | dnnl_use_shift | (relu ? dnnl_fuse_norm_relu : 0);
// 	dnnl_batch_normalization_desc_t bd;
// 	if ((s = dnnl_batch_normalization_forward_desc_init(&bd, dnnl_forward_training, &b->x, eps, b->flags)) != dnnl_success) return s;
// 	dnnl_primitive_attr_t attr = rst_attr();
// 	s = dnnl_primitive_desc_create(&b->train_pd, &bd, attr, eng, NULL);
// 	dnnl_primitive_attr_destroy(attr);
// 	if (s != dnnl_success) return s;
// 	int args[7] = {DNNL_ARG_SRC, DNNL_ARG_DST, DNNL_ARG_MEAN, DNNL_ARG_VARIANCE, DNNL_ARG_SCALE, DNNL_ARG_SHIFT, DNNL_ARG_WORKSPACE};
// 	const dnnl_memory_desc_t *wmd = rst_q(b->train_pd, dnnl_query_workspace_md, 0);
// 	const dnnl_memory_desc_t *mds[7] = {&b->x, &b->x, &b->c, &b->c, &b->c, &b->c, wmd};
// 	b->ws = relu && wmd ? dnnl_memory_desc_get_size(wmd) : 0;
// 	return rst_prim_make(&b->train, eng, b->train_pd, b->ws ? 7 : 6, args, mds);
// }
//
// static dnnl_status_t rst_bn_infer_make(rst_bn *b, dnnl_engine_t eng, int nthr) {
// 	omp_set_num_threads(nthr);
// 	dnnl_batch_normalization_desc_t bd;
// 	dnnl_status_t s = dnnl_batch_normalization_forward_desc_init(&bd, dnnl_forward_inference, &b->x, b->eps,
// 		b->flags | dnnl_use_global_stats);
// 	if (s != dnnl_success) return s;
// 	dnnl_primitive_attr_t attr = rst_attr();
// 	dnnl_primitive_desc_t pd = NULL;
// 	s = dnnl_primitive_desc_create(&pd, &bd, attr, eng, NULL);
// 	dnnl_primitive_attr_destroy(attr);
// 	if (s != dnnl_success) return s;
// 	int args[6] = {DNNL_ARG_SRC, DNNL_ARG_DST, DNNL_ARG_MEAN, DNNL_ARG_VARIANCE, DNNL_ARG_SCALE, DNNL_ARG_SHIFT};
// 	const dnnl_memory_desc_t *mds[6] = {&b->x, &b->x, &b->c, &b->c, &b->c, &b->c};
// 	s = rst_prim_make(&b->infer, eng, pd, 6, args, mds);
// 	dnnl_primitive_desc_destroy(pd);
// 	return s;
// }
//
// static dnnl_status_t rst_bn_bwd_make(rst_bn *b, dnnl_engine_t eng, int nthr) {
// 	omp_set_num_threads(nthr);
// 	dnnl_batch_normalization_desc_t bd;
// 	dnnl_status_t s = dnnl_batch_normalization_backward_desc_init(&bd, dnnl_backward, &b->x, &b->x, b->eps, b->flags);
// 	if (s != dnnl_success) return s;
// 	dnnl_primitive_attr_t attr = rst_attr();
// 	dnnl_primitive_desc_t pd = NULL;
// 	s = dnnl_primitive_desc_create(&pd, &bd, attr, eng, b->train_pd);
// 	dnnl_primitive_attr_destroy(attr);
// 	if (s != dnnl_success) return s;
// 	// The shift is an argument though the gradients do not depend on it.
// 	int args[10] = {DNNL_ARG_SRC, DNNL_ARG_MEAN, DNNL_ARG_VARIANCE, DNNL_ARG_DIFF_DST, DNNL_ARG_SCALE,
// 		DNNL_ARG_SHIFT, DNNL_ARG_DIFF_SRC, DNNL_ARG_DIFF_SCALE, DNNL_ARG_DIFF_SHIFT, DNNL_ARG_WORKSPACE};
// 	const dnnl_memory_desc_t *mds[10] = {&b->x, &b->c, &b->c, &b->x, &b->c, &b->c, &b->x, &b->c, &b->c,
// 		rst_q(b->train_pd, dnnl_query_workspace_md, 0)};
// 	s = rst_prim_make(&b->bwd, eng, pd, b->ws ? 10 : 9, args, mds);
// 	dnnl_primitive_desc_destroy(pd);
// 	return s;
// }
//
// static void rst_bn_free(rst_bn *b) {
// 	rst_prim_free(&b->train); rst_prim_free(&b->infer); rst_prim_free(&b->bwd);
// 	if (b->train_pd) dnnl_primitive_desc_destroy(b->train_pd);
// 	free(b);
// }
//
// // Pooling of one shape: d is N, C, H, W, OH, OW, KH, KW, stride, pad;
// // max pooling keeps its argmax in the workspace.
// typedef struct {
// 	dnnl_memory_desc_t x, y;
// 	dnnl_primitive_desc_t fwd_pd;
// 	rst_prim fwd, bwd;
// 	size_t ws;
// } rst_pool;
//
// static rst_pool *rst_pool_new(void) { return calloc(1, sizeof(rst_pool)); }
//
// static dnnl_status_t rst_pool_make(rst_pool *p, dnnl_engine_t eng, int nthr, const int64_t *d, int maxpool) {
// 	omp_set_num_threads(nthr);
// 	dnnl_dims_t xd = {d[0], d[1], d[2], d[3]}, yd = {d[0], d[1], d[4], d[5]};
// 	dnnl_dims_t k = {d[6], d[7]}, st = {d[8], d[8]}, pad = {d[9], d[9]}, dil = {0, 0};
// 	dnnl_status_t s;
// 	if ((s = dnnl_memory_desc_init_by_tag(&p->x, 4, xd, dnnl_f32, dnnl_nhwc)) != dnnl_success) return s;
// 	if ((s = dnnl_memory_desc_init_by_tag(&p->y, 4, yd, dnnl_f32, dnnl_nhwc)) != dnnl_success) return s;
// 	dnnl_alg_kind_t alg = maxpool ? dnnl_pooling_max : dnnl_pooling_avg_include_padding;
// 	dnnl_pooling_v2_desc_t pd;
// 	if ((s = dnnl_pooling_v2_forward_desc_init(&pd, dnnl_forward_training, alg, &p->x, &p->y, st, k, dil, pad, pad)) != dnnl_success) return s;
// 	dnnl_primitive_attr_t attr = rst_attr();
// 	s = dnnl_primitive_desc_create(&p->fwd_pd, &pd, attr, eng, NULL);
// 	if (s == dnnl_success) {
// 		const dnnl_memory_desc_t *wmd = rst_q(p->fwd_pd, dnnl_query_workspace_md, 0);
// 		p->ws = wmd ? dnnl_memory_desc_get_size(wmd) : 0;
// 		int args[3] = {DNNL_ARG_SRC, DNNL_ARG_DST, DNNL_ARG_WORKSPACE};
// 		const dnnl_memory_desc_t *mds[3] = {&p->x, &p->y, wmd};
// 		s = rst_prim_make(&p->fwd, eng, p->fwd_pd, p->ws ? 3 : 2, args, mds);
// 	}
// 	dnnl_primitive_desc_t bpd = NULL;
// 	if (s == dnnl_success) s = dnnl_pooling_v2_backward_desc_init(&pd, alg, &p->x, &p->y, st, k, dil, pad, pad);
// 	if (s == dnnl_success) s = dnnl_primitive_desc_create(&bpd, &pd, attr, eng, p->fwd_pd);
// 	dnnl_primitive_attr_destroy(attr);
// 	if (s == dnnl_success) {
// 		int args[3] = {DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_SRC, DNNL_ARG_WORKSPACE};
// 		const dnnl_memory_desc_t *mds[3] = {&p->y, &p->x, rst_q(p->fwd_pd, dnnl_query_workspace_md, 0)};
// 		s = rst_prim_make(&p->bwd, eng, bpd, p->ws ? 3 : 2, args, mds);
// 	}
// 	if (bpd) dnnl_primitive_desc_destroy(bpd);
// 	return s;
// }
//
// static void rst_pool_free(rst_pool *p) {
// 	rst_prim_free(&p->fwd); rst_prim_free(&p->bwd);
// 	if (p->fwd_pd) dnnl_primitive_desc_destroy(p->fwd_pd);
// 	free(p);
// }
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
	return "oneDNN " + C.GoString(C.rst_version()) + " (conv, batch-norm, pooling, attention GEMMs)"
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
	bns    map[bnKey]*C.rst_bn
	pools  map[poolKey]*C.rst_pool
	ws     map[uintptr]*workspace
	buf    []byte
}

// workspace is what a forward primitive left for its backward (the fused
// ReLU's mask, max pooling's argmax), filed under the address of the
// forward's output, which the backward call receives; x is the address of
// the input it was computed from. Addresses, not pointers: the table must
// not keep a dropped network's buffers alive.
type workspace struct {
	x   uintptr
	buf []byte
}

// workspaceFor returns the workspace of output y, of n bytes, for a
// forward pass on x.
func (s *dnnlState) workspaceFor(x, y *Tensor, n C.size_t) unsafe.Pointer {
	w := s.ws[addr(y)]
	if w == nil {
		w = &workspace{}
		s.ws[addr(y)] = w
	}
	w.x = addr(x)
	if len(w.buf) != int(n) {
		w.buf = make([]byte, n)
	}
	return unsafe.Pointer(unsafe.SliceData(w.buf))
}

// workspaceOf returns the workspace the last forward pass from x to y
// left, or nil when that pass did not run here.
func (s *dnnlState) workspaceOf(x, y *Tensor, n C.size_t) unsafe.Pointer {
	w := s.ws[addr(y)]
	if w == nil || w.x != addr(x) || len(w.buf) != int(n) {
		return nil
	}
	return unsafe.Pointer(unsafe.SliceData(w.buf))
}

func (s *dnnlState) free() {
	for _, c := range s.convs {
		C.rst_conv_free(c)
	}
	for _, b := range s.bns {
		C.rst_bn_free(b)
	}
	for _, p := range s.pools {
		C.rst_pool_free(p)
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
	s := &dnnlState{stream: C.rst_stream(engine()), convs: map[convKey]*C.rst_conv{},
		bns: map[bnKey]*C.rst_bn{}, pools: map[poolKey]*C.rst_pool{}, ws: map[uintptr]*workspace{}}
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

func addr(t *Tensor) uintptr { return uintptr(ptr(t)) }

// run executes p on the handles (its scratchpad appended from sp).
func (s *dnnlState) run(p *C.rst_prim, what string, sp unsafe.Pointer, h ...unsafe.Pointer) {
	var a [12]unsafe.Pointer
	copy(a[:], h)
	if p.scratch > 0 {
		a[len(h)] = sp
	}
	check(C.rst_exec(p, s.stream, C.int(runtime.GOMAXPROCS(0)), a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11]), what, nil)
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

type bnKey struct {
	n, h, w, c, threads int
	eps                 float32
	relu                bool
}

// bn returns the batch-norm primitives for x's shape (NHWC, or [N, C]),
// with the backward and inference ones when asked; ok is false for other
// ranks.
func (c *CPU) bn(x *Tensor, eps float32, relu, bwd, infer bool) (s *dnnlState, b *C.rst_bn, ok bool) {
	k := bnKey{n: x.Shape[0], h: 1, w: 1, c: x.Shape[len(x.Shape)-1], threads: runtime.GOMAXPROCS(0), eps: eps, relu: relu}
	switch len(x.Shape) {
	case 2:
	case 4:
		k.h, k.w = x.Shape[1], x.Shape[2]
	default:
		return nil, nil, false
	}
	s = c.dnnl()
	b = s.bns[k]
	if b == nil {
		b = C.rst_bn_new()
		dims := [4]C.int64_t{C.int64_t(k.n), C.int64_t(k.c), C.int64_t(k.h), C.int64_t(k.w)}
		if st := C.rst_bn_train_make(b, engine(), C.int(k.threads), &dims[0], C.float(eps), cBool(relu)); st != C.dnnl_success {
			C.rst_bn_free(b)
			check(st, "batch-norm training", k)
		}
		s.bns[k] = b
	}
	if bwd && b.bwd.p == nil {
		check(C.rst_bn_bwd_make(b, engine(), C.int(k.threads)), "batch-norm backward", k)
	}
	if infer && b.infer.p == nil {
		check(C.rst_bn_infer_make(b, engine(), C.int(k.threads)), "batch-norm inference", k)
	}
	return s, b, true
}

func cBool(v bool) C.int {
	if v {
		return 1
	}
	return 0
}

func (c *CPU) dnnlBatchNormTrain(x, y, gamma, beta, mean, variance *Tensor, eps float32, relu bool) bool {
	s, b, ok := c.bn(x, eps, relu, false, false)
	if !ok {
		return false
	}
	sp := s.scratch(b.train.scratch, 0, 0)
	var a [7]unsafe.Pointer // on the stack: no allocation per call
	h := append(a[:0], ptr(x), ptr(y), ptr(mean), ptr(variance), ptr(gamma), ptr(beta))
	if b.ws > 0 {
		h = append(h, s.workspaceFor(x, y, b.ws))
	}
	s.run(&b.train, "batch-norm training", sp[0], h...)
	return true
}

func (c *CPU) dnnlBatchNormInfer(x, y, gamma, beta, mean, variance *Tensor, eps float32, relu bool) bool {
	s, b, ok := c.bn(x, eps, relu, false, true)
	if !ok {
		return false
	}
	sp := s.scratch(b.infer.scratch, 0, 0)
	s.run(&b.infer, "batch-norm inference", sp[0], ptr(x), ptr(y), ptr(mean), ptr(variance), ptr(gamma), ptr(beta))
	return true
}

// dnnlBatchNormBackward needs dx and, with the fused ReLU, the mask the
// training pass from x to y left; otherwise the Go kernel runs.
func (c *CPU) dnnlBatchNormBackward(x, y, dy, dx, gamma, mean, variance, dgamma, dbeta *Tensor, eps float32, relu bool) bool {
	if dx == nil {
		return false
	}
	s, b, ok := c.bn(x, eps, relu, true, false)
	if !ok {
		return false
	}
	var a [10]unsafe.Pointer
	h := append(a[:0], ptr(x), ptr(mean), ptr(variance), ptr(dy), ptr(gamma), ptr(gamma), ptr(dx), ptr(dgamma), ptr(dbeta))
	if b.ws > 0 {
		ws := s.workspaceOf(x, y, b.ws)
		if ws == nil {
			return false
		}
		h = append(h, ws)
	}
	sp := s.scratch(b.bwd.scratch, 0, 0)
	s.run(&b.bwd, "batch-norm backward", sp[0], h...)
	return true
}

type poolKey struct {
	n, h, w, c int
	g          ConvGeom
	max        bool
	threads    int
}

func (c *CPU) pool(x *Tensor, g ConvGeom, maxPool bool) (*dnnlState, *C.rst_pool) {
	n, h, w, ch, oh, ow := poolDims(x, g)
	k := poolKey{n: n, h: h, w: w, c: ch, g: g, max: maxPool, threads: runtime.GOMAXPROCS(0)}
	s := c.dnnl()
	p := s.pools[k]
	if p == nil {
		p = C.rst_pool_new()
		dims := [10]C.int64_t{C.int64_t(n), C.int64_t(ch), C.int64_t(h), C.int64_t(w), C.int64_t(oh), C.int64_t(ow),
			C.int64_t(g.KH), C.int64_t(g.KW), C.int64_t(g.Stride), C.int64_t(g.Pad)}
		if st := C.rst_pool_make(p, engine(), C.int(k.threads), &dims[0], cBool(maxPool)); st != C.dnnl_success {
			C.rst_pool_free(p)
			check(st, "pooling", k)
		}
		s.pools[k] = p
	}
	return s, p
}

func (c *CPU) dnnlMaxPool(x, y *Tensor, g ConvGeom) bool {
	s, p := c.pool(x, g, true)
	sp := s.scratch(p.fwd.scratch, 0, 0)
	s.run(&p.fwd, "max pooling", sp[0], ptr(x), ptr(y), s.workspaceFor(x, y, p.ws))
	return true
}

// dnnlMaxPoolBackward needs the argmax the forward pass from x to y left;
// otherwise the Go kernel runs.
func (c *CPU) dnnlMaxPoolBackward(x, y, dy, dx *Tensor, g ConvGeom) bool {
	s, p := c.pool(x, g, true)
	ws := s.workspaceOf(x, y, p.ws)
	if ws == nil {
		return false
	}
	sp := s.scratch(p.bwd.scratch, 0, 0)
	s.run(&p.bwd, "max pooling backward", sp[0], ptr(dy), ptr(dx), ws)
	return true
}

func (c *CPU) dnnlAvgPool(x, y *Tensor, g ConvGeom) bool {
	s, p := c.pool(x, g, false)
	sp := s.scratch(p.fwd.scratch, 0, 0)
	s.run(&p.fwd, "average pooling", sp[0], ptr(x), ptr(y))
	return true
}

func (c *CPU) dnnlAvgPoolBackward(dy, dx *Tensor, g ConvGeom) bool {
	s, p := c.pool(dx, g, false)
	sp := s.scratch(p.bwd.scratch, 0, 0)
	s.run(&p.bwd, "average pooling backward", sp[0], ptr(dy), ptr(dx))
	return true
}
