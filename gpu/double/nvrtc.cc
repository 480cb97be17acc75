// nvrtc.cc: a CPU double of NVRTC (libnvrtc.so.13). It compiles nothing:
// the driver double already holds kernels.cu compiled as host C++. It
// checks what NVRTC checks (the program, the options, the architecture)
// and returns an image that only the driver double loads: PTX-like text or
// an ELF-tagged CUBIN stand-in, each naming its target, the NVRTC version
// and the hash of the source, so that a kernels.cu edited after the double
// was built is refused instead of running stale kernels.
// Knobs (environment): RSTD_NVRTC_VERSION (e.g. 12.6), RSTD_NVRTC_ARCHS
// (comma-separated, e.g. 75,80,86,89,90: the architectures it supports).
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "kernels_hash.h"

#define API extern "C" __attribute__((visibility("default")))

typedef int nvrtcResult;
enum {
    NVRTC_SUCCESS = 0,
    NVRTC_ERROR_OUT_OF_MEMORY = 1,
    NVRTC_ERROR_PROGRAM_CREATION_FAILURE = 2,
    NVRTC_ERROR_INVALID_INPUT = 3,
    NVRTC_ERROR_INVALID_PROGRAM = 4,
    NVRTC_ERROR_INVALID_OPTION = 5,
    NVRTC_ERROR_COMPILATION = 6,
    NVRTC_ERROR_BUILTIN_OPERATION_FAILURE = 7,
    NVRTC_ERROR_NO_NAME_EXPRESSIONS_AFTER_COMPILATION = 8,
    NVRTC_ERROR_NO_LOWERED_NAMES_BEFORE_COMPILATION = 9,
    NVRTC_ERROR_NAME_EXPRESSION_NOT_VALID = 10,
    NVRTC_ERROR_INTERNAL_ERROR = 11,
    NVRTC_ERROR_TIME_FILE_WRITE_FAILED = 12,
};

struct Program {
    std::string src, name, log = "";
    bool compiled = false;
    std::string ptx, cubin; // cubin empty for a virtual architecture
};

static std::mutex mu;
static std::set<Program *> programs;

static void version(int *maj, int *min) {
    const char *v = getenv("RSTD_NVRTC_VERSION");
    *maj = 13;
    *min = 0;
    if (v && *v) {
        *maj = atoi(v);
        const char *d = strchr(v, '.');
        *min = d ? atoi(d + 1) : 0;
    }
}

// archs: what this NVRTC version can target (NVRTC 13 dropped everything
// below Turing; 12.8 added Blackwell), unless RSTD_NVRTC_ARCHS says.
static std::vector<int> archs() {
    std::vector<int> out;
    const char *e = getenv("RSTD_NVRTC_ARCHS");
    if (e && *e) {
        for (const char *p = e; *p;) {
            out.push_back(atoi(p));
            p = strchr(p, ',');
            if (!p) break;
            p++;
        }
        return out;
    }
    int maj, min;
    version(&maj, &min);
    int v = maj * 10 + min;
    if (v < 130) out = {50, 52, 53, 60, 61, 62, 70, 72};
    for (int a : {75, 80, 86, 87, 89, 90}) out.push_back(a);
    if (v >= 128) out.insert(out.end(), {100, 101, 120});
    if (v >= 129) out.insert(out.end(), {103, 121});
    if (v >= 130) {
        // 13.0 renamed sm_101 to sm_110 and added sm_88.
        out = {75, 80, 86, 87, 88, 89, 90, 100, 103, 110, 120, 121};
    }
    return out;
}

static uint64_t fnv1a(const char *s) {
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) h = (h ^ *p) * 1099511628211ULL;
    return h;
}

API const char *nvrtcGetErrorString(nvrtcResult r) {
    switch (r) {
#define N(v) case v: return #v;
        N(NVRTC_SUCCESS) N(NVRTC_ERROR_OUT_OF_MEMORY) N(NVRTC_ERROR_PROGRAM_CREATION_FAILURE)
        N(NVRTC_ERROR_INVALID_INPUT) N(NVRTC_ERROR_INVALID_PROGRAM) N(NVRTC_ERROR_INVALID_OPTION)
        N(NVRTC_ERROR_COMPILATION) N(NVRTC_ERROR_BUILTIN_OPERATION_FAILURE)
        N(NVRTC_ERROR_NO_NAME_EXPRESSIONS_AFTER_COMPILATION) N(NVRTC_ERROR_NO_LOWERED_NAMES_BEFORE_COMPILATION)
        N(NVRTC_ERROR_NAME_EXPRESSION_NOT_VALID) N(NVRTC_ERROR_INTERNAL_ERROR) N(NVRTC_ERROR_TIME_FILE_WRITE_FAILED)
#undef N
    }
    return "NVRTC_ERROR unknown";
}

