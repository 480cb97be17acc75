// Shared by the cuBLAS and cuDNN doubles (cublas.cc, cudnn.cc): how they
// reach the driver double (libcuda.so.1 from driver.cc, API in rstd.h),
// plus two numeric helpers (TF32 rounding, axpy). Device pointers are host
// addresses there, but work must run on the stream it was queued on, only
// when that stream is synchronised, and every operand must lie inside one
// live allocation.
//
// The hooks are looked up with dlsym(RTLD_DEFAULT) rather than bound at
// link time, so the libraries also load without the driver double (and
// then report NOT_INITIALIZED): the backend opens libcuda.so.1 with
// RTLD_GLOBAL before cuBLAS and cuDNN, and the C++ test defines its own
// hooks in the executable (linked with -rdynamic).
#ifndef RST_BLASDNN_HOOKS_H
#define RST_BLASDNN_HOOKS_H

#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <functional>
#include <string>

#include "rstd.h"

namespace rstd_hooks {

struct Hooks {
  decltype(&rstd_enqueue) enqueue = nullptr;
  decltype(&rstd_check_range) check_range = nullptr;
  decltype(&rstd_fail) fail = nullptr;
};

// get returns the hooks, or nullptr (after saying why on stderr) when the
// driver double is not loaded. A failed lookup is retried on the next call
// because a test may load the driver double later.
inline const Hooks* get() {
  static Hooks h;
  if (h.enqueue && h.check_range && h.fail) return &h;
  h.enqueue = (decltype(h.enqueue))dlsym(RTLD_DEFAULT, "rstd_enqueue");
  h.check_range = (decltype(h.check_range))dlsym(RTLD_DEFAULT, "rstd_check_range");
  h.fail = (decltype(h.fail))dlsym(RTLD_DEFAULT, "rstd_fail");
  if (h.enqueue && h.check_range && h.fail) return &h;
  fprintf(stderr,
          "rst cuda double: rstd_enqueue/rstd_check_range/rstd_fail not found: the cuBLAS and cuDNN doubles "
          "need the driver double (libcuda.so.1 from gpu/double) loaded first with RTLD_GLOBAL\n");
  return nullptr;
}

// check validates that [p, p+bytes) lies in one live device allocation;
// when not, rstd_check_range has already said so, naming "call: operand".
// Empty ranges read nothing (the pointer may be anything) and pass.
inline bool check(const Hooks* h, const void* p, size_t bytes, const char* call, const char* operand) {
  if (bytes == 0) return true;
  return h->check_range(p, bytes, (std::string(call) + ": " + operand).c_str()) == 0;
}

inline void run_closure(void* p) {
  auto* f = static_cast<std::function<void()>*>(p);
  (*f)();
  delete f;
}

// enqueue queues f on stream; false (after a message) when the driver
// double refuses, e.g. for a destroyed stream.
inline bool enqueue(const Hooks* h, void* stream, std::function<void()> f, const char* call) {
  auto* heap = new std::function<void()>(std::move(f));
  int r = h->enqueue(stream, run_closure, heap);
  if (r == 0) return true;
  delete heap;
  fprintf(stderr, "rst cuda double: %s: rstd_enqueue on stream %p failed (%d)\n", call, stream, r);
  return false;
}

// tf32 rounds a float to TF32 (10 explicit mantissa bits) to nearest, ties
// away from zero, as cvt.rna.tf32.f32 does: the input rounding of tensor
// cores. Infinities and NaNs pass unchanged.
inline float tf32(float v) {
  uint32_t u;
  __builtin_memcpy(&u, &v, 4);
  if ((u & 0x7f800000u) != 0x7f800000u) {
    u += 0x1000u;
    u &= 0xffffe000u;
  }
  float r;
  __builtin_memcpy(&r, &u, 4);
  return r;
}

// axpy is y[i] += a·x[i] for i < n, four lanes at a time with GCC/clang
// vector extensions (-O2 does not vectorize it by itself). Each element
// gets exactly the scalar loop's two roundings, so results do not depend
// on n or alignment.
typedef float f32x4 __attribute__((vector_size(16)));
inline void axpy(float* __restrict y, const float* __restrict x, float a, int n) {
  const f32x4 av = {a, a, a, a};
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    f32x4 x0, x1, y0, y1;
    __builtin_memcpy(&x0, x + i, 16), __builtin_memcpy(&x1, x + i + 4, 16);
    __builtin_memcpy(&y0, y + i, 16), __builtin_memcpy(&y1, y + i + 4, 16);
    y0 += av * x0, y1 += av * x1;
    __builtin_memcpy(y + i, &y0, 16), __builtin_memcpy(y + i + 4, &y1, 16);
  }
  for (; i + 4 <= n; i += 4) {
    f32x4 x0, y0;
    __builtin_memcpy(&x0, x + i, 16), __builtin_memcpy(&y0, y + i, 16);
    y0 += av * x0;
    __builtin_memcpy(y + i, &y0, 16);
  }
  for (; i < n; i++) y[i] += a * x[i];
}

// tf32_disabled reports NVIDIA_TF32_OVERRIDE=0, which NVIDIA documents as
// turning TF32 off in cuBLAS and cuDNN whatever the math mode.
inline bool tf32_disabled() {
  const char* v = getenv("NVIDIA_TF32_OVERRIDE");
  return v && v[0] == '0' && v[1] == 0;
}

}  // namespace rstd_hooks

#endif
