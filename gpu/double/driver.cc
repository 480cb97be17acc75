// driver.cc: a CPU double of the CUDA driver API (libcuda.so.1), for
// testing gpu/ without a GPU. It exports the symbols gpu/api.go binds, with
// the documented C ABI, and models what the backend relies on:
//   - one device, a primary context current per OS thread;
//   - device memory in host memory behind a registry: every allocation is
//     filled with 0xFF bytes (NaN) and framed by red zones, so a pointer
//     outside a live allocation, a double free or an overrun fails loudly,
//     naming the call;
//   - streams whose async copies and kernels are queued and run only when
//     the stream is synchronised (or a later operation needs them), so a
//     host read without a sync sees stale data;
//   - modules made by the NVRTC double from kernels.cu, whose kernels are
//     kernels.cu itself compiled as host C++ (cuda_exec.h) and run one block
//     at a time, a block's threads as fibers when the kernel synchronises.
// Knobs (environment, read at cuInit): RSTD_DEVICE_CC (e.g. 9.0),
// RSTD_SMS, RSTD_DRIVER_VERSION (e.g. 12080), RSTD_MEM_GIB.
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#if !defined(__x86_64__) && !defined(RSTD_UCONTEXT)
#define RSTD_UCONTEXT // the fast switch is x86-64 assembly; elsewhere ucontext
#endif
#ifdef RSTD_UCONTEXT
#include <ucontext.h>
#endif

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "cuda_exec.h"
#include "kernel_table.h"
#include "rstd.h"

#define API extern "C" __attribute__((visibility("default")))

typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;

enum {
    CUDA_SUCCESS = 0,
    CUDA_ERROR_INVALID_VALUE = 1,
    CUDA_ERROR_OUT_OF_MEMORY = 2,
    CUDA_ERROR_NOT_INITIALIZED = 3,
    CUDA_ERROR_NO_DEVICE = 100,
    CUDA_ERROR_INVALID_DEVICE = 101,
    CUDA_ERROR_INVALID_IMAGE = 200,
    CUDA_ERROR_INVALID_CONTEXT = 201,
    CUDA_ERROR_NO_BINARY_FOR_GPU = 209,
    CUDA_ERROR_UNSUPPORTED_PTX_VERSION = 222,
    CUDA_ERROR_INVALID_HANDLE = 400,
    CUDA_ERROR_NOT_FOUND = 500,
    CUDA_ERROR_NOT_READY = 600,
    CUDA_ERROR_ILLEGAL_ADDRESS = 700,
    CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES = 701,
    CUDA_ERROR_LAUNCH_FAILED = 719,
    CUDA_ERROR_UNKNOWN = 999,
};

// ---- state ----

struct Context {
    int refs = 0;
};
struct Stream {
    unsigned flags = 0;
    std::deque<std::function<void()>> q;
};
struct Module {
    std::string arch;
};
struct Function {
    const rstd_kernel *k;
};
struct Alloc {
    char *raw;      // what was mapped: red zone, data, red zone
    size_t size;    // bytes asked for
    size_t span;    // bytes mapped
};

static const size_t kRed = 256; // red zone bytes before (and at least after) the data
static std::recursive_mutex mu; // one lock: Go calls from any OS thread
static bool inited;
static int cc_major = 9, cc_minor = 0, sms = 16, driver_version = 13000;
static size_t mem_total = 16ull << 30, mem_used;
static Context primary;
static Stream null_stream; // the legacy default stream (handles 0, 1 and 2)
static std::set<Stream *> streams;
static std::set<Module *> modules;
static std::set<Function *> functions;
static std::map<uintptr_t, Alloc> allocs; // by the data's address
static std::set<uintptr_t> freed;         // data addresses freed and not reused
static CUresult sticky;                   // a fault poisons the context, as on a GPU
static thread_local Context *current;
static std::string last_error;

static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void report(const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    last_error = buf;
    fprintf(stderr, "rst CUDA double: %s\n", buf);
}

static const char *getenv_or(const char *k, const char *d) {
    const char *v = getenv(k);
    return v && *v ? v : d;
}

// ---- memory registry ----

// find returns the allocation whose data or red zones hold p, or null.
static const std::pair<const uintptr_t, Alloc> *find(uintptr_t p) {
    auto it = allocs.upper_bound(p + kRed);
    if (it == allocs.begin()) return nullptr;
    --it;
    uintptr_t lo = (uintptr_t)it->second.raw, hi = lo + it->second.span;
    return p >= lo && p < hi ? &*it : nullptr;
}

