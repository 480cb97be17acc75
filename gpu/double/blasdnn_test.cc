// Tests of the cuBLAS and cuDNN doubles (libcublas.so.13, libcudnn.so.9)
// against naive references written independently here, through the
// exported C symbols only (dlopen/dlsym, as the backend's purego does).
// The executable stands in for the driver double: it defines rstd_enqueue,
// rstd_check_range, rstd_fail and rstd_sync itself (found by the libraries
// through dlsym(RTLD_DEFAULT), hence -rdynamic), with "device" memory in a
// registry and per-stream queues that run only at rstd_sync.
//
// Build and run (from the repository root):
//   g++ -O2 -std=c++17 -rdynamic -Wall -o gpu/double/lib/blasdnn_test gpu/double/blasdnn_test.cc -ldl
//   gpu/double/lib/blasdnn_test gpu/double/lib
// It prints one line per group of checks and "PASS"/"FAIL" last (exit 1).

#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <deque>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

// ---- A miniature driver: memory registry and queued streams ----

static std::map<uintptr_t, size_t> allocs;  // base → bytes
static std::map<void*, std::deque<std::pair<void (*)(void*), void*>>> queues;
static int range_failures = 0, run_failures = 0;

extern "C" int rstd_enqueue(void* stream, void (*fn)(void*), void* arg) {
  queues[stream].push_back({fn, arg});
  return 0;
}
extern "C" int rstd_check_range(const void* p, size_t bytes, const char* call) {
  uintptr_t a = (uintptr_t)p;
  auto it = allocs.upper_bound(a);
  if (it != allocs.begin()) {
    --it;
    if (a >= it->first && a - it->first + (bytes ? bytes : 1) <= it->second) return 0;
  }
  range_failures++;
  fprintf(stderr, "  (expected in the bad-range checks) %s: [%p, +%zu) outside every allocation\n", call, p, bytes);
  return 700;
}
extern "C" void rstd_fail(const char* call, const char* msg) {
  run_failures++;
  fprintf(stderr, "%s: %s\n", call, msg);
}
extern "C" int rstd_sync(void* stream) {
  auto& q = queues[stream];
  while (!q.empty()) {
    auto w = q.front();
    q.pop_front();
    w.first(w.second);
  }
  return 0;
}

template <class T>
static T* dev_alloc(size_t n, size_t offset_bytes = 0) {
  size_t bytes = n * sizeof(T) + offset_bytes;
  char* p = (char*)aligned_alloc(64, (bytes + 63) / 64 * 64 + 64);
  allocs[(uintptr_t)p] = bytes;
  return (T*)(p + offset_bytes);
}
static void dev_free_all() {
  for (auto& a : allocs) free((void*)a.first);
  allocs.clear();
}

// ---- Checks ----

static int failures = 0, checks = 0;
#define CHECK(cond, ...)                                     \
  do {                                                       \
    checks++;                                                \
    if (!(cond)) {                                           \
      failures++;                                            \
      if (failures < 40) {                                   \
        fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
        fprintf(stderr, __VA_ARGS__);                        \
        fprintf(stderr, "\n");                               \
      }                                                      \
    }                                                        \
  } while (0)

static void* lib_sym(void* lib, const char* name) {
  void* p = dlsym(lib, name);
  if (!p) {
    fprintf(stderr, "missing symbol %s\n", name);
    exit(1);
  }
  return p;
}
#define BIND(lib, name) auto name = (decltype(&name##_t))lib_sym(lib, #name)

static std::mt19937_64 rng(12345);
static float randn() { return std::normal_distribution<float>(0, 1)(rng); }
static int randint(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); }
static const float kNaN = NAN;
static const double u32 = 0x1p-24;

// ---- cuBLAS ----

int cublasCreate_v2_t(void**);
int cublasDestroy_v2_t(void*);
int cublasSetStream_v2_t(void*, void*);
int cublasGetVersion_v2_t(void*, int*);
int cublasSetMathMode_t(void*, int);
int cublasSgemm_v2_t(void*, int, int, int, int, int, const float*, const float*, int, const float*, int, const float*,
                     float*, int);
int cublasSgemmStridedBatched_t(void*, int, int, int, int, int, const float*, const float*, int, long long,
                                const float*, int, long long, const float*, float*, int, long long, int);

