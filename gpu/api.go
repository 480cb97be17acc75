package gpu

import (
	"fmt"
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

// api is every entry point the backend calls. Tests replace it with stubs.
type api struct {
	driverAPI
	cublasAPI
	cudnnAPI
	nvrtcAPI
	libs []string // the files loaded, for Describe
}

// loadAPI opens the four libraries and binds their symbols; its error
// names the first library or symbol missing and what to install.
func loadAPI() (*api, error) {
	a := &api{}
	for _, l := range []struct {
		lib  library
		syms any
	}{{libCUDA, &a.driverAPI}, {libCUBLAS, &a.cublasAPI}, {libCUDNN, &a.cudnnAPI}, {libNVRTC, &a.nvrtcAPI}} {
		h, name, err := l.lib.open()
		if err != nil {
			return nil, err
		}
		if err := bind(l.syms, h, name); err != nil {
			return nil, err
		}
		a.libs = append(a.libs, name)
		if l.lib.names[0] == libCUDA.names[0] {
			// The two calls made per operation skip purego's reflection:
			// all their arguments are integers.
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
		}
	}
	return a, nil
}

// cuErr names a CUresult.
func (a *api) cuErr(r int32) string {
	var p *byte
	if a.cuGetErrorName != nil && a.cuGetErrorName(r, &p) == 0 && p != nil {
		return fmt.Sprintf("%s (%d)", gostring(p), r)
	}
	return fmt.Sprintf("CUresult %d", r)
}