static int check_range(uintptr_t p, size_t bytes, const char *call) {
    auto a = find(p);
    if (!a) {
        report("%s: 0x%llx is not inside any live device allocation%s", call, (unsigned long long)p,
               freed.count(p) ? " (it was freed)" : "");
        return CUDA_ERROR_ILLEGAL_ADDRESS;
    }
    uintptr_t base = a->first, end = base + a->second.size;
    if (p < base) {
        report("%s: 0x%llx is %llu bytes before the allocation at 0x%llx (%zu bytes)", call, (unsigned long long)p,
               (unsigned long long)(base - p), (unsigned long long)base, a->second.size);
        return CUDA_ERROR_ILLEGAL_ADDRESS;
    }
    if (p > end || bytes > end - p) {
        report("%s: [0x%llx, +%zu) runs %llu bytes past the end of the allocation at 0x%llx (%zu bytes)", call,
               (unsigned long long)p, bytes, (unsigned long long)(p + bytes - end), (unsigned long long)base,
               a->second.size);
        return p > end ? CUDA_ERROR_ILLEGAL_ADDRESS : CUDA_ERROR_INVALID_VALUE;
    }
    return CUDA_SUCCESS;
}

// redzones_intact checks that nothing wrote around an allocation's data.
static bool redzones_intact(uintptr_t base, const Alloc &a, const char *who) {
    const unsigned char *lo = (const unsigned char *)a.raw, *hi = (const unsigned char *)base + a.size;
    const unsigned char *end = (const unsigned char *)a.raw + a.span;
    for (const unsigned char *q = lo; q < (const unsigned char *)base; q++)
        if (*q != 0xFF) {
            report("%s wrote %lld bytes before the allocation at 0x%llx (%zu bytes): buffer underrun", who,
                   (long long)((const unsigned char *)base - q), (unsigned long long)base, a.size);
            return false;
        }
    for (const unsigned char *q = end; q-- > hi;)
        if (*q != 0xFF) {
            report("%s wrote %lld bytes past the end of the allocation at 0x%llx (%zu bytes): buffer overrun", who,
                   (long long)(q - hi + 1), (unsigned long long)base, a.size);
            return false;
        }
    return true;
}

static void fault(CUresult r) {
    if (!sticky) sticky = r;
}

// ---- streams ----

static Stream *stream_of(void *h, CUresult *r) {
    uintptr_t v = (uintptr_t)h;
    if (v <= 2) return &null_stream; // 0, CU_STREAM_LEGACY, CU_STREAM_PER_THREAD
    Stream *s = (Stream *)h;
    if (!streams.count(s)) {
        *r = CUDA_ERROR_INVALID_HANDLE;
        return nullptr;
    }
    return s;
}

static void drain(Stream *s) {
    while (!s->q.empty()) {
        auto fn = std::move(s->q.front());
        s->q.pop_front();
        if (!sticky) fn(); // after a fault nothing more runs, as on a GPU
    }
}

static void drain_all() {
    drain(&null_stream);
    for (Stream *s : streams) drain(s);
}

// enqueue appends work to s. The legacy default stream waits for every
// blocking stream and they for it: run what that order requires first.
static void enqueue(Stream *s, std::function<void()> fn) {
    if (s == &null_stream) {
        for (Stream *o : streams)
            if (!(o->flags & 1)) drain(o);
    } else if (!(s->flags & 1)) {
        drain(&null_stream);
    }
    s->q.push_back(std::move(fn));
}

static void sync_stream(Stream *s) {
    if (s == &null_stream) {
        for (Stream *o : streams)
            if (!(o->flags & 1)) drain(o);
    } else if (!(s->flags & 1)) {
        drain(&null_stream);
    }
    drain(s);
}

// ---- kernel engine ----

extern "C" __attribute__((visibility("hidden"))) rstd_thread_ids rstd_ids;
rstd_thread_ids rstd_ids;
extern "C" char __start_rstd_shared[] __attribute__((weak, visibility("hidden")));
extern "C" char __stop_rstd_shared[] __attribute__((weak, visibility("hidden")));

enum { F_READY, F_BARRIER, F_DONE, F_TRAPPED };
struct Fiber {
    void *sp;
    int state;
    uint3 tid;
#ifdef RSTD_UCONTEXT
    ucontext_t uc;
#endif
};

static const rstd_kernel *run_k;   // the kernel running now
static void **run_args;
static Fiber *run_fiber;            // the fiber running now; null outside fiber mode
static bool run_plain_multi;        // a block of several threads run one after another
static bool run_trapped;
static void *sched_sp;
static void *trap_jmp[5];
static std::vector<Fiber> fibers;
static char *stacks;                 // fiber stacks, each after a guard page
static const size_t kStack = 64 << 10, kGuard = 4096;
static size_t nstacks;

#ifndef RSTD_UCONTEXT
// rstd_switch saves the callee-saved registers on the current stack, stores
// its pointer in *save and resumes the context whose stack pointer is to.
// Much cheaper than swapcontext (no signal-mask system call), which
// matters: topk_mask synchronises 18 times per 256 elements.
extern "C" void rstd_switch(void **save, void *to);
asm(".text\n"
    ".globl rstd_switch\n"
    ".hidden rstd_switch\n"
    ".type rstd_switch,@function\n"
    "rstd_switch:\n"
    "  pushq %rbp\n  pushq %rbx\n  pushq %r12\n  pushq %r13\n  pushq %r14\n  pushq %r15\n"
    "  movq %rsp, (%rdi)\n"
    "  movq %rsi, %rsp\n"
    "  popq %r15\n  popq %r14\n  popq %r13\n  popq %r12\n  popq %rbx\n  popq %rbp\n"
    "  ret\n"
    ".size rstd_switch, .-rstd_switch\n");
