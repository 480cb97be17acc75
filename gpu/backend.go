package gpu

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"unsafe"

	"github.com/rst-bench/rst/suite/nn"
)

func init() {
	for name, o := range map[string]Options{"cuda": {}, "cuda-tf32": {TF32: true}} {
		nn.Register(name, func() (nn.Backend, error) {
			b, err := Open(o)
			if err != nil {
				return nil, err // not a typed nil inside the interface
			}
			return b, nil
		})
	}
}

// Options choose how the backend computes.
type Options struct {
	// TF32 lets cuBLAS and cuDNN round GEMM and convolution inputs to
	// TF32 (10-bit mantissa) on tensor cores; off, both run in FP32.
	TF32 bool
}

// Backend is nn.Backend on one CUDA device. Its methods may be called
// from any goroutine, one at a time (they hold a lock).
type Backend struct {
	a      *api
	opt    Options
	desc   string
	ctx    uintptr
	stream uintptr
	sms    int
	kern   map[string]kernel
	mem    *allocator
	cublas uintptr
	cudnn  uintptr
	convs  map[convKey]*convPlan
	ws     block // cuDNN workspace, grown on demand

	mu  sync.Mutex
	err error

	// Kernel parameters are packed here: cuLaunchKernel reads an array
	// of pointers to the values, and copies them before it returns.
	slots [24]uint64
	ptrs  [24]uintptr
	// Host scalars whose addresses cuBLAS and cuDNN read (alpha, beta).
	one, zero float32
	hostF64   []float64
}

type kernel struct {
	f      uintptr
	params []ptype
	block  [2]int // the block shape it is written for (FIXED_BLOCK); 0×0 for any
}

// Device memory of a tensor made by New, and of its views.
type (
	devBuf struct {
		b     block
		freed bool
	}
	viewOf struct{ buf *devBuf }
)

// Open loads the CUDA libraries and opens device 0 (CUDA_VISIBLE_DEVICES
// selects which one that is). Its errors name what is missing.
func Open(o Options) (*Backend, error) {
	a, err := loadAPI()
	if err != nil {
		return nil, err
	}
	return open(a, o)
}

