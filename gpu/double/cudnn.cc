// A CPU double of cuDNN 9 (libcudnn.so.9) for the CUDA backend's tests:
// the legacy convolution API gpu/api.go binds (handle, stream, 4-d tensor,
// filter and convolution descriptors, cudnnFind*Algorithm, the forward,
// backward-data and backward-filter convolutions), plus the few neighbours
// a caller of that API uses (Destroy*, Get*WorkspaceSize, group count,
// output dimensions). Device pointers are host addresses (the driver
// double, driver.cc); work is queued on the handle's stream with
// rstd_enqueue and runs when the stream is synchronised.
//
// Build (gpu/double/Makefile does this; by hand):
//   g++ -O2 -std=c++17 -shared -fPIC -fvisibility=hidden -Wall -Wextra -o gpu/double/lib/libcudnn.so.9 gpu/double/cudnn.cc -ldl
//
// What is modelled, and how:
// - Tensors NCHW or NHWC (fully packed, as cudnnSetTensor4dDescriptor
//   makes them); filters in either format: NCHW is KCRS, NHWC is KRSC.
// - Cross-correlation and convolution (flipped filter) modes, padding,
//   stride, dilation and groups (cudnnSetConvolutionGroupCount).
// - y = alpha·op + beta·y with host float alpha/beta; beta = 0 never reads
//   the output (it may hold NaN), as cuDNN documents.
// - Arithmetic: every output element is a float32 sum of float32 products
//   (a float accumulator), then the alpha/beta blend in float32. Math
//   type CUDNN_FMA_MATH computes in FP32; DEFAULT, TENSOR_OP and
//   TENSOR_OP_ALLOW_CONVERSION let FP32 data use TF32 (on Ampere and newer
//   cuDNN documents TF32 as permitted under the default math), so the
//   inputs are rounded to TF32 first. NVIDIA_TF32_OVERRIDE=0 turns TF32 off.
// - Find returns several algorithms in the real 48-byte perf layout,
//   fastest first, with a NON-deterministic one first in all three
//   directions (stricter than cuDNN, whose forward algorithms are all
//   deterministic) so that a caller wanting determinism must choose; the
//   non-deterministic algorithms really sum in an order that changes from
//   call to call, so their results differ in the last bits between runs.
//   Each direction ends with an algorithm whose status is NOT_SUPPORTED.
//   The mathType reported is the descriptor's (FMA stays FMA); under
//   TENSOR_OP math the algorithms without a tensor-core path report
//   DEFAULT. RSTD_CUDNN_FIND_MATH=<n> makes every entry report math type
//   n, to test a caller against a cuDNN that reports something else.
// - Workspaces are used for real (the transposed filter or the float
//   accumulator lives there), sized as Find and Get*WorkspaceSize say;
//   algorithms with a workspace want 16-byte-aligned operands and return
//   CUDNN_STATUS_BAD_PARAM_MISALIGNED_POINTER otherwise, the others 4.
// - Every operand's exact extent is checked with rstd_check_range at call
//   time; unknown or destroyed handles and descriptors are BAD_PARAM.

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <unordered_set>
#include <vector>

#include "blasdnn_hooks.h"