static void fiber_entry();
static void fiber_init(Fiber &f, char *top) {
    uint64_t *sp = (uint64_t *)((uintptr_t)top & ~(uintptr_t)15);
    *--sp = 0;                        // fiber_entry's return address: it never returns
    *--sp = (uint64_t)&fiber_entry;   // where rstd_switch's ret goes
    for (int i = 0; i < 6; i++) *--sp = 0;
    f.sp = sp;
}
static void to_fiber(Fiber &f) { rstd_switch(&sched_sp, f.sp); }
static void to_sched(Fiber &f) { rstd_switch(&f.sp, sched_sp); }
#else
static ucontext_t sched_uc;
static void fiber_entry();
static void fiber_init(Fiber &f, char *top) {
    getcontext(&f.uc);
    f.uc.uc_stack.ss_sp = top - kStack;
    f.uc.uc_stack.ss_size = kStack;
    f.uc.uc_link = nullptr;
    makecontext(&f.uc, fiber_entry, 0);
}
static void to_fiber(Fiber &f) { swapcontext(&sched_uc, &f.uc); }
static void to_sched(Fiber &f) { swapcontext(&f.uc, &sched_uc); }
#endif

static void fiber_entry() {
    run_k->run(run_args);
    run_fiber->state = F_DONE;
    to_sched(*run_fiber);
    abort(); // a finished fiber is never resumed
}

extern "C" __attribute__((visibility("hidden"))) void rstd_syncthreads(void) {
    if (run_fiber) {
        run_fiber->state = F_BARRIER;
        to_sched(*run_fiber);
        return;
    }
    if (run_plain_multi) {
        // gen.cc decides which kernels need fibers; reaching here means it
        // missed a path to __syncthreads, and running on would be wrong.
        fprintf(stderr, "rst CUDA double: kernel %s called __syncthreads, but gen.cc did not mark it as synchronising\n",
                run_k->name);
        abort();
    }
}

extern "C" __attribute__((visibility("hidden"))) void rstd_trap(void) {
    report("kernel %s: thread (%u,%u,%u) of block (%u,%u,%u) called __trap()", run_k->name, rstd_ids.thread.x,
           rstd_ids.thread.y, rstd_ids.thread.z, rstd_ids.block.x, rstd_ids.block.y, rstd_ids.block.z);
    run_trapped = true;
    if (run_fiber) {
        run_fiber->state = F_TRAPPED;
        to_sched(*run_fiber);
        abort();
    }
    __builtin_longjmp(trap_jmp, 1);
}

