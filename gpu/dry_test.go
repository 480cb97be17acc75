package gpu

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/rst-bench/rst/suite/nn"
	"github.com/rst-bench/rst/suite/rng"
)

// stubAPI is an api whose every entry point succeeds and does nothing,
// except those that must hand something back (device addresses, kernel
// handles, a CUBIN, cuDNN's algorithm choices). Running the backend on it
// checks, without a GPU, that every launch names a kernel of kernels.cu
// with the declared argument types, and that no path panics.
type stubAPI struct {
	*api
	names    map[uintptr]string
	launched map[string]int
	next     uintptr
	gemms    int // cuBLAS GEMM calls
}

// cublasStatusInvalidValue is CUBLAS_STATUS_INVALID_VALUE.
const cublasStatusInvalidValue = 7

// gemmStatus is what cublasSgemm (batch 1) and cublasSgemmStridedBatched
// return for these sizes: column-major op(A) m×k, op(B) k×n, C m×n, and
// every leading dimension at least max(1, rows of the stored matrix).
func gemmStatus(ta, tb, m, n, k, lda, ldb, ldc, batch int32) int32 {
	rowsA, rowsB := m, k
	if ta != cublasOpN {
		rowsA = k
	}
	if tb != cublasOpN {
		rowsB = n
	}
	if m < 0 || n < 0 || k < 0 || batch < 0 || lda < max(1, rowsA) || ldb < max(1, rowsB) || ldc < max(1, m) {
		return cublasStatusInvalidValue
	}
	return 0
}

func newStub() *stubAPI {
	s := &stubAPI{api: &api{}, names: map[uintptr]string{}, launched: map[string]int{}, next: 1 << 32}
	for _, part := range []any{&s.driverAPI, &s.cublasAPI, &s.cudnnAPI, &s.nvrtcAPI} {
		v := reflect.ValueOf(part).Elem()
		for i := 0; i < v.NumField(); i++ {
			f := v.Field(i)
			if f.Kind() != reflect.Func {
				continue
			}
			ft := f.Type()
			zero := reflect.MakeFunc(ft, func([]reflect.Value) []reflect.Value {
				out := make([]reflect.Value, ft.NumOut())
				for k := range out {
					out[k] = reflect.Zero(ft.Out(k))
				}
				return out
			})
			reflect.NewAt(ft, unsafe.Pointer(f.UnsafeAddr())).Elem().Set(zero)
		}
	}
	s.cuDeviceGetCount = func(n *int32) int32 { *n = 1; return 0 }
	s.cuDeviceGetAttribute = func(v *int32, attr, dev int32) int32 { *v = 9; return 0 }
	s.cuMemAlloc = func(p *uintptr, n uint64) int32 {
		*p = s.next
		s.next += uintptr((n + 255) &^ 255)
		return 0
	}
	s.nvrtcGetCUBINSize = func(p uintptr, n *uint64) int32 { *n = 16; return 0 }
	s.cuModuleGetFunction = func(f *uintptr, m uintptr, name *byte) int32 {
		*f = uintptr(len(s.names) + 1)
		s.names[*f] = gostring(name)
		return 0
	}
	s.cuLaunchKernel = func(f uintptr, gx, gy, gz, bx, by, bz, shared uint32, st uintptr, params, extra unsafe.Pointer) int32 {
		s.launched[s.names[f]]++
		return 0
	}
	find := func(ret *int32, perf *convPerf) int32 {
		*ret = 2
		ps := unsafe.Slice(perf, 2)
		ps[0] = convPerf{Algo: 1, Time: 1, Determinism: 0}
		ps[1] = convPerf{Algo: 2, Time: 1.1, Determinism: cudnnDeterministic, Memory: 1000}
		return 0
	}
	// cuBLAS's documented argument checks, so that a call the real
	// library would refuse fails here too.
	s.cublasSgemm = func(h uintptr, ta, tb, m, n, k int32, alpha *float32, a uintptr, lda int32, b uintptr, ldb int32, beta *float32, c uintptr, ldc int32) int32 {
		s.gemms++
		return gemmStatus(ta, tb, m, n, k, lda, ldb, ldc, 1)
	}
	s.cublasSgemmStridedBatched = func(h uintptr, ta, tb, m, n, k int32, alpha *float32, a uintptr, lda int32, sa int64, b uintptr, ldb int32, sb int64,
		beta *float32, c uintptr, ldc int32, sc int64, batch int32) int32 {
		s.gemms++
		return gemmStatus(ta, tb, m, n, k, lda, ldb, ldc, batch)
	}
	s.cudnnFindConvolutionForwardAlgorithm = func(h, x, w, c, y uintptr, req int32, ret *int32, perf *convPerf) int32 { return find(ret, perf) }
	s.cudnnFindConvolutionBackwardDataAlgorithm = func(h, w, dy, c, dx uintptr, req int32, ret *int32, perf *convPerf) int32 { return find(ret, perf) }
	s.cudnnFindConvolutionBackwardFilterAlgorithm = func(h, x, dy, c, dw uintptr, req int32, ret *int32, perf *convPerf) int32 { return find(ret, perf) }
	return s
}