func open(a *api, o Options) (*Backend, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b := &Backend{a: a, opt: o, convs: map[convKey]*convPlan{}, one: 1}
	for i := range b.ptrs {
		b.ptrs[i] = uintptr(unsafe.Pointer(&b.slots[i]))
	}
	cu := func(r int32, call string) error {
		if r == 0 {
			return nil
		}
		return fmt.Errorf("cuda device: %s failed: %s", call, a.cuErr(r))
	}
	if r := a.cuInit(0); r != 0 {
		if r == cudaErrorNoDevice {
			return nil, fmt.Errorf("cuda device: the NVIDIA driver is loaded but finds no GPU (cuInit: %s); check nvidia-smi and CUDA_VISIBLE_DEVICES, or use --device cpu", a.cuErr(r))
		}
		return nil, fmt.Errorf("cuda device: cuInit failed: %s (a driver older than the CUDA libraries, or no GPU access in this container?)", a.cuErr(r))
	}
	var count, dev, drv int32
	if err := cu(a.cuDeviceGetCount(&count), "cuDeviceGetCount"); err != nil {
		return nil, err
	}
	if count == 0 {
		return nil, errors.New("cuda device: the NVIDIA driver finds no GPU; check nvidia-smi and CUDA_VISIBLE_DEVICES, or use --device cpu")
	}
	if err := cu(a.cuDeviceGet(&dev, 0), "cuDeviceGet"); err != nil {
		return nil, err
	}
	a.cuDriverGetVersion(&drv)
	var major, minor, sms int32
	a.cuDeviceGetAttribute(&major, attrCCMajor, dev)
	a.cuDeviceGetAttribute(&minor, attrCCMinor, dev)
	a.cuDeviceGetAttribute(&sms, attrMultiprocessors, dev)
	b.sms = max(int(sms), 1)
	name := make([]byte, 256)
	a.cuDeviceGetName(&name[0], int32(len(name)), dev)
	var total uint64
	a.cuDeviceTotalMem(&total, dev)
	if err := cu(a.cuDevicePrimaryCtxRetain(&b.ctx, dev), "cuDevicePrimaryCtxRetain"); err != nil {
		return nil, err
	}
	if err := cu(a.cuCtxSetCurrent(b.ctx), "cuCtxSetCurrent"); err != nil {
		return nil, err
	}
	if err := cu(a.cuStreamCreate(&b.stream, 0), "cuStreamCreate"); err != nil {
		return nil, err
	}
	b.mem = newAllocator(func(n uint64) (uintptr, error) {
		var p uintptr
		if err := cu(a.cuMemAlloc(&p, n), "cuMemAlloc"); err != nil {
			return 0, err
		}
		return p, nil
	}, func(p uintptr) error { return cu(a.cuMemFree(p), "cuMemFree") })

	image, nvrtcVer, how, err := compileKernels(a, int(major), int(minor))
	if err != nil {
		return nil, err
	}
	var mod uintptr
	if r := a.cuModuleLoadData(&mod, unsafe.Pointer(&image[0])); r == cudaErrorUnsupportedPTXVersion {
		return nil, fmt.Errorf("cuda device: cuModuleLoadData failed: %s: NVRTC %s is newer than the driver (CUDA %d.%d), which cannot load what it compiled; "+
			"update the NVIDIA driver to one for CUDA %s or later, or put an NVRTC no newer than CUDA %d.%d first on LD_LIBRARY_PATH",
			a.cuErr(r), nvrtcVer, drv/1000, drv%1000/10, nvrtcVer, drv/1000, drv%1000/10)
	} else if err := cu(r, "cuModuleLoadData"); err != nil {
		return nil, err
	}
	runtime.KeepAlive(image)
	sigs, err := parseKernels(kernelSource)
	if err != nil {
		return nil, err
	}
	blocks := parseBlocks(kernelSource)
	b.kern = map[string]kernel{}
	for k, ps := range sigs {
		var f uintptr
		if err := cu(a.cuModuleGetFunction(&f, mod, &cstr(k)[0]), "cuModuleGetFunction("+k+")"); err != nil {
			return nil, err
		}
		b.kern[k] = kernel{f: f, params: ps, block: blocks[k]}
	}

	if r := a.cublasCreate(&b.cublas); r != 0 {
		return nil, fmt.Errorf("cuda device: cublasCreate failed with status %d", r)
	}
	a.cublasSetStream(b.cublas, b.stream)
	mode := int32(cublasPedanticMath)
	if o.TF32 {
		mode = cublasTF32Math
	}
	if r := a.cublasSetMathMode(b.cublas, mode); r != 0 {
		return nil, fmt.Errorf("cuda device: cublasSetMathMode(%d) failed with status %d", mode, r)
	}
	var cublasVer int32
	a.cublasGetVersion(b.cublas, &cublasVer)
	if r := a.cudnnCreate(&b.cudnn); r != 0 {
		return nil, fmt.Errorf("cuda device: cudnnCreate failed: %s", a.cudnnGetErrorString(r))
	}
	a.cudnnSetStream(b.cudnn, b.stream)

	math := "FP32 GEMMs and convolutions (TF32 off)"
	if o.TF32 {
		math = "TF32 tensor-core GEMMs and convolutions"
	}
	b.desc = fmt.Sprintf("cuda: %s (sm_%d%d, %d SMs, %.0f GiB), driver API %d.%d, cuBLAS %d, cuDNN %d, NVRTC %s; %s; libraries %s",
		strings.TrimRight(string(name), "\x00"), major, minor, sms, float64(total)/(1<<30), drv/1000, drv%1000/10,
		cublasVer, a.cudnnGetVersion(), nvrtcVer+how, math, strings.Join(a.libs, ", "))
	if a.libNote != "" {
		b.desc += " (" + a.libNote + ")"
	}
	return b, nil
}

// cudaErrorUnsupportedPTXVersion is CUDA_ERROR_UNSUPPORTED_PTX_VERSION: the
// driver is older than the compiler of the module.
const cudaErrorUnsupportedPTXVersion = 222