static bool ensure_stacks(size_t n) {
    if (n <= nstacks) return true;
    size_t per = kStack + kGuard;
    if (stacks) munmap(stacks, nstacks * per);
    stacks = (char *)mmap(nullptr, n * per, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (stacks == MAP_FAILED) {
        stacks = nullptr;
        nstacks = 0;
        return false;
    }
    // A guard page below each stack: an overflow faults instead of
    // silently corrupting the neighbouring fiber's stack.
    for (size_t i = 0; i < n; i++) mprotect(stacks + i * per, kGuard, PROT_NONE);
    nstacks = n;
    return true;
}

// run_block runs one block's threads: one after another when the kernel
// never synchronises, else as fibers that each run to their next
// __syncthreads, round after round, so each barrier is a real one.
static bool run_block(unsigned nthreads) {
    const dim3 bd = rstd_ids.bdim;
    if (+__start_rstd_shared != +__stop_rstd_shared) memset(__start_rstd_shared, 0xFF, __stop_rstd_shared - __start_rstd_shared);
    if (!run_k->barrier || nthreads == 1) {
        run_plain_multi = nthreads > 1;
        for (unsigned z = 0; z < bd.z; z++)
            for (unsigned y = 0; y < bd.y; y++)
                for (unsigned x = 0; x < bd.x; x++) {
                    rstd_ids.thread = uint3{x, y, z};
                    run_k->run(run_args);
                }
        run_plain_multi = false;
        return true;
    }
    if (!ensure_stacks(nthreads)) {
        report("kernel %s: no memory for %u fiber stacks", run_k->name, nthreads);
        return false;
    }
    fibers.resize(nthreads);
    unsigned i = 0;
    for (unsigned z = 0; z < bd.z; z++)
        for (unsigned y = 0; y < bd.y; y++)
            for (unsigned x = 0; x < bd.x; x++, i++) {
                Fiber &f = fibers[i];
                f.state = F_READY;
                f.tid = uint3{x, y, z};
                fiber_init(f, stacks + (i + 1) * (kStack + kGuard));
            }
    bool diverged = false;
    for (unsigned round = 0;; round++) {
        unsigned waiting = 0, done = 0;
        for (Fiber &f : fibers) {
            if (f.state == F_DONE) {
                done++;
                continue;
            }
            f.state = F_READY;
            run_fiber = &f;
            rstd_ids.thread = f.tid;
            to_fiber(f);
            run_fiber = nullptr;
            if (f.state == F_TRAPPED) return false;
            if (f.state == F_BARRIER) waiting++;
            else done++;
        }
        if (waiting == 0) break;
        if (done && !diverged) {
            // Some threads exited while others wait at a barrier: undefined
            // on a GPU (a hang or a wrong result), so a kernel bug.
            diverged = true;
            report("kernel %s: block (%u,%u,%u): %u threads wait at __syncthreads (barrier %u) after %u exited", run_k->name,
                   rstd_ids.block.x, rstd_ids.block.y, rstd_ids.block.z, waiting, round + 1, done);
            fault(CUDA_ERROR_LAUNCH_FAILED);
        }
    }
    return true;
}

struct Launch {
    const rstd_kernel *k;
    dim3 grid, block;
    std::vector<uint64_t> vals; // each parameter's value, widened
    std::vector<uintptr_t> ptrs; // the allocations its pointers fall in
};

static void run_launch(const Launch &L) {
    std::vector<void *> args(L.k->nparams);
    for (int i = 0; i < L.k->nparams; i++) args[i] = (void *)&L.vals[i];
    run_k = L.k;
    run_args = args.data();
    run_trapped = false;
    rstd_ids.gdim = L.grid;
    rstd_ids.bdim = L.block;
    unsigned nthreads = L.block.x * L.block.y * L.block.z;
    if (__builtin_setjmp(trap_jmp) == 0) {
        for (unsigned z = 0; z < L.grid.z; z++)
            for (unsigned y = 0; y < L.grid.y; y++)
                for (unsigned x = 0; x < L.grid.x; x++) {
                    rstd_ids.block = uint3{x, y, z};
                    if (!run_block(nthreads)) goto out;
                }
    }
out:
    run_plain_multi = false;
    if (run_trapped) fault(CUDA_ERROR_LAUNCH_FAILED);
    std::string who = std::string("kernel ") + L.k->name;
    for (uintptr_t base : L.ptrs) {
        auto it = allocs.find(base);
        if (it != allocs.end() && !redzones_intact(base, it->second, who.c_str())) {
            fault(CUDA_ERROR_ILLEGAL_ADDRESS);
            break;
        }
    }
}

// ---- the API ----

#define LOCK std::lock_guard<std::recursive_mutex> lock(mu)
#define NEED_INIT \
    if (!inited) return CUDA_ERROR_NOT_INITIALIZED
#define NEED_CTX                                        \
    NEED_INIT;                                          \
    if (sticky) return sticky;                          \
    if (!current) {                                     \
        report("%s: no context is current on this thread", __func__); \
        return CUDA_ERROR_INVALID_CONTEXT;              \
    }

API CUresult cuInit(unsigned flags) {
    LOCK;
    if (flags != 0) return CUDA_ERROR_INVALID_VALUE;
    if (!inited) {
        double cc = atof(getenv_or("RSTD_DEVICE_CC", "9.0"));
        cc_major = (int)cc;
        cc_minor = (int)((cc - cc_major) * 10 + 0.5);
        sms = atoi(getenv_or("RSTD_SMS", "16"));
        if (sms < 1) sms = 1;
        driver_version = atoi(getenv_or("RSTD_DRIVER_VERSION", "13000"));
        mem_total = (size_t)(atof(getenv_or("RSTD_MEM_GIB", "16")) * (1 << 30));
        inited = true;
    }
    return CUDA_SUCCESS;
}

API CUresult cuDriverGetVersion(int *v) {
    if (!v) return CUDA_ERROR_INVALID_VALUE;
    const char *e = getenv("RSTD_DRIVER_VERSION");
    *v = inited ? driver_version : (e && *e ? atoi(e) : 13000);
    return CUDA_SUCCESS;
}

API CUresult cuDeviceGetCount(int *n) {
    NEED_INIT;
    if (!n) return CUDA_ERROR_INVALID_VALUE;
    *n = 1;
    return CUDA_SUCCESS;
}

API CUresult cuDeviceGet(CUdevice *d, int ordinal) {
    NEED_INIT;
    if (!d) return CUDA_ERROR_INVALID_VALUE;
    if (ordinal != 0) return CUDA_ERROR_INVALID_DEVICE;
    *d = 0;
    return CUDA_SUCCESS;
}

API CUresult cuDeviceGetName(char *name, int len, CUdevice d) {
    NEED_INIT;
    if (!name || len <= 0) return CUDA_ERROR_INVALID_VALUE;
    if (d != 0) return CUDA_ERROR_INVALID_DEVICE;
    snprintf(name, len, "CPU double of CUDA (gpu/double, sm_%d%d)", cc_major, cc_minor);
    return CUDA_SUCCESS;
}

API CUresult cuDeviceGetAttribute(int *v, int attr, CUdevice d) {
    NEED_INIT;
    if (!v) return CUDA_ERROR_INVALID_VALUE;
    if (d != 0) return CUDA_ERROR_INVALID_DEVICE;
    switch (attr) {
    case 1: *v = 1024; break;                     // MAX_THREADS_PER_BLOCK
    case 2: case 3: *v = 1024; break;             // MAX_BLOCK_DIM_X, _Y
    case 4: *v = 64; break;                       // MAX_BLOCK_DIM_Z
    case 5: *v = 0x7fffffff; break;               // MAX_GRID_DIM_X
    case 6: case 7: *v = 65535; break;            // MAX_GRID_DIM_Y, _Z
    case 8: *v = 48 << 10; break;                 // MAX_SHARED_MEMORY_PER_BLOCK
    case 9: *v = 64 << 10; break;                 // TOTAL_CONSTANT_MEMORY
    case 10: *v = 32; break;                      // WARP_SIZE
    case 12: *v = 65536; break;                   // MAX_REGISTERS_PER_BLOCK
    case 16: *v = sms; break;                     // MULTIPROCESSOR_COUNT
    case 39: *v = 2048; break;                    // MAX_THREADS_PER_MULTIPROCESSOR
    case 75: *v = cc_major; break;                // COMPUTE_CAPABILITY_MAJOR
    case 76: *v = cc_minor; break;                // COMPUTE_CAPABILITY_MINOR
    default:
        report("cuDeviceGetAttribute: attribute %d is not modelled by the double", attr);
        return CUDA_ERROR_INVALID_VALUE;
    }
    return CUDA_SUCCESS;
}

API CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice d) {
    NEED_INIT;
    if (!bytes) return CUDA_ERROR_INVALID_VALUE;
    if (d != 0) return CUDA_ERROR_INVALID_DEVICE;
    *bytes = mem_total;
    return CUDA_SUCCESS;
}