// TestDryRun calls every Backend method on the stub, on fresh tensors and
// on views at odd offsets, and checks that nothing failed and that every
// kernel of kernels.cu was launched.
func TestDryRun(t *testing.T) {
	s := newStub()
	b, err := open(s.api, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.Describe(), "FP32") || b.Name() != "cuda" {
		t.Errorf("Describe %q, Name %q", b.Describe(), b.Name())
	}
	for _, off := range []int{0, 3} {
		mk := func(shape ...int) *nn.Tensor {
			n := 1
			for _, d := range shape {
				n *= d
			}
			p := b.New(n + off + 2)
			return b.View(b.View(p, 1, n+off+1), off, shape...)
		}
		x, y, dy, dx := mk(2, 6, 6, 3), mk(2, 6, 6, 3), mk(2, 6, 6, 3), mk(2, 6, 6, 3)
		ch := []*nn.Tensor{mk(3), mk(3), mk(3), mk(3), mk(3), mk(3)}
		host := make([]float32, x.Len())
		b.Upload(x, host)
		b.Download(host, x)
		b.Fill(x, 1)
		b.Copy(y, x)
		b.Axpy(2, x, y)
		b.Scale(2, x)
		b.Lerp(y, x, 0.5)
		_ = b.Dot(x, y)
		b.Mul(x, y, dx)
		b.Add(x, y, dx)
		b.AddReLU(x, y, dx)
		a2, b2, c2 := mk(4, 5), mk(5, 6), mk(4, 6)
		b.MatMul(false, false, 1, a2, b2, 0, c2)
		b.MatMul(true, true, 1, mk(5, 4), mk(6, 5), 1, c2)
		b.AddRowVector(c2, mk(6))
		b.SumRows(c2, mk(6), 0.5)
		g := nn.ConvGeom{KH: 3, KW: 3, Stride: 1, Pad: 1}
		w, dw, cy := mk(4, 3, 3, 3), mk(4, 3, 3, 3), mk(2, 6, 6, 4)
		b.Conv2D(x, w, cy, g)
		b.Conv2DBackward(x, w, cy, dx, dw, g)
		b.Conv2DBackward(x, w, cy, nil, dw, g)
		b.BatchNormTrain(x, y, ch[0], ch[1], ch[2], ch[3], 1e-5, true)
		b.BatchNormInfer(x, y, ch[0], ch[1], ch[2], ch[3], 1e-5, false)
		b.BatchNormBackward(x, y, dy, dx, ch[0], ch[2], ch[3], ch[4], ch[5], 1e-5, true)
		b.BatchNormBackward(x, y, dy, nil, ch[0], ch[2], ch[3], ch[4], ch[5], 1e-5, false)
		b.ReLU(x, y)
		b.ReLUBackward(y, dy, dx)
		pg := nn.ConvGeom{KH: 3, KW: 3, Stride: 2, Pad: 1}
		py := mk(2, 3, 3, 3)
		b.MaxPool(x, py, pg)
		b.MaxPoolBackward(x, py, py, dx, pg)
		b.AvgPool(x, py, pg)
		b.AvgPoolBackward(py, dx, pg)
		gp := mk(2, 3)
		b.GlobalAvgPool(x, gp)
		b.GlobalAvgPoolBackward(gp, dx)
		key := rng.NewKey(1, "dry")
		b.DropoutMask(x, 0.1, key, 7)
		b.Bernoulli(x, 0.5, key)
		b.Uniform(x, key)
		b.Normal(x, key, 3)
		logits := mk(4, 10)
		per := make([]float32, 4)
		_ = b.SoftmaxCrossEntropy(logits, []int32{1, 2, 3, 4}, 0.1, mk(4, 10), per)
		_ = b.SoftmaxCrossEntropy(logits, []int32{1, 2, 3, 4}, 0, nil, nil)
		b.Argmax(logits, make([]int32, 4))
		b.SGDMomentum(x, y, dx, 0.1, 0.9, true)
		b.AdamW(x, y, dx, dy, 0.1, 0.9, 0.999, 1e-8, 0, 1, 1)
		b.AbsPlus(x, y, 0.1)
		b.Where(x, y, dy, dx)
		for _, keep := range []int{0, 5, x.Len()} {
			b.TopKMask(x, y, keep)
		}
		dryTransformer(b, mk)
		b.Sync()
	}
	if err := b.Err(); err != nil {
		t.Fatalf("dry run failed: %v", err)
	}
	for _, k := range b.kernelNames() {
		if s.launched[k] == 0 {
			t.Errorf("kernel %s of kernels.cu was never launched", k)
		}
	}
	if len(b.convs) != 1 {
		t.Errorf("%d convolution plans for one shape", len(b.convs))
	}
	// The deterministic algorithm within 25% of the fastest is chosen.
	for _, p := range b.convs {
		if p.fwd != 2 || p.fwdWS != 1000 {
			t.Errorf("forward algorithm %d with %d bytes of workspace; want 2 and 1000", p.fwd, p.fwdWS)
		}
	}
	// Freed tensors are reused by the next New of their class.
	st := b.Stats()
	x := b.New(1000)
	px := b.ptr(x)
	b.Free(x)
	b.Free(x) // a second Free is a no-op
	y := b.New(1000)
	if b.Stats().Hits <= st.Hits || b.ptr(y) != px {
		t.Errorf("a freed tensor's memory was not reused")
	}
}

