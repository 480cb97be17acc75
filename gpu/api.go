package gpu

import (
	"fmt"
	"slices"
	"strings"
	"unsafe"

	"github.com/ebitengine/purego"
)

// The C entry points, one func field per symbol (bound by bind). Symbol
// names are the ones the CUDA 12 and 13 headers map the API names to
// (cuMemAlloc → cuMemAlloc_v2 and so on); handles are uintptr.

type driverAPI struct {
	cuInit                   func(flags uint32) int32
	cuDriverGetVersion       func(v *int32) int32
	cuDeviceGetCount         func(n *int32) int32
	cuDeviceGet              func(dev *int32, ordinal int32) int32
	cuDeviceGetName          func(name *byte, n int32, dev int32) int32
	cuDeviceGetAttribute     func(v *int32, attr int32, dev int32) int32
	cuDeviceTotalMem         func(bytes *uint64, dev int32) int32 `sym:"cuDeviceTotalMem_v2"`
	cuDevicePrimaryCtxRetain func(ctx *uintptr, dev int32) int32
	cuCtxSetCurrent          func(ctx uintptr) int32
	cuStreamCreate           func(s *uintptr, flags uint32) int32
	cuStreamSynchronize      func(s uintptr) int32
	cuMemAlloc               func(p *uintptr, bytes uint64) int32                                 `sym:"cuMemAlloc_v2"`
	cuMemFree                func(p uintptr) int32                                                `sym:"cuMemFree_v2"`
	cuMemcpyHtoDAsync        func(dst uintptr, src unsafe.Pointer, bytes uint64, s uintptr) int32 `sym:"cuMemcpyHtoDAsync_v2"`
	cuMemcpyDtoHAsync        func(dst unsafe.Pointer, src uintptr, bytes uint64, s uintptr) int32 `sym:"cuMemcpyDtoHAsync_v2"`
	cuMemcpyDtoDAsync        func(dst, src uintptr, bytes uint64, s uintptr) int32                `sym:"cuMemcpyDtoDAsync_v2"`
	cuModuleLoadData         func(m *uintptr, image unsafe.Pointer) int32
	cuModuleGetFunction      func(f *uintptr, m uintptr, name *byte) int32
	cuLaunchKernel           func(f uintptr, gx, gy, gz, bx, by, bz, shared uint32, s uintptr, params, extra unsafe.Pointer) int32
	cuGetErrorName           func(r int32, s **byte) int32
}

// Device attributes (CUdevice_attribute).
const (
	attrMultiprocessors = 16
	attrCCMajor         = 75
	attrCCMinor         = 76
)

const (
	cudaErrorOutOfMemory = 2
	cudaErrorNoDevice    = 100
)

type cublasAPI struct {
	cublasCreate      func(h *uintptr) int32          `sym:"cublasCreate_v2,cublasCreate"`
	cublasSetStream   func(h, s uintptr) int32        `sym:"cublasSetStream_v2,cublasSetStream"`
	cublasGetVersion  func(h uintptr, v *int32) int32 `sym:"cublasGetVersion_v2,cublasGetVersion"`
	cublasSetMathMode func(h uintptr, mode int32) int32
	cublasSgemm       func(h uintptr, ta, tb, m, n, k int32, alpha *float32, a uintptr, lda int32, b uintptr, ldb int32, beta *float32, c uintptr, ldc int32) int32 `sym:"cublasSgemm_v2,cublasSgemm"`
	// Strides are long long (elements between consecutive matrices).
	cublasSgemmStridedBatched func(h uintptr, ta, tb, m, n, k int32, alpha *float32, a uintptr, lda int32, strideA int64, b uintptr, ldb int32, strideB int64,
		beta *float32, c uintptr, ldc int32, strideC int64, batch int32) int32
}

// cublasMath_t and cublasOperation_t.
const (
	cublasPedanticMath = 2 // FP32 as FP32: no TF32, no reduced-precision reductions
	cublasTF32Math     = 3 // CUBLAS_TF32_TENSOR_OP_MATH
	cublasOpN          = 0
	cublasOpT          = 1
)

// convPerf is cudnnConvolutionFwdAlgoPerf_t (and the BwdData and
// BwdFilter variants, which have the same layout): int algo, int status,
// float time, size_t memory, int determinism, int mathType, int reserved[3].
type convPerf struct {
	Algo, Status int32
	Time         float32
	_            int32
	Memory       uint64
	Determinism  int32
	MathType     int32
	_            [3]int32
	_            int32
}