API nvrtcResult nvrtcVersion(int *major, int *minor) {
    if (!major || !minor) return NVRTC_ERROR_INVALID_INPUT;
    version(major, minor);
    return NVRTC_SUCCESS;
}

API nvrtcResult nvrtcGetNumSupportedArchs(int *n) {
    if (!n) return NVRTC_ERROR_INVALID_INPUT;
    *n = (int)archs().size();
    return NVRTC_SUCCESS;
}

API nvrtcResult nvrtcGetSupportedArchs(int *out) {
    if (!out) return NVRTC_ERROR_INVALID_INPUT;
    for (int a : archs()) *out++ = a;
    return NVRTC_SUCCESS;
}

API nvrtcResult nvrtcCreateProgram(void **prog, const char *src, const char *name, int nheaders,
                                   const char *const *headers, const char *const *names) {
    if (!prog) return NVRTC_ERROR_INVALID_PROGRAM;
    if (!src || nheaders < 0 || (nheaders > 0 && (!headers || !names))) return NVRTC_ERROR_INVALID_INPUT;
    std::lock_guard<std::mutex> l(mu);
    Program *p = new Program;
    p->src = src;
    p->name = name ? name : "default_program";
    programs.insert(p);
    *prog = p;
    return NVRTC_SUCCESS;
}

API nvrtcResult nvrtcDestroyProgram(void **prog) {
    if (!prog) return NVRTC_ERROR_INVALID_PROGRAM;
    std::lock_guard<std::mutex> l(mu);
    if (!programs.erase((Program *)*prog)) return NVRTC_ERROR_INVALID_PROGRAM;
    delete (Program *)*prog;
    *prog = nullptr;
    return NVRTC_SUCCESS;
}

static Program *live(void *prog) {
    return programs.count((Program *)prog) ? (Program *)prog : nullptr;
}

// value returns the value of "--name=value" or "-name=value", or of the
// next option for the two-word form "-arch value".
static bool value(const std::string &o, const char *name, int *i, int n, const char *const *opts, std::string *v) {
    std::string eq = std::string(name) + "=";
    if (o.compare(0, eq.size(), eq) == 0) {
        *v = o.substr(eq.size());
        return true;
    }
    if (o == name && *i + 1 < n && opts[*i + 1]) {
        *v = opts[++*i];
        return true;
    }
    return false;
}

API nvrtcResult nvrtcCompileProgram(void *prog, int n, const char *const *opts) {
    std::lock_guard<std::mutex> l(mu);
    Program *p = live(prog);
    if (!p) return NVRTC_ERROR_INVALID_PROGRAM;
    if (n < 0 || (n > 0 && !opts)) return NVRTC_ERROR_INVALID_INPUT;
    p->log.clear();
    p->compiled = false;
    std::string arch = "compute_75"; // NVRTC 13's default
    for (int i = 0; i < n; i++) {
        if (!opts[i]) return NVRTC_ERROR_INVALID_INPUT;
        std::string o = opts[i], v;
        if (value(o, "--gpu-architecture", &i, n, opts, &v) || value(o, "-arch", &i, n, opts, &v)) {
            arch = v;
        } else if (value(o, "--fmad", &i, n, opts, &v) || value(o, "-fmad", &i, n, opts, &v)) {
            if (v != "true" && v != "false") {
                p->log = "nvrtc: error: invalid value for --fmad: " + v + "\n";
                return NVRTC_ERROR_INVALID_OPTION;
            }
        } else if (value(o, "--std", &i, n, opts, &v) || value(o, "-std", &i, n, opts, &v)) {
            int maj, min;
            version(&maj, &min);
            std::set<std::string> ok = {"c++11", "c++14", "c++17", "c++20"};
            if (maj < 13) ok.insert("c++03");
            if (!ok.count(v)) {
                p->log = "nvrtc: error: invalid value for --std: " + v + "\n";
                return NVRTC_ERROR_INVALID_OPTION;
            }
        } else if (o.rfind("-D", 0) == 0 || o.rfind("--define-macro=", 0) == 0 || o.rfind("-I", 0) == 0 ||
                   o.rfind("--include-path=", 0) == 0 || o == "-lineinfo" || o == "--generate-line-info" ||
                   o == "-G" || o == "--device-debug" || o == "--use_fast_math" || o == "-use_fast_math" ||
                   o == "-default-device" || o == "--extra-device-vectorization" || o == "-w" ||
                   o == "--disable-warnings") {
            // Accepted and irrelevant to the double.
        } else {
            p->log = "nvrtc: error: unrecognized option " + o + "\n";
            return NVRTC_ERROR_INVALID_OPTION;
        }
    }
    bool real;
    if (arch.rfind("sm_", 0) == 0) real = true;
    else if (arch.rfind("compute_", 0) == 0) real = false;
    else {
        p->log = "nvrtc: error: invalid value for --gpu-architecture (-arch): " + arch + "\n";
        return NVRTC_ERROR_INVALID_OPTION;
    }
    std::string num = arch.substr(real ? 3 : 8);
    int a = atoi(num.c_str());
    bool known = false;
    for (int s : archs()) known |= s == a;
    if (!known || num.empty() || num.find_first_not_of("0123456789af") != std::string::npos) {
        p->log = "nvrtc: error: invalid value for --gpu-architecture (-arch): " + arch + "\n";
        return NVRTC_ERROR_INVALID_OPTION;
    }
    char hash[32];
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)fnv1a(p->src.c_str()));
    if (hash != std::string(RSTD_KERNELS_HASH)) {
        p->log = p->name + ": error: the CPU double of NVRTC compiles only the kernels.cu it was built from (hash " +
                 RSTD_KERNELS_HASH + "); this program's hash is " + hash + ": rebuild the double (make gpu-double)\n";
        return NVRTC_ERROR_COMPILATION;
    }
    int maj, min;
    version(&maj, &min);
    char text[512];
    snprintf(text, sizeof text,
             "//\n// Generated by the rst-cuda-double NVRTC stand-in\n// nvrtc %d.%d\n// source %s\n//\n"
             ".version %d.%d\n.target sm_%d\n.address_size 64\n",
             maj, min, hash, maj - 4, min, a);
    p->ptx = text;
    p->ptx.push_back('\0');
    p->cubin.clear();
    if (real) {
        p->cubin = std::string("\x7f" "ELF", 4) + text;
        p->cubin.push_back('\0');
    }
    p->compiled = true;
    return NVRTC_SUCCESS;
}

