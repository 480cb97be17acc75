/* rstd.h: the internal C API of the CPU double of the CUDA driver
 * (libcuda.so.1 built from driver.cc). The cuBLAS and cuDNN doubles call it
 * to queue their work on a stream and to validate device pointers, so that
 * they behave like the real libraries: work runs when the stream is
 * synchronised, and a bad pointer fails loudly, naming the call.
 *
 * This interface is stable: change it only with every library that uses it.
 * Link against the driver double (-L<lib> -l:libcuda.so.1) or resolve the
 * symbols at load time (the backend loads libcuda.so.1 first, RTLD_GLOBAL).
 *
 * Return values are CUresult codes: 0 success, 1 CUDA_ERROR_INVALID_VALUE,
 * 400 CUDA_ERROR_INVALID_HANDLE, 700 CUDA_ERROR_ILLEGAL_ADDRESS. */
#ifndef RSTD_H
#define RSTD_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* rstd_enqueue queues fn(arg) on stream (a CUstream; NULL is the legacy
 * default stream) after the work already queued there. fn runs later, on
 * whatever thread synchronises the stream (cuStreamSynchronize, a blocking
 * copy, cuMemFree, rstd_sync), with the driver's lock held: fn must not call
 * back into the driver except rstd_check_range and rstd_fail. fn owns arg
 * (free it in fn). Returns 0, or 400 for a stream that is not live. */
int rstd_enqueue(void *stream, void (*fn)(void *), void *arg);

/* rstd_check_range returns 0 when [p, p+bytes) lies inside one live device
 * allocation (bytes 0 checks p alone). Otherwise it writes a message naming
 * call (e.g. "cublasSgemm_v2: A") and the allocation nearest p to stderr and
 * returns 700 (CUDA_ERROR_ILLEGAL_ADDRESS) for a pointer outside every
 * allocation or 1 (CUDA_ERROR_INVALID_VALUE) for a range that runs past the
 * end of the allocation p lies in. Callable at enqueue time and from inside
 * a queued fn. */
int rstd_check_range(const void *p, size_t bytes, const char *call);

/* rstd_fail reports an error found while queued work runs (inside fn): it
 * writes "call: msg" to stderr and makes the next synchronisation of the
 * stream return 700, as a faulting kernel does on a GPU. */
void rstd_fail(const char *call, const char *msg);

/* rstd_sync runs everything queued on stream; it returns what
 * cuStreamSynchronize would. */
int rstd_sync(void *stream);

#ifdef __cplusplus
}
#endif

#endif