static void test_cublas(void* lib) {
  BIND(lib, cublasCreate_v2);
  BIND(lib, cublasDestroy_v2);
  BIND(lib, cublasSetStream_v2);
  BIND(lib, cublasGetVersion_v2);
  BIND(lib, cublasSetMathMode);
  BIND(lib, cublasSgemm_v2);
  BIND(lib, cublasSgemmStridedBatched);
  void* h = nullptr;
  CHECK(cublasCreate_v2(&h) == 0 && h, "cublasCreate");
  void* stream = (void*)0x5151;
  CHECK(cublasSetStream_v2(h, stream) == 0, "cublasSetStream");
  int ver = 0;
  CHECK(cublasGetVersion_v2(h, &ver) == 0 && ver >= 130000 && ver < 140000, "cublasGetVersion %d", ver);
  CHECK(cublasSetMathMode(h, 2) == 0, "pedantic math");

  // Random problems, every transpose pair, padded leading dimensions,
  // strided batches, zero sizes; against a double-precision reference.
  int cases = 0;
  for (int trial = 0; trial < 400; trial++) {
    const int ta = trial % 2, tb = (trial / 2) % 2;
    const bool big = trial % 37 == 0;
    const int m = big ? randint(60, 140) : randint(0, 9), n = big ? randint(60, 140) : randint(0, 9);
    const int k = big ? randint(200, 600) : randint(0, 9);
    const int batch = trial % 3 == 0 ? randint(0, 4) : 1;
    const int ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
    const int lda = std::max(1, ar) + randint(0, 3), ldb = std::max(1, br) + randint(0, 3),
              ldc = std::max(1, m) + randint(0, 3);
    const long long sa = (long long)lda * ac + randint(0, 5), sb = (long long)ldb * bc + randint(0, 5),
                    sc = (long long)ldc * n + randint(0, 5);
    const size_t na = sa * std::max(batch, 1), nb = sb * std::max(batch, 1), nc = sc * std::max(batch, 1);
    float* A = dev_alloc<float>(na + 1);
    float* B = dev_alloc<float>(nb + 1);
    float* C = dev_alloc<float>(nc + 1);
    // Padding is NaN: reading it poisons the result.
    for (size_t i = 0; i < na; i++) A[i] = kNaN;
    for (size_t i = 0; i < nb; i++) B[i] = kNaN;
    for (size_t i = 0; i < nc; i++) C[i] = kNaN;
    for (int q = 0; q < std::max(batch, 1); q++) {
      for (int j = 0; j < ac; j++)
        for (int i = 0; i < ar; i++) A[q * sa + i + (size_t)j * lda] = randn();
      for (int j = 0; j < bc; j++)
        for (int i = 0; i < br; i++) B[q * sb + i + (size_t)j * ldb] = randn();
    }
    const float alpha = trial % 5 == 0 ? 1.0f : randn();
    const float beta = trial % 4 == 0 ? 0.0f : randn();  // beta = 0: C's NaNs must not leak
    if (beta != 0)
      for (int q = 0; q < std::max(batch, 1); q++)
        for (int j = 0; j < n; j++)
          for (int i = 0; i < m; i++) C[q * sc + i + (size_t)j * ldc] = randn();
    std::vector<float> C0(C, C + nc);
    int r = batch == 1 && trial % 2 == 0
                ? cublasSgemm_v2(h, ta, tb, m, n, k, &alpha, A, lda, B, ldb, &beta, C, ldc)
                : cublasSgemmStridedBatched(h, ta, tb, m, n, k, &alpha, A, lda, sa, B, ldb, sb, &beta, C, ldc, sc,
                                            batch);
    CHECK(r == 0, "gemm status %d (m%d n%d k%d ta%d tb%d)", r, m, n, k, ta, tb);
    // Queued on the stream: nothing changes before it is synchronised.
    bool unchanged = memcmp(C, C0.data(), nc * 4) == 0;
    CHECK(unchanged, "gemm wrote C before the stream was synchronised");
    rstd_sync(stream);
    for (int q = 0; q < batch; q++)
      for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
          double s = 0, mag = 0;
          for (int p = 0; p < k; p++) {
            double a = ta ? A[q * sa + p + (size_t)i * lda] : A[q * sa + i + (size_t)p * lda];
            double b = tb ? B[q * sb + j + (size_t)p * ldb] : B[q * sb + p + (size_t)j * ldb];
            s += a * b, mag += fabs(a * b);
          }
          double c0 = C0[q * sc + i + (size_t)j * ldc];
          double want = alpha * s + (beta != 0 ? beta * c0 : 0);
          double tol = (k + 3) * u32 * (fabs(alpha) * mag + fabs(beta * (beta != 0 ? c0 : 0))) + 1e-30;
          double got = C[q * sc + i + (size_t)j * ldc];
          CHECK(fabs(got - want) <= tol, "gemm m%d n%d k%d ta%d tb%d batch %d/%d C(%d,%d) = %g, want %g", m, n, k,
                ta, tb, q, batch, i, j, got, want);
        }
    // Nothing outside the matrices was written.
    for (int q = 0; q < std::max(batch, 1); q++)
      for (long long e = 0; e < sc; e++) {
        long long j = e / ldc, i = e % ldc;
        bool inside = q < batch && j < n && i < m;
        if (!inside) {
          bool same = (isnan(C[q * sc + e]) && isnan(C0[q * sc + e])) || C[q * sc + e] == C0[q * sc + e];
          CHECK(same, "gemm wrote outside C at batch %d element %lld", q, e);
        }
      }
    cases++;
  }

  // alpha = 0: A and B are not read (they are NaN); k = 0: C = beta·C.
  {
    float* A = dev_alloc<float>(16);
    float* B = dev_alloc<float>(16);
    float* C = dev_alloc<float>(16);
    for (int i = 0; i < 16; i++) A[i] = B[i] = kNaN, C[i] = 2;
    float zero = 0, half = 0.5f, one = 1;
    CHECK(cublasSgemm_v2(h, 0, 0, 4, 4, 4, &zero, A, 4, B, 4, &half, C, 4) == 0, "alpha=0");
    rstd_sync(stream);
    CHECK(C[0] == 1 && C[15] == 1, "alpha=0 gives beta·C: %g", C[0]);
    CHECK(cublasSgemm_v2(h, 0, 0, 4, 4, 0, &one, A, 4, B, 4, &half, C, 4) == 0, "k=0");
    rstd_sync(stream);
    CHECK(C[0] == 0.5f, "k=0 gives beta·C: %g", C[0]);
    CHECK(cublasSgemm_v2(h, 0, 0, 4, 4, 0, &one, A, 4, B, 4, &zero, C, 4) == 0, "k=0 beta=0");
    rstd_sync(stream);
    CHECK(C[0] == 0, "k=0, beta=0 gives 0: %g", C[0]);
  }

  // The documented argument checks: INVALID_VALUE (7), NOT_INITIALIZED (1).
  {
    float* A = dev_alloc<float>(64);
    float one = 1;
    auto sg = [&](int ta, int tb, int m, int n, int k, int lda, int ldb, int ldc) {
      return cublasSgemm_v2(h, ta, tb, m, n, k, &one, A, lda, A, ldb, &one, A, ldc);
    };
    CHECK(sg(0, 0, -1, 2, 2, 2, 2, 2) == 7, "m < 0");
    CHECK(sg(0, 0, 2, -1, 2, 2, 2, 2) == 7, "n < 0");
    CHECK(sg(0, 0, 2, 2, -1, 2, 2, 2) == 7, "k < 0");
    CHECK(sg(5, 0, 2, 2, 2, 2, 2, 2) == 7, "transa invalid");
    CHECK(sg(0, 0, 3, 2, 2, 2, 2, 3) == 7, "lda < m (N)");
    CHECK(sg(1, 0, 2, 2, 3, 2, 3, 2) == 7, "lda < k (T)");
    CHECK(sg(0, 0, 2, 2, 3, 2, 2, 2) == 7, "ldb < k (N)");
    CHECK(sg(0, 1, 2, 3, 2, 2, 2, 2) == 7, "ldb < n (T)");
    CHECK(sg(0, 0, 3, 2, 2, 3, 2, 2) == 7, "ldc < m");
    // Zero dimensions still need ld ≥ 1 (the backend's MatMul passed 0).
    CHECK(sg(0, 0, 0, 2, 2, 1, 2, 1) == 0, "m = 0 with ld 1 is a no-op");
    CHECK(sg(0, 0, 0, 2, 2, 0, 2, 0) == 7, "m = 0 with lda = ldc = 0");
    CHECK(sg(0, 0, 2, 0, 2, 2, 2, 2) == 0, "n = 0 is a no-op");
    CHECK(sg(0, 0, 2, 2, 0, 2, 0, 2) == 7, "k = 0 with ldb = 0");
    CHECK(cublasSgemm_v2(h, 0, 0, 2, 2, 2, nullptr, A, 2, A, 2, &one, A, 2) == 7, "alpha NULL");
    CHECK(cublasSgemmStridedBatched(h, 0, 0, 2, 2, 2, &one, A, 2, 4, A, 2, 4, &one, A, 2, 4, -1) == 7, "batch < 0");
    CHECK(cublasSetMathMode(h, 7) == 7, "math mode 7");
    CHECK(cublasSgemm_v2(nullptr, 0, 0, 2, 2, 2, &one, A, 2, A, 2, &one, A, 2) == 1, "NULL handle");
    // An operand running past its allocation fails loudly, naming the call.
    int before = range_failures;
    CHECK(cublasSgemm_v2(h, 0, 0, 9, 9, 9, &one, A, 9, A, 9, &one, A, 9) == 13, "operands past their allocation");
    CHECK(range_failures > before, "range check not consulted");
    void* h2;
    cublasCreate_v2(&h2);
    cublasDestroy_v2(h2);
    CHECK(cublasSetMathMode(h2, 2) == 1, "destroyed handle");
  }

  // TF32: inputs with low mantissa bits lose them under TF32 math only.
  {
    float* A = dev_alloc<float>(1);
    float* B = dev_alloc<float>(1);
    float* C = dev_alloc<float>(1);
    A[0] = 1 + 0x1p-20f, B[0] = 1, C[0] = kNaN;
    float one = 1, zero = 0;
    cublasSetMathMode(h, 3);
    cublasSgemm_v2(h, 0, 0, 1, 1, 1, &one, A, 1, B, 1, &zero, C, 1);
    rstd_sync(stream);
    CHECK(C[0] == 1.0f, "TF32 mode rounds inputs to 10 bits: %a", C[0]);
    A[0] = 1 + 0x1p-11f + 0x1p-20f;  // above the halfway point: rounds up
    cublasSgemm_v2(h, 0, 0, 1, 1, 1, &one, A, 1, B, 1, &zero, C, 1);
    rstd_sync(stream);
    CHECK(C[0] == 1 + 0x1p-10f, "TF32 rounds to nearest: %a", C[0]);
    cublasSetMathMode(h, 2);
    cublasSgemm_v2(h, 0, 0, 1, 1, 1, &one, A, 1, B, 1, &zero, C, 1);
    rstd_sync(stream);
    CHECK(C[0] == A[0], "pedantic mode keeps FP32: %a", C[0]);
    cublasSetMathMode(h, 0);
    cublasSgemm_v2(h, 0, 0, 1, 1, 1, &one, A, 1, B, 1, &zero, C, 1);
    rstd_sync(stream);
    CHECK(C[0] == A[0], "default math keeps FP32 for SGEMM: %a", C[0]);
  }
  cublasDestroy_v2(h);
  dev_free_all();
  printf("cublas: %d random GEMM cases (4 transpose pairs, padded ld, strided batches, zero sizes), "
         "argument checks, queueing, TF32\n",
         cases);
}