// compileKernels compiles kernels.cu for the device: to a CUBIN for its
// architecture, or, when this NVRTC does not know the architecture (a GPU
// newer than it), to PTX for the newest one it knows below the device's,
// which the driver compiles further. It returns the image, NVRTC's version
// and how it compiled ("" for a CUBIN).
func compileKernels(a *api, major, minor int) ([]byte, string, string, error) {
	var vmaj, vmin int32
	a.nvrtcVersion(&vmaj, &vmin)
	ver := fmt.Sprintf("%d.%d", vmaj, vmin)
	nv := func(r int32, call string) error {
		if r == 0 {
			return nil
		}
		return fmt.Errorf("cuda device: %s failed: %s", call, a.nvrtcGetErrorString(r))
	}
	try := func(arch string, cubin bool) ([]byte, error) {
		var prog uintptr
		src, name := cstr(kernelSource), cstr("kernels.cu")
		if err := nv(a.nvrtcCreateProgram(&prog, &src[0], &name[0], 0, nil, nil), "nvrtcCreateProgram"); err != nil {
			return nil, err
		}
		defer a.nvrtcDestroyProgram(&prog)
		opts := [][]byte{cstr("--gpu-architecture=" + arch), cstr("--fmad=false"), cstr("--std=c++14")}
		ptrs := make([]*byte, len(opts))
		for i := range opts {
			ptrs[i] = &opts[i][0]
		}
		r := a.nvrtcCompileProgram(prog, int32(len(ptrs)), unsafe.Pointer(&ptrs[0]))
		runtime.KeepAlive(opts)
		if r != 0 {
			var n uint64
			a.nvrtcGetProgramLogSize(prog, &n)
			log := make([]byte, n+1)
			a.nvrtcGetProgramLog(prog, &log[0])
			return nil, fmt.Errorf("cuda device: NVRTC %s could not compile kernels.cu for %s: %s\n%s", ver, arch, a.nvrtcGetErrorString(r), strings.TrimRight(string(log), "\x00"))
		}
		var n uint64
		get, size, what := a.nvrtcGetPTX, a.nvrtcGetPTXSize, "PTX"
		if cubin {
			get, size, what = a.nvrtcGetCUBIN, a.nvrtcGetCUBINSize, "CUBIN"
		}
		if err := nv(size(prog, &n), "nvrtcGet"+what+"Size"); err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, fmt.Errorf("cuda device: NVRTC returned an empty %s", what)
		}
		img := make([]byte, n)
		if err := nv(get(prog, &img[0]), "nvrtcGet"+what); err != nil {
			return nil, err
		}
		return img, nil
	}
	dev := 10*major + minor
	img, err := try(fmt.Sprintf("sm_%d", dev), true)
	if err == nil {
		return img, ver, "", nil
	}
	archs, listed := supportedArchs(a)
	if !listed {
		return nil, "", "", fmt.Errorf("%w\n(this NVRTC cannot list the architectures it supports, so no older one is tried for PTX)", err)
	}
	ptx := 0
	for _, arch := range archs {
		if arch == dev {
			// NVRTC knows the architecture: the failure is not a GPU newer
			// than NVRTC, and PTX would fail the same way.
			return nil, "", "", err
		}
		if arch < dev {
			ptx = max(ptx, arch)
		}
	}
	if ptx == 0 {
		return nil, "", "", fmt.Errorf("%w\n(NVRTC %s compiles for sm_%d to sm_%d, none at or below the device's sm_%d: use the CUDA 12 libraries for a GPU older than sm_75)",
			err, ver, slices.Min(archs), slices.Max(archs), dev)
	}
	img, err2 := try(fmt.Sprintf("compute_%d", ptx), false)
	if err2 != nil {
		return nil, "", "", fmt.Errorf("%w\nand PTX for compute_%d, the newest architecture it supports below the device's: %w", err, ptx, err2)
	}
	return img, ver, fmt.Sprintf(" (PTX for compute_%d: NVRTC does not know sm_%d)", ptx, dev), nil
}

// supportedArchs lists the architectures NVRTC compiles for (as 10·major
// + minor), and false where this NVRTC cannot say.
func supportedArchs(a *api) ([]int, bool) {
	if a.nvrtcGetNumSupportedArchs == nil || a.nvrtcGetSupportedArchs == nil {
		return nil, false
	}
	var n int32
	if a.nvrtcGetNumSupportedArchs(&n) != 0 || n <= 0 {
		return nil, false
	}
	list := make([]int32, n)
	if a.nvrtcGetSupportedArchs(&list[0]) != 0 {
		return nil, false
	}
	archs := make([]int, n)
	for i, v := range list {
		archs[i] = int(v)
	}
	return archs, true
}

// enter makes the context current on the calling OS thread and keeps the
// goroutine there until leave: a CUDA context is current per thread.
func (b *Backend) enter() bool {
	b.mu.Lock()
	runtime.LockOSThread()
	if b.err != nil {
		return false
	}
	if r := b.a.cuCtxSetCurrent(b.ctx); r != 0 {
		b.cuFail(r, "cuCtxSetCurrent")
		return false
	}
	return true
}

func (b *Backend) leave() {
	runtime.UnlockOSThread()
	b.mu.Unlock()
}

func (b *Backend) fail(err error) {
	if b.err == nil {
		b.err = fmt.Errorf("cuda: %w", err)
	}
}

func (b *Backend) cuFail(r int32, call string) {
	if r != 0 {
		b.fail(fmt.Errorf("%s: %s", call, b.a.cuErr(r)))
	}
}

func (b *Backend) blasFail(r int32, call string) {
	if r != 0 {
		b.fail(fmt.Errorf("%s: cuBLAS status %d", call, r))
	}
}

func (b *Backend) dnnFail(r int32, call string) {
	if r != 0 {
		b.fail(fmt.Errorf("%s: %s (cuDNN status %d)", call, b.a.cudnnGetErrorString(r), r))
	}
}

// ptr is the device address of a tensor's first element.
func (b *Backend) ptr(t *nn.Tensor) dptr {
	if t == nil {
		return 0
	}
	var base uintptr
	switch d := t.Dev.(type) {
	case *devBuf:
		base = d.b.ptr
	case viewOf:
		base = d.buf.b.ptr
	default:
		b.fail(fmt.Errorf("tensor %v was not made by the cuda backend", t.Shape))
	}
	return dptr(base + 4*uintptr(t.Off))
}

