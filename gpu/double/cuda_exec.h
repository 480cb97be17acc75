// cuda_exec.h: the CUDA execution model for kernels.cu compiled as host
// C++ (g++ or clang++, -std=c++14 -O2 -ffp-contract=off), so that the CPU
// double of the driver runs the very source NVRTC compiles on a GPU.
// driver.cc's engine sets the thread and block indices before it runs each
// thread and implements __syncthreads as a barrier among fibers. Nothing
// here is NVIDIA's: the names are the CUDA language's.
#ifndef RSTD_CUDA_EXEC_H
#define RSTD_CUDA_EXEC_H

#include <math.h>
#include <stdint.h>
#include <string.h>

struct uint3 { unsigned int x, y, z; };
struct dim3 { unsigned int x, y, z; };

// The indices of the thread running now: one engine runs one thread at a
// time, so plain globals suffice (set on every switch).
struct rstd_thread_ids { uint3 thread, block; dim3 bdim, gdim; };
extern "C" __attribute__((visibility("hidden"))) rstd_thread_ids rstd_ids;
// Read-only views, as on the device (a kernel cannot assign threadIdx).
static inline const uint3 &rstd_tid() { return rstd_ids.thread; }
static inline const uint3 &rstd_bid() { return rstd_ids.block; }
static inline const dim3 &rstd_bdim() { return rstd_ids.bdim; }
static inline const dim3 &rstd_gdim() { return rstd_ids.gdim; }
#define threadIdx (rstd_tid())
#define blockIdx (rstd_bid())
#define blockDim (rstd_bdim())
#define gridDim (rstd_gdim())
#define warpSize 32

extern "C" __attribute__((visibility("hidden"))) void rstd_syncthreads(void);
extern "C" __attribute__((visibility("hidden"))) void rstd_trap(void);
#define __syncthreads() rstd_syncthreads()
#define __trap() rstd_trap()

// Function and variable qualifiers. __shared__ variables are static (one
// copy, shared by the block's threads, which run one block at a time) and
// live in one section, which the engine fills with 0xFF bytes (NaN) before
// each block, so that a read of shared memory no thread wrote is caught.
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __restrict__ __restrict
#define __launch_bounds__(...)
#define __shared__ static __attribute__((section("rstd_shared")))

// Bit casts and fast-math intrinsics. The device's __expf is approximate;
// here it is expf (the conformance tolerances cover the difference).
static inline float __int_as_float(int i) { float f; memcpy(&f, &i, 4); return f; }
static inline float __uint_as_float(unsigned int i) { float f; memcpy(&f, &i, 4); return f; }
static inline int __float_as_int(float f) { int i; memcpy(&i, &f, 4); return i; }
static inline unsigned int __float_as_uint(float f) { unsigned int i; memcpy(&i, &f, 4); return i; }
static inline double __longlong_as_double(long long i) { double d; memcpy(&d, &i, 8); return d; }
static inline long long __double_as_longlong(double d) { long long i; memcpy(&i, &d, 8); return i; }
// glibc declares __expf and __logf itself: map CUDA's names onto ours.
static inline float rstd_expf(float x) { return expf(x); }
static inline float rstd_logf(float x) { return logf(x); }
#define __expf rstd_expf
#define __logf rstd_logf
static inline float __fdividef(float a, float b) { return a / b; }
static inline float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x); }
static inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
static inline double rsqrt(double x) { return 1.0 / sqrt(x); }
template <typename T> static inline T __ldg(const T *p) { return *p; }

// CUDA's overloaded min and max for the integer and floating types.
#define RSTD_MINMAX(T) \
    static inline T min(T a, T b) { return a < b ? a : b; } \
    static inline T max(T a, T b) { return a > b ? a : b; }
RSTD_MINMAX(int)
RSTD_MINMAX(unsigned int)
RSTD_MINMAX(long long)
RSTD_MINMAX(unsigned long long)
#undef RSTD_MINMAX
static inline float min(float a, float b) { return fminf(a, b); }
static inline float max(float a, float b) { return fmaxf(a, b); }
static inline double min(double a, double b) { return fmin(a, b); }
static inline double max(double a, double b) { return fmax(a, b); }

// Atomics: real atomic operations, so that they stay correct however the
// engine schedules threads. They return the old value, as CUDA's do.
#define RSTD_ATOMIC_INT(T) \
    static inline T atomicAdd(T *p, T v) { return __atomic_fetch_add(p, v, __ATOMIC_RELAXED); } \
    static inline T atomicSub(T *p, T v) { return __atomic_fetch_sub(p, v, __ATOMIC_RELAXED); } \
    static inline T atomicAnd(T *p, T v) { return __atomic_fetch_and(p, v, __ATOMIC_RELAXED); } \
    static inline T atomicOr(T *p, T v) { return __atomic_fetch_or(p, v, __ATOMIC_RELAXED); } \
    static inline T atomicXor(T *p, T v) { return __atomic_fetch_xor(p, v, __ATOMIC_RELAXED); } \
    static inline T atomicExch(T *p, T v) { return __atomic_exchange_n(p, v, __ATOMIC_RELAXED); } \
    static inline T atomicCAS(T *p, T cmp, T v) { __atomic_compare_exchange_n(p, &cmp, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED); return cmp; } \
    static inline T atomicMax(T *p, T v) { T o = *p; while (o < v && !__atomic_compare_exchange_n(p, &o, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {} return o; } \
    static inline T atomicMin(T *p, T v) { T o = *p; while (o > v && !__atomic_compare_exchange_n(p, &o, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {} return o; }
RSTD_ATOMIC_INT(int)
RSTD_ATOMIC_INT(unsigned int)
RSTD_ATOMIC_INT(unsigned long long)
#undef RSTD_ATOMIC_INT
template <typename F, typename U> static inline F rstd_atomic_fadd(F *p, F v) {
    U *q = reinterpret_cast<U *>(p);
    U o = __atomic_load_n(q, __ATOMIC_RELAXED), n;
    F of, nf;
    do {
        memcpy(&of, &o, sizeof of);
        nf = of + v;
        memcpy(&n, &nf, sizeof n);
    } while (!__atomic_compare_exchange_n(q, &o, n, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
    return of;
}
static inline float atomicAdd(float *p, float v) { return rstd_atomic_fadd<float, unsigned int>(p, v); }
static inline double atomicAdd(double *p, double v) { return rstd_atomic_fadd<double, unsigned long long>(p, v); }

static inline void __threadfence(void) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
static inline void __threadfence_block(void) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

#endif
