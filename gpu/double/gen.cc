// gen: writes the driver double's launch table from kernels.cu.
//   gen KERNELS.cu TABLE.cc HASH.h
// It parses each `extern "C" __global__` kernel's name, parameter list and
// __launch_bounds__, and finds which kernels reach __syncthreads (directly,
// through a __device__ function or a macro), so that the engine runs only
// those as fibers. HASH.h holds the FNV-1a hash of the source, which the
// NVRTC double compares with the program it is given.
#include <cctype>
#include <cstdio>
#include <cstdint>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

static std::string strip_comments(const std::string &s) {
    std::string o;
    for (size_t i = 0; i < s.size();) {
        if (s.compare(i, 2, "//") == 0) {
            while (i < s.size() && s[i] != '\n') i++;
        } else if (s.compare(i, 2, "/*") == 0) {
            size_t e = s.find("*/", i + 2);
            i = e == std::string::npos ? s.size() : e + 2;
            o += ' ';
        } else if (s[i] == '"' || s[i] == '\'') {
            char q = s[i];
            o += s[i++];
            while (i < s.size() && s[i] != q) {
                if (s[i] == '\\') o += s[i++];
                if (i < s.size()) o += s[i++];
            }
            if (i < s.size()) o += s[i++];
        } else {
            o += s[i++];
        }
    }
    return o;
}

static bool ident_char(char c) { return isalnum((unsigned char)c) || c == '_'; }

static std::set<std::string> identifiers(const std::string &s) {
    std::set<std::string> out;
    for (size_t i = 0; i < s.size();) {
        if (ident_char(s[i]) && !isdigit((unsigned char)s[i])) {
            size_t j = i;
            while (j < s.size() && ident_char(s[j])) j++;
            out.insert(s.substr(i, j - i));
            i = j;
        } else {
            i++;
        }
    }
    return out;
}

