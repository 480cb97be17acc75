package gpu

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/rst-bench/rst/suite/rng"
)

// No compiler for kernels.cu runs here (NVRTC needs a GPU machine), so
// this test reads the Go source: every launch, elem and cols call names a
// kernel declared in kernels.cu and passes as many arguments as it takes.
// TestDryRun checks the argument types at run time.
func TestKernelCallsMatchDeclarations(t *testing.T) {
	sigs, err := parseKernels(kernelSource)
	if err != nil {
		t.Fatal(err)
	}
	if len(sigs) < 30 {
		t.Fatalf("only %d kernels parsed from kernels.cu", len(sigs))
	}
	// Arguments before the kernel's own, per launcher.
	fixed := map[string]int{"launch": 5, "elem": 2, "cols": 2}
	files, _ := filepath.Glob("*.go")
	if len(files) == 0 {
		// A compiled test binary run away from its sources (gpu-check/).
		t.Skip("no Go sources beside the test binary: this check reads gpu/*.go")
	}
	fset := token.NewFileSet()
	calls := 0
	used := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			nfix, ok := fixed[sel.Sel.Name]
			if !ok || len(call.Args) == 0 {
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			name, _ := strconv.Unquote(lit.Value)
			pos := fset.Position(call.Pos())
			ps, ok := sigs[name]
			if !ok {
				t.Errorf("%s: %s(%q): no such kernel in kernels.cu", pos, sel.Sel.Name, name)
				return true
			}
			if call.Ellipsis.IsValid() {
				t.Errorf("%s: %s(%q, ...): spread arguments cannot be checked", pos, sel.Sel.Name, name)
				return true
			}
			if got := len(call.Args) - nfix; got != len(ps) {
				t.Errorf("%s: %s(%q) passes %d kernel arguments; kernels.cu declares %d", pos, sel.Sel.Name, name, got, len(ps))
			}
			calls++
			used[name] = true
			return true
		})
	}
	for k := range sigs {
		if !used[k] {
			t.Errorf("kernel %s is declared in kernels.cu and never launched", k)
		}
	}
	t.Logf("%d launch sites, %d kernels", calls, len(sigs))
}

func TestParseKernels(t *testing.T) {
	got, err := parseKernels(`extern "C" __global__ void k(const float* __restrict__ x, int n,
		float a, double b, unsigned long long s, unsigned* h) {}
		extern "C" __global__ void none() {}`)
	if err != nil {
		t.Fatal(err)
	}
	want := []ptype{pPtr, pInt, pFloat, pDouble, pU64, pPtr}
	if len(got["k"]) != len(want) || len(got["none"]) != 0 {
		t.Fatalf("parsed %v", got)
	}
	for i := range want {
		if got["k"][i] != want[i] {
			t.Errorf("parameter %d: %v, want %v", i, got["k"][i], want[i])
		}
	}
	fixed := `extern "C" __global__ void FIXED_BLOCK(32, 8) k(int n) {}`
	if ps, _ := parseKernels(fixed); len(ps["k"]) != 1 || ps["k"][0] != pInt || parseBlocks(fixed)["k"] != [2]int{32, 8} {
		t.Errorf("FIXED_BLOCK(32, 8) k(int n): parsed %v, block %v", ps, parseBlocks(fixed))
	}
	if _, err := parseKernels(`extern "C" __global__ void k(short x) {}`); err == nil {
		t.Errorf("a parameter type the launcher cannot pack was accepted")
	}
}

// The kernels' counter-based random values are rng.Key.At: the same
// constants, and the same formula (written here in Go as the kernel has
// it) give the same values.
func TestKernelRandomMatchesKey(t *testing.T) {
	for _, c := range []string{"0x9e3779b97f4a7c15ULL", "0xbf58476d1ce4e5b9ULL", "0x94d049bb133111ebULL",
		"z ^ (z >> 30)", "z ^ (z >> 27)", "z ^ (z >> 31)", "rst_mix(rst_mix(s1 ^ (i * 0x9e3779b97f4a7c15ULL)) ^ s2)",
		">> 40) / 16777216.0f", ">> 11) / 9007199254740992.0",
		// rng.Key.NormalAt's split of At(i) and its series' constants
		"((x >> 32) + 1ULL) / 4294967296.0", "(x & 0xffffffffULL) / 4294967296.0", "0.7071067811865476",
		"1.0 / 23.0", "0.6931471805599453", "6.283185307179586", "for (int k = 10; k >= 1; k--)"} {
		if !strings.Contains(kernelSource, c) {
			t.Errorf("kernels.cu lacks %q", c)
		}
	}
	mix := func(z uint64) uint64 {
		z += 0x9e3779b97f4a7c15
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		return z ^ (z >> 31)
	}
	k := rng.NewKey(42, "dropout", 3, 9)
	s1, s2 := k.Words()
	for _, i := range []uint64{0, 1, 7, 1 << 40, ^uint64(0)} {
		at := mix(mix(s1^(i*0x9e3779b97f4a7c15)) ^ s2)
		if at != k.At(i) {
			t.Fatalf("At(%d): kernel formula %#x, Key %#x", i, at, k.At(i))
		}
		if f := float32(at>>40) / 16777216; f != k.Float32At(i) {
			t.Errorf("Float32At(%d): %v vs %v", i, f, k.Float32At(i))
		}
		if f := float64(at>>11) / 9007199254740992; f != k.Float64At(i) {
			t.Errorf("Float64At(%d): %v vs %v", i, f, k.Float64At(i))
		}
	}
}

// Kernels whose shared arrays or helpers assume a block shape (a tree over
// 128 or 256 threads, the 32×8 column tiles) declare it with FIXED_BLOCK,
// so that the launcher checks it.
func TestFixedBlockDeclared(t *testing.T) {
	needs := []string{"block_sum128(", "block_max128(", "store_col_pair(", "[256]", "[8][33]"}
	decl := regexp.MustCompile(`extern "C" __global__ void (FIXED_BLOCK\(\d+, \d+\) )?(\w+)\(`)
	for _, m := range decl.FindAllStringSubmatchIndex(kernelSource, -1) {
		// The body: from the first brace to the one that closes it.
		start := m[1] + strings.Index(kernelSource[m[1]:], "{")
		end, depth := start, 0
		for ; end < len(kernelSource); end++ {
			if c := kernelSource[end]; c == '{' {
				depth++
			} else if c == '}' {
				if depth--; depth == 0 {
					break
				}
			}
		}
		body, name, fixed := kernelSource[start:end], kernelSource[m[4]:m[5]], m[2] >= 0
		for _, n := range needs {
			if strings.Contains(body, n) && !fixed {
				t.Errorf("kernel %s uses %s, which assumes a block shape, and does not declare FIXED_BLOCK", name, strings.TrimSuffix(n, "("))
				break
			}
		}
	}
}