namespace {

// cudnnStatus_t as renumbered by cuDNN 9.
enum {
  CUDNN_STATUS_SUCCESS = 0,
  CUDNN_STATUS_NOT_INITIALIZED = 1001,
  CUDNN_STATUS_BAD_PARAM = 2000,
  CUDNN_STATUS_BAD_PARAM_NULL_POINTER = 2002,
  CUDNN_STATUS_BAD_PARAM_MISALIGNED_POINTER = 2003,
  CUDNN_STATUS_NOT_SUPPORTED = 3000,
  CUDNN_STATUS_NOT_SUPPORTED_DATA_TYPE = 3003,
  CUDNN_STATUS_INTERNAL_ERROR = 4000,
  CUDNN_STATUS_EXECUTION_FAILED = 5000,
};
enum { CUDNN_DATA_FLOAT = 0, CUDNN_DATA_DOUBLE = 1, CUDNN_DATA_HALF = 2, CUDNN_DATA_BFLOAT16 = 9 };
enum { CUDNN_TENSOR_NCHW = 0, CUDNN_TENSOR_NHWC = 1 };
enum { CUDNN_CONVOLUTION = 0, CUDNN_CROSS_CORRELATION = 1 };
enum { CUDNN_DEFAULT_MATH = 0, CUDNN_TENSOR_OP_MATH = 1, CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION = 2, CUDNN_FMA_MATH = 3 };
enum { CUDNN_NON_DETERMINISTIC = 0, CUDNN_DETERMINISTIC = 1 };
// cudnnConvolutionFwdAlgo_t, ...BwdDataAlgo_t, ...BwdFilterAlgo_t: the
// values used here, and each enum's COUNT.
enum { FWD_IMPLICIT_GEMM = 0, FWD_IMPLICIT_PRECOMP_GEMM = 1, FWD_FFT = 4, FWD_WINOGRAD_NONFUSED = 7, FWD_COUNT = 8 };
enum { BWD_DATA_ALGO_0 = 0, BWD_DATA_ALGO_1 = 1, BWD_DATA_FFT_TILING = 3, BWD_DATA_COUNT = 6 };
enum { BWD_FILTER_ALGO_0 = 0, BWD_FILTER_ALGO_1 = 1, BWD_FILTER_FFT = 2, BWD_FILTER_ALGO_3 = 3, BWD_FILTER_COUNT = 7 };

// cudnnConvolution{Fwd,BwdData,BwdFilter}AlgoPerf_t: one layout for all
// three. The compiler pads `time` to align `memory`, as NVIDIA's does.
struct Perf {
  int algo;
  int status;
  float time;  // milliseconds
  size_t memory;
  int determinism;
  int mathType;
  int reserved[3];
};
static_assert(sizeof(Perf) == 48, "cudnnConvolution*AlgoPerf_t is 48 bytes");
static_assert(offsetof(Perf, memory) == 16 && offsetof(Perf, determinism) == 24 && offsetof(Perf, mathType) == 28,
              "cudnnConvolution*AlgoPerf_t field offsets");

// The version cudnnGetVersion reports: major·10000 + minor·100 + patch
// (cuDNN 9's encoding), for a 9.10.0.
const size_t kVersion = 91000;

struct Handle {
  void* stream = nullptr;
};
struct Tensor {
  bool set = false;
  int dtype = 0, format = 0;
  int n = 0, c = 0, h = 0, w = 0;
  long long ns = 0, cs = 0, hs = 0, ws = 0;  // element strides
};
struct Filter {
  bool set = false;
  int dtype = 0, format = 0;
  int k = 0, c = 0, r = 0, s = 0;  // c is the input channels per group
  long long ks = 0, cs = 0, rs = 0, ss = 0;
};
struct Conv {
  bool set = false;
  int padh = 0, padw = 0, u = 1, v = 1, dilh = 1, dilw = 1, mode = CUDNN_CROSS_CORRELATION, ctype = CUDNN_DATA_FLOAT;
  int groups = 1;
  int math = CUDNN_DEFAULT_MATH;
};

// Live objects of each kind: a destroyed, foreign or made-up pointer is
// BAD_PARAM instead of a crash, and one kind cannot pass for another.
std::mutex mu;
std::unordered_set<void*> handles, tensors, filters, convs;

template <class T>
T* live(std::unordered_set<void*>& set, void* p) {
  std::lock_guard<std::mutex> g(mu);
  return set.count(p) ? static_cast<T*>(p) : nullptr;
}
template <class T>
int create(std::unordered_set<void*>& set, void** out) {
  if (!out) return CUDNN_STATUS_BAD_PARAM_NULL_POINTER;
  T* p = new T;
  std::lock_guard<std::mutex> g(mu);
  set.insert(p);
  *out = p;
  return CUDNN_STATUS_SUCCESS;
}
template <class T>
int destroy(std::unordered_set<void*>& set, void* p) {
  if (!p) return CUDNN_STATUS_SUCCESS;  // cuDNN accepts NULL here
  std::lock_guard<std::mutex> g(mu);
  if (!set.erase(p)) return CUDNN_STATUS_BAD_PARAM;
  delete static_cast<T*>(p);
  return CUDNN_STATUS_SUCCESS;
}

bool valid_dtype(int t) { return t >= 0 && t <= 21; }

// Geom is one convolution problem, validated: x is N×C×H×W, w is
// K×(C/G)×R×S, y is N×K×OH×OW.
struct Geom {
  int N, C, H, W, K, R, S, OH, OW, G, Cg, Kg;
  int ph, pw, u, v, dh, dw;
  bool flip;  // CUDNN_CONVOLUTION: the filter is applied flipped
};

int out_dim(int in, int pad, int k, int dil, int stride, int* out) {
  long long span = (long long)(k - 1) * dil + 1;
  long long num = (long long)in + 2LL * pad - span;
  if (num < 0) return CUDNN_STATUS_BAD_PARAM;  // the window does not fit
  *out = (int)(num / stride + 1);
  return CUDNN_STATUS_SUCCESS;
}

// geometry checks that x, w, conv and y describe one float convolution.
int geometry(const Tensor* x, const Filter* w, const Conv* cv, const Tensor* y, Geom* g) {
  if (!x || !w || !cv || !y) return CUDNN_STATUS_BAD_PARAM;
  if (!x->set || !w->set || !cv->set || !y->set) return CUDNN_STATUS_BAD_PARAM;
  if (x->dtype != CUDNN_DATA_FLOAT || w->dtype != CUDNN_DATA_FLOAT || y->dtype != CUDNN_DATA_FLOAT ||
      cv->ctype != CUDNN_DATA_FLOAT)
    return CUDNN_STATUS_NOT_SUPPORTED_DATA_TYPE;  // this double computes FP32 only
  if (x->c != w->c * cv->groups || w->k % cv->groups != 0) return CUDNN_STATUS_BAD_PARAM;
  Geom r{};
  r.N = x->n, r.C = x->c, r.H = x->h, r.W = x->w, r.K = w->k, r.R = w->r, r.S = w->s;
  r.G = cv->groups, r.Cg = w->c, r.Kg = w->k / cv->groups;
  r.ph = cv->padh, r.pw = cv->padw, r.u = cv->u, r.v = cv->v, r.dh = cv->dilh, r.dw = cv->dilw;
  r.flip = cv->mode == CUDNN_CONVOLUTION;
  if (int s = out_dim(r.H, r.ph, r.R, r.dh, r.u, &r.OH)) return s;
  if (int s = out_dim(r.W, r.pw, r.S, r.dw, r.v, &r.OW)) return s;
  if (y->n != r.N || y->c != r.K || y->h != r.OH || y->w != r.OW) return CUDNN_STATUS_BAD_PARAM;
  *g = r;
  return CUDNN_STATUS_SUCCESS;
}

size_t tensor_bytes(const Tensor* t) {
  return 4 * (size_t)((t->n - 1) * t->ns + (t->c - 1) * t->cs + (t->h - 1) * t->hs + (t->w - 1) * t->ws + 1);
}
size_t filter_bytes(const Filter* f) { return 4 * (size_t)f->k * f->c * f->r * f->s; }

// ---- The algorithms ----

enum Dir { FWD, BWD_DATA, BWD_FILTER };

struct Algo {
  int algo;
  bool det;
  float rel;    // time relative to the deterministic workhorse
  size_t ws;    // workspace bytes
  bool align16; // wants 16-byte-aligned operands
  bool ok;      // supported for this problem
  bool tensor;  // has a tensor-core path (reports TENSOR_OP math)
};

// algos lists a direction's algorithms for g, fastest first, the
// unsupported ones last; Find reports them and execution obeys them.
std::vector<Algo> algos(Dir d, const Geom& g) {
  const size_t filt = 4 * (size_t)g.K * g.R * g.S * g.Cg;
  switch (d) {
    case FWD:
      return {{FWD_WINOGRAD_NONFUSED, false, 0.9f, filt + 4096, true, true, true},
              {FWD_IMPLICIT_PRECOMP_GEMM, true, 1.0f, filt, true, true, true},
              {FWD_IMPLICIT_GEMM, true, 1.5f, 0, false, true, false},
              {FWD_FFT, true, 0, 0, false, false, false}};
    case BWD_DATA:
      return {{BWD_DATA_ALGO_0, false, 0.9f, 0, false, true, false},
              {BWD_DATA_ALGO_1, true, 1.0f, 4 * (size_t)g.N * g.H * g.W * g.C, true, true, true},
              {BWD_DATA_FFT_TILING, true, 0, 0, false, false, false}};
    case BWD_FILTER:
      return {{BWD_FILTER_ALGO_3, false, 0.85f, filt, true, true, true},
              {BWD_FILTER_ALGO_0, false, 0.9f, 0, false, true, false},
              {BWD_FILTER_ALGO_1, true, 1.0f, filt, true, true, true},
              {BWD_FILTER_FFT, true, 0, 0, false, false, false}};
  }
  return {};
}

int algo_count(Dir d) { return d == FWD ? (int)FWD_COUNT : d == BWD_DATA ? (int)BWD_DATA_COUNT : (int)BWD_FILTER_COUNT; }

// lookup_algo finds algo for g: BAD_PARAM out of the enum's range,
// NOT_SUPPORTED for one this double (like cuDNN for some shapes) lacks.
int lookup_algo(Dir d, const Geom& g, int algo, Algo* out) {
  if (algo < 0 || algo >= algo_count(d)) return CUDNN_STATUS_BAD_PARAM;
  for (const Algo& a : algos(d, g))
    if (a.algo == algo) {
      if (!a.ok) return CUDNN_STATUS_NOT_SUPPORTED;
      *out = a;
      return CUDNN_STATUS_SUCCESS;
    }
  return CUDNN_STATUS_NOT_SUPPORTED;
}

bool uses_tf32(const Conv* cv) {
  return cv->math != CUDNN_FMA_MATH && !rstd_hooks::tf32_disabled();
}

int find(Dir d, void* handle, const Tensor* x, const Filter* w, const Conv* cv, const Tensor* y, int req, int* ret,
         Perf* perf) {
  if (!live<Handle>(handles, handle)) return CUDNN_STATUS_BAD_PARAM;
  if (!ret || !perf) return CUDNN_STATUS_BAD_PARAM_NULL_POINTER;
  if (req <= 0) return CUDNN_STATUS_BAD_PARAM;
  Geom g;
  if (int s = geometry(x, w, cv, y, &g)) return s;
  // A nominal time: the product's flops at 10 TFLOP/s, in milliseconds.
  const double flops = 2.0 * g.N * g.OH * g.OW * g.K * g.R * g.S * g.Cg;
  const float base = (float)std::max(1e-3, flops / 1e10);
  int forced = -1;
  if (const char* e = getenv("RSTD_CUDNN_FIND_MATH"); e && *e) forced = atoi(e);
  int n = 0;
  for (const Algo& a : algos(d, g)) {
    if (n == req) break;
    Perf p;
    memset(&p, 0, sizeof p);
    p.algo = a.algo;
    p.status = a.ok ? CUDNN_STATUS_SUCCESS : CUDNN_STATUS_NOT_SUPPORTED;
    p.time = a.ok ? a.rel * base : -1.0f;
    p.memory = a.ok ? a.ws : 0;
    p.determinism = a.det ? CUDNN_DETERMINISTIC : CUDNN_NON_DETERMINISTIC;
    p.mathType = cv->math;
    if ((cv->math == CUDNN_TENSOR_OP_MATH || cv->math == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) && !a.tensor)
      p.mathType = CUDNN_DEFAULT_MATH;
    if (forced >= 0) p.mathType = forced;
    perf[n++] = p;
  }
  *ret = n;
  return CUDNN_STATUS_SUCCESS;
}

int workspace_size(Dir d, void* handle, const Tensor* x, const Filter* w, const Conv* cv, const Tensor* y, int algo,
                   size_t* size) {
  if (!live<Handle>(handles, handle)) return CUDNN_STATUS_BAD_PARAM;
  if (!size) return CUDNN_STATUS_BAD_PARAM_NULL_POINTER;
  Geom g;
  if (int s = geometry(x, w, cv, y, &g)) return s;
  Algo a;
  if (int s = lookup_algo(d, g, algo, &a)) return s;
  *size = a.ws;
  return CUDNN_STATUS_SUCCESS;
}

// ---- The arithmetic, on packed buffers ----
//
// X is N×H×W×C (NHWC), F is K×R×S×Cg (KRSC) already flipped for
// CUDNN_CONVOLUTION mode, Y is N×OH×OW×K. Output pixels are processed in
// tiles of kTile so that a filter row is reused across the tile while it
// is in L1.

const int kTile = 32;

using rstd_hooks::axpy;

// input_rows sets rows[p] to the start of x's pixel under tap (r, s) of
// output pixel pix0+p, or nullptr where the tap falls in the padding.
template <class T>
void input_rows(const Geom& g, T* x, int pix0, int np, int r, int s, T** rows) {
  for (int p = 0; p < np; p++) {
    int pix = pix0 + p;
    int ow = pix % g.OW, oh = (pix / g.OW) % g.OH, n = pix / (g.OW * g.OH);
    int ih = oh * g.u - g.ph + r * g.dh, iw = ow * g.v - g.pw + s * g.dw;
    rows[p] = (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W) ? x + (((size_t)n * g.H + ih) * g.W + iw) * g.C : nullptr;
  }
}

// forward: Y (zeroed) += conv(X, F). Wt is scratch for F transposed to
// G×(R·S)×Cg×Kg, so the innermost loop runs along output channels. rot
// starts each element's sum at a different tap (non-deterministic algos).
void forward(const Geom& g, const float* X, const float* F, float* Wt, float* Y, int rot) {
  const int RS = g.R * g.S;
  for (int k = 0; k < g.K; k++) {
    int gi = k / g.Kg, kk = k % g.Kg;
    for (int rs = 0; rs < RS; rs++)
      for (int c = 0; c < g.Cg; c++)
        Wt[(((size_t)gi * RS + rs) * g.Cg + c) * g.Kg + kk] = F[((size_t)k * RS + rs) * g.Cg + c];
  }
  const int npix = g.N * g.OH * g.OW;
  const float* rows[kTile];
  for (int pix0 = 0; pix0 < npix; pix0 += kTile) {
    const int np = std::min(kTile, npix - pix0);
    for (int gi = 0; gi < g.G; gi++)
      for (int t = 0; t < RS; t++) {
        const int rs = (t + rot) % RS;
        input_rows(g, X, pix0, np, rs / g.S, rs % g.S, rows);
        for (int c = 0; c < g.Cg; c++) {
          const float* wrow = Wt + (((size_t)gi * RS + rs) * g.Cg + c) * g.Kg;
          for (int p = 0; p < np; p++)
            if (rows[p]) axpy(Y + (size_t)(pix0 + p) * g.K + gi * g.Kg, wrow, rows[p][gi * g.Cg + c], g.Kg);
        }
      }
  }
}

// tile_order visits tile i of n at position (i + rot) mod n: the sums over
// output pixels of the backward passes change order with rot.
inline int tile_at(int i, int ntiles, int rot) { return (i + rot) % ntiles; }

// backward_data: DX (zeroed) += conv_transpose(DY, F), scattering each
// output pixel's gradient back through every tap.
void backward_data(const Geom& g, const float* DY, const float* F, float* DX, int rot) {
  const int npix = g.N * g.OH * g.OW, ntiles = (npix + kTile - 1) / kTile;
  float* rows[kTile];
  for (int i = 0; i < ntiles; i++) {
    const int pix0 = tile_at(i, ntiles, rot) * kTile, np = std::min(kTile, npix - pix0);
    for (int r = 0; r < g.R; r++)
      for (int s = 0; s < g.S; s++) {
        input_rows(g, DX, pix0, np, r, s, rows);
        for (int k = 0; k < g.K; k++) {
          const int gi = k / g.Kg;
          const float* frow = F + (((size_t)k * g.R + r) * g.S + s) * g.Cg;
          for (int p = 0; p < np; p++)
            if (rows[p]) axpy(rows[p] + gi * g.Cg, frow, DY[(size_t)(pix0 + p) * g.K + k], g.Cg);
        }
      }
  }
}

// backward_filter: DF (zeroed, K×R×S×Cg) += Σ over pixels of dy ⊗ x.
void backward_filter(const Geom& g, const float* X, const float* DY, float* DF, int rot) {
  const int npix = g.N * g.OH * g.OW, ntiles = (npix + kTile - 1) / kTile;
  const float* rows[kTile];
  for (int i = 0; i < ntiles; i++) {
    const int pix0 = tile_at(i, ntiles, rot) * kTile, np = std::min(kTile, npix - pix0);
    for (int r = 0; r < g.R; r++)
      for (int s = 0; s < g.S; s++) {
        input_rows(g, X, pix0, np, r, s, rows);
        for (int k = 0; k < g.K; k++) {
          const int gi = k / g.Kg;
          float* frow = DF + (((size_t)k * g.R + r) * g.S + s) * g.Cg;
          for (int p = 0; p < np; p++)
            if (rows[p]) axpy(frow, rows[p] + gi * g.Cg, DY[(size_t)(pix0 + p) * g.K + k], g.Cg);
        }
      }
  }
}

// Packing between descriptors' layouts and the packed buffers.

// pack_tensor copies t's N×C×H×W elements at src into NHWC order,
// rounding to TF32 when asked.
void pack_tensor(const Tensor& t, const float* src, float* dst, bool tf32) {
  size_t i = 0;
  for (int n = 0; n < t.n; n++)
    for (int h = 0; h < t.h; h++)
      for (int w = 0; w < t.w; w++)
        for (int c = 0; c < t.c; c++) {
          float v = src[n * t.ns + c * t.cs + h * t.hs + w * t.ws];
          dst[i++] = tf32 ? rstd_hooks::tf32(v) : v;
        }
}

// unpack_tensor writes alpha·acc + beta·dst into t's layout at dst.
void unpack_tensor(const Tensor& t, const float* acc, float* dst, float alpha, float beta) {
  size_t i = 0;
  for (int n = 0; n < t.n; n++)
    for (int h = 0; h < t.h; h++)
      for (int w = 0; w < t.w; w++)
        for (int c = 0; c < t.c; c++) {
          float* o = dst + n * t.ns + c * t.cs + h * t.hs + w * t.ws;
          float v = alpha * acc[i++];
          if (beta != 0.0f) v += beta * *o;
          *o = v;
        }
}

// The filter element F[k][r][s][c] of the packed (cross-correlation) form
// is f's element at (k, c, r', s') with r', s' flipped in convolution mode.
inline long long filter_index(const Filter& f, bool flip, int k, int r, int s, int c) {
  int rr = flip ? f.r - 1 - r : r, ss = flip ? f.s - 1 - s : s;
  return k * f.ks + c * f.cs + rr * f.rs + ss * f.ss;
}

void pack_filter(const Filter& f, bool flip, const float* src, float* dst, bool tf32) {
  size_t i = 0;
  for (int k = 0; k < f.k; k++)
    for (int r = 0; r < f.r; r++)
      for (int s = 0; s < f.s; s++)
        for (int c = 0; c < f.c; c++) {
          float v = src[filter_index(f, flip, k, r, s, c)];
          dst[i++] = tf32 ? rstd_hooks::tf32(v) : v;
        }
}

void unpack_filter(const Filter& f, bool flip, const float* acc, float* dst, float alpha, float beta) {
  size_t i = 0;
  for (int k = 0; k < f.k; k++)
    for (int r = 0; r < f.r; r++)
      for (int s = 0; s < f.s; s++)
        for (int c = 0; c < f.c; c++) {
          float* o = dst + filter_index(f, flip, k, r, s, c);
          float v = alpha * acc[i++];
          if (beta != 0.0f) v += beta * *o;
          *o = v;
        }
}

// rotation is the start offset of a non-deterministic algorithm's sums:
// it changes with every call, as the order of atomic adds does on a GPU.
std::atomic<unsigned> calls{0};
int rotation(const Algo& a) { return a.det ? 0 : (int)(1 + calls.fetch_add(1) % 7); }

bool aligned(const void* p, size_t to) { return ((uintptr_t)p % to) == 0; }

// Everything one queued convolution needs, by value.
struct Job {
  Dir dir;
  Geom g;
  Tensor x, y;  // x: the input side (x or dx); y: the output side (y or dy)
  Filter w;
  const float* in1;  // fwd: x, bwd data: w, bwd filter: x
  const float* in2;  // fwd: w, bwd data: dy, bwd filter: dy
  float* out;        // fwd: y, bwd data: dx, bwd filter: dw
  float* ws;
  size_t wsBytes;
  float alpha, beta;
  bool tf32;
  int rot;
};

void run(const Job& j) {
  const Geom& g = j.g;
  const size_t xn = (size_t)g.N * g.H * g.W * g.C, yn = (size_t)g.N * g.OH * g.OW * g.K,
               fn = (size_t)g.K * g.R * g.S * g.Cg;
  std::vector<float> a, b, acc, scratch;
  switch (j.dir) {
    case FWD: {
      a.resize(xn), b.resize(fn), acc.assign(yn, 0.0f);
      pack_tensor(j.x, j.in1, a.data(), j.tf32);
      pack_filter(j.w, g.flip, j.in2, b.data(), j.tf32);
      float* wt = j.ws;  // the transposed filter lives in the workspace when there is one
      if (j.wsBytes < fn * 4) scratch.resize(fn), wt = scratch.data();
      forward(g, a.data(), b.data(), wt, acc.data(), j.rot);
      unpack_tensor(j.y, acc.data(), j.out, j.alpha, j.beta);
      break;
    }
    case BWD_DATA: {
      b.resize(fn), a.resize(yn);
      pack_filter(j.w, g.flip, j.in1, b.data(), j.tf32);
      pack_tensor(j.y, j.in2, a.data(), j.tf32);
      float* dx = j.ws;  // the accumulator lives in the workspace when there is one
      if (j.wsBytes < xn * 4) acc.resize(xn), dx = acc.data();
      std::fill(dx, dx + xn, 0.0f);
      backward_data(g, a.data(), b.data(), dx, j.rot);
      unpack_tensor(j.x, dx, j.out, j.alpha, j.beta);
      break;
    }
    case BWD_FILTER: {
      a.resize(xn), b.resize(yn);
      pack_tensor(j.x, j.in1, a.data(), j.tf32);
      pack_tensor(j.y, j.in2, b.data(), j.tf32);
      float* df = j.ws;
      if (j.wsBytes < fn * 4) acc.resize(fn), df = acc.data();
      std::fill(df, df + fn, 0.0f);
      backward_filter(g, a.data(), b.data(), df, j.rot);
      unpack_filter(j.w, g.flip, df, j.out, j.alpha, j.beta);
      break;
    }
  }
}

const char* kCall[] = {"cudnnConvolutionForward", "cudnnConvolutionBackwardData", "cudnnConvolutionBackwardFilter"};

// convolve validates one call, checks its operands' ranges and queues it.
// x/y are the descriptors of the input and output sides of the forward
// problem whatever the direction; in1/in2/out as in Job.
int convolve(Dir d, void* handle, const void* alpha, const Tensor* x, const Filter* w, const Conv* cv, const Tensor* y,
             int algo, void* ws, size_t wsBytes, const void* beta, const void* in1, const void* in2, void* out) {
  const char* call = kCall[d];
  auto* h = live<Handle>(handles, handle);
  if (!h) return CUDNN_STATUS_BAD_PARAM;
  if (!alpha || !beta || !in1 || !in2 || !out) return CUDNN_STATUS_BAD_PARAM_NULL_POINTER;
  Geom g;
  if (int s = geometry(x, w, cv, y, &g)) return s;
  Algo a;
  if (int s = lookup_algo(d, g, algo, &a)) return s;
  if (wsBytes < a.ws || (a.ws > 0 && !ws)) return CUDNN_STATUS_BAD_PARAM;  // too small a workspace
  const size_t al = a.align16 ? 16 : 4;
  if (!aligned(in1, al) || !aligned(in2, al) || !aligned(out, al) || (a.ws > 0 && !aligned(ws, al)))
    return CUDNN_STATUS_BAD_PARAM_MISALIGNED_POINTER;
  const auto* hk = rstd_hooks::get();
  if (!hk) return CUDNN_STATUS_NOT_INITIALIZED;
  const size_t xb = tensor_bytes(x), yb = tensor_bytes(y), wb = filter_bytes(w);
  bool ok = true;
  switch (d) {
    case FWD:
      ok = rstd_hooks::check(hk, in1, xb, call, "x") && rstd_hooks::check(hk, in2, wb, call, "w") &&
           rstd_hooks::check(hk, out, yb, call, "y");
      break;
    case BWD_DATA:
      ok = rstd_hooks::check(hk, in1, wb, call, "w") && rstd_hooks::check(hk, in2, yb, call, "dy") &&
           rstd_hooks::check(hk, out, xb, call, "dx");
      break;
    case BWD_FILTER:
      ok = rstd_hooks::check(hk, in1, xb, call, "x") && rstd_hooks::check(hk, in2, yb, call, "dy") &&
           rstd_hooks::check(hk, out, wb, call, "dw");
      break;
  }
  // Only the workspace the algorithm uses is touched.
  ok = ok && rstd_hooks::check(hk, ws, a.ws, call, "workspace");
  if (!ok) return CUDNN_STATUS_EXECUTION_FAILED;
  Job j{d, g, *x, *y, *w, (const float*)in1, (const float*)in2, (float*)out, (float*)ws, a.ws,
        *(const float*)alpha, *(const float*)beta, uses_tf32(cv), rotation(a)};
  if (!rstd_hooks::enqueue(hk, h->stream, [j]() { run(j); }, call)) return CUDNN_STATUS_EXECUTION_FAILED;
  return CUDNN_STATUS_SUCCESS;
}

const char* status_name(int s) {
  switch (s) {
    case CUDNN_STATUS_SUCCESS: return "CUDNN_STATUS_SUCCESS";
    case CUDNN_STATUS_NOT_INITIALIZED: return "CUDNN_STATUS_NOT_INITIALIZED";
    case CUDNN_STATUS_BAD_PARAM: return "CUDNN_STATUS_BAD_PARAM";
    case CUDNN_STATUS_BAD_PARAM_NULL_POINTER: return "CUDNN_STATUS_BAD_PARAM_NULL_POINTER";
    case CUDNN_STATUS_BAD_PARAM_MISALIGNED_POINTER: return "CUDNN_STATUS_BAD_PARAM_MISALIGNED_POINTER";
    case CUDNN_STATUS_NOT_SUPPORTED: return "CUDNN_STATUS_NOT_SUPPORTED";
    case CUDNN_STATUS_NOT_SUPPORTED_DATA_TYPE: return "CUDNN_STATUS_NOT_SUPPORTED_DATA_TYPE";
    case CUDNN_STATUS_INTERNAL_ERROR: return "CUDNN_STATUS_INTERNAL_ERROR";
    case CUDNN_STATUS_EXECUTION_FAILED: return "CUDNN_STATUS_EXECUTION_FAILED";
  }
  return "CUDNN_UNKNOWN_STATUS_FOUND";
}

}  // namespace

