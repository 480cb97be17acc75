// kernel_table.h: what the generated launch table (lib/kernels_table.cc,
// written by gen.cc from kernels.cu) tells the driver double about each
// kernel. The parameter sizes come from the compiler (the kernel's own
// function type), the count is checked against gen's parse of the source.
#ifndef RSTD_KERNEL_TABLE_H
#define RSTD_KERNEL_TABLE_H

#include <stddef.h>

struct rstd_kernel {
    const char *name;
    void (*run)(void **args);    // calls the kernel with *(T_i*)args[i]
    int nparams;
    const unsigned char *sizes;  // bytes of each parameter
    const unsigned char *is_ptr; // 1 for a pointer parameter
    const char *params;          // the parameter list as written
    int barrier;                 // calls __syncthreads, directly or not
    int max_threads;             // __launch_bounds__'s first value; 0: none
};

extern "C" __attribute__((visibility("hidden"))) const rstd_kernel rstd_kernel_table[];
extern "C" __attribute__((visibility("hidden"))) const int rstd_kernel_count;

#ifdef RSTD_TABLE_IMPL
#include <type_traits>
#include <utility>
// rstd_sig unpacks a kernel's void** arguments by its declared types.
template <typename F> struct rstd_sig;
template <typename... A> struct rstd_sig<void(A...)> {
    static constexpr int n = sizeof...(A);
    template <void (*f)(A...), size_t... I> static void call(void **p, std::index_sequence<I...>) {
        f(*static_cast<typename std::remove_cv<A>::type *>(p[I])...);
        (void)p;
    }
    template <void (*f)(A...)> static void run(void **p) { call<f>(p, std::index_sequence_for<A...>{}); }
    static const unsigned char *sizes() {
        static const unsigned char s[] = {(unsigned char)sizeof(A)..., 0};
        return s;
    }
    static const unsigned char *is_ptr() {
        static const unsigned char s[] = {(unsigned char)std::is_pointer<A>::value..., 0};
        return s;
    }
};
#define RSTD_KERNEL(k, nparsed, params, barrier, maxthreads)                                       \
    {#k, rstd_sig<decltype(k)>::run<k>, rstd_sig<decltype(k)>::n, rstd_sig<decltype(k)>::sizes(), \
     rstd_sig<decltype(k)>::is_ptr(), params, barrier, maxthreads}
#define RSTD_CHECK(k, nparsed)                                                                     \
    static_assert(rstd_sig<decltype(k)>::n == nparsed, "kernel " #k ": gen parsed a different parameter count");
#endif

#endif