// ---- cuDNN ----

struct Perf {
  int algo, status;
  float time;
  size_t memory;
  int determinism, mathType, reserved[3];
};
static_assert(sizeof(Perf) == 48, "perf layout");

size_t cudnnGetVersion_t();
const char* cudnnGetErrorString_t(int);
int cudnnCreate_t(void**);
int cudnnSetStream_t(void*, void*);
int cudnnCreateTensorDescriptor_t(void**);
int cudnnSetTensor4dDescriptor_t(void*, int, int, int, int, int, int);
int cudnnCreateFilterDescriptor_t(void**);
int cudnnSetFilter4dDescriptor_t(void*, int, int, int, int, int, int);
int cudnnCreateConvolutionDescriptor_t(void**);
int cudnnSetConvolution2dDescriptor_t(void*, int, int, int, int, int, int, int, int);
int cudnnSetConvolutionMathType_t(void*, int);
int cudnnSetConvolutionGroupCount_t(void*, int);
int cudnnDestroyTensorDescriptor_t(void*);
int cudnnGetConvolutionForwardWorkspaceSize_t(void*, void*, void*, void*, void*, int, size_t*);
int cudnnFindConvolutionForwardAlgorithm_t(void*, void*, void*, void*, void*, int, int*, Perf*);
int cudnnFindConvolutionBackwardDataAlgorithm_t(void*, void*, void*, void*, void*, int, int*, Perf*);
int cudnnFindConvolutionBackwardFilterAlgorithm_t(void*, void*, void*, void*, void*, int, int*, Perf*);
int cudnnConvolutionForward_t(void*, const void*, void*, const void*, void*, const void*, void*, int, void*, size_t,
                              const void*, void*, void*);