#define EXPORT extern "C" __attribute__((visibility("default")))

EXPORT size_t cudnnGetVersion(void) { return kVersion; }

EXPORT const char* cudnnGetErrorString(int status) { return status_name(status); }

EXPORT int cudnnCreate(void** handle) {
  if (!handle) return CUDNN_STATUS_BAD_PARAM_NULL_POINTER;
  if (!rstd_hooks::get()) return CUDNN_STATUS_NOT_INITIALIZED;  // no CUDA context to attach to
  return create<Handle>(handles, handle);
}
EXPORT int cudnnDestroy(void* handle) { return destroy<Handle>(handles, handle); }

EXPORT int cudnnSetStream(void* handle, void* stream) {
  auto* h = live<Handle>(handles, handle);
  if (!h) return CUDNN_STATUS_BAD_PARAM;
  h->stream = stream;
  return CUDNN_STATUS_SUCCESS;
}
EXPORT int cudnnGetStream(void* handle, void** stream) {
  auto* h = live<Handle>(handles, handle);
  if (!h) return CUDNN_STATUS_BAD_PARAM;
  if (!stream) return CUDNN_STATUS_BAD_PARAM_NULL_POINTER;
  *stream = h->stream;
  return CUDNN_STATUS_SUCCESS;
}

EXPORT int cudnnCreateTensorDescriptor(void** d) { return create<Tensor>(tensors, d); }
EXPORT int cudnnDestroyTensorDescriptor(void* d) { return destroy<Tensor>(tensors, d); }