// temp returns a scratch block of n bytes; it goes back with b.mem.Put
// once the kernels that use it are issued.
func (b *Backend) temp(n int) (block, bool) {
	blk, err := b.mem.Get(uint64(n))
	if err != nil {
		b.fail(err)
		return block{}, false
	}
	return blk, true
}

// launch runs kernel name on a grid of gx×gy blocks of bx×by threads,
// checking the arguments against the kernel's declaration.
func (b *Backend) launch(name string, gx, gy, bx, by int, args ...any) {
	if b.err != nil {
		return
	}
	k, ok := b.kern[name]
	if !ok {
		b.fail(fmt.Errorf("kernel %s is not in kernels.cu", name))
		return
	}
	if len(args) != len(k.params) {
		b.fail(fmt.Errorf("kernel %s takes %d arguments, launched with %d", name, len(k.params), len(args)))
		return
	}
	if k.block != [2]int{} && k.block != [2]int{bx, by} {
		// Its shared arrays and strides are sized for that shape: another
		// would run and compute a wrong result.
		b.fail(fmt.Errorf("kernel %s is written for %d×%d-thread blocks (FIXED_BLOCK in kernels.cu), launched with %d×%d", name, k.block[0], k.block[1], bx, by))
		return
	}
	for i, v := range args {
		want := k.params[i]
		var got ptype
		switch x := v.(type) {
		case dptr:
			got, b.slots[i] = pPtr, uint64(x)
		case int:
			if x != int(int32(x)) {
				b.fail(fmt.Errorf("kernel %s: argument %d = %d overflows int", name, i, x))
				return
			}
			got, b.slots[i] = pInt, uint64(uint32(int32(x)))
		case float32:
			got, b.slots[i] = pFloat, uint64(math.Float32bits(x))
		case float64:
			got, b.slots[i] = pDouble, math.Float64bits(x)
		case uint64:
			got, b.slots[i] = pU64, x
		default:
			b.fail(fmt.Errorf("kernel %s: argument %d has Go type %T", name, i, v))
			return
		}
		if got != want {
			b.fail(fmt.Errorf("kernel %s: argument %d is a %s, declared %s", name, i, got, want))
			return
		}
	}
	if gx <= 0 || gy <= 0 {
		return
	}
	if gx > math.MaxInt32 || gy > 65535 {
		b.fail(fmt.Errorf("kernel %s: a grid of %d×%d blocks is beyond CUDA's limits (2147483647×65535)", name, gx, gy))
		return
	}
	r := b.a.cuLaunchKernel(k.f, uint32(gx), uint32(gy), 1, uint32(bx), uint32(by), 1, 0, b.stream, unsafe.Pointer(&b.ptrs[0]), nil)
	b.cuFail(r, "cuLaunchKernel("+name+")")
}

// indexable reports whether kernel name can index n elements with threads
// threads in its grid, and fails the backend if not. The kernels index with
// int: a thread's first index, and a grid-stride loop's i + stride once i
// is past the end, reach n + threads − 1, which must not wrap negative.
func (b *Backend) indexable(name string, n, threads int) bool {
	if limit := math.MaxInt32 - threads + 1; n > limit {
		b.fail(fmt.Errorf("kernel %s on %d elements: its int indexing reaches at most %d with %d threads (split the tensor)", name, n, limit, threads))
		return false
	}
	return true
}

// elem launches a grid-stride kernel over n elements, 256 threads a block.
// n is the kernel's element count; those that compute it on the device
// (N·OH·OW·C) form the same product, so checking n here keeps theirs in
// int too.
func (b *Backend) elem(name string, n int, args ...any) {
	if n <= 0 {
		return
	}
	gx := min((n+255)/256, 32*b.sms)
	if b.indexable(name, n, gx*256) {
		b.launch(name, gx, 1, 256, 1, args...)
	}
}

// cols launches a one-thread-per-column kernel.
func (b *Backend) cols(name string, cols int, args ...any) {
	gx := (cols + 255) / 256
	if b.indexable(name, cols, gx*256) {
		b.launch(name, gx, 1, 256, 1, args...)
	}
}

func (b *Backend) Name() string {
	if b.opt.TF32 {
		return "cuda-tf32"
	}
	return "cuda"
}

func (b *Backend) Describe() string { return b.desc }

// Stats reports the caching allocator's counters.
func (b *Backend) Stats() AllocStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.mem.Stats()
}

func (b *Backend) New(shape ...int) *nn.Tensor {
	t := &nn.Tensor{Shape: append([]int(nil), shape...)}
	d := &devBuf{}
	t.Dev = d
	if !b.enter() {
		b.leave()
		return t
	}
	defer b.leave()
	if blk, ok := b.temp(4 * t.Len()); ok {
		d.b = blk
	}
	return t
}