int cudnnConvolutionBackwardData_t(void*, const void*, void*, const void*, void*, const void*, void*, int, void*,
                                   size_t, const void*, void*, void*);
int cudnnConvolutionBackwardFilter_t(void*, const void*, void*, const void*, void*, const void*, void*, int, void*,
                                     size_t, const void*, void*, void*);

// A logical 4-d array in either layout: element (a, b, c, d) of an
// A×B×C×D array where B is the channel dimension; layout 0 is "channels
// second" (NCHW / KCRS), 1 is "channels last" (NHWC / KRSC).
struct Arr {
  int A, B, C, D, layout;
  size_t at(int a, int b, int c, int d) const {
    return layout == 0 ? (((size_t)a * B + b) * C + c) * D + d : (((size_t)a * C + c) * D + d) * B + b;
  }
  size_t size() const { return (size_t)A * B * C * D; }
};

struct Problem {
  int N, C, H, W, K, R, S, ph, pw, u, v, dh, dw, G, mode, xl, wl;
  int OH() const { return (H + 2 * ph - ((R - 1) * dh + 1)) / u + 1; }
  int OW() const { return (W + 2 * pw - ((S - 1) * dw + 1)) / v + 1; }
};

// The reference: y[n][k][oh][ow] = Σ_{c, r, s} x[n][g·Cg + c][oh·u − ph + r·dh][...] ·
// w[k][c][r*][s*], with r* = r (cross-correlation) or R−1−r (convolution),
// in double, also returning Σ|terms| for the tolerance.
static void ref_forward(const Problem& p, const Arr& xa, const float* x, const Arr& wa, const float* w,
                        std::vector<double>& y, std::vector<double>& mag) {
  const int OH = p.OH(), OW = p.OW(), Cg = p.C / p.G, Kg = p.K / p.G;
  y.assign((size_t)p.N * p.K * OH * OW, 0), mag.assign(y.size(), 0);
  for (int n = 0; n < p.N; n++)
    for (int k = 0; k < p.K; k++)
      for (int oh = 0; oh < OH; oh++)
        for (int ow = 0; ow < OW; ow++) {
          double s = 0, m = 0;
          for (int c = 0; c < Cg; c++)
            for (int r = 0; r < p.R; r++)
              for (int q = 0; q < p.S; q++) {
                int ih = oh * p.u - p.ph + r * p.dh, iw = ow * p.v - p.pw + q * p.dw;
                if (ih < 0 || ih >= p.H || iw < 0 || iw >= p.W) continue;
                int rr = p.mode == 0 ? p.R - 1 - r : r, qq = p.mode == 0 ? p.S - 1 - q : q;
                double t = (double)x[xa.at(n, (k / Kg) * Cg + c, ih, iw)] * w[wa.at(k, c, rr, qq)];
                s += t, m += fabs(t);
              }
          size_t i = (((size_t)n * p.K + k) * OH + oh) * OW + ow;
          y[i] = s, mag[i] = m;
        }
}

