// driver_test: checks the driver and NVRTC doubles through their C ABI,
// as a client that dlopens them (no cuBLAS or cuDNN needed).
//   driver_test LIBDIR KERNELS.cu
// Cases that poison the context (a kernel overrun) run in a child process.
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

typedef int (*fn_t)(...);
static void *cuda, *nvrtc;
static int failures;

static void *sym(void *lib, const char *name) {
    void *p = dlsym(lib, name);
    if (!p) {
        fprintf(stderr, "missing symbol %s\n", name);
        exit(2);
    }
    return p;
}
#define CU(name) ((int (*)(...))sym(cuda, #name))
#define NV(name) ((int (*)(...))sym(nvrtc, #name))

#define CHECK(cond, ...)                                    \
    do {                                                    \
        if (!(cond)) {                                      \
            failures++;                                     \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__);                   \
            fprintf(stderr, "\n");                          \
        }                                                   \
    } while (0)

static void *stream, *mod;

static void *fn(const char *name) {
    void *f = nullptr;
    int r = CU(cuModuleGetFunction)(&f, mod, name);
    CHECK(r == 0, "cuModuleGetFunction(%s) = %d", name, r);
    return f;
}

static int launch(const char *name, unsigned gx, unsigned bx, std::vector<void *> args) {
    return CU(cuLaunchKernel)(fn(name), gx, 1u, 1u, bx, 1u, 1u, 0u, stream, args.data(), (void **)nullptr);
}