EXPORT int cudnnSetTensor4dDescriptor(void* d, int format, int dtype, int n, int c, int h, int w) {
  auto* t = live<Tensor>(tensors, d);
  if (!t) return CUDNN_STATUS_BAD_PARAM;
  if ((format != CUDNN_TENSOR_NCHW && format != CUDNN_TENSOR_NHWC) || !valid_dtype(dtype) || n <= 0 || c <= 0 ||
      h <= 0 || w <= 0)
    return CUDNN_STATUS_BAD_PARAM;
  if ((long long)n * c * h * w > (1LL << 31) - 1) return CUDNN_STATUS_NOT_SUPPORTED;  // cuDNN's 2 Gi-element limit
  Tensor r;
  r.set = true, r.dtype = dtype, r.format = format, r.n = n, r.c = c, r.h = h, r.w = w;
  if (format == CUDNN_TENSOR_NCHW)
    r.ws = 1, r.hs = w, r.cs = (long long)h * w, r.ns = (long long)c * h * w;
  else
    r.cs = 1, r.ws = c, r.hs = (long long)w * c, r.ns = (long long)h * w * c;
  *t = r;
  return CUDNN_STATUS_SUCCESS;
}

EXPORT int cudnnCreateFilterDescriptor(void** d) { return create<Filter>(filters, d); }
EXPORT int cudnnDestroyFilterDescriptor(void* d) { return destroy<Filter>(filters, d); }