static void test_cudnn(void* lib) {
  BIND(lib, cudnnGetVersion);
  BIND(lib, cudnnGetErrorString);
  BIND(lib, cudnnCreate);
  BIND(lib, cudnnSetStream);
  BIND(lib, cudnnCreateTensorDescriptor);
  BIND(lib, cudnnSetTensor4dDescriptor);
  BIND(lib, cudnnDestroyTensorDescriptor);
  BIND(lib, cudnnCreateFilterDescriptor);
  BIND(lib, cudnnSetFilter4dDescriptor);
  BIND(lib, cudnnCreateConvolutionDescriptor);
  BIND(lib, cudnnSetConvolution2dDescriptor);
  BIND(lib, cudnnSetConvolutionMathType);
  BIND(lib, cudnnSetConvolutionGroupCount);
  BIND(lib, cudnnGetConvolutionForwardWorkspaceSize);
  BIND(lib, cudnnFindConvolutionForwardAlgorithm);
  BIND(lib, cudnnFindConvolutionBackwardDataAlgorithm);
  BIND(lib, cudnnFindConvolutionBackwardFilterAlgorithm);
  BIND(lib, cudnnConvolutionForward);
  BIND(lib, cudnnConvolutionBackwardData);
  BIND(lib, cudnnConvolutionBackwardFilter);
  size_t v = cudnnGetVersion();
  CHECK(v >= 90000 && v < 100000, "cudnnGetVersion %zu", v);
  CHECK(strcmp(cudnnGetErrorString(2000), "CUDNN_STATUS_BAD_PARAM") == 0, "error string");
  void* h;
  CHECK(cudnnCreate(&h) == 0, "cudnnCreate");
  void* stream = (void*)0x7777;
  CHECK(cudnnSetStream(h, stream) == 0, "cudnnSetStream");

  int problems = 0, runs = 0;
  for (int trial = 0; trial < 60; trial++) {
    Problem p;
    p.G = trial % 4 == 3 ? randint(2, 3) : 1;
    p.N = randint(1, 3), p.C = p.G * randint(1, 4), p.K = p.G * randint(1, 4);
    p.R = randint(1, 3), p.S = randint(1, 3), p.ph = randint(0, 2), p.pw = randint(0, 2);
    p.u = randint(1, 2), p.v = randint(1, 3), p.dh = randint(1, 2), p.dw = randint(1, 2);
    p.H = (p.R - 1) * p.dh + 1 + randint(0, 6) - p.ph, p.W = (p.S - 1) * p.dw + 1 + randint(0, 6) - p.pw;
    p.H = std::max(p.H, 1), p.W = std::max(p.W, 1);
    p.mode = trial % 5 == 4 ? 0 : 1;
    p.xl = trial % 7 == 6 ? 0 : 1, p.wl = trial % 6 == 5 ? 0 : 1;
    if (trial == 0) p = Problem{2, 16, 12, 12, 24, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};  // backend-like
    if ((p.H + 2 * p.ph - ((p.R - 1) * p.dh + 1)) < 0 || (p.W + 2 * p.pw - ((p.S - 1) * p.dw + 1)) < 0) continue;
    const int OH = p.OH(), OW = p.OW(), Cg = p.C / p.G;
    Arr xa{p.N, p.C, p.H, p.W, p.xl}, wa{p.K, Cg, p.R, p.S, p.wl}, ya{p.N, p.K, OH, OW, p.xl};
    void *xd, *yd, *wd, *cd;
    cudnnCreateTensorDescriptor(&xd), cudnnCreateTensorDescriptor(&yd);
    cudnnCreateFilterDescriptor(&wd), cudnnCreateConvolutionDescriptor(&cd);
    CHECK(cudnnSetTensor4dDescriptor(xd, p.xl, 0, p.N, p.C, p.H, p.W) == 0, "x desc");
    CHECK(cudnnSetTensor4dDescriptor(yd, p.xl, 0, p.N, p.K, OH, OW) == 0, "y desc");
    CHECK(cudnnSetFilter4dDescriptor(wd, 0, p.wl, p.K, Cg, p.R, p.S) == 0, "w desc");
    CHECK(cudnnSetConvolution2dDescriptor(cd, p.ph, p.pw, p.u, p.v, p.dh, p.dw, p.mode, 0) == 0, "conv desc");
    CHECK(cudnnSetConvolutionGroupCount(cd, p.G) == 0, "groups");
    CHECK(cudnnSetConvolutionMathType(cd, 3) == 0, "FMA math");
    float* x = dev_alloc<float>(xa.size());
    float* w = dev_alloc<float>(wa.size());
    float* dy = dev_alloc<float>(ya.size());
    float* y = dev_alloc<float>(ya.size());
    float* dx = dev_alloc<float>(xa.size());
    float* dw = dev_alloc<float>(wa.size());
    for (size_t i = 0; i < xa.size(); i++) x[i] = randn();
    for (size_t i = 0; i < wa.size(); i++) w[i] = randn();
    for (size_t i = 0; i < ya.size(); i++) dy[i] = randn();
    std::vector<double> ry, mag;
    ref_forward(p, xa, x, wa, w, ry, mag);

    Perf perf[8];
    int got = 0;
    // Forward, with every algorithm Find offers.
    CHECK(cudnnFindConvolutionForwardAlgorithm(h, xd, wd, cd, yd, 8, &got, perf) == 0 && got >= 3, "find fwd");
    CHECK(perf[0].determinism == 0 && perf[0].status == 0, "a non-deterministic algorithm comes first");
    CHECK(perf[got - 1].status != 0, "an unsupported algorithm comes last");
    for (int i = 0; i < got; i++) {
      if (perf[i].status != 0) continue;
      CHECK(perf[i].mathType == 3, "FMA descriptor reports FMA math, got %d", perf[i].mathType);
      size_t wsz = 1;
      CHECK(cudnnGetConvolutionForwardWorkspaceSize(h, xd, wd, cd, yd, perf[i].algo, &wsz) == 0 &&
                wsz == perf[i].memory,
            "workspace size of fwd algo %d", perf[i].algo);
      float* ws = dev_alloc<float>(perf[i].memory / 4 + 1);
      for (size_t e = 0; e < ya.size(); e++) y[e] = kNaN;  // beta = 0: never read
      float alpha = 1, beta = 0;
      int r = cudnnConvolutionForward(h, &alpha, xd, x, wd, w, cd, perf[i].algo, ws, perf[i].memory, &beta, yd, y);
      CHECK(r == 0, "forward algo %d: %d", perf[i].algo, r);
      CHECK(isnan(y[0]), "forward ran before the stream was synchronised");
      rstd_sync(stream);
      runs++;
      for (int n = 0; n < p.N; n++)
        for (int k = 0; k < p.K; k++)
          for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
              size_t ri = (((size_t)n * p.K + k) * OH + oh) * OW + ow;
              double g = y[ya.at(n, k, oh, ow)];
              CHECK(fabs(g - ry[ri]) <= (p.R * p.S * Cg + 2) * u32 * mag[ri] + 1e-30,
                    "fwd algo %d trial %d y[%d,%d,%d,%d] = %g, want %g", perf[i].algo, trial, n, k, oh, ow, g,
                    ry[ri]);
            }
    }
    // alpha/beta blending: y = 2·conv + 0.5·y.
    {
      std::vector<float> y0(ya.size());
      for (size_t e = 0; e < ya.size(); e++) y[e] = y0[e] = randn();
      float alpha = 2, beta = 0.5f;
      CHECK(cudnnConvolutionForward(h, &alpha, xd, x, wd, w, cd, 0, nullptr, 0, &beta, yd, y) == 0, "blend");
      rstd_sync(stream);
      for (int n = 0; n < p.N; n++)
        for (int k = 0; k < p.K; k++)
          for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
              size_t ri = (((size_t)n * p.K + k) * OH + oh) * OW + ow, yi = ya.at(n, k, oh, ow);
              double want = 2 * ry[ri] + 0.5 * y0[yi];
              CHECK(fabs(y[yi] - want) <= (p.R * p.S * Cg + 4) * u32 * (2 * mag[ri] + 0.5 * fabs(y0[yi])) + 1e-30,
                    "blend y = %g, want %g", y[yi], want);
            }
    }
    // Backward data and filter with every algorithm, as the adjoints of
    // forward: <dy, conv(x, w)> = <bwd_data(dy), x> = <bwd_filter(x, dy), w>.
    double lhs = 0, lmag = 0;
    for (int n = 0; n < p.N; n++)
      for (int k = 0; k < p.K; k++)
        for (int oh = 0; oh < OH; oh++)
          for (int ow = 0; ow < OW; ow++) {
            size_t ri = (((size_t)n * p.K + k) * OH + oh) * OW + ow;
            lhs += dy[ya.at(n, k, oh, ow)] * ry[ri];
            lmag += fabs(dy[ya.at(n, k, oh, ow)]) * mag[ri];
          }
    const double atol = (p.R * p.S * Cg + p.N * OH * OW * p.K + 4) * u32 * lmag + 1e-20;
    CHECK(cudnnFindConvolutionBackwardDataAlgorithm(h, wd, yd, cd, xd, 8, &got, perf) == 0 && got >= 2, "find bd");
    CHECK(perf[0].determinism == 0, "bwd data: a non-deterministic algorithm comes first");
    for (int i = 0; i < got; i++) {
      if (perf[i].status != 0) continue;
      float* ws = dev_alloc<float>(perf[i].memory / 4 + 1);
      for (size_t e = 0; e < xa.size(); e++) dx[e] = kNaN;
      float alpha = 1, beta = 0;
      CHECK(cudnnConvolutionBackwardData(h, &alpha, wd, w, yd, dy, cd, perf[i].algo, ws, perf[i].memory, &beta, xd,
                                         dx) == 0,
            "bwd data algo %d", perf[i].algo);
      rstd_sync(stream);
      runs++;
      double rhs = 0;
      for (size_t e = 0; e < xa.size(); e++) rhs += (double)dx[e] * x[e];
      CHECK(fabs(lhs - rhs) <= atol, "adjoint <dy, conv(x)> = %.9g but <bwd_data(dy), x> = %.9g (algo %d, trial %d)",
            lhs, rhs, perf[i].algo, trial);
    }
    CHECK(cudnnFindConvolutionBackwardFilterAlgorithm(h, xd, yd, cd, wd, 8, &got, perf) == 0 && got >= 2, "find bf");
    CHECK(perf[0].determinism == 0, "bwd filter: a non-deterministic algorithm comes first");
    for (int i = 0; i < got; i++) {
      if (perf[i].status != 0) continue;
      float* ws = dev_alloc<float>(perf[i].memory / 4 + 1);
      for (size_t e = 0; e < wa.size(); e++) dw[e] = kNaN;
      float alpha = 1, beta = 0;
      CHECK(cudnnConvolutionBackwardFilter(h, &alpha, xd, x, yd, dy, cd, perf[i].algo, ws, perf[i].memory, &beta,
                                           wd, dw) == 0,
            "bwd filter algo %d", perf[i].algo);
      rstd_sync(stream);
      runs++;
      double rhs = 0;
      for (size_t e = 0; e < wa.size(); e++) rhs += (double)dw[e] * w[e];
      CHECK(fabs(lhs - rhs) <= atol,
            "adjoint <dy, conv(x)> = %.9g but <bwd_filter(x, dy), w> = %.9g (algo %d, trial %d)", lhs, rhs,
            perf[i].algo, trial);
    }
    // Determinism as reported: a deterministic algorithm repeats bit for
    // bit; a non-deterministic one changes its summation order per call.
    if (trial == 0) {
      bool nondet_differs = false;
      for (int i = 0; i < got; i++) {
        if (perf[i].status != 0) continue;
        float* ws = dev_alloc<float>(perf[i].memory / 4 + 1);
        std::vector<float> first;
        bool same = true;
        for (int rep = 0; rep < 2; rep++) {
          float alpha = 1, beta = 0;
          cudnnConvolutionBackwardFilter(h, &alpha, xd, x, yd, dy, cd, perf[i].algo, ws, perf[i].memory, &beta, wd,
                                         dw);
          rstd_sync(stream);
          if (rep == 0) first.assign(dw, dw + wa.size());
          else same = memcmp(first.data(), dw, wa.size() * 4) == 0;
        }
        if (perf[i].determinism == 1) CHECK(same, "deterministic algo %d changed bits between runs", perf[i].algo);
        else nondet_differs |= !same;
      }
      CHECK(nondet_differs, "no non-deterministic backward-filter algorithm changed its bits between runs");
    }
    problems++;
  }

  // Argument checks, TF32 and the workspace/alignment rules, on one problem.
  {
    void *xd, *yd, *wd, *cd, *bad;
    cudnnCreateTensorDescriptor(&xd), cudnnCreateTensorDescriptor(&yd), cudnnCreateTensorDescriptor(&bad);
    cudnnCreateFilterDescriptor(&wd), cudnnCreateConvolutionDescriptor(&cd);
    cudnnSetTensor4dDescriptor(xd, 1, 0, 1, 4, 5, 5);
    cudnnSetTensor4dDescriptor(yd, 1, 0, 1, 2, 5, 5);
    cudnnSetFilter4dDescriptor(wd, 0, 1, 2, 4, 3, 3);
    cudnnSetConvolution2dDescriptor(cd, 1, 1, 1, 1, 1, 1, 1, 0);
    CHECK(cudnnSetTensor4dDescriptor(bad, 1, 0, 0, 4, 5, 5) == 2000, "n = 0 is BAD_PARAM");
    CHECK(cudnnSetTensor4dDescriptor(bad, 5, 0, 1, 4, 5, 5) == 2000, "format 5 is BAD_PARAM");
    CHECK(cudnnSetConvolution2dDescriptor(bad, 1, 1, 1, 1, 1, 1, 1, 0) == 2000, "a tensor is not a conv descriptor");
    CHECK(cudnnSetConvolution2dDescriptor(cd, 1, 1, 0, 1, 1, 1, 1, 0) == 2000, "stride 0");
    CHECK(cudnnSetConvolutionMathType(cd, 4) == 2000, "math type 4");
    cudnnSetTensor4dDescriptor(bad, 1, 0, 1, 2, 4, 5);  // wrong output height
    float* x = dev_alloc<float>(100, 16);
    float* w = dev_alloc<float>(72, 16);
    float* y = dev_alloc<float>(50, 16);
    float* ws = dev_alloc<float>(1024, 16);
    float* xm = dev_alloc<float>(100, 4);  // 4-byte aligned only
    float alpha = 1, beta = 0;
    int got;
    Perf perf[8];
    CHECK(cudnnFindConvolutionForwardAlgorithm(h, xd, wd, cd, bad, 8, &got, perf) == 2000, "find: y mismatch");
    CHECK(cudnnConvolutionForward(h, &alpha, xd, x, wd, w, cd, 0, nullptr, 0, &beta, bad, y) == 2000,
          "forward: y mismatch");
    CHECK(cudnnFindConvolutionForwardAlgorithm(h, xd, wd, cd, yd, 0, &got, perf) == 2000, "find: 0 requested");
    CHECK(cudnnFindConvolutionForwardAlgorithm(h, xd, wd, cd, yd, 2, &got, perf) == 0 && got == 2, "find: 2 requested");
    CHECK(cudnnConvolutionForward(h, &alpha, xd, x, wd, w, cd, 1, ws, 8, &beta, yd, y) == 2000,
          "workspace too small");
    CHECK(cudnnConvolutionForward(h, &alpha, xd, x, wd, w, cd, 4, ws, 4096, &beta, yd, y) == 3000,
          "FFT is listed as unsupported");
    CHECK(cudnnConvolutionForward(h, &alpha, xd, x, wd, w, cd, 9, ws, 4096, &beta, yd, y) == 2000, "algo 9");
    CHECK(cudnnConvolutionForward(h, &alpha, xd, xm, wd, w, cd, 1, ws, 4096, &beta, yd, y) == 2003,
          "a workspace algorithm wants 16-byte alignment");
    CHECK(cudnnConvolutionForward(h, &alpha, xd, xm, wd, w, cd, 0, nullptr, 0, &beta, yd, y) == 0,
          "implicit GEMM takes 4-byte alignment");
    int before = range_failures;
    CHECK(cudnnConvolutionForward(h, &alpha, xd, x + 90, wd, w, cd, 0, nullptr, 0, &beta, yd, y) == 5000,
          "x past its allocation");
    CHECK(range_failures > before, "range check consulted");
    rstd_sync(stream);
    // TF32: an input with low mantissa bits keeps them only under FMA math.
    for (int i = 0; i < 100; i++) x[i] = 0;
    for (int i = 0; i < 72; i++) w[i] = 0;
    x[(2 * 5 + 2) * 4] = 1 + 0x1p-20f;  // centre pixel, channel 0
    w[(0 * 3 + 1) * 3 * 4 + 1 * 4] = 1;   // k 0, centre tap, channel 0
    cudnnSetConvolutionMathType(cd, 3);
    cudnnConvolutionForward(h, &alpha, xd, x, wd, w, cd, 0, nullptr, 0, &beta, yd, y);
    rstd_sync(stream);
    CHECK(y[(2 * 5 + 2) * 2] == 1 + 0x1p-20f, "FMA math keeps FP32: %a", y[(2 * 5 + 2) * 2]);
    cudnnSetConvolutionMathType(cd, 1);
    CHECK(cudnnFindConvolutionForwardAlgorithm(h, xd, wd, cd, yd, 8, &got, perf) == 0 && perf[1].mathType == 1 &&
              perf[2].mathType == 0,
          "tensor-op descriptor: tensor-core algorithms report TENSOR_OP, the rest DEFAULT");
    cudnnConvolutionForward(h, &alpha, xd, x, wd, w, cd, 0, nullptr, 0, &beta, yd, y);
    rstd_sync(stream);
    CHECK(y[(2 * 5 + 2) * 2] == 1.0f, "TENSOR_OP math rounds to TF32: %a", y[(2 * 5 + 2) * 2]);
    cudnnSetConvolutionMathType(cd, 0);
    cudnnConvolutionForward(h, &alpha, xd, x, wd, w, cd, 0, nullptr, 0, &beta, yd, y);
    rstd_sync(stream);
    CHECK(y[(2 * 5 + 2) * 2] == 1.0f, "DEFAULT math permits TF32 for FP32 data: %a", y[(2 * 5 + 2) * 2]);
    cudnnDestroyTensorDescriptor(bad);
    CHECK(cudnnSetTensor4dDescriptor(bad, 1, 0, 1, 4, 5, 5) == 2000, "destroyed descriptor");
  }
  dev_free_all();
  printf("cudnn: %d random convolutions (padding, stride, dilation, groups, both modes, NCHW/NHWC tensors, "
         "KCRS/KRSC filters), %d algorithm runs vs a direct-loop reference and as adjoints; find, argument, "
         "alignment, workspace and TF32 checks\n",
         problems, runs);
}

int main(int argc, char** argv) {
  std::string dir = argc > 1 ? argv[1] : "gpu/double/lib";
  void* blas = dlopen((dir + "/libcublas.so.13").c_str(), RTLD_NOW | RTLD_LOCAL);
  void* dnn = dlopen((dir + "/libcudnn.so.9").c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!blas || !dnn) {
    fprintf(stderr, "cannot load the doubles from %s: %s\n", dir.c_str(), dlerror());
    return 1;
  }
  test_cublas(blas);
  test_cudnn(dnn);
  printf("%s: %d checks, %d failures\n", failures ? "FAIL" : "PASS", checks, failures);
  return failures ? 1 : 0;
}
