// A CPU double of cuBLAS (libcublas.so.13) for the CUDA backend's tests:
// the entry points gpu/api.go binds, column-major exactly as cuBLAS
// documents them, on device pointers that the driver double (driver.cc)
// backs with host memory. Work is queued on the handle's stream through
// rstd_enqueue and runs when that stream is synchronised, as on a GPU.
//
// Build (gpu/double/Makefile does this; by hand):
//   g++ -O2 -std=c++17 -shared -fPIC -fvisibility=hidden -Wall -Wextra -o gpu/double/lib/libcublas.so.13 gpu/double/cublas.cc -ldl
//
// Arithmetic: each element of op(A)·op(B) is a float32 sum over p = 0..k-1
// in increasing order (a float accumulator, products rounded to float),
// then alpha·sum + beta·C in float32. That is within the error bounds the
// conformance suite allows any GEMM. With CUBLAS_TF32_TENSOR_OP_MATH the
// inputs are first rounded to TF32 (10-bit mantissa), as tensor cores do,
// so tests with TF32 tolerances are exercised by a real loss of precision.
// alpha and beta are read from host memory at call time
// (CUBLAS_POINTER_MODE_HOST, the default and the only mode here).

#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <algorithm>
#include <mutex>
#include <unordered_set>
#include <vector>

#include "blasdnn_hooks.h"