EXPORT int cudnnSetFilter4dDescriptor(void* d, int dtype, int format, int k, int c, int h, int w) {
  auto* f = live<Filter>(filters, d);
  if (!f) return CUDNN_STATUS_BAD_PARAM;
  if ((format != CUDNN_TENSOR_NCHW && format != CUDNN_TENSOR_NHWC) || !valid_dtype(dtype) || k <= 0 || c <= 0 ||
      h <= 0 || w <= 0)
    return CUDNN_STATUS_BAD_PARAM;
  Filter r;
  r.set = true, r.dtype = dtype, r.format = format, r.k = k, r.c = c, r.r = h, r.s = w;
  if (format == CUDNN_TENSOR_NCHW)  // KCRS
    r.ss = 1, r.rs = w, r.cs = (long long)h * w, r.ks = (long long)c * h * w;
  else  // KRSC
    r.cs = 1, r.ss = c, r.rs = (long long)w * c, r.ks = (long long)h * w * c;
  *f = r;
  return CUDNN_STATUS_SUCCESS;
}

EXPORT int cudnnCreateConvolutionDescriptor(void** d) { return create<Conv>(convs, d); }
EXPORT int cudnnDestroyConvolutionDescriptor(void* d) { return destroy<Conv>(convs, d); }

EXPORT int cudnnSetConvolution2dDescriptor(void* d, int padh, int padw, int u, int v, int dilh, int dilw, int mode,
                                           int ctype) {
  auto* cv = live<Conv>(convs, d);
  if (!cv) return CUDNN_STATUS_BAD_PARAM;
  if (padh < 0 || padw < 0 || u <= 0 || v <= 0 || dilh <= 0 || dilw <= 0 ||
      (mode != CUDNN_CONVOLUTION && mode != CUDNN_CROSS_CORRELATION) || !valid_dtype(ctype))
    return CUDNN_STATUS_BAD_PARAM;
  // Math type and group count are separate settings and survive this call.
  cv->set = true, cv->padh = padh, cv->padw = padw, cv->u = u, cv->v = v, cv->dilh = dilh, cv->dilw = dilw;
  cv->mode = mode, cv->ctype = ctype;
  return CUDNN_STATUS_SUCCESS;
}