API CUresult cuDevicePrimaryCtxRetain(void **ctx, CUdevice d) {
    LOCK;
    NEED_INIT;
    if (!ctx) return CUDA_ERROR_INVALID_VALUE;
    if (d != 0) return CUDA_ERROR_INVALID_DEVICE;
    primary.refs++;
    *ctx = &primary;
    return CUDA_SUCCESS;
}

API CUresult cuDevicePrimaryCtxRelease_v2(CUdevice d) {
    LOCK;
    NEED_INIT;
    if (d != 0) return CUDA_ERROR_INVALID_DEVICE;
    if (primary.refs <= 0) return CUDA_ERROR_INVALID_CONTEXT;
    primary.refs--;
    return CUDA_SUCCESS;
}

API CUresult cuCtxSetCurrent(void *ctx) {
    NEED_INIT;
    if (ctx && ctx != &primary) return CUDA_ERROR_INVALID_CONTEXT;
    if (ctx && primary.refs <= 0) return CUDA_ERROR_INVALID_CONTEXT; // released
    current = (Context *)ctx;
    return CUDA_SUCCESS;
}

API CUresult cuCtxGetCurrent(void **ctx) {
    NEED_INIT;
    if (!ctx) return CUDA_ERROR_INVALID_VALUE;
    *ctx = current;
    return CUDA_SUCCESS;
}

API CUresult cuCtxSynchronize(void) {
    LOCK;
    NEED_CTX;
    drain_all();
    return sticky;
}

API CUresult cuStreamCreate(void **s, unsigned flags) {
    LOCK;
    NEED_CTX;
    if (!s || (flags & ~1u)) return CUDA_ERROR_INVALID_VALUE;
    Stream *st = new Stream;
    st->flags = flags;
    streams.insert(st);
    *s = st;
    return CUDA_SUCCESS;
}

API CUresult cuStreamDestroy_v2(void *h) {
    LOCK;
    NEED_CTX;
    CUresult r = CUDA_SUCCESS;
    Stream *s = stream_of(h, &r);
    if (!s || s == &null_stream) return r ? r : CUDA_ERROR_INVALID_HANDLE;
    drain(s); // its work still completes, as documented
    streams.erase(s);
    delete s;
    return CUDA_SUCCESS;
}

API CUresult cuStreamSynchronize(void *h) {
    LOCK;
    NEED_CTX;
    CUresult r = CUDA_SUCCESS;
    Stream *s = stream_of(h, &r);
    if (!s) return r;
    sync_stream(s);
    return sticky;
}

API CUresult cuStreamQuery(void *h) {
    LOCK;
    NEED_CTX;
    CUresult r = CUDA_SUCCESS;
    Stream *s = stream_of(h, &r);
    if (!s) return r;
    return s->q.empty() ? CUDA_SUCCESS : CUDA_ERROR_NOT_READY;
}