static unsigned long long dalloc(size_t bytes) {
    unsigned long long p = 0;
    int r = CU(cuMemAlloc_v2)(&p, bytes);
    CHECK(r == 0, "cuMemAlloc_v2(%zu) = %d", bytes, r);
    return p;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: driver_test LIBDIR KERNELS.cu\n");
        return 2;
    }
    std::string dir = argv[1];
    cuda = dlopen((dir + "/libcuda.so.1").c_str(), RTLD_NOW | RTLD_GLOBAL);
    nvrtc = dlopen((dir + "/libnvrtc.so.13").c_str(), RTLD_NOW | RTLD_GLOBAL);
    if (!cuda || !nvrtc) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 2;
    }
    std::ifstream in(argv[2], std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string src = ss.str();
    const char *(*lastErr)() = (const char *(*)())sym(cuda, "rstd_last_error");

    // Before cuInit nothing works.
    int n = 0, r;
    CHECK(CU(cuDeviceGetCount)(&n) == 3, "cuDeviceGetCount before cuInit should be CUDA_ERROR_NOT_INITIALIZED");
    CHECK(CU(cuInit)(0u) == 0, "cuInit");
    int dev = -1, major = 0, minor = 0;
    CHECK(CU(cuDeviceGet)(&dev, 0) == 0 && dev == 0, "cuDeviceGet");
    CU(cuDeviceGetAttribute)(&major, 75, dev);
    CU(cuDeviceGetAttribute)(&minor, 76, dev);
    CHECK(major == 9 && minor == 0, "compute capability %d.%d", major, minor);
    void *ctx = nullptr;
    unsigned long long p0 = 0;
    CHECK(CU(cuMemAlloc_v2)(&p0, (size_t)4) == 201, "cuMemAlloc without a current context should be CUDA_ERROR_INVALID_CONTEXT");
    CHECK(CU(cuDevicePrimaryCtxRetain)(&ctx, dev) == 0, "cuDevicePrimaryCtxRetain");
    CHECK(CU(cuCtxSetCurrent)(ctx) == 0, "cuCtxSetCurrent");
    CHECK(CU(cuStreamCreate)(&stream, 0u) == 0, "cuStreamCreate");

    // NVRTC: bad options fail as NVRTC's do; good ones give an image.
    void *prog = nullptr;
    CHECK(NV(nvrtcCreateProgram)(&prog, src.c_str(), "kernels.cu", 0, nullptr, nullptr) == 0, "nvrtcCreateProgram");
    const char *bad1[] = {"--gpu-architecture=sm_91"}, *bad2[] = {"--gpu-architecture=sm_90", "--fmad=maybe"},
               *bad3[] = {"--gpu-architecture=sm_90", "--std=c++99"}, *bad4[] = {"--no-such-option"},
               *bad5[] = {"--gpu-architecture=90"};
    CHECK(NV(nvrtcCompileProgram)(prog, 1, bad1) == 5, "sm_91 should be NVRTC_ERROR_INVALID_OPTION");
    CHECK(NV(nvrtcCompileProgram)(prog, 2, bad2) == 5, "--fmad=maybe should be NVRTC_ERROR_INVALID_OPTION");
    CHECK(NV(nvrtcCompileProgram)(prog, 2, bad3) == 5, "--std=c++99 should be NVRTC_ERROR_INVALID_OPTION");
    CHECK(NV(nvrtcCompileProgram)(prog, 1, bad4) == 5, "an unknown option should be NVRTC_ERROR_INVALID_OPTION");
    CHECK(NV(nvrtcCompileProgram)(prog, 1, bad5) == 5, "an architecture without sm_/compute_ should be NVRTC_ERROR_INVALID_OPTION");
    size_t logn = 0;
    NV(nvrtcGetProgramLogSize)(prog, &logn);
    CHECK(logn > 1, "a failed compile should leave a log");
    const char *vopts[] = {"--gpu-architecture=compute_90", "--fmad=false", "--std=c++14"};
    CHECK(NV(nvrtcCompileProgram)(prog, 3, vopts) == 0, "compile for compute_90");
    size_t cub = 99, ptxn = 0;
    NV(nvrtcGetCUBINSize)(prog, &cub);
    CHECK(cub == 0, "a virtual architecture has no CUBIN (size %zu)", cub);
    NV(nvrtcGetPTXSize)(prog, &ptxn);
    std::vector<char> ptx(ptxn);
    NV(nvrtcGetPTX)(prog, ptx.data());
    const char *ropts[] = {"--gpu-architecture=sm_90", "--fmad=false", "--std=c++14"};
    CHECK(NV(nvrtcCompileProgram)(prog, 3, ropts) == 0, "compile for sm_90");
    NV(nvrtcGetCUBINSize)(prog, &cub);
    std::vector<char> cubin(cub);
    NV(nvrtcGetCUBIN)(prog, cubin.data());
    CHECK(NV(nvrtcDestroyProgram)(&prog) == 0 && prog == nullptr, "nvrtcDestroyProgram");
    int na = 0;
    NV(nvrtcGetNumSupportedArchs)(&na);
    CHECK(na > 0, "nvrtcGetNumSupportedArchs");
    // A program other than the kernels.cu the double was built from.
    CHECK(NV(nvrtcCreateProgram)(&prog, "extern \"C\" __global__ void k() {}", "x.cu", 0, nullptr, nullptr) == 0, "create");
    CHECK(NV(nvrtcCompileProgram)(prog, 3, ropts) == 6, "a foreign program should be NVRTC_ERROR_COMPILATION");
    NV(nvrtcDestroyProgram)(&prog);

    void *pmod = nullptr;
    CHECK(CU(cuModuleLoadData)(&pmod, ptx.data()) == 0, "cuModuleLoadData(PTX): %s", lastErr());
    CHECK(CU(cuModuleLoadData)(&mod, cubin.data()) == 0, "cuModuleLoadData(CUBIN): %s", lastErr());
    void *f = nullptr;
    CHECK(CU(cuModuleGetFunction)(&f, mod, "no_such_kernel") == 500, "an unknown kernel should be CUDA_ERROR_NOT_FOUND");

    // fill and axpy, and a stale read before the stream is synchronised.
    const int N = 100000;
    unsigned long long x = dalloc(4 * N), y = dalloc(4 * N);
    std::vector<float> hx(N), hy(N, -7.0f);
    for (int i = 0; i < N; i++) hx[i] = (float)i;
    CHECK(CU(cuMemcpyHtoDAsync_v2)(x, hx.data(), (size_t)4 * N, stream) == 0, "HtoD");
    int nn = N;
    float v = 2.0f, a = 0.5f;
    CHECK(launch("fill", 64, 256, {&y, &nn, &v}) == 0, "launch fill: %s", lastErr());
    CHECK(launch("axpy", 64, 256, {&x, &y, &nn, &a}) == 0, "launch axpy: %s", lastErr());
    CHECK(CU(cuMemcpyDtoHAsync_v2)(hy.data(), y, (size_t)4 * N, stream) == 0, "DtoH");
    CHECK(hy[10] == -7.0f, "before cuStreamSynchronize the host copy should be stale, got %g", hy[10]);
    CHECK(CU(cuStreamSynchronize)(stream) == 0, "sync");
    bool ok = true;
    for (int i = 0; i < N && ok; i++) ok = hy[i] == 2.0f + 0.5f * (float)i;
    CHECK(ok, "fill+axpy wrong");

    // A block reduction with shared memory and __syncthreads (256 threads).
    unsigned long long part = dalloc(8 * 32);
    CHECK(launch("dot_partial", 32, 256, {&x, &x, &nn, &part}) == 0, "launch dot_partial: %s", lastErr());
    std::vector<double> hp(32);
    CU(cuMemcpyDtoHAsync_v2)(hp.data(), part, (size_t)8 * 32, stream);
    CU(cuStreamSynchronize)(stream);
    double got = 0, want = 0;
    for (double d : hp) got += d;
    for (int i = 0; i < N; i++) want += (double)i * (double)i;
    CHECK(got == want, "dot_partial: %.17g, want %.17g", got, want);
    // kernels.cu declares dot_partial's block of 256 (__launch_bounds__):
    // a larger block fails as on a GPU.
    r = launch("dot_partial", 32, 512, {&x, &x, &nn, &part});
    CHECK(r == 701 && strstr(lastErr(), "__launch_bounds__"), "dot_partial with 512 threads: %d %s", r, lastErr());

    // New memory is garbage (NaN), not zeros.
    unsigned long long g = dalloc(16);
    float hg[4] = {0, 0, 0, 0};
    CU(cuMemcpyDtoHAsync_v2)(hg, g, (size_t)16, stream);
    CU(cuStreamSynchronize)(stream);
    CHECK(isnan(hg[0]) && isnan(hg[3]), "new memory should read as NaN, got %g", hg[0]);

    // Pointers outside live allocations, and a double free, fail loudly.
    r = CU(cuMemcpyHtoDAsync_v2)(x + 4 * N - 8, hx.data(), (size_t)16, stream);
    CHECK(r != 0 && strstr(lastErr(), "cuMemcpyHtoDAsync_v2") && strstr(lastErr(), "past the end"),
          "a copy past the end: %d %s", r, lastErr());
    r = CU(cuMemcpyDtoHAsync_v2)(hy.data(), (unsigned long long)0x1000, (size_t)4, stream);
    CHECK(r == 700 && strstr(lastErr(), "not inside any live device allocation"), "a wild pointer: %d %s", r, lastErr());
    unsigned long long wild = 0x1000;
    r = launch("fill", 1, 32, {&wild, &nn, &v});
    CHECK(r == 700 && strstr(lastErr(), "cuLaunchKernel(fill): parameter 0"), "a wild kernel argument: %d %s", r, lastErr());
    unsigned long long z = dalloc(64);
    CHECK(CU(cuMemFree_v2)(z) == 0, "free");
    r = CU(cuMemFree_v2)(z);
    CHECK(r == 1 && strstr(lastErr(), "double free"), "a double free: %d %s", r, lastErr());
    r = CU(cuMemcpyHtoDAsync_v2)(z, hx.data(), (size_t)4, stream);
    CHECK(r == 700 && strstr(lastErr(), "freed"), "a use after free: %d %s", r, lastErr());
    CHECK(CU(cuStreamSynchronize)(stream) == 0, "the context is still healthy");

    // A kernel that writes past its buffer poisons the context (in a child).
    pid_t pid = fork();
    if (pid == 0) {
        unsigned long long small = dalloc(4 * 100);
        int big = 101;
        launch("fill", 1, 128, {&small, &big, &v});
        int s = CU(cuStreamSynchronize)(stream);
        bool named = strstr(lastErr(), "kernel fill") && strstr(lastErr(), "past the end");
        _exit(s == 700 && named && CU(cuMemAlloc_v2)(&small, (size_t)4) == 700 ? 0 : 1);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "an overrun by a kernel should fail the next sync with 700 and stick");

    if (failures) {
        fprintf(stderr, "driver_test: %d failures\n", failures);
        return 1;
    }
    printf("driver_test: ok (fill, axpy, dot_partial, launch bounds, stale read, NaN fill, range checks, double free, overrun)\n");
    return 0;
}