EXPORT int cudnnSetConvolutionMathType(void* d, int math) {
  auto* cv = live<Conv>(convs, d);
  if (!cv) return CUDNN_STATUS_BAD_PARAM;
  if (math < CUDNN_DEFAULT_MATH || math > CUDNN_FMA_MATH) return CUDNN_STATUS_BAD_PARAM;
  cv->math = math;
  return CUDNN_STATUS_SUCCESS;
}
EXPORT int cudnnGetConvolutionMathType(void* d, int* math) {
  auto* cv = live<Conv>(convs, d);
  if (!cv) return CUDNN_STATUS_BAD_PARAM;
  if (!math) return CUDNN_STATUS_BAD_PARAM_NULL_POINTER;
  *math = cv->math;
  return CUDNN_STATUS_SUCCESS;
}

EXPORT int cudnnSetConvolutionGroupCount(void* d, int groups) {
  auto* cv = live<Conv>(convs, d);
  if (!cv) return CUDNN_STATUS_BAD_PARAM;
  if (groups < 1) return CUDNN_STATUS_BAD_PARAM;
  cv->groups = groups;
  return CUDNN_STATUS_SUCCESS;
}

EXPORT int cudnnGetConvolution2dForwardOutputDim(void* d, void* xd, void* wd, int* n, int* c, int* h, int* w) {
  auto* cv = live<Conv>(convs, d);
  auto* x = live<Tensor>(tensors, xd);
  auto* f = live<Filter>(filters, wd);
  if (!cv || !x || !f || !cv->set || !x->set || !f->set) return CUDNN_STATUS_BAD_PARAM;
  if (!n || !c || !h || !w) return CUDNN_STATUS_BAD_PARAM_NULL_POINTER;
  if (x->c != f->c * cv->groups) return CUDNN_STATUS_BAD_PARAM;
  int oh, ow;
  if (int s = out_dim(x->h, cv->padh, f->r, cv->dilh, cv->u, &oh)) return s;
  if (int s = out_dim(x->w, cv->padw, f->s, cv->dilw, cv->v, &ow)) return s;
  *n = x->n, *c = f->k, *h = oh, *w = ow;
  return CUDNN_STATUS_SUCCESS;
}