type cudnnAPI struct {
	cudnnGetVersion                             func() uint64
	cudnnGetErrorString                         func(s int32) string
	cudnnCreate                                 func(h *uintptr) int32
	cudnnSetStream                              func(h, s uintptr) int32
	cudnnCreateTensorDescriptor                 func(d *uintptr) int32
	cudnnSetTensor4dDescriptor                  func(d uintptr, format, dtype, n, c, h, w int32) int32
	cudnnCreateFilterDescriptor                 func(d *uintptr) int32
	cudnnSetFilter4dDescriptor                  func(d uintptr, dtype, format, k, c, h, w int32) int32
	cudnnCreateConvolutionDescriptor            func(d *uintptr) int32
	cudnnSetConvolution2dDescriptor             func(d uintptr, padH, padW, u, v, dilH, dilW, mode, dtype int32) int32
	cudnnSetConvolutionMathType                 func(d uintptr, m int32) int32
	cudnnFindConvolutionForwardAlgorithm        func(h, x, w, conv, y uintptr, req int32, ret *int32, perf *convPerf) int32
	cudnnFindConvolutionBackwardDataAlgorithm   func(h, w, dy, conv, dx uintptr, req int32, ret *int32, perf *convPerf) int32
	cudnnFindConvolutionBackwardFilterAlgorithm func(h, x, dy, conv, dw uintptr, req int32, ret *int32, perf *convPerf) int32
	cudnnConvolutionForward                     func(h uintptr, alpha unsafe.Pointer, xd, x, wd, w, conv uintptr, algo int32, ws uintptr, wsBytes uint64, beta unsafe.Pointer, yd, y uintptr) int32
	cudnnConvolutionBackwardData                func(h uintptr, alpha unsafe.Pointer, wd, w, dyd, dy, conv uintptr, algo int32, ws uintptr, wsBytes uint64, beta unsafe.Pointer, dxd, dx uintptr) int32
	cudnnConvolutionBackwardFilter              func(h uintptr, alpha unsafe.Pointer, xd, x, dyd, dy, conv uintptr, algo int32, ws uintptr, wsBytes uint64, beta unsafe.Pointer, dwd, dw uintptr) int32
}

// cuDNN enums.
const (
	cudnnTensorNHWC       = 1
	cudnnDataFloat        = 0
	cudnnCrossCorrelation = 1
	cudnnTensorOpMath     = 1 // FP32 data through TF32 tensor cores
	cudnnFMAMath          = 3 // FP32 only: what the default math would run as TF32
	cudnnDeterministic    = 1
)

type nvrtcAPI struct {
	nvrtcVersion           func(major, minor *int32) int32
	nvrtcGetErrorString    func(r int32) string
	nvrtcCreateProgram     func(p *uintptr, src, name *byte, nHeaders int32, headers, includeNames unsafe.Pointer) int32
	nvrtcCompileProgram    func(p uintptr, nOpts int32, opts unsafe.Pointer) int32
	nvrtcGetProgramLogSize func(p uintptr, n *uint64) int32
	nvrtcGetProgramLog     func(p uintptr, log *byte) int32
	nvrtcGetCUBINSize      func(p uintptr, n *uint64) int32
	nvrtcGetCUBIN          func(p uintptr, out *byte) int32
	nvrtcGetPTXSize        func(p uintptr, n *uint64) int32
	nvrtcGetPTX            func(p uintptr, out *byte) int32
	nvrtcDestroyProgram    func(p *uintptr) int32
}

// The NVRTC entry points that older versions lack (these two came in
// 11.2): nil when absent, and then the backend does without.
type nvrtcOptionalAPI struct {
	nvrtcGetNumSupportedArchs func(n *int32) int32
	nvrtcGetSupportedArchs    func(archs *int32) int32
}

// bind binds those of n's entry points that the library has.
func (n *nvrtcOptionalAPI) bind(handle uintptr) {
	for name, fp := range map[string]any{
		"nvrtcGetNumSupportedArchs": &n.nvrtcGetNumSupportedArchs,
		"nvrtcGetSupportedArchs":    &n.nvrtcGetSupportedArchs,
	} {
		if addr, err := purego.Dlsym(handle, name); err == nil && addr != 0 {
			purego.RegisterFunc(fp, addr)
		}
	}
}

// api is every entry point the backend calls. Tests replace it with stubs.
type api struct {
	driverAPI
	cublasAPI
	cudnnAPI
	nvrtcAPI
	nvrtcOptionalAPI
	libs    []string // the files loaded, for Describe
	libNote string   // why those versions, for Describe
}