API nvrtcResult nvrtcGetProgramLogSize(void *prog, size_t *n) {
    std::lock_guard<std::mutex> l(mu);
    Program *p = live(prog);
    if (!p) return NVRTC_ERROR_INVALID_PROGRAM;
    if (!n) return NVRTC_ERROR_INVALID_INPUT;
    *n = p->log.size() + 1;
    return NVRTC_SUCCESS;
}

API nvrtcResult nvrtcGetProgramLog(void *prog, char *out) {
    std::lock_guard<std::mutex> l(mu);
    Program *p = live(prog);
    if (!p) return NVRTC_ERROR_INVALID_PROGRAM;
    if (!out) return NVRTC_ERROR_INVALID_INPUT;
    memcpy(out, p->log.c_str(), p->log.size() + 1);
    return NVRTC_SUCCESS;
}

API nvrtcResult nvrtcGetPTXSize(void *prog, size_t *n) {
    std::lock_guard<std::mutex> l(mu);
    Program *p = live(prog);
    if (!p) return NVRTC_ERROR_INVALID_PROGRAM;
    if (!n || !p->compiled) return NVRTC_ERROR_INVALID_INPUT;
    *n = p->ptx.size();
    return NVRTC_SUCCESS;
}

API nvrtcResult nvrtcGetPTX(void *prog, char *out) {
    std::lock_guard<std::mutex> l(mu);
    Program *p = live(prog);
    if (!p) return NVRTC_ERROR_INVALID_PROGRAM;
    if (!out || !p->compiled) return NVRTC_ERROR_INVALID_INPUT;
    memcpy(out, p->ptx.data(), p->ptx.size());
    return NVRTC_SUCCESS;
}

// For a virtual architecture there is no CUBIN: its size is 0, as
// documented.
API nvrtcResult nvrtcGetCUBINSize(void *prog, size_t *n) {
    std::lock_guard<std::mutex> l(mu);
    Program *p = live(prog);
    if (!p) return NVRTC_ERROR_INVALID_PROGRAM;
    if (!n || !p->compiled) return NVRTC_ERROR_INVALID_INPUT;
    *n = p->cubin.size();
    return NVRTC_SUCCESS;
}

API nvrtcResult nvrtcGetCUBIN(void *prog, char *out) {
    std::lock_guard<std::mutex> l(mu);
    Program *p = live(prog);
    if (!p) return NVRTC_ERROR_INVALID_PROGRAM;
    if (!out || !p->compiled) return NVRTC_ERROR_INVALID_INPUT;
    memcpy(out, p->cubin.data(), p->cubin.size());
    return NVRTC_SUCCESS;
}