EXPORT int cudnnFindConvolutionForwardAlgorithm(void* h, void* xd, void* wd, void* cd, void* yd, int req, int* ret,
                                                Perf* perf) {
  return find(FWD, h, live<Tensor>(tensors, xd), live<Filter>(filters, wd), live<Conv>(convs, cd),
              live<Tensor>(tensors, yd), req, ret, perf);
}
EXPORT int cudnnFindConvolutionBackwardDataAlgorithm(void* h, void* wd, void* dyd, void* cd, void* dxd, int req,
                                                     int* ret, Perf* perf) {
  return find(BWD_DATA, h, live<Tensor>(tensors, dxd), live<Filter>(filters, wd), live<Conv>(convs, cd),
              live<Tensor>(tensors, dyd), req, ret, perf);
}
EXPORT int cudnnFindConvolutionBackwardFilterAlgorithm(void* h, void* xd, void* dyd, void* cd, void* dwd, int req,
                                                       int* ret, Perf* perf) {
  return find(BWD_FILTER, h, live<Tensor>(tensors, xd), live<Filter>(filters, dwd), live<Conv>(convs, cd),
              live<Tensor>(tensors, dyd), req, ret, perf);
}

EXPORT int cudnnGetConvolutionForwardWorkspaceSize(void* h, void* xd, void* wd, void* cd, void* yd, int algo,
                                                   size_t* size) {
  return workspace_size(FWD, h, live<Tensor>(tensors, xd), live<Filter>(filters, wd), live<Conv>(convs, cd),
                        live<Tensor>(tensors, yd), algo, size);
}
EXPORT int cudnnGetConvolutionBackwardDataWorkspaceSize(void* h, void* wd, void* dyd, void* cd, void* dxd, int algo,
                                                        size_t* size) {
  return workspace_size(BWD_DATA, h, live<Tensor>(tensors, dxd), live<Filter>(filters, wd), live<Conv>(convs, cd),
                        live<Tensor>(tensors, dyd), algo, size);
}
EXPORT int cudnnGetConvolutionBackwardFilterWorkspaceSize(void* h, void* xd, void* dyd, void* cd, void* dwd, int algo,
                                                          size_t* size) {
  return workspace_size(BWD_FILTER, h, live<Tensor>(tensors, xd), live<Filter>(filters, dwd), live<Conv>(convs, cd),
                        live<Tensor>(tensors, dyd), algo, size);
}