// Launch checking: a wrong argument count or type latches an error that
// names the kernel, and later operations do nothing.
func TestLaunchChecks(t *testing.T) {
	for _, c := range []struct {
		args []any
		want string
	}{
		{[]any{dptr(0), 1}, "takes 3 arguments, launched with 2"},
		{[]any{dptr(0), 1, 1.5}, "argument 2 is a double, declared float"},
		{[]any{1, 1, float32(1.5)}, "argument 0 is a int, declared pointer"},
		{[]any{dptr(0), 1 << 40, float32(1.5)}, "overflows int"},
	} {
		b, err := open(newStub().api, Options{TF32: true})
		if err != nil {
			t.Fatal(err)
		}
		b.launch("fill", 1, 1, 1, 1, c.args...)
		if err := b.Err(); err == nil || !strings.Contains(err.Error(), "fill") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("launch(fill, %v): error %v, want one saying %q", c.args, err, c.want)
		}
		if b.Name() != "cuda-tf32" || !strings.Contains(b.Describe(), "TF32 tensor-core") {
			t.Errorf("TF32 backend: %q %q", b.Name(), b.Describe())
		}
	}
	b, _ := open(newStub().api, Options{})
	b.launch("no_such_kernel", 1, 1, 1, 1)
	if err := b.Err(); err == nil || !strings.Contains(err.Error(), "no_such_kernel is not in kernels.cu") {
		t.Errorf("unknown kernel: %v", err)
	}
}

func TestPick(t *testing.T) {
	fast := convPerf{Algo: 1, Time: 1}
	det := convPerf{Algo: 2, Time: 1.2, Determinism: cudnnDeterministic}
	slow := convPerf{Algo: 3, Time: 2, Determinism: cudnnDeterministic}
	bad := convPerf{Algo: 4, Status: 9, Determinism: cudnnDeterministic}
	for _, c := range []struct {
		in   []convPerf
		want int32
		ok   bool
	}{
		{[]convPerf{bad, fast, det}, 2, true},
		{[]convPerf{fast, slow}, 1, true},
		{[]convPerf{bad}, 0, false},
		{nil, 0, false},
	} {
		p, ok := pick(c.in)
		if ok != c.ok || (ok && p.Algo != c.want) {
			t.Errorf("pick(%v) = %d, %v; want %d, %v", c.in, p.Algo, ok, c.want, c.ok)
		}
	}
}

