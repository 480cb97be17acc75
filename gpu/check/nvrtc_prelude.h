// What NVRTC gives kernels.cu without an #include, declared for clang's
// CUDA device mode under -nocudainc -nocudalib (no CUDA SDK here): the
// execution-space attributes, __launch_bounds__, the built-in variables,
// __syncthreads, the atomics and the math functions kernels.cu calls.
// Math goes to libdevice's __nv_* names, as in clang's own CUDA headers;
// they stay undefined externs in the PTX, which is only compiled here,
// never loaded. A function kernels.cu starts to use must be added here
// (and to the CPU double's header): clang then reports it as undeclared.
#pragma once

#define __host__ __attribute__((host))
#define __device__ __attribute__((device))
#define __global__ __attribute__((global))
#define __shared__ __attribute__((shared))
#define __constant__ __attribute__((constant))
#define __forceinline__ __inline__ __attribute__((always_inline))
#define __launch_bounds__(...) __attribute__((launch_bounds(__VA_ARGS__)))

// threadIdx, blockIdx, blockDim, gridDim (clang's resource header, not CUDA's).
#include <__clang_cuda_builtin_vars.h>

#define NVRTC_PRELUDE static __device__ __forceinline__

extern "C" {
__device__ int __nv_min(int, int);
__device__ float __nv_fmaxf(float, float);
__device__ float __nv_fabsf(float);
__device__ float __nv_sqrtf(float);
__device__ float __nv_expf(float);
__device__ float __nv_erff(float);
__device__ double __nv_sqrt(double);
__device__ double __nv_exp(double);
__device__ double __nv_log(double);
__device__ float __nv_int_as_float(int);
__device__ float __nv_uint_as_float(unsigned int);
__device__ unsigned int __nv_float_as_uint(float);
}

// __syncthreads is a clang NVPTX builtin: nothing to declare.
NVRTC_PRELUDE unsigned int atomicAdd(unsigned int* p, unsigned int v) { return __nvvm_atom_add_gen_i((int*)p, (int)v); }

NVRTC_PRELUDE int min(int a, int b) { return __nv_min(a, b); }
NVRTC_PRELUDE float fmaxf(float a, float b) { return __nv_fmaxf(a, b); }
NVRTC_PRELUDE float fabsf(float a) { return __nv_fabsf(a); }
NVRTC_PRELUDE float sqrtf(float a) { return __nv_sqrtf(a); }
NVRTC_PRELUDE float expf(float a) { return __nv_expf(a); }
NVRTC_PRELUDE float erff(float a) { return __nv_erff(a); }
NVRTC_PRELUDE double sqrt(double a) { return __nv_sqrt(a); }
NVRTC_PRELUDE double exp(double a) { return __nv_exp(a); }
NVRTC_PRELUDE double log(double a) { return __nv_log(a); }
NVRTC_PRELUDE float __int_as_float(int a) { return __nv_int_as_float(a); }
NVRTC_PRELUDE float __uint_as_float(unsigned int a) { return __nv_uint_as_float(a); }
NVRTC_PRELUDE unsigned int __float_as_uint(float a) { return __nv_float_as_uint(a); }