func (b *Backend) View(t *nn.Tensor, off int, shape ...int) *nn.Tensor {
	v := &nn.Tensor{Shape: append([]int(nil), shape...), Off: t.Off + off}
	switch d := t.Dev.(type) {
	case *devBuf:
		v.Dev = viewOf{d}
	case viewOf:
		v.Dev = d
	}
	if off < 0 || off+v.Len() > t.Len() {
		b.mu.Lock()
		b.fail(fmt.Errorf("View(%v, %d, %v) reaches outside the tensor", t.Shape, off, shape))
		b.mu.Unlock()
	}
	return v
}

func (b *Backend) Free(t *nn.Tensor) {
	d, ok := t.Dev.(*devBuf)
	if !ok || d.freed {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	d.freed = true
	b.mem.Put(d.b)
	d.b = block{}
}

func (b *Backend) Upload(dst *nn.Tensor, src []float32) {
	n := min(len(src), dst.Len())
	if n == 0 {
		return
	}
	if !b.enter() {
		b.leave()
		return
	}
	defer b.leave()
	// From pageable memory the driver stages src before returning, so
	// the caller may reuse it at once.
	b.cuFail(b.a.cuMemcpyHtoDAsync(uintptr(b.ptr(dst)), unsafe.Pointer(&src[0]), uint64(4*n), b.stream), "cuMemcpyHtoDAsync")
}

// download copies n bytes to host memory and waits for them.
func (b *Backend) download(dst unsafe.Pointer, src dptr, n int) {
	if b.err != nil || n == 0 {
		return
	}
	b.cuFail(b.a.cuMemcpyDtoHAsync(dst, uintptr(src), uint64(n), b.stream), "cuMemcpyDtoHAsync")
	b.cuFail(b.a.cuStreamSynchronize(b.stream), "cuStreamSynchronize")
}

// Download waits for the device (a sync).
func (b *Backend) Download(dst []float32, src *nn.Tensor) {
	n := min(len(dst), src.Len())
	if n == 0 {
		return
	}
	if !b.enter() {
		b.leave()
		return
	}
	defer b.leave()
	b.download(unsafe.Pointer(&dst[0]), b.ptr(src), 4*n)
}

func (b *Backend) Fill(t *nn.Tensor, v float32) {
	if b.enter() {
		b.elem("fill", t.Len(), b.ptr(t), t.Len(), v)
	}
	b.leave()
}

func (b *Backend) Copy(dst, src *nn.Tensor) {
	n := min(dst.Len(), src.Len())
	if n == 0 {
		return
	}
	if b.enter() {
		b.cuFail(b.a.cuMemcpyDtoDAsync(uintptr(b.ptr(dst)), uintptr(b.ptr(src)), uint64(4*n), b.stream), "cuMemcpyDtoDAsync")
	}
	b.leave()
}

func (b *Backend) Axpy(alpha float32, x, y *nn.Tensor) {
	if b.enter() {
		b.elem("axpy", x.Len(), b.ptr(x), b.ptr(y), x.Len(), alpha)
	}
	b.leave()
}

func (b *Backend) Scale(alpha float32, x *nn.Tensor) {
	if b.enter() {
		b.elem("scale", x.Len(), b.ptr(x), x.Len(), alpha)
	}
	b.leave()
}

func (b *Backend) Lerp(y, x *nn.Tensor, a float32) {
	if b.enter() {
		b.elem("lerp", y.Len(), b.ptr(y), b.ptr(x), y.Len(), a)
	}
	b.leave()
}

func (b *Backend) Mul(a, c, y *nn.Tensor) {
	if b.enter() {
		b.elem("mul", a.Len(), b.ptr(a), b.ptr(c), b.ptr(y), a.Len())
	}
	b.leave()
}

func (b *Backend) Add(a, c, y *nn.Tensor) {
	if b.enter() {
		b.elem("add", a.Len(), b.ptr(a), b.ptr(c), b.ptr(y), a.Len())
	}
	b.leave()
}

func (b *Backend) AddReLU(a, c, y *nn.Tensor) {
	if b.enter() {
		b.elem("add_relu", a.Len(), b.ptr(a), b.ptr(c), b.ptr(y), a.Len())
	}
	b.leave()
}

// Dot sums in double on the device in a fixed order and reads the result
// back: one sync.
func (b *Backend) Dot(x, y *nn.Tensor) float64 {
	n := x.Len()
	if n == 0 {
		return 0
	}
	if !b.enter() {
		b.leave()
		return 0
	}
	defer b.leave()
	blocks := min((n+255)/256, 1024) // a function of n alone: deterministic
	if !b.indexable("dot_partial", n, 256*blocks) {
		return 0
	}
	part, ok := b.temp(8 * (blocks + 1))
	if !ok {
		return 0
	}
	defer b.mem.Put(part)
	out := dptr(part.ptr + uintptr(8*blocks))
	b.launch("dot_partial", blocks, 1, 256, 1, b.ptr(x), b.ptr(y), n, dptr(part.ptr))
	b.launch("dot_final", 1, 1, 1, 1, dptr(part.ptr), blocks, out)
	var s float64
	b.download(unsafe.Pointer(&s), out, 8)
	return s
}

// MatMul computes the row-major c = alpha·op(a)·op(b) + beta·c as the
// column-major cᵀ = op(b)ᵀ·op(a)ᵀ, which is what cuBLAS sees in the same
// memory: no copies or transposes.
func (b *Backend) MatMul(transA, transB bool, alpha float32, a, x *nn.Tensor, beta float32, c *nn.Tensor) {
	if !b.enter() {
		b.leave()
		return
	}
	defer b.leave()
	m, n := c.Rows(), c.Cols()
	k := a.Cols()
	if transA {
		k = a.Rows()
	}
	if b.emptyGEMM(m*n, k, beta, c) {
		return
	}
	opA, opB := int32(cublasOpN), int32(cublasOpN)
	if transA {
		opA = cublasOpT
	}
	if transB {
		opB = cublasOpT
	}
	al, be := alpha, beta
	r := b.a.cublasSgemm(b.cublas, opB, opA, int32(n), int32(m), int32(k), &al, uintptr(b.ptr(x)), int32(x.Cols()),
		uintptr(b.ptr(a)), int32(a.Cols()), &be, uintptr(b.ptr(c)), int32(n))
	b.blasFail(r, "cublasSgemm")
}

// emptyGEMM does a GEMM of size elements of c with an inner dimension k
// when either is 0, and reports whether it did: cuBLAS refuses the leading
// dimension 0 such shapes imply (CUBLAS_STATUS_INVALID_VALUE). With k = 0,
// op(a)·op(b) is zero and c = beta·c, as BLAS and the CPU backend define
// it; beta 0 writes zeros without reading c, which may hold NaN.
func (b *Backend) emptyGEMM(size, k int, beta float32, c *nn.Tensor) bool {
	switch {
	case size == 0:
	case k != 0:
		return false
	case beta == 0:
		b.elem("fill", size, b.ptr(c), size, float32(0))
	case beta != 1:
		b.elem("scale", size, b.ptr(c), size, beta)
	}
	return true
}

func (b *Backend) AddRowVector(y, v *nn.Tensor) {
	if b.enter() {
		b.elem("add_row_vector", y.Len(), b.ptr(y), b.ptr(v), y.Len(), v.Len())
	}
	b.leave()
}

// colChunk is the rows per block of the column reductions.
const colChunk = 256

// columns runs f, a column reduction (name, for errors) over a rows×cols
// matrix, with the grid of col_partial and bn_grad_partial (gx column
// blocks, gy row chunks) and a temporary block of perChunk bytes per column
// and row chunk plus extra bytes per column; nothing runs once the backend
// has failed.
func (b *Backend) columns(name string, rows, cols, perChunk, extra int, f func(rows, gx, gy int, part block)) {
	if !b.enter() {
		b.leave()
		return
	}
	defer b.leave()
	gx, gy := (cols+31)/32, (rows+colChunk-1)/colChunk
	// The finishing kernels run one thread per column, 256 a block.
	if !b.indexable(name, cols, (cols+255)/256*256) {
		return
	}
	part, ok := b.temp(perChunk*gy*cols + extra*cols)
	if !ok {
		return
	}
	defer b.mem.Put(part)
	f(rows, gx, gy, part)
}

func (b *Backend) SumRows(dy, dv *nn.Tensor, beta float32) {
	cols := dv.Len()
	b.columns("col_partial", dy.Len()/cols, cols, 8, 0, func(rows, gx, gy int, part block) {
		b.launch("col_partial", gx, gy, 32, 8, b.ptr(dy), rows, cols, colChunk, dptr(0), 0, dptr(part.ptr))
		b.cols("sum_rows_finish", cols, dptr(part.ptr), gy, cols, b.ptr(dv), beta)
	})
}

func (b *Backend) ReLU(x, y *nn.Tensor) {
	if b.enter() {
		b.elem("relu", x.Len(), b.ptr(x), b.ptr(y), x.Len())
	}
	b.leave()
}

func (b *Backend) ReLUBackward(y, dy, dx *nn.Tensor) {
	if b.enter() {
		b.elem("relu_backward", y.Len(), b.ptr(y), b.ptr(dy), b.ptr(dx), y.Len())
	}
	b.leave()
}

func (b *Backend) BatchNormTrain(x, y, gamma, beta, mean, variance *nn.Tensor, eps float32, relu bool) {
	cols := x.Cols()
	b.columns("col_partial", x.Len()/cols, cols, 8, 0, func(rows, gx, gy int, part block) {
		// Two passes, the second centred: E[x²]−E[x]² loses digits in float32.
		b.launch("col_partial", gx, gy, 32, 8, b.ptr(x), rows, cols, colChunk, dptr(0), 0, dptr(part.ptr))
		b.cols("bn_moment_finish", cols, dptr(part.ptr), gy, cols, rows, b.ptr(mean))
		b.launch("col_partial", gx, gy, 32, 8, b.ptr(x), rows, cols, colChunk, b.ptr(mean), 1, dptr(part.ptr))
		b.cols("bn_moment_finish", cols, dptr(part.ptr), gy, cols, rows, b.ptr(variance))
		b.bnInfer(x, y, gamma, beta, mean, variance, eps, relu)
	})
}

func (b *Backend) BatchNormInfer(x, y, gamma, beta, mean, variance *nn.Tensor, eps float32, relu bool) {
	if b.enter() {
		b.bnInfer(x, y, gamma, beta, mean, variance, eps, relu)
	}
	b.leave()
}

func (b *Backend) bnInfer(x, y, gamma, beta, mean, variance *nn.Tensor, eps float32, relu bool) {
	cols := x.Cols()
	aff, ok := b.temp(8 * cols)
	if !ok {
		return
	}
	defer b.mem.Put(aff)
	sc, sh := dptr(aff.ptr), dptr(aff.ptr+uintptr(4*cols))
	b.cols("bn_affine", cols, b.ptr(gamma), b.ptr(beta), b.ptr(mean), b.ptr(variance), cols, eps, sc, sh)
	b.elem("bn_apply", x.Len(), b.ptr(x), b.ptr(y), sc, sh, x.Len(), cols, flag(relu))
}

func flag(v bool) int {
	if v {
		return 1
	}
	return 0
}

func (b *Backend) BatchNormBackward(x, y, dy, dx, gamma, mean, variance, dgamma, dbeta *nn.Tensor, eps float32, relu bool) {
	cols := x.Cols()
	b.columns("bn_grad_partial", x.Len()/cols, cols, 16, 12, func(rows, gx, gy int, part block) {
		coef := part.ptr + uintptr(16*gy*cols)
		gs, k1, k2 := dptr(coef), dptr(coef+uintptr(4*cols)), dptr(coef+uintptr(8*cols))
		b.launch("bn_grad_partial", gx, gy, 32, 8, b.ptr(x), b.ptr(y), b.ptr(dy), rows, cols, colChunk, flag(relu), dptr(part.ptr))
		b.cols("bn_grad_finish", cols, dptr(part.ptr), gy, cols, rows, b.ptr(gamma), b.ptr(mean), b.ptr(variance), eps,
			b.ptr(dgamma), b.ptr(dbeta), gs, k1, k2)
		if dx != nil {
			b.elem("bn_grad_apply", x.Len(), b.ptr(x), b.ptr(y), b.ptr(dy), b.ptr(dx), gs, k1, k2, x.Len(), cols, flag(relu))
		}
	})
}

func poolDims(x *nn.Tensor, g nn.ConvGeom) (n, h, w, c, oh, ow int) {
	n, h, w, c = x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	oh, ow = g.Out(h, w)
	return
}

func (b *Backend) MaxPool(x, y *nn.Tensor, g nn.ConvGeom) {
	if b.enter() {
		n, h, w, c, oh, ow := poolDims(x, g)
		b.elem("maxpool", n*oh*ow*c, b.ptr(x), b.ptr(y), n, h, w, c, oh, ow, g.KH, g.KW, g.Stride, g.Pad)
	}
	b.leave()
}

func (b *Backend) MaxPoolBackward(x, y, dy, dx *nn.Tensor, g nn.ConvGeom) {
	if b.enter() {
		n, h, w, c, oh, ow := poolDims(x, g)
		b.elem("maxpool_backward", n*h*w*c, b.ptr(x), b.ptr(y), b.ptr(dy), b.ptr(dx), n, h, w, c, oh, ow, g.KH, g.KW, g.Stride, g.Pad)
	}
	b.leave()
}

func (b *Backend) AvgPool(x, y *nn.Tensor, g nn.ConvGeom) {
	if b.enter() {
		n, h, w, c, oh, ow := poolDims(x, g)
		inv := 1 / float32(g.KH*g.KW)
		b.elem("avgpool", n*oh*ow*c, b.ptr(x), b.ptr(y), n, h, w, c, oh, ow, g.KH, g.KW, g.Stride, g.Pad, inv)
	}
	b.leave()
}

func (b *Backend) AvgPoolBackward(dy, dx *nn.Tensor, g nn.ConvGeom) {
	if b.enter() {
		n, h, w, c, oh, ow := poolDims(dx, g)
		inv := 1 / float32(g.KH*g.KW)
		b.elem("avgpool_backward", n*h*w*c, b.ptr(dy), b.ptr(dx), n, h, w, c, oh, ow, g.KH, g.KW, g.Stride, g.Pad, inv)
	}
	b.leave()
}

func (b *Backend) GlobalAvgPool(x, y *nn.Tensor) {
	if b.enter() {
		n, hw, c := x.Shape[0], x.Shape[1]*x.Shape[2], x.Shape[3]
		b.elem("global_avgpool", n*c, b.ptr(x), b.ptr(y), n, hw, c, 1/float32(hw))
	}
	b.leave()
}

func (b *Backend) GlobalAvgPoolBackward(dy, dx *nn.Tensor) {
	if b.enter() {
		n, hw, c := dx.Shape[0], dx.Shape[1]*dx.Shape[2], dx.Shape[3]
		b.elem("global_avgpool_backward", n*hw*c, b.ptr(dy), b.ptr(dx), n, hw, c, 1/float32(hw))
	}
	b.leave()
}

// SoftmaxCrossEntropy uploads the labels, computes each row's loss and
// gradient on the device and reads the per-sample losses back to return
// their mean: one sync.
func (b *Backend) SoftmaxCrossEntropy(logits *nn.Tensor, labels []int32, smoothing float32, dlogits *nn.Tensor, perSample []float32) float64 {
	rows, k := logits.Rows(), logits.Cols()
	if rows == 0 {
		return 0
	}
	if !b.enter() {
		b.leave()
		return 0
	}
	defer b.leave()
	buf, ok := b.temp(12 * rows)
	if !ok {
		return 0
	}
	defer b.mem.Put(buf)
	loss, lab := dptr(buf.ptr), dptr(buf.ptr+uintptr(8*rows))
	b.cuFail(b.a.cuMemcpyHtoDAsync(uintptr(lab), unsafe.Pointer(&labels[0]), uint64(4*rows), b.stream), "cuMemcpyHtoDAsync(labels)")
	if !b.indexable("softmax_xent", rows, (rows+127)/128*128) {
		return 0
	}
	b.launch("softmax_xent", (rows+127)/128, 1, 128, 1, b.ptr(logits), lab, rows, k, smoothing, b.ptr(dlogits), loss)
	if cap(b.hostF64) < rows {
		b.hostF64 = make([]float64, rows)
	}
	h := b.hostF64[:rows]
	b.download(unsafe.Pointer(&h[0]), loss, 8*rows)
	if b.err != nil {
		return 0
	}
	var total float64
	for i, l := range h {
		if perSample != nil {
			perSample[i] = float32(l)
		}
		total += l
	}
	return total / float64(rows)
}

// Argmax reads the indices back: one sync.
func (b *Backend) Argmax(logits *nn.Tensor, out []int32) {
	rows, k := logits.Rows(), logits.Cols()
	if rows == 0 {
		return
	}
	if !b.enter() {
		b.leave()
		return
	}
	defer b.leave()
	buf, ok := b.temp(4 * rows)
	if !ok {
		return
	}
	defer b.mem.Put(buf)
	if !b.indexable("argmax_rows", rows, (rows+127)/128*128) {
		return
	}
	b.launch("argmax_rows", (rows+127)/128, 1, 128, 1, b.ptr(logits), rows, k, dptr(buf.ptr))
	b.download(unsafe.Pointer(&out[0]), dptr(buf.ptr), 4*min(rows, len(out)))
}

func (b *Backend) SGDMomentum(w, g, v *nn.Tensor, lr, momentum float32, nesterov bool) {
	if b.enter() {
		b.elem("sgd_momentum", w.Len(), b.ptr(w), b.ptr(g), b.ptr(v), w.Len(), lr, momentum, flag(nesterov))
	}
	b.leave()
}

func (b *Backend) AdamW(w, g, m, v *nn.Tensor, lr, beta1, beta2, eps, decay, bc1, bc2 float32) {
	if b.enter() {
		b.elem("adamw", w.Len(), b.ptr(w), b.ptr(g), b.ptr(m), b.ptr(v), w.Len(), lr, beta1, beta2, eps, decay, bc1, bc2)
	}
	b.leave()
}

func (b *Backend) AbsPlus(x, y *nn.Tensor, c float32) {
	if b.enter() {
		b.elem("abs_plus", x.Len(), b.ptr(x), b.ptr(y), x.Len(), c)
	}
	b.leave()
}

func (b *Backend) Where(mask, a, c, y *nn.Tensor) {
	if b.enter() {
		b.elem("where_mask", y.Len(), b.ptr(mask), b.ptr(a), b.ptr(c), b.ptr(y), y.Len())
	}
	b.leave()
}

// Sync waits for every operation issued so far.
func (b *Backend) Sync() {
	if b.enter() {
		b.cuFail(b.a.cuStreamSynchronize(b.stream), "cuStreamSynchronize")
	}
	b.leave()
}

// Err is the first failure, with the call that failed.
func (b *Backend) Err() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// kernelNames lists the kernels, for tests.
func (b *Backend) kernelNames() []string {
	var s []string
	for k := range b.kern {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}

var _ nn.Backend = (*Backend)(nil)