API CUresult cuMemAlloc_v2(CUdeviceptr *p, size_t bytes) {
    LOCK;
    NEED_CTX;
    if (!p || bytes == 0) return CUDA_ERROR_INVALID_VALUE;
    if (bytes > mem_total - mem_used) return CUDA_ERROR_OUT_OF_MEMORY;
    size_t span = kRed + ((bytes + 255) & ~(size_t)255) + kRed;
    void *raw = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) return CUDA_ERROR_OUT_OF_MEMORY;
    // Garbage in new memory (0xFF bytes: NaN as float and double), so code
    // that reads what it never wrote is caught; the red zones too.
    memset(raw, 0xFF, span);
    uintptr_t base = (uintptr_t)raw + kRed;
    allocs[base] = Alloc{(char *)raw, bytes, span};
    freed.erase(base);
    mem_used += bytes;
    *p = base;
    return CUDA_SUCCESS;
}

API CUresult cuMemFree_v2(CUdeviceptr p) {
    LOCK;
    NEED_CTX;
    // cuMemFree waits for the device: queued work that uses p runs first.
    drain_all();
    if (sticky) return sticky;
    auto it = allocs.find((uintptr_t)p);
    if (it == allocs.end()) {
        if (freed.count((uintptr_t)p))
            report("cuMemFree_v2: 0x%llx was already freed (double free)", p);
        else if (find((uintptr_t)p))
            report("cuMemFree_v2: 0x%llx is inside an allocation, not its start", p);
        else
            report("cuMemFree_v2: 0x%llx is not a device allocation", p);
        return CUDA_ERROR_INVALID_VALUE;
    }
    bool ok = redzones_intact(it->first, it->second, "something (found by cuMemFree_v2)");
    munmap(it->second.raw, it->second.span);
    mem_used -= it->second.size;
    allocs.erase(it);
    if (freed.size() > (1 << 20)) freed.clear();
    freed.insert((uintptr_t)p);
    if (!ok) {
        fault(CUDA_ERROR_ILLEGAL_ADDRESS);
        return CUDA_ERROR_ILLEGAL_ADDRESS;
    }
    return CUDA_SUCCESS;
}

API CUresult cuMemGetInfo_v2(size_t *free_, size_t *total) {
    LOCK;
    NEED_CTX;
    if (!free_ || !total) return CUDA_ERROR_INVALID_VALUE;
    *free_ = mem_total - mem_used;
    *total = mem_total;
    return CUDA_SUCCESS;
}

API CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void *src, size_t bytes, void *h) {
    LOCK;
    NEED_CTX;
    CUresult r = CUDA_SUCCESS;
    Stream *s = stream_of(h, &r);
    if (!s) return r;
    if (bytes == 0) return CUDA_SUCCESS;
    if (!src) return CUDA_ERROR_INVALID_VALUE;
    if ((r = check_range(dst, bytes, "cuMemcpyHtoDAsync_v2: dst"))) return r;
    // From pageable memory the driver stages the source before returning
    // (the caller may reuse it at once); the device write waits in the queue.
    auto staged = std::make_shared<std::vector<char>>((const char *)src, (const char *)src + bytes);
    enqueue(s, [dst, staged] { memcpy((void *)dst, staged->data(), staged->size()); });
    return CUDA_SUCCESS;
}

API CUresult cuMemcpyDtoHAsync_v2(void *dst, CUdeviceptr src, size_t bytes, void *h) {
    LOCK;
    NEED_CTX;
    CUresult r = CUDA_SUCCESS;
    Stream *s = stream_of(h, &r);
    if (!s) return r;
    if (bytes == 0) return CUDA_SUCCESS;
    if (!dst) return CUDA_ERROR_INVALID_VALUE;
    if ((r = check_range(src, bytes, "cuMemcpyDtoHAsync_v2: src"))) return r;
    // Deliberately queued (a GPU may finish it later): host memory holds
    // stale data until the stream is synchronised.
    enqueue(s, [dst, src, bytes] { memcpy(dst, (const void *)src, bytes); });
    return CUDA_SUCCESS;
}

API CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t bytes, void *h) {
    LOCK;
    NEED_CTX;
    CUresult r = CUDA_SUCCESS;
    Stream *s = stream_of(h, &r);
    if (!s) return r;
    if (bytes == 0) return CUDA_SUCCESS;
    if ((r = check_range(dst, bytes, "cuMemcpyDtoDAsync_v2: dst"))) return r;
    if ((r = check_range(src, bytes, "cuMemcpyDtoDAsync_v2: src"))) return r;
    enqueue(s, [dst, src, bytes] { memmove((void *)dst, (const void *)src, bytes); });
    return CUDA_SUCCESS;
}

API CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src, size_t bytes) {
    LOCK;
    CUresult r = cuMemcpyHtoDAsync_v2(dst, src, bytes, nullptr);
    if (r) return r;
    sync_stream(&null_stream);
    return sticky;
}