// loadAPI opens the CUDA driver, asks it which CUDA major version of
// cuBLAS and NVRTC suits it and the GPU (chooseLibraries), then opens
// cuBLAS, cuDNN and NVRTC and binds their symbols; its error names the
// first library or symbol missing and what to install.
func loadAPI() (*api, error) {
	a := &api{}
	h, name, err := libCUDA.open()
	if err != nil {
		return nil, err
	}
	if err := bind(&a.driverAPI, h, name); err != nil {
		return nil, err
	}
	a.libs = append(a.libs, name)
	// The two calls made per operation skip purego's reflection: all
	// their arguments are integers.
	launch, _ := purego.Dlsym(h, "cuLaunchKernel")
	a.cuLaunchKernel = func(f uintptr, gx, gy, gz, bx, by, bz, shared uint32, s uintptr, params, extra unsafe.Pointer) int32 {
		r, _, _ := purego.SyscallN(launch, f, uintptr(gx), uintptr(gy), uintptr(gz), uintptr(bx), uintptr(by), uintptr(bz), uintptr(shared), s, uintptr(params), uintptr(extra))
		return int32(r)
	}
	setCurrent, _ := purego.Dlsym(h, "cuCtxSetCurrent")
	a.cuCtxSetCurrent = func(ctx uintptr) int32 {
		r, _, _ := purego.SyscallN(setCurrent, ctx)
		return int32(r)
	}

	cublas, nvrtc, why := chooseLibraries(&a.driverAPI)
	notes := []string{why}
	for _, l := range []struct {
		lib  library
		syms any
	}{{cublas, &a.cublasAPI}, {libCUDNN, &a.cudnnAPI}, {nvrtc, &a.nvrtcAPI}} {
		h, name, err := l.lib.open()
		if err != nil {
			if why != "" {
				err = fmt.Errorf("%w (%s)", err, why)
			}
			return nil, err
		}
		if err := bind(l.syms, h, name); err != nil {
			return nil, err
		}
		a.libs = append(a.libs, name)
		if !strings.Contains(name, l.lib.names[0]) { // name may be a path with a note
			notes = append(notes, "no "+l.lib.names[0])
		}
		if l.syms == any(&a.nvrtcAPI) {
			a.nvrtcOptionalAPI.bind(h)
		}
	}
	a.libNote = strings.Join(slices.DeleteFunc(notes, func(s string) bool { return s == "" }), "; ")
	return a, nil
}

// chooseLibraries returns cuBLAS and NVRTC with the file names to try for
// this driver and device 0, and why. CUDA 13 libraries need a CUDA 13
// driver and dropped Maxwell, Pascal and Volta (below sm_75), where only
// CUDA 12's work; otherwise 13 first, then 12. When the driver cannot say
// (no GPU), both are tried and open reports the driver's error.
func chooseLibraries(d *driverAPI) (cublas, nvrtc library, why string) {
	var version, dev, major, minor int32
	if d.cuInit(0) == 0 {
		d.cuDriverGetVersion(&version)
		if d.cuDeviceGet(&dev, 0) == 0 {
			d.cuDeviceGetAttribute(&major, attrCCMajor, dev)
			d.cuDeviceGetAttribute(&minor, attrCCMinor, dev)
		}
	}
	majors := []int{13, 12}
	switch {
	case version == 0:
	case version < 13000:
		majors = []int{12}
		why = fmt.Sprintf("CUDA 12 libraries: the driver supports CUDA %d.%d", version/1000, version%1000/10)
	case major > 0 && major*10+minor < 75:
		majors = []int{12}
		why = fmt.Sprintf("CUDA 12 libraries: CUDA 13 does not support sm_%d%d", major, minor)
	default:
		why = fmt.Sprintf("CUDA 13 libraries first: the driver supports CUDA %d.%d and sm_%d%d", version/1000, version%1000/10, major, minor)
	}
	return libCUBLAS.majors(majors), libNVRTC.majors(majors), why
}

// majors keeps the names of l whose version suffix is one of majors, in
// that order.
func (l library) majors(majors []int) library {
	var names []string
	for _, m := range majors {
		for _, n := range l.names {
			if strings.HasSuffix(n, fmt.Sprintf(".so.%d", m)) {
				names = append(names, n)
			}
		}
	}
	if len(names) > 0 {
		l.names = names
	}
	return l
}

// cuErr names a CUresult.
func (a *api) cuErr(r int32) string {
	var p *byte
	if a.cuGetErrorName != nil && a.cuGetErrorName(r, &p) == 0 && p != nil {
		return fmt.Sprintf("%s (%d)", gostring(p), r)
	}
	return fmt.Sprintf("CUresult %d", r)
}