namespace {

// cublasStatus_t, cublasOperation_t and cublasMath_t as documented.
enum {
  CUBLAS_STATUS_SUCCESS = 0,
  CUBLAS_STATUS_NOT_INITIALIZED = 1,
  CUBLAS_STATUS_ALLOC_FAILED = 3,
  CUBLAS_STATUS_INVALID_VALUE = 7,
  CUBLAS_STATUS_EXECUTION_FAILED = 13,
};
enum { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1, CUBLAS_OP_C = 2 };
enum {
  CUBLAS_DEFAULT_MATH = 0,
  CUBLAS_TENSOR_OP_MATH = 1,  // deprecated; lets FP32 GEMMs use tensor cores
  CUBLAS_PEDANTIC_MATH = 2,
  CUBLAS_TF32_TENSOR_OP_MATH = 3,
  CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION = 16,  // a flag OR'ed in
};

// The version cublasGetVersion reports: CUBLAS_VER_MAJOR·10000 +
// MINOR·100 + PATCH of the library this file stands in for: 13.0.0, or
// 12.9.0 when loaded under the name libcublas.so.12 (gpu/double/lib links
// that name here for the backend's CUDA 12 choice), so Describe is honest.
int version() {
  Dl_info info;
  if (dladdr((void*)&version, &info) && info.dli_fname) {
    const char* base = strrchr(info.dli_fname, '/');
    if (strcmp(base ? base + 1 : info.dli_fname, "libcublas.so.12") == 0) return 120900;
  }
  return 130000;
}

struct Handle {
  void* stream = nullptr;  // the legacy default stream until SetStream
  int math = CUBLAS_DEFAULT_MATH;
};

// Live handles: a destroyed or made-up handle is NOT_INITIALIZED, not a
// crash, as cuBLAS reports an invalid handle.
std::mutex mu;
std::unordered_set<Handle*> handles;

Handle* lookup(void* h) {
  std::lock_guard<std::mutex> g(mu);
  auto* p = static_cast<Handle*>(h);
  return handles.count(p) ? p : nullptr;
}

// One matrix product's parameters, captured by value at call time.
struct Gemm {
  int ta, tb, m, n, k;
  float alpha, beta;
  const float* a;
  int lda;
  const float* b;
  int ldb;
  float* c;
  int ldc;
  bool tf32;
};

// Cache blocking: a block of op(A) of kMB rows by kKB columns (128 KiB)
// stays in L2 while every column of C passes over it. The order of the
// sum over p is unchanged by the blocking (p blocks run in order).
const int kMB = 128, kKB = 256;

// run computes C = alpha·op(A)·op(B) + beta·C for one matrix; ap, bp and
// acc are scratch buffers reused across a batch.
void run(const Gemm& g, std::vector<float>& ap, std::vector<float>& bp, std::vector<float>& acc) {
  const int m = g.m, n = g.n, k = g.k;
  if (m == 0 || n == 0) return;
  const bool product = k > 0 && g.alpha != 0.0f;  // BLAS: A and B unreferenced otherwise
  if (product) {
    // Pack op(A) (m×k) and op(B) (k×n) column-major and dense, rounding
    // to TF32 when the math mode allows it; padding rows beyond m (lda >
    // m) are never read.
    ap.resize((size_t)m * k);
    bp.resize((size_t)k * n);
    for (int p = 0; p < k; p++)
      for (int i = 0; i < m; i++) {
        float v = g.ta == CUBLAS_OP_N ? g.a[i + (size_t)p * g.lda] : g.a[p + (size_t)i * g.lda];
        ap[i + (size_t)p * m] = g.tf32 ? rstd_hooks::tf32(v) : v;
      }
    for (int j = 0; j < n; j++)
      for (int p = 0; p < k; p++) {
        float v = g.tb == CUBLAS_OP_N ? g.b[p + (size_t)j * g.ldb] : g.b[j + (size_t)p * g.ldb];
        bp[p + (size_t)j * k] = g.tf32 ? rstd_hooks::tf32(v) : v;
      }
    acc.assign((size_t)m * n, 0.0f);
    for (int p0 = 0; p0 < k; p0 += kKB) {
      const int p1 = std::min(k, p0 + kKB);
      for (int i0 = 0; i0 < m; i0 += kMB) {
        const int i1 = std::min(m, i0 + kMB);
        for (int j = 0; j < n; j++) {
          float* cj = &acc[(size_t)j * m];
          const float* bj = &bp[(size_t)j * k];
          for (int p = p0; p < p1; p++) {
            const float bv = bj[p];
            const float* ai = &ap[(size_t)p * m];
            rstd_hooks::axpy(cj + i0, ai + i0, bv, i1 - i0);
          }
        }
      }
    }
  }
  for (int j = 0; j < n; j++) {
    float* cj = g.c + (size_t)j * g.ldc;
    for (int i = 0; i < m; i++) {
      float v = product ? g.alpha * acc[i + (size_t)j * m] : 0.0f;
      // beta = 0 means C is not read: it may hold NaN (BLAS semantics).
      if (g.beta != 0.0f) v += g.beta * cj[i];
      cj[i] = v;
    }
  }
}

// extent is the number of bytes a rows×cols column-major matrix with
// leading dimension ld spans.
size_t extent(int rows, int cols, int ld) {
  if (rows == 0 || cols == 0) return 0;
  return 4 * ((size_t)(cols - 1) * ld + rows);
}

// batched_extent is the byte range [lo, hi) relative to the first
// matrix's base that batch matrices stride elements apart span.
void batched_extent(int rows, int cols, int ld, long long stride, int batch, long long* lo, long long* hi) {
  long long one = (long long)extent(rows, cols, ld);
  long long last = 4 * stride * (long long)(batch - 1);
  *lo = std::min(0LL, last);
  *hi = std::max(0LL, last) + one;
}

// gemm validates, checks every operand's range and queues the batch.
int gemm(void* handle, int ta, int tb, int m, int n, int k, const float* alpha, const float* A, int lda,
         long long sa, const float* B, int ldb, long long sb, const float* beta, float* C, int ldc, long long sc,
         int batch, const char* call) {
  Handle* h = lookup(handle);
  if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
  auto validop = [](int op) { return op == CUBLAS_OP_N || op == CUBLAS_OP_T || op == CUBLAS_OP_C; };
  // The documented checks: ld ≥ max(1, rows of the matrix as stored),
  // even when a dimension is zero and nothing would be computed.
  const int arows = ta == CUBLAS_OP_N ? m : k, acols = ta == CUBLAS_OP_N ? k : m;
  const int brows = tb == CUBLAS_OP_N ? k : n, bcols = tb == CUBLAS_OP_N ? n : k;
  if (!validop(ta) || !validop(tb) || m < 0 || n < 0 || k < 0 || batch < 0 || lda < std::max(1, arows) ||
      ldb < std::max(1, brows) || ldc < std::max(1, m) || !alpha || !beta)
    return CUBLAS_STATUS_INVALID_VALUE;
  Gemm g{ta, tb, m, n, k, *alpha, *beta, A, lda, B, ldb, C, ldc, false};
  // Quick return, as cuBLAS: nothing to do, nothing read.
  if (m == 0 || n == 0 || batch == 0 || ((k == 0 || g.alpha == 0.0f) && g.beta == 1.0f))
    return CUBLAS_STATUS_SUCCESS;
  const auto* hk = rstd_hooks::get();
  if (!hk) return CUBLAS_STATUS_NOT_INITIALIZED;
  const int mode = h->math & ~CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION;
  g.tf32 = (mode == CUBLAS_TF32_TENSOR_OP_MATH || mode == CUBLAS_TENSOR_OP_MATH) && !rstd_hooks::tf32_disabled();
  // Check exactly what is read and written: A and B only when a product
  // is formed, every matrix of the batch.
  const bool product = k > 0 && g.alpha != 0.0f;
  long long lo, hi;
  if (product) {
    batched_extent(arows, acols, lda, sa, batch, &lo, &hi);
    if (!rstd_hooks::check(hk, (const char*)A + lo, hi - lo, call, "A")) return CUBLAS_STATUS_EXECUTION_FAILED;
    batched_extent(brows, bcols, ldb, sb, batch, &lo, &hi);
    if (!rstd_hooks::check(hk, (const char*)B + lo, hi - lo, call, "B")) return CUBLAS_STATUS_EXECUTION_FAILED;
  }
  batched_extent(m, n, ldc, sc, batch, &lo, &hi);
  if (!rstd_hooks::check(hk, (const char*)C + lo, hi - lo, call, "C")) return CUBLAS_STATUS_EXECUTION_FAILED;
  bool ok = rstd_hooks::enqueue(
      hk, h->stream,
      [g, sa, sb, sc, batch]() {
        std::vector<float> ap, bp, acc;
        Gemm gi = g;
        for (int i = 0; i < batch; i++) {
          gi.a = g.a + sa * i;
          gi.b = g.b + sb * i;
          gi.c = g.c + sc * i;
          run(gi, ap, bp, acc);
        }
      },
      call);
  return ok ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_EXECUTION_FAILED;
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) int cublasCreate_v2(void** handle) {
  if (!handle) return CUBLAS_STATUS_INVALID_VALUE;
  // cuBLAS initialises the CUDA context here; without the driver double
  // there is none, which cuBLAS reports as NOT_INITIALIZED.
  if (!rstd_hooks::get()) return CUBLAS_STATUS_NOT_INITIALIZED;
  auto* h = new Handle;
  std::lock_guard<std::mutex> g(mu);
  handles.insert(h);
  *handle = h;
  return CUBLAS_STATUS_SUCCESS;
}

__attribute__((visibility("default"))) int cublasDestroy_v2(void* handle) {
  std::lock_guard<std::mutex> g(mu);
  auto* h = static_cast<Handle*>(handle);
  if (!handles.erase(h)) return CUBLAS_STATUS_NOT_INITIALIZED;
  delete h;
  return CUBLAS_STATUS_SUCCESS;
}

__attribute__((visibility("default"))) int cublasSetStream_v2(void* handle, void* stream) {
  Handle* h = lookup(handle);
  if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
  h->stream = stream;
  return CUBLAS_STATUS_SUCCESS;
}

__attribute__((visibility("default"))) int cublasGetStream_v2(void* handle, void** stream) {
  Handle* h = lookup(handle);
  if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (!stream) return CUBLAS_STATUS_INVALID_VALUE;
  *stream = h->stream;
  return CUBLAS_STATUS_SUCCESS;
}

__attribute__((visibility("default"))) int cublasGetVersion_v2(void* handle, int* version) {
  if (!lookup(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (!version) return CUBLAS_STATUS_INVALID_VALUE;
  *version = ::version();
  return CUBLAS_STATUS_SUCCESS;
}

__attribute__((visibility("default"))) int cublasSetMathMode(void* handle, int mode) {
  Handle* h = lookup(handle);
  if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
  const int base = mode & ~CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION;
  if (base < CUBLAS_DEFAULT_MATH || base > CUBLAS_TF32_TENSOR_OP_MATH) return CUBLAS_STATUS_INVALID_VALUE;
  h->math = mode;
  return CUBLAS_STATUS_SUCCESS;
}

__attribute__((visibility("default"))) int cublasGetMathMode(void* handle, int* mode) {
  Handle* h = lookup(handle);
  if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (!mode) return CUBLAS_STATUS_INVALID_VALUE;
  *mode = h->math;
  return CUBLAS_STATUS_SUCCESS;
}

__attribute__((visibility("default"))) int cublasSgemm_v2(void* handle, int transa, int transb, int m, int n, int k,
                                                          const float* alpha, const float* A, int lda, const float* B,
                                                          int ldb, const float* beta, float* C, int ldc) {
  return gemm(handle, transa, transb, m, n, k, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc, 0, 1, "cublasSgemm");
}

__attribute__((visibility("default"))) int cublasSgemmStridedBatched(void* handle, int transa, int transb, int m,
                                                                     int n, int k, const float* alpha, const float* A,
                                                                     int lda, long long strideA, const float* B,
                                                                     int ldb, long long strideB, const float* beta,
                                                                     float* C, int ldc, long long strideC,
                                                                     int batchCount) {
  return gemm(handle, transa, transb, m, n, k, alpha, A, lda, strideA, B, ldb, strideB, beta, C, ldc, strideC,
              batchCount, "cublasSgemmStridedBatched");
}

}  // extern "C"