static std::string trim(const std::string &s) {
    size_t a = s.find_first_not_of(" \t\r\n"), b = s.find_last_not_of(" \t\r\n");
    return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

static std::string squash(const std::string &s) {
    std::string o;
    for (char c : s) {
        if (isspace((unsigned char)c)) {
            if (!o.empty() && o.back() != ' ') o += ' ';
        } else {
            o += c;
        }
    }
    return trim(o);
}

struct Fn {
    std::string name, header, params, body;
};

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: gen KERNELS.cu TABLE.cc HASH.h\n");
        return 2;
    }
    std::ifstream in(argv[1], std::ios::binary);
    if (!in) {
        fprintf(stderr, "gen: cannot read %s\n", argv[1]);
        return 1;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string raw = ss.str();
    uint64_t h = 1469598103934665603ULL;
    for (unsigned char c : raw) h = (h ^ c) * 1099511628211ULL;

    std::string src = strip_comments(raw);
    // Macros: a macro whose body names __syncthreads counts as a barrier.
    std::map<std::string, std::string> macros;
    std::string code;
    {
        std::istringstream ls(src);
        std::string line;
        while (std::getline(ls, line)) {
            std::string t = trim(line);
            if (t.rfind("#", 0) == 0) {
                std::string full = line;
                while (!full.empty() && full.back() == '\\' && std::getline(ls, line)) full = full.substr(0, full.size() - 1) + " " + line;
                std::string d = trim(trim(full).substr(1));
                if (d.rfind("define", 0) == 0) {
                    std::string rest = trim(d.substr(6));
                    size_t k = 0;
                    while (k < rest.size() && ident_char(rest[k])) k++;
                    macros[rest.substr(0, k)] = rest.substr(k);
                }
                code += "\n";
                continue;
            }
            code += line + "\n";
        }
    }
    // Top-level function definitions: `header ( params ) ... {` at depth 0.
    std::vector<Fn> fns;
    size_t stmt = 0;
    int depth = 0;
    for (size_t i = 0; i < code.size(); i++) {
        char c = code[i];
        if (c == '{' && depth == 0) {
            std::string head = code.substr(stmt, i - stmt);
            size_t close = head.rfind(')');
            size_t start = i;
            int d = 0;
            size_t j = i;
            for (; j < code.size(); j++) {
                if (code[j] == '{') d++;
                else if (code[j] == '}' && --d == 0) break;
            }
            if (close != std::string::npos) {
                // Match the parameter list's '(' backwards.
                int pd = 0;
                size_t open = close;
                for (;; open--) {
                    if (head[open] == ')') pd++;
                    else if (head[open] == '(' && --pd == 0) break;
                    if (open == 0) break;
                }
                size_t e = open;
                while (e > 0 && isspace((unsigned char)head[e - 1])) e--;
                size_t b = e;
                while (b > 0 && ident_char(head[b - 1])) b--;
                Fn f;
                f.name = head.substr(b, e - b);
                f.header = squash(head.substr(0, b));
                f.params = squash(head.substr(open + 1, close - open - 1));
                f.body = code.substr(start, j - start + 1);
                fns.push_back(f);
            }
            i = j;
            stmt = j + 1;
            continue;
        }
        if (c == ';' && depth == 0) stmt = i + 1;
    }
    // Which names reach __syncthreads: to a fixed point over calls.
    std::set<std::string> barrier = {"__syncthreads"};
    for (bool grew = true; grew;) {
        grew = false;
        for (auto &m : macros)
            if (!barrier.count(m.first))
                for (auto &id : identifiers(m.second))
                    if (barrier.count(id)) { barrier.insert(m.first); grew = true; break; }
        for (auto &f : fns)
            if (!barrier.count(f.name))
                for (auto &id : identifiers(f.body))
                    if (barrier.count(id)) { barrier.insert(f.name); grew = true; break; }
    }

    std::ofstream out(argv[2]);
    out << "// Generated by gpu/double/gen.cc from kernels.cu: do not edit.\n"
        << "#include \"cuda_exec.h\"\n#include \"" << argv[1] << "\"\n"
        << "#define RSTD_TABLE_IMPL\n#include \"kernel_table.h\"\n\n";
    int n = 0;
    std::string rows;
    for (auto &f : fns) {
        if (f.header.find("__global__") == std::string::npos) continue;
        if (f.header.find("extern \"C\"") == std::string::npos) {
            fprintf(stderr, "gen: kernel %s is not extern \"C\": its name would be mangled\n", f.name.c_str());
            return 1;
        }
        int np = 0;
        if (!f.params.empty() && f.params != "void") {
            np = 1;
            int pd = 0;
            for (char c : f.params) {
                if (c == '(' || c == '[' || c == '<') pd++;
                else if (c == ')' || c == ']' || c == '>') pd--;
                else if (c == ',' && pd == 0) np++;
            }
        }
        // What stands between __global__ and the name is __launch_bounds__
        // or a macro that expands to it (FIXED_BLOCK(256, 1)): emit it as
        // an expression, evaluated where __launch_bounds__(n, ...) means n.
        std::string bound = "0", q;
        {
            std::string hdr = f.header;
            size_t g = hdr.find("__global__");
            q = hdr.substr(g + 10);
            for (const char *w : {"void", "__noinline__", "__forceinline__", "static", "inline"}) {
                std::string ws = w;
                for (size_t k; (k = q.find(ws)) != std::string::npos;) {
                    bool lb = k == 0 || !ident_char(q[k - 1]), rb = k + ws.size() >= q.size() || !ident_char(q[k + ws.size()]);
                    if (!lb || !rb) break;
                    q.erase(k, ws.size());
                }
            }
            q = trim(q);
            if (!q.empty()) bound = "RSTD_BOUND(" + q + ")";
        }
        std::string esc;
        for (char c : f.params) {
            if (c == '"' || c == '\\') esc += '\\';
            esc += c;
        }
        out << "RSTD_CHECK(" << f.name << ", " << np << ")\n";
        rows += "    RSTD_KERNEL(" + f.name + ", " + std::to_string(np) + ", \"" + esc + "\", " +
                (barrier.count(f.name) ? "1" : "0") + ", " + bound + "),\n";
        n++;
    }
    if (n == 0) {
        fprintf(stderr, "gen: no extern \"C\" __global__ kernel in %s\n", argv[1]);
        return 1;
    }
    out << "\n#undef __launch_bounds__\n#define __launch_bounds__(...) rstd_launch_bound(__VA_ARGS__)\n"
        << "static constexpr int rstd_launch_bound(int n, int = 0, int = 0) { return n; }\n"
        << "#define RSTD_BOUND(...) ((int)(__VA_ARGS__))\n"
        << "\nextern \"C\" const rstd_kernel rstd_kernel_table[] = {\n" << rows << "};\n"
        << "extern \"C\" const int rstd_kernel_count = " << n << ";\n";
    std::ofstream hh(argv[3]);
    char hex[32];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)h);
    hh << "// Generated by gpu/double/gen.cc: the FNV-1a hash of kernels.cu.\n"
       << "#define RSTD_KERNELS_HASH \"" << hex << "\"\n"
       << "#define RSTD_KERNELS_COUNT " << n << "\n";
    fprintf(stderr, "gen: %d kernels from %s (hash %s)\n", n, argv[1], hex);
    return 0;
}