API CUresult cuMemcpyDtoH_v2(void *dst, CUdeviceptr src, size_t bytes) {
    LOCK;
    CUresult r = cuMemcpyDtoHAsync_v2(dst, src, bytes, nullptr);
    if (r) return r;
    sync_stream(&null_stream);
    return sticky;
}

// ---- modules ----

// The image is what the NVRTC double returns: PTX-like text or a CUBIN
// blob, both naming the target and the hash of the kernels.cu they came
// from, which must be the one compiled into this library.
#include "kernels_hash.h"

static bool field(const std::string &img, const char *key, std::string *out) {
    size_t i = img.find(key);
    if (i == std::string::npos) return false;
    i += strlen(key);
    size_t e = img.find_first_of(" \n", i);
    *out = img.substr(i, e == std::string::npos ? std::string::npos : e - i);
    return true;
}

API CUresult cuModuleLoadData(void **mod, const void *image) {
    LOCK;
    NEED_CTX;
    if (!mod || !image) return CUDA_ERROR_INVALID_VALUE;
    const char *p = (const char *)image;
    bool cubin = memcmp(p, "\x7f" "ELF", 4) == 0;
    std::string img(cubin ? p + 4 : p, strnlen(cubin ? p + 4 : p, 1 << 16));
    if (img.find("rst-cuda-double") == std::string::npos) {
        report("cuModuleLoadData: the image is not one the NVRTC double made (real %s?)", cubin ? "CUBIN" : "PTX");
        return CUDA_ERROR_INVALID_IMAGE;
    }
    std::string target, hash, nvrtc;
    if (!field(img, ".target ", &target) || !field(img, "// source ", &hash) || !field(img, "// nvrtc ", &nvrtc)) {
        report("cuModuleLoadData: the image lacks its target, source hash or NVRTC version");
        return CUDA_ERROR_INVALID_IMAGE;
    }
    if (hash != RSTD_KERNELS_HASH) {
        report("cuModuleLoadData: the image is of a kernels.cu (hash %s) other than the one this double was built from (%s): rebuild it (make gpu-double)",
               hash.c_str(), RSTD_KERNELS_HASH);
        return CUDA_ERROR_INVALID_IMAGE;
    }
    int arch = atoi(target.c_str() + 3), dev = cc_major * 10 + cc_minor;
    if (cubin) {
        // A CUBIN runs on its own major architecture, at the same or a
        // later minor version.
        if (arch / 10 != cc_major || arch % 10 > cc_minor) {
            report("cuModuleLoadData: CUBIN for %s cannot run on this sm_%d device", target.c_str(), dev);
            return CUDA_ERROR_NO_BINARY_FOR_GPU;
        }
    } else {
        int maj = atoi(nvrtc.c_str()), min = 0;
        const char *dot = strchr(nvrtc.c_str(), '.');
        if (dot) min = atoi(dot + 1);
        if (maj * 1000 + min * 10 > driver_version) {
            report("cuModuleLoadData: PTX from NVRTC %s is newer than this driver (%d.%d)", nvrtc.c_str(),
                   driver_version / 1000, driver_version % 1000 / 10);
            return CUDA_ERROR_UNSUPPORTED_PTX_VERSION;
        }
        if (arch > dev) {
            report("cuModuleLoadData: PTX for %s cannot be compiled for this sm_%d device", target.c_str(), dev);
            return CUDA_ERROR_NO_BINARY_FOR_GPU;
        }
    }
    Module *m = new Module{target};
    modules.insert(m);
    *mod = m;
    return CUDA_SUCCESS;
}

API CUresult cuModuleUnload(void *mod) {
    LOCK;
    NEED_CTX;
    if (!modules.erase((Module *)mod)) return CUDA_ERROR_INVALID_HANDLE;
    delete (Module *)mod;
    return CUDA_SUCCESS;
}

API CUresult cuModuleGetFunction(void **f, void *mod, const char *name) {
    LOCK;
    NEED_CTX;
    if (!f || !name) return CUDA_ERROR_INVALID_VALUE;
    if (!modules.count((Module *)mod)) return CUDA_ERROR_INVALID_HANDLE;
    for (int i = 0; i < rstd_kernel_count; i++)
        if (strcmp(rstd_kernel_table[i].name, name) == 0) {
            Function *fn = new Function{&rstd_kernel_table[i]};
            functions.insert(fn);
            *f = fn;
            return CUDA_SUCCESS;
        }
    return CUDA_ERROR_NOT_FOUND;
}