// Empty tensors and batches are no-ops, not lock errors.
func TestEmpty(t *testing.T) {
	b, err := open(newStub().api, Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := b.New(0)
	b.Upload(e, nil)
	b.Download(nil, e)
	b.Copy(e, e)
	if d := b.Dot(e, e); d != 0 {
		t.Errorf("Dot of empty tensors = %v", d)
	}
	l := b.New(0, 10)
	b.SoftmaxCrossEntropy(l, nil, 0, nil, nil)
	b.Argmax(l, nil)
	b.Fill(e, 1)
	if err := b.Err(); err != nil {
		t.Error(err)
	}
}

// A GEMM with a zero dimension calls no cuBLAS (which refuses ld = 0); with
// k = 0 it is c = beta·c, as BLAS and the CPU backend define it: a fill
// with 0 for beta 0 (c may hold NaN), a scale otherwise, nothing for 1.
func TestMatMulZeroDims(t *testing.T) {
	for _, c := range []struct {
		name         string
		a, x, c      []int
		ta, tb       bool
		beta         float32
		batched      bool
		fill, scaled int
	}{
		{"m=0", []int{0, 5}, []int{5, 6}, []int{0, 6}, false, false, 0, false, 0, 0},
		{"n=0", []int{4, 5}, []int{5, 0}, []int{4, 0}, false, false, 0, false, 0, 0},
		{"n=0 transB", []int{4, 5}, []int{0, 5}, []int{4, 0}, false, true, 1, false, 0, 0},
		{"k=0 beta 0", []int{4, 0}, []int{0, 6}, []int{4, 6}, false, false, 0, false, 1, 0},
		{"k=0 beta 0.5", []int{4, 0}, []int{0, 6}, []int{4, 6}, false, false, 0.5, false, 0, 1},
		{"k=0 beta 1", []int{4, 0}, []int{0, 6}, []int{4, 6}, false, false, 1, false, 0, 0},
		{"k=0 transposed", []int{0, 4}, []int{6, 0}, []int{4, 6}, true, true, 0.5, false, 0, 1},
		{"batched k=0", []int{2, 4, 0}, []int{2, 0, 6}, []int{2, 4, 6}, false, false, 0, true, 1, 0},
		{"batched n=0", []int{2, 4, 5}, []int{2, 5, 0}, []int{2, 4, 0}, false, false, 0, true, 0, 0},
	} {
		s := newStub()
		b, err := open(s.api, Options{})
		if err != nil {
			t.Fatal(err)
		}
		a, x, out := b.New(c.a...), b.New(c.x...), b.New(c.c...)
		if c.batched {
			b.BatchedMatMul(c.ta, c.tb, 1, a, x, c.beta, out)
		} else {
			b.MatMul(c.ta, c.tb, 1, a, x, c.beta, out)
		}
		if err := b.Err(); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		if s.gemms != 0 || s.launched["fill"] != c.fill || s.launched["scale"] != c.scaled {
			t.Errorf("%s: %d cuBLAS calls, %d fills, %d scales; want 0, %d, %d", c.name, s.gemms, s.launched["fill"], s.launched["scale"], c.fill, c.scaled)
		}
	}
	// The stub refuses what cuBLAS refuses, and passes the dry run's shapes.
	if gemmStatus(cublasOpN, cublasOpN, 6, 0, 5, 6, 5, 0, 1) != cublasStatusInvalidValue || gemmStatus(cublasOpT, cublasOpT, 6, 4, 5, 5, 4, 6, 1) != 0 {
		t.Error("gemmStatus does not follow cuBLAS's leading-dimension rules")
	}
}

// With TF32 off every convolution descriptor runs FMA math, even when
// cudnnFind reports its algorithm with another math type (the stub's
// report CUDNN_DEFAULT_MATH, which lets cuDNN use TF32 on Ampere and
// later): TF32 never switches itself on.
func TestConvMathType(t *testing.T) {
	for _, tf32 := range []bool{false, true} {
		s := newStub()
		var modes []int32
		s.cudnnSetConvolutionMathType = func(d uintptr, m int32) int32 { modes = append(modes, m); return 0 }
		b, err := open(s.api, Options{TF32: tf32})
		if err != nil {
			t.Fatal(err)
		}
		x, w, y := b.New(2, 6, 6, 3), b.New(4, 3, 3, 3), b.New(2, 6, 6, 4)
		b.Conv2D(x, w, y, nn.ConvGeom{KH: 3, KW: 3, Stride: 1, Pad: 1})
		if err := b.Err(); err != nil {
			t.Fatal(err)
		}
		if len(modes) != 6 {
			t.Fatalf("TF32 %v: %d cudnnSetConvolutionMathType calls, want 3 before Find and 3 after", tf32, len(modes))
		}
		for i, m := range modes {
			switch {
			case !tf32 && m != cudnnFMAMath:
				t.Errorf("FP32: math type %d set (call %d of %v); want CUDNN_FMA_MATH (%d) throughout", m, i, modes, cudnnFMAMath)
			case tf32 && i < 3 && m != cudnnTensorOpMath:
				t.Errorf("TF32: math type %d before Find; want CUDNN_TENSOR_OP_MATH", m)
			}
		}
	}
}

// A kernel written for a fixed block shape refuses any other at launch,
// with an error naming it and both shapes; the shapes the backend uses pass
// (TestDryRun).
func TestFixedBlockLaunch(t *testing.T) {
	for _, c := range []struct {
		name   string
		bx, by int
		args   []any
	}{
		{"dot_partial", 128, 1, []any{dptr(0), dptr(0), 10, dptr(0)}},
		{"col_partial", 256, 1, []any{dptr(0), 10, 10, 256, dptr(0), 0, dptr(0)}},
		{"softmax_rows", 256, 1, []any{dptr(0), dptr(0), 1, 10}},
		{"topk_mask", 512, 1, []any{dptr(0), dptr(0), 10, dptr(0), 4096, dptr(0)}},
	} {
		s := newStub()
		b, err := open(s.api, Options{})
		if err != nil {
			t.Fatal(err)
		}
		b.launch(c.name, 1, 1, c.bx, c.by, c.args...)
		err = b.Err()
		if err == nil || !strings.Contains(err.Error(), c.name) || !strings.Contains(err.Error(), fmt.Sprintf("%d×%d", c.bx, c.by)) {
			t.Errorf("%s on a %d×%d block: error %v, want one naming the kernel and the shapes", c.name, c.bx, c.by, err)
		}
		if s.launched[c.name] != 0 {
			t.Errorf("%s was launched on a %d×%d block", c.name, c.bx, c.by)
		}
	}
}

// Sizes the kernels' int indexing cannot reach are refused in Go with an
// error naming the kernel and the size, before anything is launched: a
// grid-stride index i + stride past 2^31 − 1 wraps negative, and kernels
// computing N·OH·OW·C on the device overflow int.
func TestIndexOverflow(t *testing.T) {
	big := func(shape ...int) *nn.Tensor { return &nn.Tensor{Shape: shape, Dev: &devBuf{}} }
	nearMax := math.MaxInt32 - 100 // fits int, but not i + stride
	pool := nn.ConvGeom{KH: 1, KW: 1, Stride: 1}
	for _, c := range []struct {
		kernel, size string
		run          func(b *Backend)
	}{
		{"fill", fmt.Sprint(nearMax), func(b *Backend) { b.Fill(big(nearMax), 1) }},
		{"axpy", fmt.Sprint(nearMax), func(b *Backend) { b.Axpy(1, big(nearMax), big(nearMax)) }},
		{"dot_partial", fmt.Sprint(nearMax), func(b *Backend) { b.Dot(big(nearMax), big(nearMax)) }},
		{"topk_hist", fmt.Sprint(nearMax), func(b *Backend) { b.TopKMask(big(nearMax), big(nearMax), 5) }},
		// 65536·64·64·8 = 2^31: every dimension fits int, the product does not.
		{"maxpool", "2147483648", func(b *Backend) { b.MaxPool(big(65536, 64, 64, 8), big(65536, 64, 64, 8), pool) }},
		{"avgpool_backward", "2147483648", func(b *Backend) { b.AvgPoolBackward(big(65536, 64, 64, 8), big(65536, 64, 64, 8), pool) }},
		{"global_avgpool_backward", "2147483648", func(b *Backend) { b.GlobalAvgPoolBackward(big(65536, 8), big(65536, 64, 64, 8)) }},
		{"bn_grad_partial", fmt.Sprint(nearMax), func(b *Backend) {
			x := big(1, nearMax)
			b.BatchNormBackward(x, x, x, x, nil, nil, nil, nil, nil, 1e-5, false)
		}},
		// 17e6 rows are 66407 chunks of 256: more than a grid's 65535 rows.
		{"col_partial", "66407", func(b *Backend) { b.SumRows(big(17000000, 1), big(1), 0) }},
		{"bn_affine", fmt.Sprint(nearMax), func(b *Backend) { b.BatchNormInfer(big(1, nearMax), big(1, nearMax), nil, nil, nil, nil, 1e-5, false) }},
	} {
		s := newStub()
		b, err := open(s.api, Options{})
		if err != nil {
			t.Fatal(err)
		}
		c.run(b)
		err = b.Err()
		if err == nil || !strings.Contains(err.Error(), c.kernel) || !strings.Contains(err.Error(), c.size) {
			t.Errorf("%s, size %s: error %v, want one naming both", c.kernel, c.size, err)
		}
		if s.launched[c.kernel] != 0 {
			t.Errorf("%s was launched at size %s", c.kernel, c.size)
		}
	}
}

// A GPU newer than NVRTC gets PTX for the newest architecture NVRTC lists
// below the device's, not a retry of the one NVRTC just rejected; a
// failure on an architecture NVRTC knows is reported as it is; and a
// driver older than NVRTC (CUDA_ERROR_UNSUPPORTED_PTX_VERSION at load) is
// named as such, with the fix.
func TestPTXFallback(t *testing.T) {
	nvrtc12 := []int32{50, 52, 53, 60, 61, 62, 70, 72, 75, 80, 86, 87, 89, 90}
	nvrtc13 := []int32{75, 80, 86, 87, 89, 90, 100, 103, 110, 120, 121}
	for _, c := range []struct {
		name         string
		major, minor int32
		archs        []int32 // nil: an NVRTC that cannot list them
		srcError     bool    // NVRTC fails on every architecture
		load         int32   // cuModuleLoadData's result
		tried        string
		want         string // in the error, or in Describe when it opens
	}{
		{"sm_120 on NVRTC 12.4", 12, 0, nvrtc12, false, 0, "sm_120 compute_90", "PTX for compute_90"},
		{"sm_100 on NVRTC 12.4", 10, 0, nvrtc12, false, 0, "sm_100 compute_90", "PTX for compute_90"},
		{"sm_90, a source error", 9, 0, nvrtc12, true, 0, "sm_90", "could not compile kernels.cu for sm_90"},
		{"sm_120, no list", 12, 0, nil, false, 0, "sm_120", "cannot list the architectures"},
		{"sm_70 on NVRTC 13", 7, 0, nvrtc13, false, 0, "sm_70", "none at or below the device's sm_70"},
		{"driver older than NVRTC", 12, 0, nvrtc12, false, cudaErrorUnsupportedPTXVersion, "sm_120 compute_90", "is newer than the driver"},
	} {
		s := newStub()
		s.cuDeviceGetAttribute = func(v *int32, attr, dev int32) int32 {
			*v = map[int32]int32{attrCCMajor: c.major, attrCCMinor: c.minor}[attr]
			if attr == attrMultiprocessors {
				*v = 9
			}
			return 0
		}
		var tried []string
		s.nvrtcCompileProgram = func(p uintptr, n int32, opts unsafe.Pointer) int32 {
			arch := strings.TrimPrefix(gostring(unsafe.Slice((**byte)(opts), n)[0]), "--gpu-architecture=")
			tried = append(tried, arch)
			num, _ := strconv.Atoi(strings.TrimLeft(arch, "smcompute_"))
			if c.srcError || c.archs == nil || !slices.Contains(c.archs, int32(num)) {
				return 5 // NVRTC_ERROR_INVALID_OPTION
			}
			return 0
		}
		s.nvrtcGetPTXSize = func(p uintptr, n *uint64) int32 { *n = 16; return 0 }
		if c.archs != nil {
			s.nvrtcGetNumSupportedArchs = func(n *int32) int32 { *n = int32(len(c.archs)); return 0 }
			s.nvrtcGetSupportedArchs = func(a *int32) int32 { copy(unsafe.Slice(a, len(c.archs)), c.archs); return 0 }
		}
		s.cuModuleLoadData = func(m *uintptr, image unsafe.Pointer) int32 { return c.load }
		b, err := open(s.api, Options{})
		got := ""
		if err != nil {
			got = err.Error()
		} else {
			got = b.Describe()
		}
		if strings.Join(tried, " ") != c.tried || !strings.Contains(got, c.want) {
			t.Errorf("%s: tried %v, got %q; want %s tried and %q", c.name, tried, got, c.tried, c.want)
		}
		if c.want == "is newer than the driver" && !strings.Contains(got, "update the NVIDIA driver") {
			t.Errorf("%s: %q gives no fix", c.name, got)
		}
	}
}