EXPORT int cudnnConvolutionForward(void* h, const void* alpha, void* xd, const void* x, void* wd, const void* w,
                                   void* cd, int algo, void* ws, size_t wsBytes, const void* beta, void* yd, void* y) {
  return convolve(FWD, h, alpha, live<Tensor>(tensors, xd), live<Filter>(filters, wd), live<Conv>(convs, cd),
                  live<Tensor>(tensors, yd), algo, ws, wsBytes, beta, x, w, y);
}
EXPORT int cudnnConvolutionBackwardData(void* h, const void* alpha, void* wd, const void* w, void* dyd, const void* dy,
                                        void* cd, int algo, void* ws, size_t wsBytes, const void* beta, void* dxd,
                                        void* dx) {
  return convolve(BWD_DATA, h, alpha, live<Tensor>(tensors, dxd), live<Filter>(filters, wd), live<Conv>(convs, cd),
                  live<Tensor>(tensors, dyd), algo, ws, wsBytes, beta, w, dy, dx);
}
EXPORT int cudnnConvolutionBackwardFilter(void* h, const void* alpha, void* xd, const void* x, void* dyd,
                                          const void* dy, void* cd, int algo, void* ws, size_t wsBytes,
                                          const void* beta, void* dwd, void* dw) {
  return convolve(BWD_FILTER, h, alpha, live<Tensor>(tensors, xd), live<Filter>(filters, dwd), live<Conv>(convs, cd),
                  live<Tensor>(tensors, dyd), algo, ws, wsBytes, beta, x, dy, dw);
}