API CUresult cuLaunchKernel(void *fh, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                            unsigned shared, void *h, void **params, void **extra) {
    LOCK;
    NEED_CTX;
    Function *fn = (Function *)fh;
    if (!functions.count(fn)) return CUDA_ERROR_INVALID_HANDLE;
    const rstd_kernel *k = fn->k;
    CUresult r = CUDA_SUCCESS;
    Stream *s = stream_of(h, &r);
    if (!s) return r;
    unsigned long long threads = (unsigned long long)bx * by * bz;
    if (!gx || !gy || !gz || !bx || !by || !bz || gy > 65535 || gz > 65535 || gx > 0x7fffffffu || bx > 1024 ||
        by > 1024 || bz > 64 || threads > 1024) {
        report("cuLaunchKernel(%s): grid (%u,%u,%u) or block (%u,%u,%u) out of range", k->name, gx, gy, gz, bx, by, bz);
        return CUDA_ERROR_INVALID_VALUE;
    }
    if (k->max_threads > 0 && threads > (unsigned)k->max_threads) {
        report("cuLaunchKernel(%s): %llu threads a block, __launch_bounds__ allows %d", k->name, threads, k->max_threads);
        return CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES;
    }
    if (shared > 48 << 10) return CUDA_ERROR_INVALID_VALUE;
    if (extra || (k->nparams > 0 && !params)) {
        report("cuLaunchKernel(%s): the double takes kernelParams only (params %p, extra %p)", k->name, (void *)params, (void *)extra);
        return CUDA_ERROR_INVALID_VALUE;
    }
    Launch L;
    L.k = k;
    L.grid = dim3{gx, gy, gz};
    L.block = dim3{bx, by, bz};
    L.vals.resize(k->nparams);
    for (int i = 0; i < k->nparams; i++) {
        // Copied now, as the driver does: the caller may reuse params.
        if (k->sizes[i] > sizeof L.vals[i] || !params[i]) {
            report("cuLaunchKernel(%s): parameter %d of (%s) is null or wider than 8 bytes", k->name, i, k->params);
            return CUDA_ERROR_INVALID_VALUE;
        }
        memcpy(&L.vals[i], params[i], k->sizes[i]);
        if (!k->is_ptr[i] || L.vals[i] == 0) continue;
        char call[512];
        snprintf(call, sizeof call, "cuLaunchKernel(%s): parameter %d of (%s)", k->name, i, k->params);
        auto a = find((uintptr_t)L.vals[i]);
        if ((r = check_range((uintptr_t)L.vals[i], 0, call))) return r;
        L.ptrs.push_back(a->first);
    }
    enqueue(s, [L] { run_launch(L); });
    return CUDA_SUCCESS;
}

API CUresult cuGetErrorName(CUresult r, const char **s) {
    if (!s) return CUDA_ERROR_INVALID_VALUE;
    switch (r) {
#define N(v) case v: *s = #v; return CUDA_SUCCESS;
        N(CUDA_SUCCESS) N(CUDA_ERROR_INVALID_VALUE) N(CUDA_ERROR_OUT_OF_MEMORY) N(CUDA_ERROR_NOT_INITIALIZED)
        N(CUDA_ERROR_NO_DEVICE) N(CUDA_ERROR_INVALID_DEVICE) N(CUDA_ERROR_INVALID_IMAGE) N(CUDA_ERROR_INVALID_CONTEXT)
        N(CUDA_ERROR_NO_BINARY_FOR_GPU) N(CUDA_ERROR_UNSUPPORTED_PTX_VERSION) N(CUDA_ERROR_INVALID_HANDLE)
        N(CUDA_ERROR_NOT_FOUND) N(CUDA_ERROR_NOT_READY) N(CUDA_ERROR_ILLEGAL_ADDRESS)
        N(CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES) N(CUDA_ERROR_LAUNCH_FAILED) N(CUDA_ERROR_UNKNOWN)
#undef N
    }
    *s = nullptr;
    return CUDA_ERROR_INVALID_VALUE;
}

API CUresult cuGetErrorString(CUresult r, const char **s) { return cuGetErrorName(r, s); }

// ---- rstd.h ----

API int rstd_enqueue(void *stream, void (*fn)(void *), void *arg) {
    LOCK;
    CUresult r = CUDA_SUCCESS;
    Stream *s = stream_of(stream, &r);
    if (!s) {
        report("rstd_enqueue: %p is not a live stream", stream);
        return r;
    }
    if (!fn) return CUDA_ERROR_INVALID_VALUE;
    enqueue(s, [fn, arg] { fn(arg); });
    return CUDA_SUCCESS;
}

API int rstd_check_range(const void *p, size_t bytes, const char *call) {
    LOCK;
    return check_range((uintptr_t)p, bytes, call ? call : "rstd_check_range");
}

API void rstd_fail(const char *call, const char *msg) {
    LOCK;
    report("%s: %s", call ? call : "?", msg ? msg : "failed");
    fault(CUDA_ERROR_ILLEGAL_ADDRESS);
}

API int rstd_sync(void *stream) {
    LOCK;
    CUresult r = CUDA_SUCCESS;
    Stream *s = stream_of(stream, &r);
    if (!s) return r;
    sync_stream(s);
    return sticky;
}

API const char *rstd_last_error(void) { return last_error.c_str(); }
